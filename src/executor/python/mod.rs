//! The py-* executors: the article's own Python code in a real CPython, measured by the same
//! engine as every other executor.
//!
//! Each pool is one long-lived CPython process running the embedded `worker.py` (the binary
//! needs nothing on disk) with a `concurrent.futures` executor of W workers inside it; it is
//! started and warmed once, like every other pool, and fed batches over a line protocol
//! ([`session`]). A job's inputs cross the pipe once, before its first batch and outside the
//! timed region; inside the batch each task is the article's code on those inputs: the
//! `count += i` loop, `open(path, 'wt').write(text)`, `urlopen(url).read()`, `numpy.dot(a, b)`.
//!
//! The family has a baseline of its own, `py-serial`: a speedup of a Python loop against
//! Rust's serial would say nothing about threads or processes ([`FAMILY`]).

use super::{ExecOptions, Executor, ExecutorInfo, Family, Job};
use crate::error::{Error, Result, TaskError, UsageError};
use crate::measure::{
    checksum_bytes, combine_checksums, Batch, BatchBuilder, Counters, Origin, TaskOutput,
    TaskRecord,
};
use crate::workload::Params;
use session::{Broken, Reply, Session};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod interpreters;
pub mod processes;
pub mod serial;
pub mod session;
pub mod threads;

/// The worker script, embedded.
pub const SCRIPT: &str = include_str!("worker.py");
/// Environment variable naming the interpreter when `--python` is not given.
pub const PYTHON_ENV: &str = "PARBENCH_PYTHON";
/// Set (to parbench's pid) in every Python process parbench starts, so leftover checks can
/// find them.
pub const MARK_ENV: &str = "PARBENCH_PY_WORKER";
/// Environment variable of the fault suite: `kill|hang|garbage:TASK:MARKER` makes the first
/// Python process that creates MARKER do that at task TASK.
pub const FAULT_ENV: &str = "PARBENCH_PY_FAULT";
/// The py-* run cpu with this many times fewer loop steps per task than the Rust executors:
/// a Python loop is about 100x slower, and at the Rust size a py-serial batch of the quick
/// profile would take over a second, so the run would not fit its budget.
pub const CPU_DIVISOR: u64 = 16;
/// How long a Python worker may take to start (import included) or to load a job.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the probe of an interpreter may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The family: py-serial is its baseline; its cpu tasks are smaller; numpy's products are
/// checked to rounding, so dot's reference is py-serial's own.
pub const FAMILY: Family = Family {
    baseline: &serial::INFO,
    params: family_params,
    exact: |workload| workload != "dot",
};

/// The py-* executors, in registry order.
const MEMBERS: [&ExecutorInfo; 4] = [
    &serial::INFO,
    &threads::INFO,
    &processes::INFO,
    &interpreters::INFO,
];

/// True for a py-* executor.
pub fn is_member(name: &str) -> bool {
    MEMBERS.iter().any(|m| m.name == name)
}

fn family_params(workload: &str, params: &Params) -> Params {
    let mut p = params.clone();
    if workload == "cpu" {
        p.size = (p.size / CPU_DIVISOR).max(1);
    }
    p
}

/// What kind of `concurrent.futures` executor runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One task after another in the worker's main thread.
    Serial,
    /// `ThreadPoolExecutor(W)`.
    Threads,
    /// `ProcessPoolExecutor(W)`, fork start method.
    Processes,
    /// `InterpreterPoolExecutor(W)` (Python 3.14+).
    Interpreters,
}

impl Kind {
    fn arg(self) -> &'static str {
        match self {
            Kind::Serial => "serial",
            Kind::Threads => "threads",
            Kind::Processes => "processes",
            Kind::Interpreters => "interpreters",
        }
    }

    fn info(self) -> &'static ExecutorInfo {
        match self {
            Kind::Serial => &serial::INFO,
            Kind::Threads => &threads::INFO,
            Kind::Processes => &processes::INFO,
            Kind::Interpreters => &interpreters::INFO,
        }
    }
}

// ---- which interpreter, and what it is -------------------------------------------------

