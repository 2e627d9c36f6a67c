//! The sidecar: the paired rounds behind one Criterion benchmark, written beside Criterion's
//! own files as `<group>/<function>/<param>/new/parbench.json`. The schema is versioned
//! ([`VERSION`]) and documented in `docs/verdict.md`; a reader refuses other versions.
//!
//! Criterion keeps each sample's time (the sum of the executor's batch times in it); the
//! sidecar keeps every round: the baseline batch, the executor's batch, and what the ceiling
//! probe saw, with the block each round belongs to. The estimates are recomputed from the
//! rounds by the engine's own [`Rounds`], so the page, `parbench report` and `parbench run`
//! share one set of estimators.

use crate::engine::rounds::{Rounds, StoredRound};
use crate::report::{BenchId, RunResult, Spread};
use crate::workload::Params;
use serde::{Deserialize, Serialize};

/// The `schema` field of every sidecar.
pub const SCHEMA: &str = "parbench-rounds";
/// The schema version this build writes and reads.
pub const VERSION: u32 = 1;
/// File name of a sidecar inside a benchmark's `new` directory.
pub const FILE: &str = "parbench.json";

/// One benchmark's rounds and what they were measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    /// `workload/executor/workers`.
    pub id: String,
    /// The suite's profile (`default` or `quick`): results of unlike profiles are never
    /// judged together.
    pub profile: String,
    /// The workload's parameters as the run asked for them (tasks, size, latency, ...): a
    /// family member (py-*) ran its family's, derived from these.
    pub params: Params,
    /// True for work that waits (api, io): judged by its speedup against its own ideal.
    pub waits: bool,
    /// Cores of the host (what efficiency divides by).
    pub host_cores: usize,
    /// Cores the ceiling was measured on: min(workers, host cores).
    pub ceiling_cores: usize,
    /// api: ideal batch time at these workers, seconds.
    pub ideal_s: Option<f64>,
    /// io: bytes each task moves.
    pub bytes_per_task: Option<u64>,
    /// The reference checksum every batch reproduced.
    pub checksum: u64,
    /// When the `cargo bench` run that wrote this began, ns since the Unix epoch.
    pub run_started_ns: u64,
    /// Git commit of the working tree, when known.
    pub commit: Option<String>,
    /// parbench version.
    pub parbench: String,
    /// The times handed to Criterion, one per `iter_custom` call, ns: each of Criterion's
    /// samples in `sample.json` must be one of them, or this sidecar is from another run.
    pub criterion_ns: Vec<u64>,
    /// Every round, in order.
    pub rounds: Vec<Round>,
}

/// One paired round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// The block (0, 1, ...): a fresh pool and a few rounds.
    pub block: usize,
    /// When the round ended, seconds on the run's clock ([`Rounds::at_s`]); 0 in files
    /// written before it was recorded, whose rounds then fall in one window.
    #[serde(default)]
    pub at_s: f64,
    /// The baseline (serial) batch, seconds.
    pub baseline_s: f64,
    /// The executor's batch, seconds.
    pub executor_s: f64,
    /// CPU seconds of the executor's batch, worker processes included.
    pub cpu_s: f64,
    /// What the ceiling probe saw; `null` where the ceiling is one core.
    pub probe: Option<Probe>,
}

/// The probe's measurement in one round: one type with the result's samples.
pub use crate::report::HostSample as Probe;

/// What a sidecar records besides the rounds, known to the caller that measured them.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The benchmark.
    pub id: BenchId,
    /// The suite's profile name.
    pub profile: String,
    /// The workload's parameters.
    pub params: Params,
    /// Work that waits.
    pub waits: bool,
    /// Host cores.
    pub host_cores: usize,
    /// api: ideal batch time.
    pub ideal_s: Option<f64>,
    /// io: bytes per task.
    pub bytes_per_task: Option<u64>,
    /// Reference checksum.
    pub checksum: u64,
    /// Start of the run, ns since the epoch.
    pub run_started_ns: u64,
    /// Git commit, when known.
    pub commit: Option<String>,
}

