//! Executors: a started pool of W workers that runs a batch of tasks.
//!
//! Starting a pool and running a batch on it are separate steps, so benches can time warm
//! pools and the overhead group can time start-up. Adding an executor is a new file plus a
//! line in [`EXECUTORS`].

use crate::error::{Result, TaskError, UsageError};
use crate::measure::{Batch, Origin, TaskInput, TaskOutput, TaskRecord};
pub use crate::task::{Ctx, Interpreter, MAX_WORKERS};
use crate::workload::{Fault, Workload};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub mod asynchronous;
pub mod gil;
pub mod pool;
pub mod process;
pub mod python;
pub mod rayon;
pub mod serial;
pub mod threads;

/// A batch to run: an opened workload and its inputs, shareable with long-lived threads.
#[derive(Clone)]
pub struct Job {
    /// The workload.
    pub workload: Arc<dyn Workload>,
    /// Its inputs, in task order.
    pub inputs: Arc<Vec<TaskInput>>,
}

impl Job {
    /// A job over all of the workload's inputs.
    pub fn new(workload: Arc<dyn Workload>) -> Result<Self> {
        let inputs = Arc::new(workload.inputs()?);
        Ok(Job { workload, inputs })
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// True when the batch has no tasks.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}

/// Runs one task: applies injected faults and turns a panic into a [`TaskError`] carrying its
/// message. Every executor, the worker process included, runs tasks through here.
pub fn execute(
    workload: &dyn Workload,
    input: &TaskInput,
    ctx: &Ctx,
) -> Result<TaskOutput, TaskError> {
    catch_unwind(AssertUnwindSafe(|| {
        inject_fault(workload, input);
        workload.run(input, ctx)
    }))
    .unwrap_or_else(|payload| Err(TaskError::from_panic(payload.as_ref())))
}

/// Panics when the workload's parameters inject [`Fault::Panic`] into this task. Call it
/// inside the region where the executor catches panics (as [`execute`] does), so the fault
/// suite tests the executor's own panic handling.
pub fn inject_fault(workload: &dyn Workload, input: &TaskInput) {
    if workload.params().fault_for(input.index) == Some(Fault::Panic) {
        panic!("injected panic in task {}", input.index);
    }
}

/// Runs one task and records when and where it ran, measured from `origin`.
pub fn execute_timed(
    workload: &dyn Workload,
    input: &TaskInput,
    ctx: &Ctx,
    origin: Origin,
) -> (Result<TaskOutput, TaskError>, TaskRecord) {
    let start_s = origin.elapsed_s();
    let result = execute(workload, input, ctx);
    let stop_s = origin.elapsed_s();
    let record = TaskRecord {
        task: input.index,
        worker: ctx.worker,
        pid: std::process::id(),
        start_s,
        stop_s,
        ok: result.is_ok(),
    };
    (result, record)
}

/// A started pool of workers.
pub trait Executor: Send {
    /// CLI name.
    fn name(&self) -> &'static str;

    /// Number of workers.
    fn workers(&self) -> usize;

    /// Runs every task of the job and returns all outcomes in task order. A failed task is
    /// kept in the batch as an error; `Err` is for the executor itself failing.
    fn run(&mut self, job: &Job) -> Result<Batch>;
}

/// Options for starting an executor.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Number of workers, 1..=[`MAX_WORKERS`].
    pub workers: usize,
    /// The `parbench` binary that process workers run as `parbench worker`.
    pub worker_exe: Option<PathBuf>,
    /// Simulated GIL switch interval, like `sys.setswitchinterval`.
    pub switch_interval: Duration,
    /// Process executor: a task that has not answered this long after it was sent has its
    /// worker killed (SIGKILL) and replaced, and fails with an error naming the worker's pid,
    /// so a stalled worker can never hang a run. In-process executors cannot kill a thread
    /// and ignore it.
    pub task_timeout: Duration,
    /// Where the workers run: where the OS puts them, or one core each.
    pub placement: crate::system::Placement,
}

impl ExecOptions {
    /// Options for `workers` workers with every other setting at its default.
    pub fn new(workers: usize) -> Self {
        ExecOptions {
            workers,
            worker_exe: None,
            switch_interval: Duration::from_millis(5),
            task_timeout: crate::task::DEFAULT_TASK_TIMEOUT,
            placement: crate::system::Placement::Os,
        }
    }
}

/// A registry entry: how to describe and start an executor.
pub struct ExecutorInfo {
    /// CLI name.
    pub name: &'static str,
    /// One line for `--help` and the README.
    pub about: &'static str,
    /// False for executors that always run on one worker (serial).
    pub scales: bool,
    /// Starts a pool. Its cost is measured separately from the batches run on it.
    pub start: fn(&ExecOptions) -> Result<Box<dyn Executor>>,
}

/// Every executor, in the order tables and benches show them.
pub const EXECUTORS: &[ExecutorInfo] = &[
    serial::INFO,
    threads::INFO,
    pool::INFO,
    rayon::INFO,
    process::INFO,
    gil::INFO,
    asynchronous::INFO,
    python::serial::INFO,
    python::threads::INFO,
    python::processes::INFO,
    python::interpreters::INFO,
];

/// Executors measured against a baseline of their own instead of serial: the py-* run a
/// Python loop about 100 times slower than ours, so their speedup against Rust's serial
/// would say nothing about threads or processes.
pub struct Family {
    /// The family's baseline: every configuration of the family is paired with it in its
    /// rounds, and its first batch is the family's reference checksum.
    pub baseline: &'static ExecutorInfo,
    /// The parameters the family runs a workload with, from the run's.
    pub params: fn(&str, &crate::workload::Params) -> crate::workload::Params,
    /// True where the family's outputs equal the Rust executors' bit for bit, so its
    /// reference is checked against serial's on the same tasks; false where they agree only
    /// to rounding (numpy's dot, which the family checks task by task itself).
    pub exact: fn(&str) -> bool,
}

/// The family of the executor named `name`, if it has one.
pub fn family_of(name: &str) -> Option<&'static Family> {
    python::is_member(name).then_some(&python::FAMILY)
}