static CHOSEN: Mutex<Option<PathBuf>> = Mutex::new(None);
type Probes = HashMap<PathBuf, std::result::Result<Interpreter, String>>;
static PROBES: Mutex<Option<Probes>> = Mutex::new(None);

/// The interpreter the py-* executors run: `--python`, else `PARBENCH_PYTHON`, else
/// `python3` on PATH.
pub fn interpreter() -> PathBuf {
    if let Some(p) = CHOSEN.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        return p;
    }
    match std::env::var_os(PYTHON_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("python3"),
    }
}

/// Chooses the interpreter (`--python PATH`, or `PARBENCH_PYTHON` when it is given). The
/// file must exist and be a Python 3 that runs the worker script: a usage error otherwise,
/// before any work.
pub fn choose(path: Option<&Path>, flag: &str) -> Result<(), UsageError> {
    let Some(path) = path else {
        return Ok(());
    };
    let on_path = path.components().count() == 1 && !path.exists();
    if !on_path && !path.is_file() {
        return Err(UsageError::new(format!(
            "{flag} {}: no such file",
            path.display()
        )));
    }
    *CHOSEN.lock().unwrap_or_else(|p| p.into_inner()) = Some(path.to_path_buf());
    describe()
        .map(|_| ())
        .map_err(|e| UsageError::new(format!("{flag} {}: {e}", path.display())))
}

/// What the chosen interpreter is (the report's record of it, defined there so that the
/// report need not reach up into the executors).
pub use crate::report::Interpreter;

/// The chosen interpreter's description, or why it cannot serve.
pub fn describe() -> std::result::Result<Interpreter, String> {
    let python = interpreter();
    let mut probes = PROBES.lock().unwrap_or_else(|p| p.into_inner());
    probes
        .get_or_insert_with(HashMap::new)
        .entry(python.clone())
        .or_insert_with(|| {
            let text = session::probe(&python, PROBE_TIMEOUT)?;
            serde_json::from_str(text.trim()).map_err(|e| {
                format!(
                    "{} answered the probe with something else ({e})",
                    python.display()
                )
            })
        })
        .clone()
}

/// Why the py-* executor `name` cannot run here (the workload, when given), or `None`.
pub fn unavailable(name: &str, workload: Option<&str>) -> Option<String> {
    if !is_member(name) {
        return None;
    }
    let python = interpreter();
    let info = match describe() {
        Ok(info) => info,
        Err(e) => return Some(format!("no Python interpreter: {e}")),
    };
    if name == interpreters::INFO.name && !info.interpreters {
        return Some(format!(
            "needs Python 3.14+ (InterpreterPoolExecutor); {} is {}",
            python.display(),
            info.version
        ));
    }
    match workload {
        Some("dot") if info.numpy.is_none() => Some(format!(
            "dot needs numpy, which {} cannot import ({})",
            python.display(),
            info.numpy_error.as_deref().unwrap_or("unknown error")
        )),
        Some(w) if !["cpu", "io", "api", "dot"].contains(&w) => {
            Some(format!("there is no Python version of workload {w}"))
        }
        _ => None,
    }
}

// ---- the pool ---------------------------------------------------------------------------

/// Starts a py-* pool of `kind`.
pub fn start(kind: Kind, options: &ExecOptions) -> Result<Box<dyn Executor>> {
    let name = kind.info().name;
    if let Some(why) = unavailable(name, None) {
        return Err(UsageError::new(format!("{name} is unavailable: {why}")).into());
    }
    let workers = if kind == Kind::Serial {
        1
    } else {
        options.workers
    };
    let mut pool = PyPool {
        kind,
        workers,
        switch: options.switch_interval,
        task_timeout: options.task_timeout,
        session: None,
        loaded: None,
        blas: 1,
        expected: Vec::new(),
    };
    pool.ensure_session(1)?;
    Ok(Box::new(pool))
}

/// The job a worker holds: the same inputs (by address) of the same workload.
#[derive(Debug, Clone, PartialEq)]
struct JobKey {
    inputs: usize,
    workload: &'static str,
    params: Params,
}

