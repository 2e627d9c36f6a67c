//! The result of one configuration in a sweep: what the table, the exports and the charts read.

use crate::measure::{Counters, TaskRecord};
use crate::stats::Estimate;
use serde::{Deserialize, Serialize};

/// Median, min and max of repeated wall times, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

impl Spread {
    /// Spread of a non-empty sample.
    pub fn of(samples: &[f64]) -> Spread {
        Spread {
            median: crate::stats::median(samples),
            min: crate::stats::quantile(samples, 0.0),
            max: crate::stats::quantile(samples, 1.0),
        }
    }
}

/// One configuration (workload x executor x workers) measured over R repetitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Workload name.
    pub workload: String,
    /// Executor name.
    pub executor: String,
    /// Worker count.
    pub workers: usize,
    /// Tasks per batch.
    pub tasks: usize,
    /// Per-task size in the workload's unit.
    pub size: u64,
    /// dot: threads inside the kernel.
    pub inner_threads: usize,
    /// Wall time of the batch over the repetitions.
    pub wall_s: Spread,
    /// Median over paired rounds of serial_i / executor_i, with its 95% interval.
    pub speedup: Option<Estimate>,
    /// True when the work waits rather than computes (api, io): its figure is the speedup
    /// against its own ideal, and the CPU ceiling says nothing of it.
    #[serde(default)]
    pub waits: bool,
    /// Plain efficiency: the speedup's median / min(workers, cores).
    pub efficiency: Option<f64>,
    /// The host ceiling measured in the same rounds: c spinners' throughput over one
    /// spinner's, c = min(workers, cores). Median over rounds, with its interval.
    pub ceiling: Option<Estimate>,
    /// Median over rounds of speedup_i / ceiling_i: the share of what the host delivered
    /// that the executor used. The figure to read for CPU-bound work on a noisy host.
    pub efficiency_vs_ceiling: Option<Estimate>,
    /// Paired rounds measured.
    pub rounds: usize,
    /// Blocks the rounds came in: each a fresh pool and a few rounds, spread over the run.
    /// The intervals include the variation between blocks. 0 for the baseline's row.
    #[serde(default)]
    pub blocks: usize,
    /// api: the ideal wall time ceil(tasks / workers) x latency.
    pub ideal_s: Option<f64>,
    /// api: median wall / ideal.
    pub wall_over_ideal: Option<f64>,
    /// CPU seconds (user + sys) of the median repetition, worker processes included.
    pub cpu_s: f64,
    /// cpu / (wall x cores): 1.0 means every core busy for the whole batch.
    pub utilisation: f64,
    /// Bytes per second the tasks moved (io), over the median wall time.
    pub bytes_per_s: Option<f64>,
    /// Time to start the executor's pool for this worker count, outside the timed region.
    pub pool_start_s: f64,
    /// Combined checksum of the outputs; equal to the baseline's, or the run fails.
    pub checksum: u64,
    /// py-*: the median wall time over Rust's serial on the same tasks (what the interpreter
    /// costs); `None` for the Rust executors.
    #[serde(default)]
    pub vs_native: Option<f64>,
    /// Counters of the median repetition.
    pub counters: Counters,
    /// Amdahl serial fraction fitted to this executor's speedups on this workload.
    pub serial_fraction: Option<f64>,
    /// Task records of the median repetition: the timeline.
    pub records: Vec<TaskRecord>,
    /// Every paired round's raw figures, for re-analysis outside parbench (as hyperfine's
    /// `times`); `None` for rows that ran no rounds of their own (the baselines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<RoundSamples>,
}

/// The raw figures of a configuration's paired rounds, one entry per round in the order they
/// ran: what every estimate of the row was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundSamples {
    /// The block each round belongs to (0, 1, ...): a fresh pool and its rounds.
    pub block: Vec<usize>,
    /// The fork (fresh parbench process, `--forks`) each round ran in (0, 1, ...).
    #[serde(default)]
    pub fork: Vec<usize>,
    /// When the round ended, in seconds on one clock for the whole run (its origin is the
    /// run's first round), so every configuration's rounds share one time axis.
    pub at_s: Vec<f64>,
    /// The baseline's batch wall time, in seconds.
    pub baseline_s: Vec<f64>,
    /// The executor's batch wall time, in seconds.
    pub wall_s: Vec<f64>,
    /// The host's ceiling the probe measured in the round (1.0 where c = 1).
    pub ceiling: Vec<f64>,
    /// What the probe saw in each round where c > 1 (empty where c = 1).
    #[serde(default)]
    pub hosts: Vec<HostSample>,
}

/// The probe's measurement in one round, as the result's samples and the Criterion sidecar
/// record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSample {
    /// Units per second of one core alone.
    pub alone: f64,
    /// Each core, `[delay_s, units per second]`: its delay before it ran and its rate while
    /// all ran together.
    pub cores: Vec<[f64; 2]>,
    /// Each task's share of the round's baseline batch.
    pub shares: Vec<f64>,
}

