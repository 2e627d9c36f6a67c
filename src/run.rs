//! The sweep behind `parbench run`: every workload x executor x worker count, R repetitions
//! after a warm-up, each checked against serial's checksum.

use crate::error::{Error, Result};
use crate::executor::{self, ExecOptions, Executor, Job};
use crate::measure::Batch;
use crate::report::{Machine, Report, RunResult, Spread};
use crate::workload::{self, Params, ServerKind, Workload};
use crate::{interrupt, system};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most tasks a batch may have (the bound lives with the others in [`crate::validate`]).
pub use crate::validate::MAX_TASKS;

/// Parameters the user overrides; unset ones keep each workload's defaults.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Tasks per batch.
    pub tasks: Option<usize>,
    /// Per-task size.
    pub size: Option<u64>,
    /// api latency.
    pub latency_ms: Option<u64>,
    /// api server.
    pub server: Option<ServerKind>,
    /// api client timeout.
    pub timeout_ms: Option<u64>,
    /// io fsync.
    pub fsync: bool,
    /// dot inner threads.
    pub inner_threads: Option<usize>,
    /// Input seed.
    pub seed: Option<u64>,
}

impl Overrides {
    /// The workload's defaults with these overrides applied.
    pub fn params_for(&self, workload: &str) -> Result<Params> {
        let mut p = workload::defaults(workload)?;
        self.apply(&mut p)?;
        Ok(p)
    }

    /// Applies the overrides that are set to `p`; the others leave it as it is.
    pub fn apply(&self, p: &mut Params) -> Result<()> {
        if let Some(t) = self.tasks {
            p.tasks = crate::validate::tasks(t)?;
        }
        set(&mut p.size, self.size);
        set(&mut p.latency_ms, self.latency_ms);
        set(&mut p.server, self.server);
        set(&mut p.timeout_ms, self.timeout_ms);
        set(&mut p.inner_threads, self.inner_threads);
        set(&mut p.seed, self.seed);
        p.fsync |= self.fsync;
        Ok(())
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Workload names.
    pub workloads: Vec<String>,
    /// Executor names.
    pub executors: Vec<String>,
    /// Worker counts (serial always runs once, at 1).
    pub workers: Vec<usize>,
    /// Parameter overrides.
    pub overrides: Overrides,
    /// Timed repetitions per configuration.
    pub repeat: usize,
    /// Options passed to every executor (worker binary, GIL switch interval).
    pub exec: ExecOptions,
    /// Cores for efficiency and utilisation.
    pub cores: usize,
    /// Cores the run is pinned to, recorded in the report.
    pub cpus: Option<Vec<usize>>,
}

/// Progress events, for a progress bar.
#[derive(Debug, Clone)]
pub enum Event {
    /// A batch is starting: (index, total, label).
    Start(usize, usize, String),
}

/// Number of configurations the sweep will run.
pub fn configurations(cfg: &SweepConfig) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for w in &cfg.workloads {
        for e in &cfg.executors {
            let scales = executor::find(e).map(|i| i.scales).unwrap_or(true);
            if scales {
                out.extend(cfg.workers.iter().map(|&n| (w.clone(), e.clone(), n)));
            } else {
                out.push((w.clone(), e.clone(), 1));
            }
        }
    }
    out
}

/// One timed repetition.
struct Rep {
    batch: Batch,
    cpu_s: f64,
}

fn timed_batch(exec: &mut dyn Executor, job: &Job, label: &str) -> Result<Rep> {
    let conns_before = job.workload.connections();
    let cpu_before = system::process_cpu_s();
    let mut batch = exec.run(job)?;
    let cpu_s = system::process_cpu_s() - cpu_before + batch.counters.child_cpu_s.unwrap_or(0.0);
    if let (Some(a), Some(b)) = (conns_before, job.workload.connections()) {
        batch.counters.connections = Some(b - a);
    }
    batch.failures_as_error().map_err(|e| match e {
        Error::TasksFailed { failures, total } => Error::TasksFailed {
            failures: failures
                .into_iter()
                .map(|mut f| {
                    f.error.message = format!("{label}: {}", f.error.message);
                    f
                })
                .collect(),
            total,
        },
        other => other,
    })?;
    Ok(Rep { batch, cpu_s })
}