impl JobKey {
    fn of(job: &Job) -> JobKey {
        JobKey {
            inputs: Arc::as_ptr(&job.inputs) as usize,
            workload: job.workload.name(),
            params: job.workload.params().clone(),
        }
    }
}

/// A py-* pool: one CPython worker process and what it holds.
struct PyPool {
    kind: Kind,
    workers: usize,
    switch: Duration,
    task_timeout: Duration,
    session: Option<Session>,
    loaded: Option<JobKey>,
    /// BLAS threads the worker was started with (set before numpy is imported).
    blas: usize,
    /// dot: each task's expected row sums of the product, and their error bounds.
    expected: Vec<RowSums>,
}

impl PyPool {
    /// A live worker started with `blas` BLAS threads: the one there, or a new one.
    fn ensure_session(&mut self, blas: usize) -> Result<()> {
        if self.session.is_some() && self.blas == blas {
            return Ok(());
        }
        self.session = None;
        self.loaded = None;
        let name = self.kind.info().name;
        let args = [
            "serve".to_string(),
            self.kind.arg().to_string(),
            self.workers.to_string(),
            self.switch.as_secs_f64().to_string(),
        ];
        let blas_s = blas.to_string();
        let env = [
            ("OPENBLAS_NUM_THREADS", blas_s.clone()),
            ("OMP_NUM_THREADS", blas_s.clone()),
            ("MKL_NUM_THREADS", blas_s),
        ];
        let session = Session::start(&interpreter(), &args, &env, START_TIMEOUT)
            .map_err(|e| Error::executor(name, e))?;
        self.session = Some(session);
        self.blas = blas;
        Ok(())
    }

    /// Sends the job's inputs to the worker, once per job.
    fn load(&mut self, job: &Job) -> Result<()> {
        let key = JobKey::of(job);
        if self.loaded.as_ref() == Some(&key) {
            return Ok(());
        }
        let name = self.kind.info().name;
        let params = job.workload.params();
        self.expected = if key.workload == "dot" {
            job.inputs
                .iter()
                .map(|i| RowSums::of(&i.data, params.size as usize))
                .collect()
        } else {
            Vec::new()
        };
        let sizes: Vec<usize> = job.inputs.iter().map(|i| i.data.len()).collect();
        let line = serde_json::json!({
            "op": "load",
            "workload": key.workload,
            "params": params,
            "sizes": sizes,
        })
        .to_string();
        let blobs: Vec<&[u8]> = job.inputs.iter().map(|i| &*i.data).collect();
        let session = self.session.as_mut().expect("a session is started first");
        let sent = session
            .send(&line, &blobs)
            .and_then(|()| session.next(START_TIMEOUT));
        match sent {
            Ok(Reply::Loaded) => {
                self.loaded = Some(key);
                Ok(())
            }
            Ok(other) => {
                let why =
                    session.explain(&Broken::Garbage(format!("answered {other:?} to a load")));
                self.session = None;
                Err(Error::executor(name, why))
            }
            Err(broken) => {
                let why = session.explain(&broken);
                self.session = None;
                Err(Error::executor(name, why))
            }
        }
    }

