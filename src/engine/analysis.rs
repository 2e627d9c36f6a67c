//! Speedup analysis over a sweep's results: the Amdahl serial fraction of each executor's
//! series on each workload.
//!
//! The fit uses the parallelism the machine can really give, `p = min(workers, cores)`, the
//! same bound as the ideal line. So the serial fraction `f` measures how far an executor
//! stays below the ideal: about 0 for processes on CPU work, about 1 under a GIL. Work that
//! waits instead of computing (api) is not bound by the cores: when a series' speedup beats
//! the core count by a clear margin, its fit uses `p = workers`, so `f` still tells how well
//! the waiting overlaps.

use super::stats::amdahl_fit;
use crate::report::RunResult;

/// Results that belong on one line: same workload, shape and executor.
fn same_series(a: &RunResult, b: &RunResult) -> bool {
    same_panel(a, b) && a.executor == b.executor
}

/// Results that belong in one panel: same workload and shape.
pub fn same_panel(a: &RunResult, b: &RunResult) -> bool {
    a.workload == b.workload
        && a.tasks == b.tasks
        && a.size == b.size
        && a.inner_threads == b.inner_threads
}

/// A speedup above `cores` times this means the work is not bound by the cores.
const BEYOND_CORES: f64 = 1.25;

/// True when a series of `(workers, speedup)` points beats the core count clearly: its
/// work waits rather than computes, so its processors are the workers themselves.
pub fn waits(points: &[(usize, f64)], cores: usize) -> bool {
    points
        .iter()
        .any(|&(_, s)| s.is_finite() && s > BEYOND_CORES * cores.max(1) as f64)
}

/// Processors available to `workers` workers in a series: see the module notes.
pub fn processors(workers: usize, cores: usize, waiting: bool) -> usize {
    if waiting {
        workers
    } else {
        workers.min(cores.max(1))
    }
}

/// Serial fraction of one executor's `(workers, speedup)` points on one workload: the
/// Amdahl fit with `p = min(workers, cores)`, or `p = workers` for work that beats the
/// core count. This is the value the table shows and the dashed line draws.
pub fn series_fit(points: &[(usize, f64)], cores: usize) -> Option<f64> {
    let waiting = waits(points, cores);
    let effective: Vec<(usize, f64)> = points
        .iter()
        .map(|&(w, s)| (processors(w, cores, waiting), s))
        .collect();
    amdahl_fit(&effective)
}

/// The `(workers, speedup)` points of `result`'s series.
pub fn series_points(results: &[RunResult], result: &RunResult) -> Vec<(usize, f64)> {
    results
        .iter()
        .filter(|r| same_series(r, result))
        .filter_map(|r| r.speedup.map(|s| (r.workers, s.median)))
        .collect()
}

/// Sets every result's `serial_fraction` to [`series_fit`] of its executor's speedups on
/// its workload. For the table.
pub fn fill_serial_fractions(results: &mut [RunResult], cores: usize) {
    let fits: Vec<Option<f64>> = results
        .iter()
        .map(|r| series_fit(&series_points(results, r), cores))
        .collect();
    for (r, f) in results.iter_mut().zip(fits) {
        r.serial_fraction = f;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::{amdahl_fit, amdahl_speedup};

    #[test]
    fn fit_recovers_a_known_serial_fraction() {
        let f = 0.2;
        let points: Vec<(usize, f64)> = [1, 2, 4, 8]
            .iter()
            .map(|&p| (p, amdahl_speedup(f, p as f64)))
            .collect();
        let got = amdahl_fit(&points).unwrap();
        assert!((got - f).abs() < 1e-9, "{got}");
    }

    #[test]
    fn fit_clamps_and_refuses_without_information() {
        assert_eq!(amdahl_fit(&[(1, 1.0)]), None);
        assert_eq!(amdahl_fit(&[]), None);
        // Superlinear: clamps at 0. Slower than serial: clamps at 1.
        assert_eq!(amdahl_fit(&[(2, 3.0)]), Some(0.0));
        assert_eq!(amdahl_fit(&[(2, 0.4)]), Some(1.0));
        // Junk points are ignored, not propagated.
        assert_eq!(amdahl_fit(&[(2, f64::NAN), (2, 0.0)]), None);
    }

    #[test]
    fn series_fit_bounds_computing_work_by_the_cores_and_waiting_work_by_the_workers() {
        let cores = 2;
        // Computing: 1.9x at every count from 2 up: nearly ideal once capped at the cores.
        let cpu = [(1, 1.0), (2, 1.9), (4, 1.9), (8, 1.9)];
        let f = series_fit(&cpu, cores).unwrap();
        assert!(f < 0.1, "{f}");
        // Capping matters: without it the flat tail would look like a large serial part.
        assert!(amdahl_fit(&cpu).unwrap() > 0.2);
        // Waiting: speedups beyond the cores follow the worker count with f = 0.05.
        let api: Vec<(usize, f64)> = [1, 2, 4, 8, 16]
            .iter()
            .map(|&w| (w, amdahl_speedup(0.05, w as f64)))
            .collect();
        assert!((series_fit(&api, cores).unwrap() - 0.05).abs() < 1e-9);
    }
}