/// One configuration with its pool started and warmed up, collecting repetitions.
struct Live {
    label: String,
    executor: String,
    workers: usize,
    exec: Box<dyn Executor>,
    pool_start_s: f64,
    reps: Vec<Rep>,
}

/// Starts a configuration's pool (timed on its own) and runs its warm-up batch.
fn start_live(cfg: &SweepConfig, job: &Job, executor_name: &str, workers: usize) -> Result<Live> {
    let label = format!("{}/{executor_name}/{workers}", job.workload.name());
    let mut options = cfg.exec.clone();
    options.workers = workers;
    let started = Instant::now();
    let mut exec = executor::start(executor_name, &options)?;
    let pool_start_s = started.elapsed().as_secs_f64();
    timed_batch(exec.as_mut(), job, &label)?;
    Ok(Live {
        label,
        executor: executor_name.to_string(),
        workers,
        exec,
        pool_start_s,
        // Never sized from the user's --repeat: the vector grows as repetitions complete.
        reps: Vec::new(),
    })
}

/// Turns a configuration's repetitions into its result, checking every checksum.
fn summarise(
    cfg: &SweepConfig,
    job: &Job,
    live: Live,
    reference: &mut Option<u64>,
) -> Result<RunResult> {
    let Live {
        label,
        executor,
        workers,
        exec,
        pool_start_s,
        reps,
    } = live;
    drop(exec);
    let checksum = reps[0].batch.checksum()?;
    for rep in &reps {
        let got = rep.batch.checksum()?;
        let want = *reference.get_or_insert(got);
        if got != want {
            return Err(Error::ChecksumMismatch {
                config: label,
                got,
                want,
            });
        }
    }
    let walls: Vec<f64> = reps.iter().map(|r| r.batch.wall_s).collect();
    let wall_s = Spread::of(&walls);
    // The repetition closest to the median carries the timeline and counters.
    let median_rep = reps
        .iter()
        .min_by(|a, b| {
            (a.batch.wall_s - wall_s.median)
                .abs()
                .total_cmp(&(b.batch.wall_s - wall_s.median).abs())
        })
        .expect("repeat >= 1");
    let params = job.workload.params();
    let tasks = job.len();
    let ideal_s = (job.workload.name() == "api")
        .then(|| tasks.div_ceil(workers) as f64 * params.latency_ms as f64 / 1e3);
    Ok(RunResult {
        workload: job.workload.name().to_string(),
        executor,
        workers,
        tasks,
        size: params.size,
        inner_threads: params.inner_threads,
        wall_s,
        speedup: None,
        efficiency: None,
        ideal_s,
        wall_over_ideal: ideal_s.filter(|i| *i > 0.0).map(|i| wall_s.median / i),
        cpu_s: median_rep.cpu_s,
        utilisation: median_rep.cpu_s / (median_rep.batch.wall_s * cfg.cores as f64),
        bytes_per_s: job
            .workload
            .bytes_per_task()
            .map(|b| b as f64 * tasks as f64 / wall_s.median),
        pool_start_s,
        checksum,
        counters: median_rep.batch.counters.clone(),
        serial_fraction: None,
        records: median_rep.batch.records.clone(),
    })
}

/// Number of batches the sweep runs: a warm-up plus `repeat` timed ones per configuration.
pub fn steps(cfg: &SweepConfig) -> usize {
    configurations(cfg).len() * (cfg.repeat + 1)
}