    /// The output of a finished task, checked as far as Python's value allows.
    fn output(
        &self,
        job: &Job,
        reply: &session::TaskReply,
    ) -> std::result::Result<TaskOutput, TaskError> {
        if !reply.ok {
            return Err(TaskError::new(format!(
                "Python raised {}",
                reply.error.as_deref().unwrap_or("an unknown error")
            )));
        }
        let value = reply.value.as_ref();
        let number = || {
            value
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| TaskError::new(format!("Python returned {value:?}, not a number")))
        };
        let bytes = || {
            value
                .and_then(serde_json::Value::as_str)
                .and_then(from_hex)
                .ok_or_else(|| TaskError::new("Python returned something other than bytes"))
        };
        let input = job.inputs.get(reply.task).ok_or_else(|| {
            TaskError::new(format!("Python reported task {} of none", reply.task))
        })?;
        match job.workload.name() {
            "cpu" => {
                let count = number()?;
                let steps = input
                    .data
                    .get(..8)
                    .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
                Ok(TaskOutput {
                    checksum: count,
                    units: steps,
                    payload: Default::default(),
                })
            }
            "io" => {
                let written = number()?;
                Ok(TaskOutput {
                    checksum: combine_checksums([reply.task as u64, written]),
                    units: written,
                    payload: Default::default(),
                })
            }
            "api" => {
                let body = bytes()?;
                Ok(TaskOutput {
                    checksum: checksum_bytes(&body),
                    units: body.len() as u64,
                    payload: Default::default(),
                })
            }
            "dot" => {
                let got = bytes()?;
                let expected = self
                    .expected
                    .get(reply.task)
                    .ok_or_else(|| TaskError::new("no expected product for this task"))?;
                expected.check(&got)?;
                let n = job.workload.params().size;
                Ok(TaskOutput {
                    checksum: checksum_bytes(&expected.bytes()),
                    units: 2 * n.pow(3),
                    payload: Default::default(),
                })
            }
            other => Err(TaskError::new(format!(
                "no Python version of workload {other}"
            ))),
        }
    }
}

impl Executor for PyPool {
    fn name(&self) -> &'static str {
        self.kind.info().name
    }

    fn workers(&self) -> usize {
        self.workers
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let blas = if job.workload.name() == "dot" {
            job.workload.params().inner_threads
        } else {
            self.blas
        };
        // A worker lost in the last batch is replaced here, before the clock starts.
        self.ensure_session(blas)?;
        self.load(job)?;
        let worker = self.session.as_mut().expect("started above");
        let mut builder = BatchBuilder::new(job.len(), Origin::now());
        let origin = builder.origin();
        let mut running: Vec<bool> = vec![false; job.len()];
        let mut finished: Vec<bool> = vec![false; job.len()];
        let mut replies = Vec::with_capacity(job.len());
        let mut outcome = worker.send(r#"{"op":"run"}"#, &[]);
        while outcome.is_ok() {
            match worker.next(self.task_timeout) {
                Ok(Reply::Done) => break,
                Ok(Reply::Start { task }) if task < running.len() => running[task] = true,
                Ok(Reply::Task(reply)) if reply.task < finished.len() => {
                    finished[reply.task] = true;
                    replies.push(reply);
                }
                Ok(other) => {
                    outcome = Err(Broken::Garbage(format!("sent an unexpected {other:?}")));
                }
                Err(broken) => outcome = Err(broken),
            }
        }
        let counters = Counters::default();
        let parent = std::process::id();
        for reply in &replies {
            let result = self.output(job, reply);
            let (start_s, stop_s) = match (reply.start, reply.stop) {
                (Some(a), Some(b)) => (origin.secs_to(a), origin.secs_to(b)),
                _ => (origin.elapsed_s(), origin.elapsed_s()),
            };
            builder.set(
                result,
                TaskRecord {
                    task: reply.task,
                    worker: reply.worker.unwrap_or(0),
                    pid: reply.pid.unwrap_or(parent),
                    start_s,
                    stop_s,
                    ok: reply.ok,
                },
            );
        }
        if let Err(broken) = outcome {
            // The worker died, hung or wrote garbage: kill it, name the tasks it held, and
            // start a new one with the next batch.
            let worker = self.session.as_mut().expect("started above");
            let pid = worker.pid;
            let why = worker.explain(&broken);
            self.session = None;
            self.loaded = None;
            let now = origin.elapsed_s();
            for task in (0..job.len()).filter(|&t| !finished[t]) {
                builder.set(
                    Err(session::lost(task, running[task], &why)),
                    TaskRecord {
                        task,
                        worker: 0,
                        pid,
                        start_s: now,
                        stop_s: now,
                        ok: false,
                    },
                );
            }
        }
        Ok(builder.finish(counters))
    }
}

/// dot: the row sums of A B computed as A (B 1) on the Rust side, with a bound on each
/// one's rounding error, to check numpy's product without shipping it back.
struct RowSums {
    sums: Vec<f64>,
    tolerance: Vec<f64>,
}

