//! Workloads: lists of independent tasks with deterministic inputs and checkable outputs.
//!
//! Adding one is a new file plus a line in [`WORKLOADS`].

use crate::error::{Result, TaskError, UsageError};
use crate::measure::{TaskInput, TaskOutput};
use crate::task::Ctx;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod api;
pub mod cpu;
pub mod dot;
pub mod io;
pub mod noop;
pub mod overrides;
pub mod sleep;

pub use overrides::{Overrides, Profile, MAX_TASKS};

/// A boxed future, as the async executor awaits it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which mock HTTP server the api workload talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    /// A new connection per request, one accept thread (the design's default).
    #[default]
    Mockito,
    /// A small keep-alive HTTP/1.1 server, for connection reuse at high concurrency.
    Keepalive,
}

/// A fault a test injects into chosen tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The task panics (every workload, every executor).
    Panic,
    /// api: the server answers 500.
    Status500,
    /// api: the server closes the connection in the middle of the body.
    CloseMidBody,
}

/// Every workload's parameters in one serialisable struct, so the CLI, the benches and a
/// worker process all describe a workload the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Number of tasks in a batch.
    pub tasks: usize,
    /// Per-task size in the workload's natural unit: loop steps (cpu), bytes per file (io),
    /// matrix dimension (dot), response body bytes (api).
    pub size: u64,
    /// Seed for the deterministic inputs.
    pub seed: u64,
    /// api: server latency per response, in milliseconds.
    pub latency_ms: u64,
    /// api: which mock server.
    pub server: ServerKind,
    /// api: client timeout per request, in milliseconds.
    pub timeout_ms: u64,
    /// io: fsync each file after writing it (off by default, as in the seed).
    pub fsync: bool,
    /// dot: threads inside the matrix kernel itself (1 = single-threaded kernel).
    pub inner_threads: usize,
    /// Faults injected into chosen tasks, for the fault suite.
    pub faults: Vec<(usize, Fault)>,
    /// Set by [`open`]: where the workload's resources live (the api server URL, the io
    /// directory), so a worker process can attach to them instead of making its own.
    pub endpoint: Option<String>,
}

impl Params {
    /// The fault injected into task `index`, if any.
    pub fn fault_for(&self, index: usize) -> Option<Fault> {
        self.faults
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, f)| *f)
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            tasks: 8,
            size: 0,
            seed: 2017,
            latency_ms: 20,
            server: ServerKind::Mockito,
            timeout_ms: 10_000,
            fsync: false,
            inner_threads: 1,
            faults: Vec::new(),
            endpoint: None,
        }
    }
}

/// A workload that has been opened: its server is up, its directory exists.
pub trait Workload: Send + Sync {
    /// CLI name.
    fn name(&self) -> &'static str;

    /// Parameters, with `endpoint` filled in: enough for [`attach`] in another process.
    fn params(&self) -> &Params;

    /// The batch's inputs, derived from the seed; the same every call.
    fn inputs(&self) -> Result<Vec<TaskInput>>;

    /// Runs one task. `ctx` carries the executor's hooks (simulated GIL check points).
    fn run(&self, input: &TaskInput, ctx: &Ctx) -> Result<TaskOutput, TaskError>;

    /// Runs one task on an async runtime. The default runs [`Workload::run`] in place, which
    /// honestly blocks the runtime's worker, as CPU work does; api overrides it with a real
    /// async client.
    fn run_async<'a>(
        &'a self,
        input: &'a TaskInput,
        worker: usize,
    ) -> BoxFuture<'a, Result<TaskOutput, TaskError>> {
        Box::pin(async move { self.run(input, &Ctx::plain(worker)) })
    }

    /// Monotonic counter of TCP connections the workload's server accepted, if it has one.
    fn connections(&self) -> Option<u64> {
        None
    }

    /// The ideal wall time of a batch on `workers` workers, for work that waits rather than
    /// computes (api: ceil(tasks / workers) x latency). `None` where the cores bound it.
    fn ideal_s(&self, _workers: usize) -> Option<f64> {
        None
    }

    /// Bytes each task moves, for Criterion's byte throughput (io).
    fn bytes_per_task(&self) -> Option<u64> {
        None
    }

    /// True for work that waits (on the network, on the disk) rather than computes: its
    /// speedup is not bound by the cores, so it is read as a speedup against its own ideal,
    /// never against the CPU ceiling. False by default.
    fn waits(&self) -> bool {
        false
    }
}