/// The baseline the executor named `name` is paired with and checked against: its family's,
/// or serial.
pub fn baseline_of(name: &str) -> &'static ExecutorInfo {
    family_of(name).map_or_else(baseline, |f| f.baseline)
}

/// The parameters the executor named `name` runs `workload` with when the run asks for
/// `params`: its family's ([`Family::params`]), or `params` themselves.
pub fn params_of(
    name: &str,
    workload: &str,
    params: &crate::workload::Params,
) -> crate::workload::Params {
    family_of(name).map_or_else(|| params.clone(), |f| (f.params)(workload, params))
}

/// Position of the executor named `name` in the registry ([`EXECUTORS`]), the order tables
/// and pages list executors in; unknown names come last.
pub fn rank_of(name: &str) -> usize {
    EXECUTORS
        .iter()
        .position(|e| e.name == name)
        .unwrap_or(EXECUTORS.len())
}

/// Why the executor named `name` cannot run here, or cannot run `workload` (when given):
/// `None` when it can. The one check `list`, `run`, the benches and the sweep use.
pub fn unavailable(name: &str, workload: Option<&str>) -> Option<String> {
    python::unavailable(name, workload)
}

impl ExecutorInfo {
    /// Starts a pool of this executor with `options.workers` workers (checked).
    pub fn launch(&self, options: &ExecOptions) -> Result<Box<dyn Executor>> {
        check_workers(options.workers)?;
        (self.start)(options)
    }

    /// The workers this executor really runs with when `asked` for: one for executors that
    /// do not scale (serial), `asked` for the others.
    pub fn workers(&self, asked: usize) -> usize {
        if self.scales {
            asked
        } else {
            1
        }
    }
}

/// Workers the executor named `name` runs with when asked for `asked` (an unknown name keeps
/// `asked`; it fails later, where it is looked up).
pub fn workers_of(name: &str, asked: usize) -> usize {
    find(name).map_or(asked, |info| info.workers(asked))
}

/// The baseline every speedup and checksum is measured against: the registry's first
/// executor that does not scale (serial).
pub fn baseline() -> &'static ExecutorInfo {
    EXECUTORS
        .iter()
        .find(|e| !e.scales)
        .expect("the registry has a baseline executor")
}

/// True for the name of a baseline: serial, or a family's own (py-serial).
pub fn is_baseline(name: &str) -> bool {
    baseline_of(name).name == name
}

/// Looks an executor up by name; the error lists the valid names.
pub fn find(name: &str) -> Result<&'static ExecutorInfo, UsageError> {
    EXECUTORS.iter().find(|e| e.name == name).ok_or_else(|| {
        let all: Vec<&str> = EXECUTORS.iter().map(|e| e.name).collect();
        UsageError::new(format!(
            "unknown executor '{name}'; valid: {}",
            all.join(", ")
        ))
    })
}

/// Names of the executors `all` means: every one that needs nothing outside this binary.
/// The py-* need an interpreter and are named one by one, or as `py`.
pub fn names() -> Vec<&'static str> {
    EXECUTORS
        .iter()
        .filter(|e| family_of(e.name).is_none())
        .map(|e| e.name)
        .collect()
}

/// A sentence for a run of `executors` on a free-threaded interpreter: py-threads then runs
/// without the GIL. `None` when no py-* executor is in the run or the GIL is on.
pub fn python_free_threaded(executors: &[String]) -> Option<String> {
    let py = executors.iter().any(|e| family_of(e).is_some());
    let info = python::describe().ok().filter(|i| py && !i.gil_enabled)?;
    Some(format!(
        "{} {} is free-threaded (GIL disabled): py-threads runs its threads truly in parallel",
        info.implementation, info.version
    ))
}

/// Names of the executors `py` means: the py-* family.
pub fn python_names() -> Vec<&'static str> {
    EXECUTORS
        .iter()
        .filter(|e| family_of(e.name).is_some())
        .map(|e| e.name)
        .collect()
}

/// Checks a worker count from the user.
pub fn check_workers(workers: usize) -> Result<usize, UsageError> {
    match workers {
        0 => Err(UsageError::new("workers must be at least 1")),
        w if w > MAX_WORKERS => Err(UsageError::new(format!(
            "workers {w} is more than the maximum of {MAX_WORKERS}"
        ))),
        w => Ok(w),
    }
}

/// Starts an executor by name: the edge's entry (a name from the user); code that holds the
/// registry entry calls [`ExecutorInfo::launch`].
pub fn start(name: &str, options: &ExecOptions) -> Result<Box<dyn Executor>> {
    find(name)?.launch(options)
}
