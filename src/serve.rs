//! `parbench serve`: one side of the paired regression gate. A long-lived process that
//! prepares a benchmark (workload opened, pool started and warmed up) and then runs short
//! turns of k batches on command, so the gate can alternate two builds batch by batch.
//!
//! The protocol is one JSON object per line on stdin (requests) and stdout (replies); the
//! first line this side writes is a [`Hello`] carrying [`PROTOCOL_VERSION`]. Batches run
//! through the measurement engine, so every batch is checked against the serial reference.

use crate::engine::{Bench, Prepared};
use crate::error::{Error, Result};
use crate::executor::{self, ExecOptions, EXECUTORS};
use crate::system::{self, ThreadPin};
use crate::workload::{self, Overrides, Profile};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::time::Instant;

/// Bumped whenever a request or reply changes shape; the gate refuses to pair two sides that
/// disagree.
pub const PROTOCOL_VERSION: u32 = 1;

/// Worker counts the served benchmarks use, as in the Criterion suite.
pub const SERVE_WORKERS: &[usize] = &[1, 2, 4, 8];

/// Empty tasks in a dispatch batch, as in the Criterion suite's overhead group.
pub const DISPATCH_TASKS: usize = 64;

/// Most batches one turn may ask for.
pub const MAX_TURN_BATCHES: usize = 100_000;

/// The first line a serving side writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hello {
    /// Always "parbench-serve": tells a parbench apart from any other program.
    pub program: String,
    /// [`PROTOCOL_VERSION`] of this side.
    pub protocol: u32,
    /// The crate version of this side.
    pub version: String,
}

/// A request from the gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", tag = "cmd")]
pub enum Request {
    /// The benchmark ids this side knows.
    List,
    /// Open the benchmark's workload, start its pool warm and run its warm-up batch.
    Prepare {
        /// Benchmark id, e.g. `cpu/rayon/2`.
        id: String,
    },
    /// Run `k` batches of the prepared benchmark and report each one's nanoseconds.
    Turn {
        /// Batches in the turn.
        k: usize,
    },
    /// Stop the pools and exit.
    Quit,
}

/// A reply to the gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The ids this side knows.
    Ids(Vec<String>),
    /// The benchmark is ready; the warm-up batch took this long.
    Prepared {
        /// Nanoseconds of the warm-up batch.
        warmup_ns: u64,
    },
    /// Nanoseconds of each batch of a turn.
    Turn(Vec<u64>),
    /// The request failed; the side stays usable.
    Error(String),
}

/// What one benchmark id runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A batch of the workload on a warm pool: `<workload>/<executor>/<W>`.
    Work {
        workload: String,
        executor: String,
        workers: usize,
    },
    /// 64 empty tasks on a warm pool: `overhead_dispatch/<executor>/<W>`.
    Dispatch { executor: String, workers: usize },
    /// Start a pool, run W empty tasks, stop it: `overhead_start_stop/<executor>/<W>`.
    StartStop { executor: String, workers: usize },
}

/// Every benchmark id a serving side knows, in a stable order.
pub fn ids() -> Vec<String> {
    let mut out = Vec::new();
    for w in workload::names() {
        for e in EXECUTORS {
            for n in worker_counts(e) {
                out.push(format!("{w}/{}/{n}", e.name));
            }
        }
    }
    for e in EXECUTORS {
        for n in worker_counts(e) {
            out.push(format!("overhead_dispatch/{}/{n}", e.name));
        }
    }
    for e in EXECUTORS.iter().filter(|e| e.scales) {
        for &n in SERVE_WORKERS {
            out.push(format!("overhead_start_stop/{}/{n}", e.name));
        }
    }
    out
}

fn worker_counts(e: &executor::ExecutorInfo) -> Vec<usize> {
    if e.scales {
        SERVE_WORKERS.to_vec()
    } else {
        vec![1]
    }
}

fn parse_id(id: &str) -> Option<Kind> {
    if !ids().iter().any(|known| known == id) {
        return None;
    }
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        ["overhead_dispatch", e, n] => Some(Kind::Dispatch {
            executor: e.to_string(),
            workers: n.parse().ok()?,
        }),
        ["overhead_start_stop", e, n] => Some(Kind::StartStop {
            executor: e.to_string(),
            workers: n.parse().ok()?,
        }),
        [w, e, n] if !w.starts_with("overhead") => Some(Kind::Work {
            workload: w.to_string(),
            executor: e.to_string(),
            workers: n.parse().ok()?,
        }),
        _ => None,
    }
}

/// The profile every served workload runs with: the quick one, batches of milliseconds, so
/// the gate's turns stay short.
pub const PROFILE: Profile = Profile::Quick;

/// The parameters a served workload runs with: [`PROFILE`]'s.
fn params(workload: &str, tasks: Option<usize>) -> Result<workload::Params> {
    Overrides {
        profile: Some(PROFILE),
        tasks,
        ..Overrides::default()
    }
    .params_for(workload)
}

/// A prepared benchmark. Field order matters: the pool and bench drop before the pin.
struct Ready {
    kind: Kind,
    bench: Bench,
    pool: Option<Prepared>,
    _pin: Option<ThreadPin>,
}

