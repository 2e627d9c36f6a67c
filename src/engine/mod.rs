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
use crate::executor::{self, ExecOptions, Executor, ExecutorInfo, Family, Job};
use crate::measure::{Batch, Usage};
use crate::system;
use crate::workload::{self, Params};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub mod analysis;
pub mod forks;
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
    /// The baselines of executor families (py-serial), each started when a member is first
    /// asked for.
    families: Mutex<Vec<FamilyBaseline>>,
}

/// A family's own baseline on the family's own job ([`executor::Family`]).
struct FamilyBaseline {
    job: Job,
    baseline: Prepared,
    reference: Option<u64>,
    reference_wall_s: f64,
    /// Median wall time of Rust's serial on the same job, in seconds.
    native_s: f64,
}

/// Batches of Rust's serial run on a family's job to time what the interpreter costs.
const NATIVE_BATCHES: usize = 3;

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
    job: Job,
}

impl Prepared {
    /// The job this pool runs: the bench's, or its family's own (py-* run smaller cpu tasks).
    pub fn job(&self) -> &Job {
        &self.job
    }

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
            families: Mutex::new(Vec::new()),
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

    /// Starts a pool of `executor` with `workers` workers (one for executors that do not
    /// scale), timing the start. No batch runs yet.
    pub fn start(&self, executor: &str, workers: usize) -> Result<Prepared> {
        let info = executor::find(executor)?;
        if let Some(why) = executor::unavailable(info.name, Some(self.workload())) {
            return Err(crate::error::UsageError::new(format!(
                "{} cannot run {}: {why}",
                info.name,
                self.workload()
            ))
            .into());
        }
        let job = match self.family_index(info.name)? {
            Some(i) => self.families()[i].job.clone(),
            None => self.job.clone(),
        };
        start_pool(&job, info, info.workers(workers), &self.options)
    }

    fn families(&self) -> MutexGuard<'_, Vec<FamilyBaseline>> {
        self.families.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index of `executor`'s family baseline, started on first use; `None` for the
    /// executors paired with serial.
    fn family_index(&self, executor: &str) -> Result<Option<usize>> {
        let Some(family) = executor::family_of(executor) else {
            return Ok(None);
        };
        let name = family.baseline.name;
        if let Some(i) = self
            .families()
            .iter()
            .position(|f| f.baseline.info.name == name)
        {
            return Ok(Some(i));
        }
        let started = self.start_family(family)?;
        let mut families = self.families();
        families.push(started);
        Ok(Some(families.len() - 1))
    }

    /// Starts a family's baseline on the family's job, on the home core like serial's: its
    /// first batch is the family's reference. Rust's serial then runs the same job a few
    /// times: the interpreter's cost, and, where the family's outputs are exact, a check of
    /// that reference against serial's.
    fn start_family(&self, family: &'static Family) -> Result<FamilyBaseline> {
        let workload = self.workload();
        let base = family.baseline;
        if let Some(why) = executor::unavailable(base.name, Some(workload)) {
            return Err(crate::error::UsageError::new(format!(
                "{} cannot run {workload}: {why}",
                base.name
            ))
            .into());
        }
        let params = executor::params_of(base.name, workload, self.job.workload.params());
        let job = if &params == self.job.workload.params() {
            self.job.clone()
        } else {
            Job::new(workload::open(workload, params)?)?
        };
        let _home = on_core(home_core());
        let mut baseline = start_pool(&job, base, 1, &self.options)?;
        let first = measure_batch(baseline.pool.as_mut(), &job, &baseline.label)?;
        let reference = first
            .batch
            .checksum()
            .map_err(|e| label_failures(e, &baseline.label))?;
        let mut native = start_pool(&job, executor::baseline(), 1, &self.options)?;
        let mut walls = Vec::with_capacity(NATIVE_BATCHES);
        for _ in 0..NATIVE_BATCHES {
            let m = measure_batch(native.pool.as_mut(), &job, &native.label)?;
            let want = m
                .batch
                .checksum()
                .map_err(|e| label_failures(e, &native.label))?;
            if (family.exact)(workload) && want != reference {
                return Err(Error::ChecksumMismatch {
                    config: baseline.label.clone(),
                    got: reference,
                    want,
                });
            }
            walls.push(m.batch.wall_s);
        }
        Ok(FamilyBaseline {
            job,
            baseline,
            reference: Some(reference),
            reference_wall_s: first.batch.wall_s,
            native_s: stats::median(&walls),
        })
    }

