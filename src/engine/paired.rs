//! One configuration measured in blocks of paired rounds, one round at a time, for callers
//! that decide when the next timed batch runs: the Criterion suite (its `iter_custom` asks
//! for batches), or a user's own `cargo bench` over their own [`crate::workload::Workload`].
//!
//! Each call to [`Paired::next_batch`] runs one paired round ([`rounds::measure_round`]):
//! the baseline batch, the executor's batch and the ceiling probe, and returns the
//! executor's batch time. Every [`BLOCK_ROUNDS`] rounds the pool and the probe are replaced
//! by fresh ones (a new block: a fresh pool, warmed up), as in `parbench run`, so the
//! estimates' blocked intervals include the variation between pools. What differs from the
//! sweep is only who asks for the next round; the estimators are the same [`Rounds`].
//!
//! The blocks of one configuration run back to back here (the sweep interleaves the
//! configurations of a workload over its whole window): the interval includes the variation
//! between pools and within the benchmark's window, not the host's phases over the whole
//! run.

use super::probe::CeilingProbe;
use super::rounds::{self, Rounds, BLOCK_ROUNDS};
use super::stats::SplitMix;
use super::{Bench, Prepared};
use crate::error::Result;
use crate::executor::ExecutorInfo;
use crate::system::{Placement, ThreadPin};
use std::time::Duration;

/// The pool and probe of the block under way.
struct Block {
    prepared: Prepared,
    probe: CeilingProbe,
    done: usize,
    /// Keeps the calling thread (and so the one-worker pool it started) on the baseline's
    /// core for the block, as the sweep does.
    _pin: Option<ThreadPin>,
}

/// One configuration (executor x workers) of a bench, measured a round at a time.
pub struct Paired {
    info: &'static ExecutorInfo,
    workers: usize,
    c: usize,
    placement: Placement,
    home: Option<usize>,
    rng: SplitMix,
    rounds: Rounds,
    block: Option<Block>,
}

impl Paired {
    /// A configuration of `executor` (its registry entry: [`crate::executor::find`] resolves a
    /// name) at `workers` (one for executors that do not scale), its workers placed by
    /// `placement`; no pool starts until the first batch is asked for.
    pub fn new(info: &'static ExecutorInfo, workers: usize, placement: Placement) -> Paired {
        let workers = info.workers(workers);
        Paired {
            info,
            workers,
            c: workers.min(crate::system::available_cores()).max(1),
            placement,
            home: super::home_core(),
            rng: SplitMix::from_entropy(),
            rounds: Rounds::default(),
            block: None,
        }
    }

    /// The executor's registry entry.
    pub fn executor(&self) -> &'static ExecutorInfo {
        self.info
    }

    /// Worker count (1 for executors that do not scale).
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Cores the ceiling is measured on: min(workers, cores).
    pub fn cores(&self) -> usize {
        self.c
    }

    /// Runs one paired round of this configuration against `bench`'s baseline, starting a
    /// new block (a fresh, warmed-up pool and probe) when the current one has its
    /// [`BLOCK_ROUNDS`] rounds, and returns the executor's batch time. Every batch is checked
    /// against the bench's reference: a failed task or a wrong checksum is an error.
    pub fn next_batch(&mut self, bench: &mut Bench) -> Result<Duration> {
        if self.block.as_ref().is_none_or(|b| b.done >= BLOCK_ROUNDS) {
            // The old pool stops before the new one starts: two pools never share the cores.
            self.block = None;
            let pin = self.home.and_then(|cpu| super::same_core(self.c, cpu));
            let prepared = bench.prepare(self.info.name, self.workers)?;
            let probe = CeilingProbe::start(self.c, &self.placement, bench.probe_unit())?;
            self.rounds.begin_block();
            self.block = Some(Block {
                prepared,
                probe,
                done: 0,
                _pin: pin,
            });
        }
        let block = self.block.as_mut().expect("a block was started above");
        rounds::measure_round(
            bench,
            &mut block.prepared,
            &block.probe,
            self.home,
            &mut self.rounds,
            &mut self.rng,
        )?;
        block.done += 1;
        let wall = self.rounds.batches.last().map_or(0.0, |m| m.batch.wall_s);
        Ok(Duration::from_secs_f64(wall.max(0.0)))
    }

    /// The rounds measured so far.
    pub fn rounds(&self) -> &Rounds {
        &self.rounds
    }

    /// Stops the pool and probe of the block under way; the rounds are kept.
    pub fn stop(&mut self) {
        self.block = None;
    }
}