impl RunResult {
    /// A row with its identity, work and wall times only, the rest unset (no estimates,
    /// counters or records): for code that fills in what it measured itself.
    pub fn new(
        workload: &str,
        executor: &str,
        workers: usize,
        (tasks, size): (usize, u64),
        wall_s: Spread,
    ) -> RunResult {
        RunResult {
            workload: workload.to_string(),
            executor: executor.to_string(),
            workers,
            tasks,
            size,
            inner_threads: 1,
            wall_s,
            speedup: None,
            waits: false,
            efficiency: None,
            ceiling: None,
            efficiency_vs_ceiling: None,
            rounds: 0,
            blocks: 0,
            ideal_s: None,
            wall_over_ideal: None,
            cpu_s: 0.0,
            utilisation: 0.0,
            bytes_per_s: None,
            pool_start_s: 0.0,
            checksum: 0,
            vs_native: None,
            counters: Counters::default(),
            serial_fraction: None,
            records: Vec::new(),
            samples: None,
        }
    }
}

impl RunResult {
    /// The benchmark id of this row, `workload/executor/workers`.
    pub fn id(&self) -> BenchId {
        BenchId {
            workload: self.workload.clone(),
            executor: self.executor.clone(),
            workers: self.workers,
        }
    }

    /// The figure to read, with its interval: the speedup for work that waits, the
    /// efficiency vs the ceiling for work that computes.
    pub fn figure(&self) -> Option<Estimate> {
        if self.waits {
            self.speedup
        } else {
            self.efficiency_vs_ceiling
        }
    }

    /// The speedup a perfect executor reaches on work that waits, where the cores do not
    /// bound it: W workers finish `tasks` equal tasks in ceil(tasks / W) turns, so
    /// tasks / ceil(tasks / W) (W itself when W divides the tasks).
    pub fn ideal_speedup(&self) -> f64 {
        let tasks = self.tasks.max(1);
        tasks as f64 / tasks.div_ceil(self.workers.max(1)) as f64
    }
}

/// A benchmark's id, `<workload>/<executor>/<workers>` (Criterion's `group/function/param`,
/// and the label of a row): parsed once, compared as a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BenchId {
    /// Workload (Criterion group).
    pub workload: String,
    /// Executor (Criterion function).
    pub executor: String,
    /// Worker count (Criterion parameter).
    pub workers: usize,
}

impl std::fmt::Display for BenchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.workload, self.executor, self.workers)
    }
}

impl std::str::FromStr for BenchId {
    type Err = crate::error::UsageError;

    fn from_str(s: &str) -> Result<BenchId, Self::Err> {
        let bad = || {
            crate::error::UsageError::new(format!(
                "benchmark id '{s}': expected <workload>/<executor>/<workers>"
            ))
        };
        let mut parts = s.split('/');
        let (Some(w), Some(e), Some(n), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let workers = n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(bad)?;
        if w.is_empty() || e.is_empty() {
            return Err(bad());
        }
        Ok(BenchId {
            workload: w.to_string(),
            executor: e.to_string(),
            workers,
        })
    }
}

/// The machine a sweep ran on, recorded beside its results. The default is an unknown
/// machine (no cores, no name), for reports made by hand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Cores used for efficiency and utilisation (the pinned set when `--cpus` is given).
    pub cores: usize,
    /// The cores the run was pinned to, if any.
    pub cpus: Option<Vec<usize>>,
    /// Operating system and architecture.
    pub os: String,
    /// Git commit of the working tree, if known.
    pub commit: Option<String>,
    /// parbench version.
    pub version: String,
    /// What the host did during the run, when it matters for reading it (e.g. it delivered
    /// fewer cores than asked in many rounds).
    #[serde(default)]
    pub note: Option<String>,
    /// Where workers and probe spinners ran: the cores they were spread over, one each in
    /// turn, or `null` where the OS placed them (`--no-pin`).
    #[serde(default)]
    pub placement: Option<Vec<usize>>,
    /// The Python interpreter the py-* executors ran, when any ran.
    #[serde(default)]
    pub python: Option<Interpreter>,
}

/// A whole sweep: the machine and every configuration's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// Every configuration, in the order run.
    pub results: Vec<RunResult>,
    /// True when the run was stopped early (a signal, `--max-time`, a failure): `results`
    /// holds every configuration with at least one whole block of rounds.
    #[serde(default)]
    pub partial: bool,
}

/// A CPython interpreter that the py-* executors ran, as probed once per interpreter and
/// process (`executor::python::describe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interpreter {
    /// `platform.python_version()`.
    pub version: String,
    /// `sys.implementation.name`.
    pub implementation: String,
    /// `sys.executable`.
    pub executable: String,
    /// False on a free-threaded build running without the GIL (`sys._is_gil_enabled()`).
    pub gil_enabled: bool,
    /// `sys.getswitchinterval()` at start-up, in seconds.
    pub switch_interval_s: f64,
    /// True when `concurrent.futures.InterpreterPoolExecutor` exists (3.14+).
    pub interpreters: bool,
    /// numpy's version, when it imports.
    pub numpy: Option<String>,
    /// Why numpy does not import.
    pub numpy_error: Option<String>,
    /// numpy's BLAS, as far as the interpreter can tell.
    pub blas: Option<String>,
    /// The BLAS's default thread count (py-* set it to `--inner-threads` for dot).
    pub blas_threads: Option<u64>,
}
