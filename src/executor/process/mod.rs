//! `process`: a pool of W worker processes fed over pipes, like Python's ProcessPoolExecutor.
//!
//! Workers are this project's own binary started as `parbench worker` (never a `fork()` of a
//! multi-threaded parent). Parent and worker talk over the child's stdin and stdout only,
//! with length-prefixed frames ([`protocol`]); a task's input and output cross the pipe as
//! raw bytes, through `vmsplice(2)` when they are large, into pipes grown to 1 MiB.
//!
//! One parent thread serves every worker with `poll(2)` on non-blocking pipes: each worker
//! holds one task ahead in its pipe while at least one is left for every worker, and
//! otherwise gets its next task the moment its reply arrives (dynamic dispatch near the end
//! of a batch); large inputs stream to several workers at once, and no thread hand-off sits in
//! the round trip. A worker that dies, closes its pipe or sends garbage fails only the task
//! it was running, with an error that names the task and the worker's pid, and is replaced
//! at once; the task waiting behind it goes to another worker.

mod pipes;
mod pool;
pub mod protocol;
mod shm;
mod spawn;
mod worker;

pub use pipes::PIPE_BYTES;
pub use shm::SHARED_MIN;
pub use spawn::default_worker_exe;
pub use worker::{worker_main, FAULT_ENV, PARENT_ENV};

use super::{ExecOptions, Executor, ExecutorInfo, Job};
use crate::error::{Error, Result};
use crate::measure::Batch;
use crate::system::Placement;
use pool::Session;
use spawn::{State, Worker};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "process",
    about: "pool of W worker processes fed over pipes (ProcessPoolExecutor)",
    scales: true,
    start,
};

fn start(options: &ExecOptions) -> Result<Box<dyn Executor>> {
    let exe = match &options.worker_exe {
        Some(exe) => exe.clone(),
        None => default_worker_exe()?,
    };
    Ok(Box::new(
        ProcessPool::builder(exe)
            .workers(options.workers)
            .task_timeout(options.task_timeout)
            .placement(options.placement.clone())
            .start()?,
    ))
}

/// How a pool is started.
#[derive(Debug, Clone)]
pub struct ProcessPoolBuilder {
    exe: PathBuf,
    workers: usize,
    env: Vec<(OsString, OsString)>,
    zero_copy: bool,
    pipe_bytes: Option<usize>,
    start_timeout: Duration,
    task_timeout: Duration,
    grace: Duration,
    placement: Placement,
}

impl ProcessPoolBuilder {
    /// Number of worker processes (default 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// An extra environment variable for the workers (tests use [`FAULT_ENV`]).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sends large inputs with `vmsplice` instead of `write` (default on; off only to
    /// measure what it saves).
    pub fn zero_copy(mut self, on: bool) -> Self {
        self.zero_copy = on;
        self
    }

    /// Pipe buffer size to ask for, or `None` for the kernel default (64 KiB).
    pub fn pipe_bytes(mut self, bytes: Option<usize>) -> Self {
        self.pipe_bytes = bytes;
        self
    }

    /// How long a worker may take to say hello (default 30 s: a loaded machine is slow, but
    /// a worker that never answers must not hang the pool).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long a task may run, from the moment it is sent, before its worker is killed
    /// (SIGKILL) and replaced and the task fails naming the worker's pid (default 60 s). A
    /// stalled worker (stopped, deadlocked, swapping) then costs this long, never forever.
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = timeout;
        self
    }

    /// Where the worker processes run (default: where the OS puts them). A replacement
    /// worker takes its lane's place.
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }

    /// How long shutdown waits for workers to exit before killing them (default 2 s).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Starts every worker and waits for each to say hello. The time this takes is
    /// [`ProcessPool::start_time`].
    pub fn start(self) -> Result<ProcessPool> {
        super::check_workers(self.workers)?;
        let began = Instant::now();
        let mut pool = ProcessPool {
            lanes: Vec::with_capacity(self.workers),
            config: self,
            start_time: Duration::ZERO,
            affinity: crate::system::allowed_cpus(),
        };
        for lane in 0..pool.config.workers {
            let worker = pool.spawn(lane)?;
            pool.lanes.push(Some(worker));
        }
        let mut session = Session::new(None, pool.lanes.len());
        while pool
            .lanes
            .iter()
            .flatten()
            .any(|w| w.state == State::Starting)
        {
            pool.turn(&mut session)?;
            if let Some(loss) = session.losses.first() {
                return Err(Error::executor(
                    INFO.name,
                    format!("a worker failed to start: {loss}"),
                ));
            }
        }
        pool.start_time = began.elapsed();
        Ok(pool)
    }
}

/// A started pool of worker processes. Reusable across batches; dropping it closes the
/// workers' stdin, waits for them to exit, and kills any that do not within the grace time.
pub struct ProcessPool {
    config: ProcessPoolBuilder,
    lanes: Vec<Option<Worker>>,
    start_time: Duration,
    /// The cores of the thread that started the pool: workers (replacements too) run on
    /// them, as the threads of an in-process pool inherit them.
    affinity: Vec<usize>,
}

impl ProcessPool {
    /// A builder for a pool whose workers run `exe worker`.
    pub fn builder(exe: impl Into<PathBuf>) -> ProcessPoolBuilder {
        ProcessPoolBuilder {
            exe: exe.into(),
            workers: 1,
            env: Vec::new(),
            zero_copy: true,
            pipe_bytes: Some(PIPE_BYTES),
            start_timeout: Duration::from_secs(30),
            task_timeout: crate::task::DEFAULT_TASK_TIMEOUT,
            grace: Duration::from_secs(2),
            placement: Placement::Os,
        }
    }

    /// Wall time from the first spawn to the last worker's hello.
    pub fn start_time(&self) -> Duration {
        self.start_time
    }

    /// The pid of each lane's worker (`None` for a lane whose worker could not be replaced).
    pub fn pids(&self) -> Vec<Option<u32>> {
        self.lanes
            .iter()
            .map(|w| w.as_ref().map(|w| w.pid))
            .collect()
    }
}

impl Executor for ProcessPool {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn workers(&self) -> usize {
        self.lanes.len()
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let result = self.run_batch(job);
        if result.is_err() {
            // A batch cut short leaves workers mid-task: retire them, so a later batch never
            // reads a stale reply. They are replaced when the pool is next used.
            for lane in self.lanes.iter_mut() {
                if lane.as_ref().is_some_and(|w| w.state != State::Idle) {
                    *lane = None;
                }
            }
        }
        result
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        // Closing stdin is the shutdown request: an idle worker reads EOF and exits 0.
        for w in self.lanes.iter_mut().flatten() {
            w.stdin = None;
        }
        let until = Instant::now() + self.config.grace;
        for w in self.lanes.iter_mut().flatten() {
            while Instant::now() < until {
                match w.child.try_wait() {
                    Ok(None) => std::thread::sleep(Duration::from_micros(200)),
                    _ => break,
                }
            }
        }
        // Worker::drop kills whatever is still running and reaps it.
        self.lanes.clear();
    }
}
