//! Bounds on every number that comes from the user or from a file, in one place.
//!
//! A count sizes memory, processes or pictures; an absurd one must be a one-line usage error
//! (exit 2) before anything is allocated, never an abort or a 24 GB allocation. The same
//! bounds hold for a JSON report read back by `parbench chart`, which may have been edited
//! or corrupted: [`validate_report`] checks it before anything is drawn, so drawing costs
//! stay proportional to the size of the file.

use crate::error::UsageError;
use crate::report::{Report, RunResult};
use crate::stats::Estimate;
use std::time::Duration;

/// Most tasks in one batch (`--tasks`).
pub const MAX_TASKS: usize = 100_000;
/// Most timed repetitions per configuration (`--repeat`).
pub const MAX_REPEAT: usize = 10_000;
/// Most workers of a pool (`--workers`, `-n`), and so lanes of a timeline.
pub const MAX_WORKERS: usize = crate::task::MAX_WORKERS;
/// Most task records one result of a report may carry (one per task).
pub const MAX_RECORDS: usize = MAX_TASKS;
/// Most cores a report's machine may claim.
pub const MAX_CORES: usize = 65_536;
/// Longest workload or executor name in a report (they become file names).
pub const MAX_NAME_BYTES: usize = 100;
/// Shortest per-task timeout of the process executor (`--task-timeout-s`), in seconds.
pub const MIN_TASK_TIMEOUT_S: f64 = 0.001;
/// Longest per-task timeout of the process executor (`--task-timeout-s`): one day.
pub const MAX_TASK_TIMEOUT_S: f64 = 86_400.0;
/// Default per-task timeout of the process executors (kept in `task`, below the executors).
pub const DEFAULT_TASK_TIMEOUT: Duration = crate::task::DEFAULT_TASK_TIMEOUT;

/// Most forks of a run (`--forks`): each is a fresh process with its share of the rounds.
pub const MAX_FORKS: usize = 20;

/// `n` of `what` if it is 1..=`max`; else the one-line error naming both.
fn count(what: &str, n: usize, max: usize) -> Result<usize, UsageError> {
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(UsageError::new(format!("{what} {n} must be 1..={max}")))
    }
}

/// Checks `--forks`: 1..=[`MAX_FORKS`].
pub fn forks(forks: usize) -> Result<usize, UsageError> {
    count("--forks", forks, MAX_FORKS)
}

/// Checks `--repeat`: 1..=[`MAX_REPEAT`].
pub fn repeat(repeat: usize) -> Result<usize, UsageError> {
    count("repeat", repeat, MAX_REPEAT)
}

/// Checks `--tasks`: 1..=[`MAX_TASKS`].
pub fn tasks(tasks: usize) -> Result<usize, UsageError> {
    count("tasks", tasks, MAX_TASKS)
}

/// `--task-timeout-s` as a duration: [`MIN_TASK_TIMEOUT_S`]..=[`MAX_TASK_TIMEOUT_S`].
pub fn task_timeout(seconds: f64) -> Result<Duration, UsageError> {
    if seconds.is_finite() && (MIN_TASK_TIMEOUT_S..=MAX_TASK_TIMEOUT_S).contains(&seconds) {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(UsageError::new(format!(
            "task timeout {seconds} s must be {MIN_TASK_TIMEOUT_S}..={MAX_TASK_TIMEOUT_S} s"
        )))
    }
}

/// Checks a report read from a file before anything is drawn from it. The error names the
/// first field out of bounds, as a path into the JSON document:
/// `results[3].records[7].worker: 1000000000 is not below workers 4`.
pub fn validate_report(report: &Report) -> Result<(), UsageError> {
    let cores = report.machine.cores;
    if !(1..=MAX_CORES).contains(&cores) {
        return Err(UsageError::new(format!(
            "machine.cores: {cores} must be 1..={MAX_CORES}"
        )));
    }
    for (i, result) in report.results.iter().enumerate() {
        validate_result(result).map_err(|why| UsageError::new(format!("results[{i}].{why}")))?;
    }
    Ok(())
}

/// A time in seconds: finite and not negative.
fn seconds(field: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{field}: {value} is not a finite, non-negative time"
        ))
    }
}

/// A ratio or rate that is drawn or printed: finite when present.
fn finite(field: &str, value: Option<f64>) -> Result<(), String> {
    match value {
        Some(v) if !v.is_finite() => Err(format!("{field}: {v} is not a finite number")),
        _ => Ok(()),
    }
}