/// Runs the sweep. Serial runs first for each workload and is the checksum reference; when
/// serial is not among the executors, one unreported serial batch still provides it.
///
/// All of a workload's pools are started and warmed up first; then the repetitions go round
/// the configurations in turn (serial, threads x1, ..., serial, threads x1, ...). A burst of
/// noise on a shared machine then hits every executor alike instead of one configuration's
/// whole sample, so the speedups, which are ratios, hold up.
pub fn sweep(cfg: &SweepConfig, on_event: &mut dyn FnMut(Event)) -> Result<Report> {
    crate::validate::repeat(cfg.repeat)?;
    let configs = configurations(cfg);
    let total = steps(cfg);
    let mut results = Vec::with_capacity(configs.len());
    let mut index = 0;
    let mut step = |label: &str| {
        on_event(Event::Start(index, total, label.to_string()));
        index += 1;
    };
    for workload_name in &cfg.workloads {
        interrupt::check()?;
        let params = cfg.overrides.params_for(workload_name)?;
        let workload: Arc<dyn Workload> = workload::open(workload_name, params)?;
        let job = Job::new(workload)?;
        let mut reference = None;
        if !cfg.executors.iter().any(|e| e == "serial") {
            let mut serial = executor::start("serial", &ExecOptions::new(1))?;
            reference = Some(
                timed_batch(serial.as_mut(), &job, &format!("{workload_name}/serial/1"))?
                    .batch
                    .checksum()?,
            );
        }
        let mut ordered: Vec<&String> = cfg.executors.iter().filter(|e| *e == "serial").collect();
        ordered.extend(cfg.executors.iter().filter(|e| *e != "serial"));
        let mut live = Vec::new();
        for executor_name in ordered {
            for (w, e, n) in configs
                .iter()
                .filter(|(w, e, _)| w == workload_name && e == executor_name)
            {
                interrupt::check()?;
                step(&format!("{w}/{e}/{n} (start, warm-up)"));
                live.push(start_live(cfg, &job, e, *n)?);
            }
        }
        for rep in 0..cfg.repeat {
            for l in live.iter_mut() {
                interrupt::check()?;
                step(&format!(
                    "{} (repetition {} of {})",
                    l.label,
                    rep + 1,
                    cfg.repeat
                ));
                l.reps.push(timed_batch(l.exec.as_mut(), &job, &l.label)?);
            }
        }
        let first = results.len();
        for l in live {
            results.push(summarise(cfg, &job, l, &mut reference)?);
        }
        let serial_median = results[first..]
            .iter()
            .find(|r| r.executor == "serial")
            .map(|r| r.wall_s.median);
        for r in &mut results[first..] {
            if let Some(s) = serial_median {
                let speedup = s / r.wall_s.median;
                r.speedup = Some(speedup);
                r.efficiency = Some(speedup / r.workers.min(cfg.cores) as f64);
            }
        }
    }
    Ok(Report {
        machine: machine(cfg),
        results,
    })
}

/// The machine record for a report.
pub fn machine(cfg: &SweepConfig) -> Machine {
    Machine {
        cores: cfg.cores,
        cpus: cfg.cpus.clone(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        commit: git_commit(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

impl SweepConfig {
    /// A sweep with default repetitions and this machine's cores.
    pub fn new(workloads: Vec<String>, executors: Vec<String>, workers: Vec<usize>) -> Self {
        SweepConfig {
            workloads,
            executors,
            workers,
            overrides: Overrides::default(),
            repeat: 3,
            exec: ExecOptions::new(1),
            cores: system::available_cores(),
            cpus: None,
        }
    }
}

/// The switch interval as a `Duration` from milliseconds.
pub fn switch_interval(ms: f64) -> Result<Duration> {
    if !(ms.is_finite() && ms > 0.0 && ms <= 10_000.0) {
        return Err(crate::error::UsageError::new(format!(
            "switch interval {ms} ms must be in (0, 10000]"
        ))
        .into());
    }
    Ok(Duration::from_secs_f64(ms / 1e3))
}

/// The parbench binary that process workers run: this one.
pub fn current_exe() -> Option<PathBuf> {
    std::env::current_exe().ok()
}
