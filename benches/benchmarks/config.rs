//! The suite's knobs: the profile and the `PARBENCH_*` environment variables (listed in
//! `bench_main.rs`), read once. A bad value panics with a message naming the variable, since
//! a bench that silently ignored a knob would measure something else than was asked.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use parbench::executor::check_workers;
use parbench::workload::{Overrides, ServerKind};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

/// Worker counts swept when `PARBENCH_WORKERS` is not set: 1 to 4x the 2 cores of the
/// reference machine, so both the scaling and the oversubscription show.
pub const DEFAULT_WORKERS: &[usize] = &[1, 2, 4, 8];

/// How much measuring a run buys. Both profiles run `parbench run`'s task sizes (batches of
/// tens of milliseconds, many short paired rounds); they differ in the rounds per benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo bench`: 30 paired rounds (10 blocks) per workload benchmark, HTML report.
    Default,
    /// `PARBENCH_PROFILE=quick` or `--quick`: 12 rounds (4 blocks), no plots: for smoke runs
    /// and CI.
    Quick,
}

/// Sampling settings for one kind of group.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Number of samples (Criterion's minimum is 10).
    pub sample_size: usize,
    /// Warm-up before sampling; at least one iteration runs whatever its length.
    pub warm_up: Duration,
    /// Target time of the sampling phase.
    pub measurement: Duration,
}

impl Profile {
    /// The profile's name, as the sidecars record it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Quick => "quick",
        }
    }

    /// Workload groups: one sample is one paired round (a measurement time far below a
    /// round makes Criterion's flat sampling take one iteration per sample, and the
    /// warm-up one round), so the sample size sets the rounds: the warm-up's round and the
    /// samples fill whole blocks of 3. Criterion warns that it could not complete the
    /// samples in the time asked: expected.
    pub fn work(self) -> Timing {
        let rounds = match self {
            Profile::Default => 30,
            Profile::Quick => 12,
        };
        Timing {
            sample_size: rounds - 1,
            warm_up: Duration::from_micros(1),
            measurement: Duration::from_micros(1),
        }
    }

    /// Overhead group: iterations of microseconds to milliseconds, so more samples are cheap
    /// and Criterion's automatic choice (linear sampling, flat for process start-up) applies.
    pub fn overhead(self) -> Timing {
        match self {
            Profile::Default => Timing {
                sample_size: 20,
                warm_up: Duration::from_millis(200),
                measurement: Duration::from_secs(1),
            },
            Profile::Quick => Timing {
                sample_size: 10,
                warm_up: Duration::from_millis(50),
                measurement: Duration::from_millis(200),
            },
        }
    }

    /// The worker counts of the py-* executors, from the swept `counts`: every one in the
    /// default profile; in the quick one only the largest not above the host's cores (2 here),
    /// where the article's threads-against-processes question is asked. A py-* cpu batch
    /// takes about 55 ms against serial's 9: measured here, the 12 quick py-* benchmarks took
    /// 16 s, so the 36 of every count would add about 48 s to the suite's 1 min 18 s, past
    /// the quick profile's 2 minutes (the default profile's 36 took 2 min 4 s).
    pub fn family_workers(self, counts: &[usize]) -> Vec<usize> {
        match self {
            Profile::Default => counts.to_vec(),
            Profile::Quick => {
                let cores = parbench::system::available_cores();
                let fit = counts.iter().copied().filter(|&w| w <= cores).max();
                fit.or_else(|| counts.iter().copied().min())
                    .into_iter()
                    .collect()
            }
        }
    }

    /// Bootstrap resamples. Criterion's default of 100 000 made analysis and plots (KDEs of the
    /// bootstrap distributions) cost about 9 s per benchmark here, three times the measuring;
    /// 10 000 cost about 1.5 s, and still put a few hundred resamples beyond each end of a 95%
    /// interval.
    fn resamples(self) -> usize {
        match self {
            Profile::Default => 10_000,
            Profile::Quick => 5_000,
        }
    }
}

/// Every knob of the suite, parsed from the environment.
#[derive(Debug)]
pub struct Knobs {
    /// `PARBENCH_PROFILE` (or Criterion's `--quick`).
    pub profile: Profile,
    /// `PARBENCH_WORKERS`: worker counts for every scaling executor.
    pub workers: Vec<usize>,
    /// The workload parameters: the profile's sizes and `PARBENCH_TASKS`,
    /// `PARBENCH_LATENCY_MS`, `PARBENCH_SERVER`, `PARBENCH_INNER_THREADS`; the size comes per
    /// workload from [`size_for`].
    pub overrides: Overrides,
    /// `PARBENCH_THROUGHPUT=1`: report elements/bytes per second.
    pub throughput: bool,
}

/// The knobs, read from the environment on first use.
pub fn knobs() -> &'static Knobs {
    static KNOBS: OnceLock<Knobs> = OnceLock::new();
    KNOBS.get_or_init(Knobs::from_env)
}