impl Sidecar {
    /// The sidecar of `rounds`, measured for `meta`, with the times handed to Criterion.
    pub fn new(meta: Meta, rounds: &Rounds, criterion_ns: Vec<u64>) -> Sidecar {
        let c = meta.id.workers.min(meta.host_cores).max(1);
        let mut hosts = rounds.host_samples().into_iter();
        let records = (0..rounds.len())
            .map(|i| Round {
                block: rounds.block_of()[i],
                at_s: rounds.at_s()[i],
                baseline_s: rounds.baseline_s[i],
                executor_s: rounds.batches[i].batch.wall_s,
                cpu_s: rounds.batches[i].cpu_s,
                probe: hosts.next(),
            })
            .collect();
        Sidecar {
            schema: SCHEMA.into(),
            version: VERSION,
            id: meta.id.to_string(),
            profile: meta.profile,
            params: meta.params,
            waits: meta.waits,
            host_cores: meta.host_cores,
            ceiling_cores: c,
            ideal_s: meta.ideal_s,
            bytes_per_task: meta.bytes_per_task,
            checksum: meta.checksum,
            run_started_ns: meta.run_started_ns,
            commit: meta.commit,
            parbench: env!("CARGO_PKG_VERSION").into(),
            criterion_ns,
            rounds: records,
        }
    }

    /// The benchmark id, checked.
    pub fn bench_id(&self) -> Result<BenchId, crate::error::UsageError> {
        self.id.parse()
    }

    /// The rounds again, as the engine holds them, so its estimators read them. Rounds with
    /// a probe and rounds without cannot mix (the probe runs in every round where c > 1);
    /// a file that mixes them is refused by the reader, so here every round's probe is
    /// taken as it is.
    pub fn rounds(&self) -> Rounds {
        let mut rounds = Rounds::default();
        rounds.extend_stored(self.rounds.iter().map(|r| StoredRound {
            block: r.block,
            process: 0,
            at_s: r.at_s,
            baseline_s: r.baseline_s,
            wall_s: r.executor_s,
            cpu_s: r.cpu_s,
            host: r.probe.as_ref(),
        }));
        rounds
    }

    /// The row `parbench run` would print for this benchmark, computed from its rounds by
    /// the engine's estimators.
    pub fn to_result(&self) -> Result<RunResult, crate::error::UsageError> {
        let id = self.bench_id()?;
        let rounds = self.rounds();
        let walls: Vec<f64> = self.rounds.iter().map(|r| r.executor_s).collect();
        let wall = Spread::of(&walls);
        let speedup = rounds.speedup();
        let cpu: Vec<f64> = self.rounds.iter().map(|r| r.cpu_s).collect();
        let cpu_s = crate::engine::stats::median(&cpu);
        let tasks = self.params.tasks;
        // The sidecar keeps the run's parameters (one key for the workload's benchmarks); a
        // family member (py-*) ran its family's, as `parbench run`'s row says.
        let ran = crate::executor::params_of(&id.executor, &id.workload, &self.params);
        let mut r = RunResult::new(
            &id.workload,
            &id.executor,
            id.workers,
            (tasks, ran.size),
            wall,
        );
        r.inner_threads = self.params.inner_threads;
        r.waits = self.waits;
        r.efficiency = Some(speedup.median / self.ceiling_cores as f64);
        r.speedup = Some(speedup);
        r.ceiling = Some(rounds.ceiling());
        r.efficiency_vs_ceiling = Some(rounds.efficiency_vs_ceiling());
        r.rounds = rounds.len();
        r.blocks = rounds.blocks();
        r.ideal_s = self.ideal_s;
        r.wall_over_ideal = self.ideal_s.map(|i| wall.median / i);
        r.cpu_s = cpu_s;
        r.utilisation = cpu_s / (wall.median * self.host_cores.max(1) as f64);
        r.bytes_per_s = self
            .bytes_per_task
            .map(|b| b as f64 * tasks as f64 / wall.median);
        r.checksum = self.checksum;
        Ok(r)
    }

    /// What makes two sidecars' results comparable: the profile, the workload's parameters
    /// and the host's cores. Results with different keys are never judged together.
    pub fn comparable_key(&self) -> String {
        format!(
            "{} {} {}",
            self.profile,
            serde_json::to_string(&self.params).unwrap_or_default(),
            self.host_cores
        )
    }
}