impl RowSums {
    fn of(data: &[u8], n: usize) -> RowSums {
        let values: Vec<f64> = data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if values.len() != 2 * n * n {
            return RowSums {
                sums: Vec::new(),
                tolerance: Vec::new(),
            };
        }
        let (a, b) = values.split_at(n * n);
        let row_of_b = |k: usize| &b[k * n..(k + 1) * n];
        let b_sum: Vec<f64> = (0..n).map(|k| row_of_b(k).iter().sum()).collect();
        let b_abs: Vec<f64> = (0..n)
            .map(|k| row_of_b(k).iter().map(|x| x.abs()).sum())
            .collect();
        let mut sums = Vec::with_capacity(n);
        let mut tolerance = Vec::with_capacity(n);
        for i in 0..n {
            let row = &a[i * n..(i + 1) * n];
            sums.push(row.iter().zip(&b_sum).map(|(x, y)| x * y).sum());
            // Both sides sum n products twice: their rounding errors stay under about
            // 2 n eps sum|a||b|; 100 times that is still far below what a wrong product moves.
            let bound: f64 = row.iter().zip(&b_abs).map(|(x, y)| x.abs() * y).sum();
            tolerance.push(200.0 * n as f64 * f64::EPSILON * bound + f64::MIN_POSITIVE);
        }
        RowSums { sums, tolerance }
    }

    fn check(&self, got: &[u8]) -> std::result::Result<(), TaskError> {
        if got.len() != 8 * self.sums.len() {
            return Err(TaskError::new(format!(
                "numpy returned {} row sums, expected {}",
                got.len() / 8,
                self.sums.len()
            )));
        }
        for (i, c) in got.chunks_exact(8).enumerate() {
            let v = f64::from_le_bytes(c.try_into().expect("8 bytes"));
            // A NaN is never within the tolerance.
            let within = (v - self.sums[i]).abs() <= self.tolerance[i];
            if !within {
                return Err(TaskError::new(format!(
                    "numpy's product is wrong: row {i} sums to {v}, expected {}",
                    self.sums[i]
                )));
            }
        }
        Ok(())
    }

    fn bytes(&self) -> Vec<u8> {
        self.sums.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        assert_eq!(from_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn row_sums_accept_the_product_and_refuse_a_wrong_one() {
        let n = 3;
        let a: Vec<f64> = (0..9).map(|x| x as f64 - 4.0).collect();
        let b: Vec<f64> = (0..9).map(|x| (x % 4) as f64 * 0.5).collect();
        let data: Vec<u8> = a.iter().chain(&b).flat_map(|v| v.to_le_bytes()).collect();
        let expected = RowSums::of(&data, n);
        let product_sums: Vec<f64> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum::<f64>())
                    .sum()
            })
            .collect();
        let good: Vec<u8> = product_sums.iter().flat_map(|v| v.to_le_bytes()).collect();
        expected.check(&good).unwrap();
        let mut wrong = product_sums.clone();
        wrong[1] += 0.5;
        let bad: Vec<u8> = wrong.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(expected.check(&bad).unwrap_err().message.contains("row 1"));
        assert!(expected.check(&good[..8]).is_err());
    }

    #[test]
    fn the_family_runs_cpu_smaller_and_everything_else_as_given() {
        let p = Params {
            size: 1600,
            ..Params::default()
        };
        assert_eq!(family_params("cpu", &p).size, 1600 / CPU_DIVISOR);
        assert_eq!(family_params("io", &p), p);
        assert!(!(FAMILY.exact)("dot"));
        assert!((FAMILY.exact)("cpu"));
        // The registry applies the one rule to family members only: a sidecar's row of
        // cpu/py-threads/2 says the size its tasks ran.
        assert_eq!(
            super::super::params_of("py-threads", "cpu", &p).size,
            1600 / CPU_DIVISOR
        );
        assert_eq!(super::super::params_of("threads", "cpu", &p), p);
    }
}
