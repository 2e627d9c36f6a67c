//! The one description of what a user may change about a workload: the CLI flattens it
//! (`run`, `timeline`), the engine applies it, the benches fill it from `PARBENCH_*`
//! variables and the gate's serve mode from its own defaults.

use super::{find, Params, ServerKind};
use crate::error::Result;
use serde::{Deserialize, Serialize};

pub use crate::validate::MAX_TASKS;

/// How much work each task does: the two sizes every workload defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Batches of tens of milliseconds: many short paired rounds (`parbench run`, the gate,
    /// `cargo bench` with `PARBENCH_PROFILE=quick`).
    #[default]
    Quick,
    /// The workloads' full sizes, batches of 0.2-0.5 s here (`cargo bench`).
    Full,
}

/// Workload parameters a user overrides; unset ones keep the workload's defaults.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Overrides {
    /// Task sizes: quick (batches of tens of ms, the default) or full (0.2-0.5 s).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Tasks per batch [default: the workload's; at most 100000].
    #[arg(long)]
    pub tasks: Option<usize>,
    /// Per-task size: loop steps (cpu), bytes per file (io), matrix dimension (dot), body
    /// bytes (api) [default: the workload's].
    #[arg(long)]
    pub size: Option<u64>,
    /// api: server latency per response in ms [default: 20, quick profile 2].
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// api: mock server [default: mockito].
    #[arg(long, value_enum)]
    pub server: Option<ServerKind>,
    /// api: client timeout per request in ms [default: 10000].
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// io: fsync every file after writing it.
    #[arg(long)]
    pub fsync: bool,
    /// dot: threads inside the matrix kernel [default: 1].
    #[arg(long)]
    pub inner_threads: Option<usize>,
    /// Seed for the deterministic inputs [default: 2017].
    #[arg(long)]
    pub seed: Option<u64>,
}

impl Overrides {
    /// The workload's defaults, sized by the profile, with these overrides applied.
    pub fn params_for(&self, workload: &str) -> Result<Params> {
        let info = find(workload)?;
        let mut p = (info.defaults)();
        if self.profile.unwrap_or_default() == Profile::Quick {
            (info.quick)(&mut p);
        }
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

    /// What names a series of results run with these overrides, beside each row's own tasks,
    /// size and inner threads (which the rows carry): the profile, then every other flag set
    /// that changes the work (`latency_ms=5`, `server=keepalive`, `fsync`, `seed=7`). The
    /// client timeout changes no work and is left out.
    pub fn series_tags(&self) -> Vec<String> {
        let mut tags = vec![value_name(self.profile.unwrap_or_default())];
        if let Some(ms) = self.latency_ms {
            tags.push(format!("latency_ms={ms}"));
        }
        if let Some(server) = self.server {
            tags.push(format!("server={}", value_name(server)));
        }
        if self.fsync {
            tags.push("fsync".into());
        }
        if let Some(seed) = self.seed {
            tags.push(format!("seed={seed}"));
        }
        tags
    }
}

/// The name a value goes by on the command line (`quick`, `keepalive`).
fn value_name(v: impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}
