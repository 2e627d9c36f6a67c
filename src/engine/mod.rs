//! The measurement engine every consumer uses: `parbench run`, `parbench timeline`, the
//! Criterion benches and the paired gate's `serve` mode.
//!
//! It owns the rules that must not be written twice:
//! - a workload is opened once, with the baseline executor (serial, from the registry) run
//!   first: its checksum is the reference every other batch must reproduce;
//! - a pool is started (timed on its own) and warmed up before any batch of it counts;
//! - batches are paired with the baseline and the host ceiling in short rounds, in a random
//!   order per round ([`rounds`]);
//! - the estimates are medians over rounds with 95% intervals ([`stats`]).

use crate::error::{Error, Result};
use crate::executor::{self, ExecOptions, Executor, ExecutorInfo, Job};
use crate::measure::Batch;
use crate::system;
use crate::workload::{self, Params};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod analysis;
pub mod paired;
pub mod probe;
pub mod rounds;
pub use crate::stats;
pub mod sweep;

/// One batch as the engine measured it: the batch, checked, and the CPU time it used.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The batch: outcomes, records, wall time, counters.
    pub batch: Batch,
    /// CPU seconds (user + sys) of the whole process during the batch, worker processes
    /// included.
    pub cpu_s: f64,
}

/// An opened workload with its baseline: the inputs, a started baseline executor and the
/// reference checksum.
pub struct Bench {
    /// The workload and its inputs.
    pub job: Job,
    /// Combined checksum of the baseline batch: every batch must reproduce it. `None` only
    /// for a bench opened with [`Bench::open_lenient`] whose baseline batch failed.
    reference: Option<u64>,
    /// Wall time of the baseline's first (reference) batch, in seconds.
    pub reference_wall_s: f64,
    baseline: Prepared,
    options: ExecOptions,
}

/// A started pool of one executor at one worker count, warmed up.
pub struct Prepared {
    /// The executor's registry entry.
    pub info: &'static ExecutorInfo,
    /// Worker count.
    pub workers: usize,
    /// `workload/executor/workers`, the id used in messages and exports.
    pub label: String,
    /// Time to start the pool, in seconds, outside every timed batch.
    pub pool_start_s: f64,
    pool: Box<dyn Executor>,
}

impl Prepared {
    /// The started pool, for callers that time batches themselves (Criterion).
    pub fn pool(&mut self) -> &mut dyn Executor {
        self.pool.as_mut()
    }
}

impl Bench {
    /// Opens `workload` with `params`, starts the baseline executor and runs its reference
    /// batch (which also warms caches). `options.workers` is ignored: each pool gets its own.
    pub fn open(workload: &str, params: Params, options: ExecOptions) -> Result<Bench> {
        let opened = workload::open(workload, params)?;
        Bench::from_workload(opened, options)
    }

    /// As [`Bench::open`], for a workload already opened.
    pub fn from_workload(
        opened: Arc<dyn workload::Workload>,
        options: ExecOptions,
    ) -> Result<Bench> {
        let (bench, first) = Bench::lenient(opened, options)?;
        first
            .batch
            .checksum()
            .map_err(|e| label_failures(e, &bench.baseline.label))?;
        Ok(bench)
    }

    /// As [`Bench::open`], but a baseline batch with failed tasks is kept, not an error: for
    /// pictures that draw failures. Batches are then checked for failures only, until a
    /// reference exists.
    pub fn open_lenient(workload: &str, params: Params, options: ExecOptions) -> Result<Bench> {
        Ok(Bench::lenient(workload::open(workload, params)?, options)?.0)
    }

    fn lenient(
        opened: Arc<dyn workload::Workload>,
        options: ExecOptions,
    ) -> Result<(Bench, Measured)> {
        let job = Job::new(opened)?;
        let mut baseline = start_pool(&job, executor::baseline(), 1, &options)?;
        let first = measure_batch(baseline.pool.as_mut(), &job, &baseline.label)?;
        let bench = Bench {
            reference: first.batch.checksum().ok(),
            reference_wall_s: first.batch.wall_s,
            job,
            baseline,
            options,
        };
        Ok((bench, first))
    }

    /// The reference checksum (see [`Bench::open_lenient`] for when there is none).
    pub fn reference(&self) -> Option<u64> {
        self.reference
    }

    /// The unit of work the ceiling probe repeats for this workload: one of its own tasks
    /// (its inputs in turn) for work that computes, so the ceiling is what the host delivers for
    /// this very work; the cpu loop for work that waits, whose figure is not the ceiling and
    /// whose tasks would load the server or the disk.
    pub fn probe_unit(&self) -> probe::Unit {
        let workload = self.job.workload.clone();
        let inputs = self.job.inputs.clone();
        if workload.waits() || inputs.is_empty() {
            return probe::loop_unit();
        }
        // The units go through the inputs in turn, as a batch does: one input's pages may
        // sit worse in the caches than another's, and a probe of one input alone moved every
        // executor's eff/ceil on dot together from run to run.
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::sync::Arc::new(move || {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % inputs.len();
            let out = workload.run(&inputs[i], &crate::task::Ctx::plain(0));
            std::hint::black_box(out.map(|o| o.checksum).unwrap_or_default());
            1
        })
    }