impl Knobs {
    fn from_env() -> Knobs {
        warn_unknown();
        let quick_flag = std::env::args().any(|a| a == "--quick");
        let profile = match var("PARBENCH_PROFILE").as_deref() {
            None | Some("default") if quick_flag => Profile::Quick,
            None | Some("default") => Profile::Default,
            Some("quick") => Profile::Quick,
            Some(other) => panic!("PARBENCH_PROFILE={other}: expected 'default' or 'quick'"),
        };
        let workers = match var("PARBENCH_WORKERS") {
            None => DEFAULT_WORKERS.to_vec(),
            Some(list) => parse_workers(&list),
        };
        let server: Option<ServerKind> = var("PARBENCH_SERVER").map(|s| {
            serde_json::from_value(serde_json::Value::String(s.clone())).unwrap_or_else(|_| {
                panic!("PARBENCH_SERVER={s}: expected 'mockito' or 'keepalive'")
            })
        });
        let throughput = match var("PARBENCH_THROUGHPUT").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => panic!("PARBENCH_THROUGHPUT={other}: expected 0 or 1"),
        };
        let overrides = Overrides {
            // `parbench run`'s sizes for both profiles: short batches, many paired rounds.
            profile: Some(parbench::workload::Profile::Quick),
            tasks: positive("PARBENCH_TASKS"),
            latency_ms: positive("PARBENCH_LATENCY_MS"),
            server,
            inner_threads: positive("PARBENCH_INNER_THREADS"),
            ..Overrides::default()
        };
        Knobs {
            profile,
            workers,
            overrides,
            throughput,
        }
    }
}

/// The variables this suite reads (`PARBENCH_SIZE_<WORKLOAD>` aside).
const KNOWN: &[&str] = &[
    "PARBENCH_PROFILE",
    "PARBENCH_WORKERS",
    "PARBENCH_TASKS",
    "PARBENCH_LATENCY_MS",
    "PARBENCH_SERVER",
    "PARBENCH_INNER_THREADS",
    "PARBENCH_THROUGHPUT",
];

/// Warns about `PARBENCH_*` variables nobody reads: a misspelt knob would otherwise leave the
/// suite measuring its defaults without a word.
fn warn_unknown() {
    let library = [
        parbench::workload::cpu::SLOWDOWN_ENV,
        parbench::executor::process::FAULT_ENV,
        parbench::executor::process::PARENT_ENV,
        parbench::executor::python::PYTHON_ENV,
        parbench::executor::python::MARK_ENV,
        parbench::executor::python::FAULT_ENV,
    ];
    let sizes: Vec<String> = parbench::workload::names()
        .iter()
        .map(|w| size_var(w))
        .collect();
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let known =
            KNOWN.contains(&name) || library.contains(&name) || sizes.iter().any(|s| s == name);
        if name.starts_with("PARBENCH_") && !known {
            eprintln!(
                "warning: {name} is not a parbench bench knob and is ignored; known: {}, {}",
                KNOWN.join(", "),
                sizes.join(", ")
            );
        }
    }
}

fn size_var(workload: &str) -> String {
    format!("PARBENCH_SIZE_{}", workload.to_uppercase())
}

/// `PARBENCH_SIZE_<WORKLOAD>`: per-task size of one workload (steps, bytes, matrix dimension).
pub fn size_for(workload: &str) -> Option<u64> {
    positive(&size_var(workload))
}

/// A variable's value; unset and empty both mean "not set".
fn var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => None,
        Ok(v) => Some(v.trim().to_string()),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(v)) => panic!("{name}={v:?} is not valid UTF-8"),
    }
}

/// A whole number of at least 1.
fn positive<T: FromStr + PartialOrd + From<u8>>(name: &str) -> Option<T> {
    var(name).map(|s| match s.parse::<T>() {
        Ok(n) if n >= T::from(1) => n,
        _ => panic!("{name}={s}: expected a whole number of at least 1"),
    })
}

/// `1,2,4,8`: distinct valid worker counts, in the order given.
fn parse_workers(list: &str) -> Vec<usize> {
    let mut workers = Vec::new();
    for part in list.split(',') {
        let w = part
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|w| check_workers(w).ok())
            .unwrap_or_else(|| {
                panic!(
                    "PARBENCH_WORKERS={list}: '{}' is not a worker count in 1..={}",
                    part.trim(),
                    parbench::executor::MAX_WORKERS
                )
            });
        if !workers.contains(&w) {
            workers.push(w);
        }
    }
    workers
}

/// The Criterion runner for every group: the profile's workload timing and plots, which
/// Criterion's own flags (`--sample-size`, `--warm-up-time`, `--measurement-time`,
/// `--nresamples`, `--noplot`, `--plotting-backend`) override.
pub fn criterion() -> Criterion {
    let profile = knobs().profile;
    let t = profile.work();
    let c = Criterion::default()
        .sample_size(t.sample_size)
        .warm_up_time(t.warm_up)
        .measurement_time(t.measurement)
        .nresamples(profile.resamples());
    match profile {
        Profile::Default => c,
        // `--plotting-backend plotters` on the command line turns them back on.
        Profile::Quick => c.without_plots(),
    }
}

/// Gives a group its own timing, except where a Criterion flag on the command line asked for
/// a value (group settings would otherwise silently win over the flag).
pub fn apply(group: &mut BenchmarkGroup<'_, WallTime>, t: Timing) {
    if !flag_given("--sample-size") {
        group.sample_size(t.sample_size);
    }
    if !flag_given("--warm-up-time") {
        group.warm_up_time(t.warm_up);
    }
    if !flag_given("--measurement-time") {
        group.measurement_time(t.measurement);
    }
}

/// True when a flag is on the command line, alone or as `--flag=value`.
pub fn flag_given(flag: &str) -> bool {
    std::env::args().any(|a| a == flag || a.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
}