impl Kind {
    /// Workers the benchmark's pool has (1 for executors that do not scale).
    fn workers(&self) -> usize {
        let (executor, workers) = match self {
            Kind::Work {
                executor, workers, ..
            }
            | Kind::Dispatch { executor, workers }
            | Kind::StartStop { executor, workers } => (executor, *workers),
        };
        executor::workers_of(executor, workers)
    }
}

impl Ready {
    fn prepare(id: &str, options: &ExecOptions) -> Result<Ready> {
        let kind = parse_id(id)
            .ok_or_else(|| Error::workload("serve", format!("unknown benchmark id '{id}'")))?;
        // A one-worker benchmark runs on the lowest core this process may use, on both
        // sides: the cores of this kind of host run at different speeds (25% apart here),
        // and two sides on different cores would differ by that much with no change at all.
        // Its pool is started after the pin, so its thread or process inherits it.
        let pin = system::allowed_cpus()
            .first()
            .and_then(|&cpu| crate::engine::same_core(kind.workers(), cpu));
        let (bench, pool) = match &kind {
            Kind::Work {
                workload,
                executor,
                workers,
            } => {
                let bench = Bench::open(workload, params(workload, None)?, options.clone())?;
                let pool = bench.prepare(executor, *workers)?;
                (bench, Some(pool))
            }
            Kind::Dispatch { executor, workers } => {
                let bench = Bench::open(
                    "noop",
                    params("noop", Some(DISPATCH_TASKS))?,
                    options.clone(),
                )?;
                let pool = bench.prepare(executor, *workers)?;
                (bench, Some(pool))
            }
            Kind::StartStop { workers, .. } => {
                let bench = Bench::open("noop", params("noop", Some(*workers))?, options.clone())?;
                (bench, None)
            }
        };
        Ok(Ready {
            kind,
            bench,
            pool,
            _pin: pin,
        })
    }

    /// One batch, timed in nanoseconds; checked against the reference outside the timing.
    fn batch(&mut self) -> Result<u64> {
        let started = Instant::now();
        let batch = match (&self.kind, self.pool.as_mut()) {
            (Kind::StartStop { executor, workers }, _) => {
                let mut pool = self.bench.start(executor, *workers)?;
                let batch = pool.pool().run(&self.bench.job);
                drop(pool);
                batch?
            }
            (_, Some(pool)) => pool.pool().run(&self.bench.job)?,
            (_, None) => unreachable!("work and dispatch benchmarks keep a pool"),
        };
        let ns = started.elapsed().as_nanos() as u64;
        self.bench.check(&batch, "serve")?;
        Ok(ns)
    }
}

/// Entry point of `parbench serve`: answers requests until `quit` or the end of stdin.
/// Returns the exit code.
pub fn serve_main() -> i32 {
    let mut options = ExecOptions::new(1);
    options.worker_exe = std::env::current_exe().ok();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let hello = Hello {
        program: "parbench-serve".into(),
        protocol: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").into(),
    };
    if send(&mut out, &hello).is_err() {
        return 1;
    }
    let mut ready: Option<Ready> = None;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return 1 };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Err(e) => Reply::Error(format!("bad request: {e}")),
            Ok(Request::Quit) => return 0,
            Ok(Request::List) => Reply::Ids(ids()),
            Ok(Request::Prepare { id }) => {
                // Drop the previous benchmark first: its pool must not compete.
                ready = None;
                match Ready::prepare(&id, &options).and_then(|mut r| {
                    let ns = r.batch()?;
                    Ok((r, ns))
                }) {
                    Ok((r, warmup_ns)) => {
                        ready = Some(r);
                        Reply::Prepared { warmup_ns }
                    }
                    Err(e) => Reply::Error(e.to_string()),
                }
            }
            Ok(Request::Turn { k }) => match ready.as_mut() {
                None => Reply::Error("turn before prepare".into()),
                Some(_) if k == 0 || k > MAX_TURN_BATCHES => Reply::Error(format!(
                    "turn of {k} batches: must be 1..={MAX_TURN_BATCHES}"
                )),
                Some(r) => match (0..k).map(|_| r.batch()).collect::<Result<Vec<u64>>>() {
                    Ok(ns) => Reply::Turn(ns),
                    Err(e) => Reply::Error(e.to_string()),
                },
            },
        };
        if send(&mut out, &reply).is_err() {
            return 1;
        }
    }
    0
}

fn send(out: &mut impl Write, message: &impl Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_string(message).map_err(std::io::Error::other)?;
    line.push('\n');
    out.write_all(line.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_back_and_match_the_suite_shape() {
        let all = ids();
        assert!(all.contains(&"cpu/rayon/2".to_string()));
        assert!(all.contains(&"cpu/serial/1".to_string()));
        assert!(!all.contains(&"cpu/serial/2".to_string()));
        assert!(all.contains(&"overhead_dispatch/pool/2".to_string()));
        assert!(all.contains(&"overhead_start_stop/rayon/8".to_string()));
        for id in &all {
            assert!(parse_id(id).is_some(), "{id}");
        }
        assert_eq!(parse_id("cpu/rayon/3"), None);
        assert_eq!(parse_id("nope"), None);
    }

    #[test]
    fn requests_round_trip_as_json_lines() {
        let r = Request::Turn { k: 3 };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"cmd":"turn","k":3}"#);
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        let reply = Reply::Turn(vec![1, 2]);
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), reply);
    }
}