fn name(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_NAME_BYTES {
        Err(format!(
            "{field}: a name of {} bytes must be 1..={MAX_NAME_BYTES} bytes",
            value.len()
        ))
    } else {
        Ok(())
    }
}

/// One result; the error is the field path inside it and what is wrong.
fn validate_result(r: &RunResult) -> Result<(), String> {
    name("workload", &r.workload)?;
    name("executor", &r.executor)?;
    if !(1..=MAX_WORKERS).contains(&r.workers) {
        return Err(format!("workers: {} must be 1..={MAX_WORKERS}", r.workers));
    }
    if !(1..=MAX_TASKS).contains(&r.tasks) {
        return Err(format!("tasks: {} must be 1..={MAX_TASKS}", r.tasks));
    }
    if r.records.len() > r.tasks.min(MAX_RECORDS) {
        return Err(format!(
            "records: {} records for {} tasks",
            r.records.len(),
            r.tasks
        ));
    }
    seconds("wall_s.median", r.wall_s.median)?;
    seconds("wall_s.min", r.wall_s.min)?;
    seconds("wall_s.max", r.wall_s.max)?;
    seconds("cpu_s", r.cpu_s)?;
    seconds("pool_start_s", r.pool_start_s)?;
    for (name, e) in [
        ("speedup", r.speedup),
        ("ceiling", r.ceiling),
        ("efficiency_vs_ceiling", r.efficiency_vs_ceiling),
    ] {
        // No round measured it (a probe whose every spinner woke after its window): the
        // writer stored null for all three, which reads back as NaN. Not drawn, not refused.
        let unmeasured = |e: &Estimate| [e.median, e.lo, e.hi].iter().all(|v| v.is_nan());
        if let Some(e) = e.filter(|e| !unmeasured(e)) {
            finite(&format!("{name}.median"), Some(e.median))?;
            finite(&format!("{name}.lo"), Some(e.lo))?;
            finite(&format!("{name}.hi"), Some(e.hi))?;
            if !(e.lo <= e.median && e.median <= e.hi) {
                return Err(format!("{name}: lo <= median <= hi does not hold"));
            }
        }
    }
    finite("efficiency", r.efficiency)?;
    finite("ideal_s", r.ideal_s)?;
    finite("wall_over_ideal", r.wall_over_ideal)?;
    finite("utilisation", Some(r.utilisation))?;
    finite("bytes_per_s", r.bytes_per_s)?;
    finite("serial_fraction", r.serial_fraction)?;
    for (j, rec) in r.records.iter().enumerate() {
        let at = |what: String| format!("records[{j}].{what}");
        if rec.task >= r.tasks {
            return Err(at(format!(
                "task: {} is not below tasks {}",
                rec.task, r.tasks
            )));
        }
        if rec.worker >= r.workers {
            return Err(at(format!(
                "worker: {} is not below workers {}",
                rec.worker, r.workers
            )));
        }
        seconds("start_s", rec.start_s).map_err(at)?;
        seconds("stop_s", rec.stop_s).map_err(at)?;
        if rec.start_s > rec.stop_s {
            return Err(at(format!(
                "start_s: {} is after stop_s {}",
                rec.start_s, rec.stop_s
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_bounds() {
        assert!(repeat(0).is_err());
        assert!(repeat(MAX_REPEAT + 1).is_err());
        assert_eq!(repeat(3).unwrap(), 3);
        assert!(tasks(0).is_err() && tasks(MAX_TASKS + 1).is_err());
        for bad in [0.0, 0.0009, 86_400.5, f64::NAN, f64::INFINITY, -1.0] {
            assert!(task_timeout(bad).is_err(), "{bad}");
        }
        assert_eq!(task_timeout(2.0).unwrap(), Duration::from_secs(2));
    }

    #[test]
    fn an_unmeasured_estimate_reads_back_but_a_broken_one_is_refused() {
        let mut r = RunResult::new(
            "cpu",
            "threads",
            2,
            (4, 10),
            crate::report::Spread::of(&[0.01]),
        );
        r.efficiency_vs_ceiling = Some(Estimate::exact(f64::NAN));
        assert_eq!(validate_result(&r), Ok(()));
        r.efficiency_vs_ceiling = Some(Estimate {
            median: f64::NAN,
            lo: 0.9,
            hi: 1.0,
        });
        assert!(validate_result(&r)
            .unwrap_err()
            .contains("efficiency_vs_ceiling.median"));
    }
}