/// What a workload asks of the operating system, from its parameters alone (nothing is
/// opened to find out). Counts are per task in flight unless named otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    /// Descriptors a task holds where it runs (api: its client socket; io: its file).
    pub fds_per_task: u64,
    /// Descriptors a task holds in the process that owns the workload, wherever the task runs
    /// (api: the server's side of the connection).
    pub server_fds_per_task: u64,
    /// Threads the workload's server runs, whatever the load.
    pub server_threads: u64,
    /// Threads a task adds in the process that owns the workload (mockito: one per response).
    pub server_threads_per_task: u64,
    /// Threads a task adds where it runs (dot: its kernel's extra threads).
    pub threads_per_task: u64,
    /// Bytes the batch's inputs hold, every task's together.
    pub input_bytes: u64,
    /// Bytes a task holds beyond its input (api: the body in the server and in the client).
    pub bytes_per_task: u64,
    /// Local ports a task holds (api on a server that closes every connection: each request
    /// is a new connection from a new ephemeral port).
    pub ports_per_task: u64,
}

/// A registry entry: how to describe and open a workload.
pub struct WorkloadInfo {
    /// CLI name.
    pub name: &'static str,
    /// One line for `--help` and the README.
    pub about: &'static str,
    /// Hidden workloads are left out of `all` and the bench groups (but a worker process can
    /// still open them by name).
    pub hidden: bool,
    /// Default parameters, sized so a serial batch takes about 0.2-0.5 s here.
    pub defaults: fn() -> Params,
    /// Shrinks the defaults to the quick profile: a serial batch of tens of milliseconds.
    pub quick: fn(&mut Params),
    /// Opens the workload: starts its server or makes its directory when `params.endpoint`
    /// is `None`, or attaches to the existing ones when it is set (in a worker process).
    pub open: fn(Params) -> Result<Arc<dyn Workload>>,
    /// What a batch asks of the operating system (descriptors, threads, memory, ports), from
    /// the parameters alone, for the limit checks before any work ([`crate::limits`]); first
    /// it checks the parameters' own bounds, as `open` does, so those are named first.
    pub demand: fn(&Params) -> Result<Demand, UsageError>,
}

/// Every workload, in the order the CLI and the benches show them.
pub const WORKLOADS: &[WorkloadInfo] = &[
    api::INFO,
    io::INFO,
    cpu::INFO,
    dot::INFO,
    noop::INFO,
    sleep::INFO,
];

/// Looks a workload up by name; the error lists the valid names.
pub fn find(name: &str) -> Result<&'static WorkloadInfo, UsageError> {
    WORKLOADS.iter().find(|w| w.name == name).ok_or_else(|| {
        UsageError::new(format!(
            "unknown workload '{name}'; valid: {}",
            names().join(", ")
        ))
    })
}

/// Names of the workloads that `all` means (hidden ones left out).
pub fn names() -> Vec<&'static str> {
    WORKLOADS
        .iter()
        .filter(|w| !w.hidden)
        .map(|w| w.name)
        .collect()
}

/// Opens a workload by name with its default parameters, changed by `tweak`.
pub fn open_with(name: &str, tweak: impl FnOnce(&mut Params)) -> Result<Arc<dyn Workload>> {
    let info = find(name)?;
    let mut params = (info.defaults)();
    tweak(&mut params);
    (info.open)(params)
}

/// Default parameters of a workload by name.
pub fn defaults(name: &str) -> Result<Params, UsageError> {
    Ok((find(name)?.defaults)())
}

/// Opens a workload by name with its parameters.
pub fn open(name: &str, params: Params) -> Result<Arc<dyn Workload>> {
    (find(name)?.open)(params)
}

/// One input per task, `data(index)` giving each task's bytes.
pub fn inputs_by_index(tasks: usize, mut data: impl FnMut(usize) -> Vec<u8>) -> Vec<TaskInput> {
    (0..tasks)
        .map(|index| TaskInput {
            index,
            data: data(index).into(),
        })
        .collect()
}

/// A small, fast, deterministic generator (xorshift64*): inputs must be identical on every
/// machine and every run, and cheap enough that making 128 MiB of text is not the benchmark.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for this seed and stream (task index).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut s = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5_4a32_d192_ed03;
        if s == 0 {
            s = 1;
        }
        let mut r = Rng(s);
        r.next_u64();
        r
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A float in [-1, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// The quick profile divides each task's work by this factor.
pub const QUICK_DIVISOR: u64 = 16;

/// Quick profile for workloads whose size is linear in work (cpu steps, io bytes).
pub fn quick_linear(p: &mut Params) {
    p.size = (p.size / QUICK_DIVISOR).max(1);
}

/// Environment variable that lengthens the work (not the result) of the workloads where
/// extra work with the same result is honest (cpu, dot), by a factor: the regression gate's
/// calibration injects known slowdowns with it.
pub const SLOWDOWN_ENV: &str = "PARBENCH_SLOWDOWN";

/// The slowdown factor from [`SLOWDOWN_ENV`]: 1 when unset, an error outside 1..=100.
pub fn slowdown(workload: &str) -> Result<f64> {
    match std::env::var(SLOWDOWN_ENV) {
        Ok(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && (1.0..=100.0).contains(f))
            .ok_or_else(|| {
                crate::error::Error::workload(
                    workload,
                    format!("{SLOWDOWN_ENV}={s} is not a factor between 1 and 100"),
                )
            }),
        Err(_) => Ok(1.0),
    }
}