    /// The workload's name.
    pub fn workload(&self) -> &'static str {
        self.job.workload.name()
    }

    /// Starts a pool of `executor` (its registry entry, resolved once at the edge) with
    /// `workers` workers (one for executors that do not scale), timing the start. No batch
    /// runs yet.
    pub fn start(&self, executor: &'static ExecutorInfo, workers: usize) -> Result<Prepared> {
        start_pool(
            &self.job,
            executor,
            executor.workers(workers),
            &self.options,
        )
    }

    /// Starts a pool and runs its warm-up batch, which must reproduce the reference.
    pub fn prepare(&self, executor: &'static ExecutorInfo, workers: usize) -> Result<Prepared> {
        let mut prepared = self.start(executor, workers)?;
        self.run(&mut prepared)?;
        Ok(prepared)
    }

    /// One batch on a prepared pool, checked against the reference.
    pub fn run(&self, prepared: &mut Prepared) -> Result<Measured> {
        let measured = self.run_unchecked(prepared)?;
        self.check(&measured.batch, &prepared.label)?;
        Ok(measured)
    }

    /// One batch on a prepared pool, failed tasks kept in it: for pictures that mark them.
    pub fn run_unchecked(&self, prepared: &mut Prepared) -> Result<Measured> {
        measure_batch(prepared.pool.as_mut(), &self.job, &prepared.label)
    }

    /// One batch of the baseline executor, checked.
    pub fn run_baseline(&mut self) -> Result<Measured> {
        let measured = measure_batch(self.baseline.pool.as_mut(), &self.job, &self.baseline.label)?;
        self.check(&measured.batch, &self.baseline.label)?;
        Ok(measured)
    }

    /// The baseline's pool start, in seconds.
    pub fn baseline_pool_start_s(&self) -> f64 {
        self.baseline.pool_start_s
    }

    /// `Ok` when every task succeeded and the combined checksum equals the reference.
    pub fn check(&self, batch: &Batch, label: &str) -> Result<()> {
        let got = batch.checksum().map_err(|e| label_failures(e, label))?;
        match self.reference {
            Some(want) if got != want => Err(Error::ChecksumMismatch {
                config: label.to_string(),
                got,
                want,
            }),
            _ => Ok(()),
        }
    }
}

/// Starts a pool and times the start.
fn start_pool(
    job: &Job,
    info: &'static ExecutorInfo,
    workers: usize,
    options: &ExecOptions,
) -> Result<Prepared> {
    let label = format!("{}/{}/{workers}", job.workload.name(), info.name);
    let mut options = options.clone();
    options.workers = workers;
    let started = Instant::now();
    let pool = info.launch(&options)?;
    Ok(Prepared {
        info,
        workers,
        label,
        pool_start_s: started.elapsed().as_secs_f64(),
        pool,
    })
}

/// Runs one batch and reads the CPU time and connections it used. Failed tasks stay in the
/// batch; only the executor failing is an error.
fn measure_batch(pool: &mut dyn Executor, job: &Job, label: &str) -> Result<Measured> {
    let conns_before = job.workload.connections();
    let cpu_before = system::process_cpu_s();
    let mut batch = pool
        .run(job)
        .map_err(|e| Error::executor(label, e.to_string()))?;
    let cpu_s = system::process_cpu_s() - cpu_before + batch.counters.child_cpu_s.unwrap_or(0.0);
    if let (Some(a), Some(b)) = (conns_before, job.workload.connections()) {
        batch.counters.connections = Some(b - a);
    }
    Ok(Measured { batch, cpu_s })
}

/// Prefixes every failure message with the configuration's label.
fn label_failures(e: Error, label: &str) -> Error {
    match e {
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
    }
}

/// Keeps the calling thread, and the pool it starts next, on `cpu` when the configuration
/// runs one worker (`c == 1`) on a machine with more cores; `None` otherwise. The cores of
/// this kind of host run at different speeds (25% apart here), and the scheduler would
/// otherwise put the baseline and the single worker on different ones. The pin ends when
/// the guard drops.
pub fn same_core(c: usize, cpu: usize) -> Option<system::ThreadPin> {
    on_core(Some(cpu).filter(|_| c == 1 && system::available_cores() > 1))
}

/// The core every baseline batch of a sweep runs on: the first of [`system::run_cores`], the
/// core a spread pool's lone worker gets too; `None` on a one-core machine, where there is
/// nothing to choose.
pub fn home_core() -> Option<usize> {
    system::run_cores().map(|cores| cores[0])
}

/// Holds the calling thread on `cpu` until the guard drops; nothing when `cpu` is `None`
/// or the pin is refused (the measurement then runs where the scheduler puts it).
pub fn on_core(cpu: Option<usize>) -> Option<system::ThreadPin> {
    cpu.and_then(|cpu| system::ThreadPin::to(&[cpu]).ok())
}

/// Window of the ceiling probe for `seconds`, within the probe's bounds.
pub fn probe_window(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds.max(0.0)).clamp(probe::MIN_WINDOW, probe::MAX_WINDOW)
}