    /// The names of the family baselines started so far (py-serial), in start order.
    pub fn family_baselines(&self) -> Vec<&'static str> {
        self.families()
            .iter()
            .map(|f| f.baseline.info.name)
            .collect()
    }

    /// Starts the baseline of `executor`'s family now, if it has one, so that its row is
    /// measured even when no other member of the family runs.
    pub fn start_family_of(&self, executor: &str) -> Result<()> {
        self.family_index(executor).map(|_| ())
    }

    /// The job `executor` runs: its family's, or the bench's.
    pub fn job_of(&self, executor: &str) -> Result<Job> {
        Ok(match self.family_index(executor)? {
            Some(i) => self.families()[i].job.clone(),
            None => self.job.clone(),
        })
    }

    /// The reference checksum `executor`'s batches must reproduce.
    pub fn reference_of(&self, executor: &str) -> Option<u64> {
        match self.family_index(executor).ok().flatten() {
            Some(i) => self.families()[i].reference,
            None => self.reference,
        }
    }

    /// Wall time of the first batch of `executor`'s baseline, in seconds.
    pub fn reference_wall_s_of(&self, executor: &str) -> f64 {
        match self.family_index(executor).ok().flatten() {
            Some(i) => self.families()[i].reference_wall_s,
            None => self.reference_wall_s,
        }
    }

    /// Median wall time of Rust's serial on the tasks `executor` runs, for a family member
    /// (what its times are set against in `vs_native`); `None` for the others.
    pub fn native_s_of(&self, executor: &str) -> Option<f64> {
        let i = self.family_index(executor).ok().flatten()?;
        Some(self.families()[i].native_s)
    }

    /// The pool start of `executor`'s baseline, in seconds.
    pub fn baseline_pool_start_s_of(&self, executor: &str) -> f64 {
        match self.family_index(executor).ok().flatten() {
            Some(i) => self.families()[i].baseline.pool_start_s,
            None => self.baseline.pool_start_s,
        }
    }

    /// One batch of `executor`'s baseline (its family's, or serial), checked.
    pub fn run_baseline_of(&mut self, executor: &str) -> Result<Measured> {
        let Some(i) = self.family_index(executor)? else {
            return self.run_baseline();
        };
        let families = self.families.get_mut().unwrap_or_else(|p| p.into_inner());
        let family = &mut families[i];
        let label = family.baseline.label.clone();
        let measured = measure_batch(family.baseline.pool.as_mut(), &family.job, &label)?;
        let reference = family.reference;
        check_against(reference, &measured.batch, &label)?;
        Ok(measured)
    }

    /// Starts a pool and runs its warm-up batch, which must reproduce the reference.
    pub fn prepare(&self, executor: &str, workers: usize) -> Result<Prepared> {
        self.renew_family_baseline(executor)?;
        let mut prepared = self.start(executor, workers)?;
        self.run(&mut prepared)?;
        Ok(prepared)
    }

    /// A fresh process for the baseline of `executor`'s family (py-serial), on the home core,
    /// warmed and checked: with every block of a member, as the member's own pool is fresh.
    /// One CPython process's speed depends on its address layout (pyperf spawns 20 for that
    /// reason): measured here, one py-serial process ran the cpu tasks 12-27% slower than the
    /// py-threads x1 processes beside it in four of one run's five forks, and every py-*
    /// speedup of those forks with it. Nothing for the executors paired with serial.
    fn renew_family_baseline(&self, executor: &str) -> Result<()> {
        let Some(i) = self.family_index(executor)? else {
            return Ok(());
        };
        if executor::is_baseline(executor) {
            return Ok(());
        }
        let _home = on_core(home_core());
        let mut families = self.families();
        let family = &mut families[i];
        let info = family.baseline.info;
        let mut fresh = start_pool(&family.job, info, 1, &self.options)?;
        let warm = measure_batch(fresh.pool.as_mut(), &family.job, &fresh.label)?;
        check_against(family.reference, &warm.batch, &fresh.label)?;
        family.baseline = fresh;
        Ok(())
    }

    /// One batch on a prepared pool, checked against the reference.
    pub fn run(&self, prepared: &mut Prepared) -> Result<Measured> {
        let measured = self.run_unchecked(prepared)?;
        check_against(
            self.reference_of(prepared.info.name),
            &measured.batch,
            &prepared.label,
        )?;
        Ok(measured)
    }

    /// One batch on a prepared pool, failed tasks kept in it: for pictures that mark them.
    pub fn run_unchecked(&self, prepared: &mut Prepared) -> Result<Measured> {
        measure_batch(prepared.pool.as_mut(), &prepared.job, &prepared.label)
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
        check_against(self.reference, batch, label)
    }

    /// As [`Bench::check`], against the reference of `executor`'s baseline (its family's).
    pub fn check_of(&self, executor: &str, batch: &Batch, label: &str) -> Result<()> {
        check_against(self.reference_of(executor), batch, label)
    }
}

/// `Ok` when every task succeeded and the combined checksum equals `reference` (when there
/// is one).
fn check_against(reference: Option<u64>, batch: &Batch, label: &str) -> Result<()> {
    let got = batch.checksum().map_err(|e| label_failures(e, label))?;
    match reference {
        Some(want) if got != want => Err(Error::ChecksumMismatch {
            config: label.to_string(),
            got,
            want,
        }),
        _ => Ok(()),
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
        job: job.clone(),
    })
}

/// Runs one batch and reads the CPU time and connections it used. Failed tasks stay in the
/// batch; only the executor failing is an error.
fn measure_batch(pool: &mut dyn Executor, job: &Job, label: &str) -> Result<Measured> {
    let conns_before = job.workload.connections();
    let before = Usage::of_process();
    let mut batch = pool
        .run(job)
        .map_err(|e| Error::executor(label, e.to_string()))?;
    let parent = Usage::of_process().since(&before);
    let children = batch.counters.children;
    batch.counters.set_usage(&parent, children.as_ref());
    batch.counters.worker_idle_s = Some(batch.worker_idle_s(pool.workers()));
    let cpu_s = children.map_or(parent, |c| parent.plus(&c)).cpu_us as f64 / 1e6;
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
