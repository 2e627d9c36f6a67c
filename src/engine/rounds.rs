//! Paired rounds: a baseline batch, the executor's batch and the ceiling probe, back to back
//! in a random order. Rounds come in blocks: each block is a fresh pool of the executor and a
//! few rounds, and the sweep interleaves the blocks of a workload's configurations over the
//! whole run ([`super::sweep`]).
//!
//! A round lasts tens of milliseconds. The host's slow phases last seconds, but its speed
//! also jumps within milliseconds, so the executor's batch sits in the middle, next to the
//! two members it is divided by: the baseline (speedup) and the probe (ceiling). State that
//! lasts longer than a round (the host's phase, the cores a pool landed on, what the previous
//! configuration left behind) is what blocks are for: the estimates' intervals include the
//! variation between blocks ([`stats::blocked_median_interval`]).

use super::probe::{self, CeilingProbe, Sample};
use super::stats::{self, Estimate, SplitMix};
use super::{Bench, Measured, Prepared};
use crate::error::{Result, UsageError};
use std::time::Duration;

/// Most rounds a configuration may take, whatever the budget: a bound on memory (the same
/// bound as `--repeat`).
pub const MAX_ROUNDS: usize = crate::validate::MAX_REPEAT;
/// Longest budget of a run accepted, in seconds.
pub const MAX_BUDGET_S: f64 = 86_400.0;
/// Most of the run's budget one configuration may draw on, on average over its workload:
/// a run of one noisy configuration still ends in seconds, not at the whole budget.
pub const MAX_PER_CONFIG: Duration = Duration::from_secs(15);
/// A round in which the host delivered at least this share of c cores (its ceiling) counts
/// as a round with its cores; under it, as short of cores (the host note).
pub const FULL_SHARE: f64 = 0.9;
/// eff/ceil is read over the rounds with the host's cores once they come from at least this
/// many blocks (and [`FULL_ROUNDS`] rounds): a few such rounds give a wide interval, which is
/// honest and keeps the configuration open for more blocks, where a fallback to every round
/// would give a narrow figure that moves with the host's weather.
pub const FULL_BLOCKS: usize = 3;
/// See [`FULL_BLOCKS`].
pub const FULL_ROUNDS: usize = 2 * BLOCK_ROUNDS;
/// Seconds of the run's clock that make one cluster of rounds for the intervals. The host's
/// phases (a vCPU at half speed, two vCPUs giving one core) last seconds, so rounds a few
/// seconds apart share them whatever block they came from: clustered by block, the ten
/// blocks of a quiet ten-second run counted as ten draws of the host and gave intervals
/// that the next run missed (measured: 40 of 45 pairs of runs overlapped for process).
/// Clustered by window, a figure's interval counts how many of the host's phases it saw.
pub const WINDOW_S: f64 = 5.0;
/// Windows a configuration's rounds must span before it may stop: with one, the variation
/// between the host's phases is not measured at all.
pub const MIN_WINDOWS: usize = 2;
/// Rounds in a block: long enough that a fresh pool's start and warm-up batch are a small
/// share of it, short enough that a configuration gets several blocks spread over the run.
pub const BLOCK_ROUNDS: usize = 3;

/// When to stop measuring a configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Never fewer rounds than this (`--repeat`), in blocks of [`BLOCK_ROUNDS`] (the last one
    /// shorter), all run before any configuration gets more.
    pub min_rounds: usize,
    /// Stop giving a configuration blocks when the blocked 95% interval of its figure to read
    /// is within +-this of its median (0.02 = 2%).
    pub target_half_width: f64,
    /// Windows of the run's clock a configuration's rounds must span before it may stop
    /// ([`MIN_WINDOWS`]; 1 in a fork, whose clusters are the forks).
    pub min_windows: usize,
    /// Time budget of the whole run for blocks beyond every configuration's minimum, pool
    /// restarts included (`--budget-s`). Each workload draws its configurations' share of
    /// what is left, at most [`MAX_PER_CONFIG`] each, so what one leaves unspent passes on.
    pub budget: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_rounds: 10 * BLOCK_ROUNDS,
            target_half_width: 0.02,
            min_windows: MIN_WINDOWS,
            budget: Duration::from_secs(140),
        }
    }
}

impl Policy {
    /// A policy from the user's numbers, checked against the documented bounds.
    pub fn new(min_rounds: usize, budget_s: f64) -> Result<Policy, UsageError> {
        crate::validate::repeat(min_rounds)?;
        if !(budget_s.is_finite() && (0.0..=MAX_BUDGET_S).contains(&budget_s)) {
            return Err(UsageError::new(format!(
                "budget {budget_s} s must be 0..={MAX_BUDGET_S}"
            )));
        }
        Ok(Policy {
            min_rounds,
            budget: Duration::from_secs_f64(budget_s),
            ..Policy::default()
        })
    }

    /// Blocks that every configuration gets before any gets more.
    pub fn min_blocks(&self) -> usize {
        self.min_rounds.div_ceil(BLOCK_ROUNDS).max(1)
    }

    /// Rounds in a configuration's next block after `done` rounds: a whole block, or what is
    /// left of the minimum when that is less.
    pub fn block_len(&self, done: usize) -> usize {
        let left_of_min = self.min_rounds.saturating_sub(done);
        let len = if left_of_min > 0 {
            left_of_min.min(BLOCK_ROUNDS)
        } else {
            BLOCK_ROUNDS
        };
        len.min(MAX_ROUNDS.saturating_sub(done))
    }

    /// True when a configuration with these rounds and this interval of its figure to read
    /// needs no more blocks: its minimum is done, its rounds span [`MIN_WINDOWS`] windows of
    /// the run (its `min_windows`), and the interval is within the target (or the memory
    /// bound is reached).
    pub fn settled(&self, rounds: &Rounds, figure: &Estimate) -> bool {
        let done = rounds.len();
        done >= MAX_ROUNDS
            || (done >= self.min_rounds
                && rounds.windows() >= self.min_windows
                && figure.relative_half_width() <= self.target_half_width)
    }
}

/// What a configuration's rounds measured.
#[derive(Debug, Default)]
pub struct Rounds {
    /// Baseline batch wall times, one per round.
    pub baseline_s: Vec<f64>,
    /// The executor's batches, one per round.
    pub batches: Vec<Measured>,
    /// What the probe saw in each round, where c > 1; empty where c = 1.
    hosts: Vec<Host>,
    /// The block each round belongs to (0, 1, ...).
    block_of: Vec<usize>,
    /// Blocks begun.
    blocks: usize,
    /// When each round ended, in seconds on the run's clock ([`run_clock_s`]).
    at_s: Vec<f64>,
    /// The process (fork, [`super::forks`]) each round ran in; 0 within one process.
    process_of: Vec<usize>,
    /// The baseline batch's work in probe units per process (fork), when estimated over the
    /// whole workload ([`shared_work`]); for a process not listed, over these rounds alone.
    work: Vec<(usize, f64)>,
    representative: Option<usize>,
}

/// The baseline batch's work in probe units over every round of a workload's
/// configurations, per process (fork) they ran in: the median of their
/// [`Rounds::work_products`] in that process. Every configuration runs the same baseline
/// batch, so it is one quantity; estimated per configuration from its few dozen rounds, its
/// error (about 0.7% here) moved every ceiling of that configuration together, by the same
/// amount in every resample, so no interval counted it: ten cpu runs at 2026-12-07 read
/// pool's eff/ceil 0.980 [0.970-0.986] in the one run whose estimate was 2.5% low and
/// 0.999-1.018 in the nine others. Over a workload's hundreds of rounds the error is a few
/// times smaller, but what is left still moved every configuration of a run together: over
/// ten dot runs, the run's estimate ranged 3.953-4.011 and the mean eff/ceil of five
/// executors followed it (0.942 in the lowest, 0.959-0.963 in the three highest). Within a
/// run it differed as much between forks (3.886-3.996 in one run), where the host ran
/// slower in some forks than in others. One estimate per fork keeps that error inside the
/// fork's rounds, where the interval's clusters (the forks) count it. Empty without a
/// probe's round.
pub fn shared_work<'a>(all: impl IntoIterator<Item = &'a Rounds>) -> Vec<(usize, f64)> {
    let mut by_process: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for rounds in all {
        for (process, product) in rounds.process_of.iter().zip(rounds.work_products()) {
            by_process.entry(*process).or_default().push(product);
        }
    }
    by_process
        .into_iter()
        .map(|(process, products)| (process, stats::median(&products)))
        .collect()
}

/// How many different values `ids` holds.
fn distinct(mut ids: Vec<usize>) -> usize {
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// Seconds since the process's first round ended: one clock for every configuration of a
/// run, so that their rounds fall in the same windows ([`WINDOW_S`]).
pub fn run_clock_s() -> f64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// One round as a file keeps it, for [`Rounds::extend_stored`].
#[derive(Debug, Clone, Copy)]
pub struct StoredRound<'a> {
    /// Its block as stored.
    pub block: usize,
    /// The process (fork) it ran in.
    pub process: usize,
    /// When it ended on the run's clock.
    pub at_s: f64,
    /// The baseline's batch, seconds.
    pub baseline_s: f64,
    /// The executor's batch, seconds.
    pub wall_s: f64,
    /// CPU seconds of the executor's batch (0 where not kept).
    pub cpu_s: f64,
    /// What the probe saw; `None` where c = 1.
    pub host: Option<&'a crate::report::HostSample>,
}

/// The probe's measurement in one round, and how the round's baseline batch split into tasks.
#[derive(Debug, Clone)]
pub struct Host {
    /// The probe's rates.
    pub probe: Sample,
    /// Each task's share of the baseline batch (they sum to 1).
    pub shares: Vec<f64>,
}

impl Host {
    /// The probe's measurement as a result's samples or a sidecar recorded it.
    pub fn from_sample(s: &crate::report::HostSample) -> Self {
        Host {
            probe: Sample {
                alone: s.alone,
                many: s
                    .cores
                    .iter()
                    .map(|[delay_s, rate]| probe::Core {
                        delay_s: *delay_s,
                        rate: *rate,
                    })
                    .collect(),
            },
            shares: s.shares.clone(),
        }
    }

    /// The probe's `sample` with the task durations of the round's baseline batch.
    pub fn new(probe: Sample, task_s: &[f64]) -> Self {
        let total: f64 = task_s.iter().filter(|d| d.is_finite() && **d > 0.0).sum();
        let shares = if total > 0.0 {
            task_s.iter().map(|d| d / total).collect()
        } else {
            vec![1.0]
        };
        Host { probe, shares }
    }
}

impl Rounds {
    /// Number of rounds.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// True before the first round.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Blocks begun.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// The block each round belongs to (0, 1, ...), one per round.
    pub fn block_of(&self) -> &[usize] {
        &self.block_of
    }

    /// What the probe saw in each round; empty where c = 1.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Starts a new block: the rounds pushed from now on belong to it.
    pub fn begin_block(&mut self) {
        self.blocks += 1;
    }

    /// When each round ended, seconds on the run's clock, one per round.
    pub fn at_s(&self) -> &[f64] {
        &self.at_s
    }

    /// The window of the run's clock ([`WINDOW_S`]) each round fell in, one per round.
    fn window_of(&self) -> Vec<usize> {
        self.at_s
            .iter()
            .map(|t| (t.max(0.0) / WINDOW_S) as usize)
            .collect()
    }

    /// Windows of the run's clock that the rounds span.
    pub fn windows(&self) -> usize {
        distinct(self.window_of())
    }

    /// The cluster of each round for the intervals: its fork where the rounds came from
    /// several processes ([`super::forks`]: what lasts a process is shared by its rounds);
    /// else its window of the run's clock; its block where the rounds span fewer than
    /// [`MIN_WINDOWS`] windows (a run stopped early, or a sidecar written before round times
    /// were recorded), the finest grain left.
    fn clusters(&self) -> Vec<usize> {
        if self.process_of.iter().any(|p| *p != self.process_of[0]) {
            return self.process_of.clone();
        }
        let windows = self.window_of();
        if distinct(windows.clone()) >= MIN_WINDOWS {
            windows
        } else {
            self.block_of.clone()
        }
    }

    /// The clustered interval of per-round `values` (one per round).
    fn estimate(&self, values: &[f64]) -> Estimate {
        stats::blocked_median_interval(values, &self.clusters())
    }

    /// Adds one round to the current block (the first, if none was begun), ending now on
    /// the run's clock. `host` is `None` where c = 1.
    pub fn push(&mut self, baseline_s: f64, batch: Measured, host: Option<Host>) {
        self.push_at(run_clock_s(), baseline_s, batch, host);
    }

    /// [`Rounds::push`] for a round that ended at `at_s` on the run's clock (rounds read
    /// back from a file).
    pub fn push_at(&mut self, at_s: f64, baseline_s: f64, batch: Measured, host: Option<Host>) {
        self.push_in(0, at_s, baseline_s, batch, host);
    }

    /// [`Rounds::push_at`] for a round measured in fork `process` of a run.
    pub fn push_in(
        &mut self,
        process: usize,
        at_s: f64,
        baseline_s: f64,
        batch: Measured,
        host: Option<Host>,
    ) {
        self.process_of.push(process);
        self.blocks = self.blocks.max(1);
        self.block_of.push(self.blocks - 1);
        self.at_s.push(at_s);
        self.baseline_s.push(baseline_s);
        self.batches.push(batch);
        self.hosts.extend(host);
        self.keep_representative();
    }

    /// Fills a result row's estimates from these rounds: speedup, plain efficiency on `c`
    /// cores, ceiling, eff/ceil, the counts and the samples.
    pub fn estimate_into(&self, row: &mut crate::report::RunResult, c: usize) {
        let speedup = self.speedup();
        row.efficiency = Some(speedup.median / c.max(1) as f64);
        row.speedup = Some(speedup);
        row.ceiling = Some(self.ceiling());
        row.efficiency_vs_ceiling = Some(self.efficiency_vs_ceiling());
        row.rounds = self.len();
        row.blocks = self.blocks();
        row.samples = Some(self.samples());
    }

    /// Every round's raw figures, for the result's `samples`.
    pub fn samples(&self) -> crate::report::RoundSamples {
        crate::report::RoundSamples {
            block: self.block_of.clone(),
            fork: self.process_of.clone(),
            at_s: self.at_s.clone(),
            baseline_s: self.baseline_s.clone(),
            wall_s: self.batches.iter().map(|m| m.batch.wall_s).collect(),
            ceiling: self.ceilings(),
            hosts: self.host_samples(),
        }
    }

    /// What the probe saw in each round, as the result's samples and the sidecar record it.
    pub fn host_samples(&self) -> Vec<crate::report::HostSample> {
        self.hosts
            .iter()
            .map(|h| crate::report::HostSample {
                alone: h.probe.alone,
                cores: h.probe.many.iter().map(|c| [c.delay_s, c.rate]).collect(),
                shares: h.shares.clone(),
            })
            .collect()
    }

    /// Adds rounds as a file kept them (a fork's samples, a Criterion sidecar), in order: a
    /// new block wherever the stored block changes.
    pub fn extend_stored<'a>(&mut self, stored: impl IntoIterator<Item = StoredRound<'a>>) {
        let mut block = None;
        for r in stored {
            if block != Some(r.block) {
                self.begin_block();
                block = Some(r.block);
            }
            let batch = Measured {
                batch: crate::measure::Batch {
                    results: Vec::new(),
                    records: Vec::new(),
                    wall_s: r.wall_s,
                    counters: crate::measure::Counters::default(),
                },
                cpu_s: r.cpu_s,
            };
            let host = r.host.map(Host::from_sample);
            self.push_in(r.process, r.at_s, r.baseline_s, batch, host);
        }
    }

    /// Per-round speedups, baseline_i / executor_i.
    pub fn speedups(&self) -> Vec<f64> {
        self.baseline_s
            .iter()
            .zip(&self.batches)
            .map(|(b, e)| b / e.batch.wall_s)
            .collect()
    }

    /// Median speedup over rounds, with its blocked interval.
    pub fn speedup(&self) -> Estimate {
        self.estimate(&self.speedups())
    }

    /// Per round, the time a perfect executor would have taken for the baseline's batch on
    /// the cores the probe measured in that round; `None` where c = 1.
    ///
    /// The batch's work in probe units is one number for all rounds: the median over rounds
    /// of the baseline's time x the one-core rate ([`Rounds::work_products`]), over the whole
    /// workload's rounds where [`Rounds::share_work`] gave it. Each round's own product would
    /// carry two measurements taken milliseconds apart on a host whose speed changes within
    /// milliseconds; the median does not.
    fn perfect_batches(&self) -> Option<Vec<f64>> {
        if self.hosts.is_empty() {
            return None;
        }
        // Over these rounds alone, for a process the workload's estimate does not cover.
        let own = std::cell::OnceCell::new();
        Some(
            self.hosts
                .iter()
                .zip(&self.process_of)
                .map(|(h, process)| {
                    let work = match self.work.iter().find(|(p, _)| p == process) {
                        Some((_, w)) => *w,
                        None => *own.get_or_init(|| stats::median(&self.work_products())),
                    };
                    let tasks: Vec<f64> = h.shares.iter().map(|s| s * work).collect();
                    probe::perfect_batch_s(&tasks, &h.probe.many).unwrap_or(f64::INFINITY)
                })
                .collect(),
        )
    }

    /// Per round with a probe, the baseline's time x the probe's one-core rate: the baseline
    /// batch's work in probe units, measured once more. The same batch for every
    /// configuration of a workload.
    pub fn work_products(&self) -> Vec<f64> {
        self.baseline_s
            .iter()
            .zip(&self.hosts)
            .map(|(b, h)| b * h.probe.alone)
            .collect()
    }

    /// Estimates the ceilings with `work`, the baseline batch's work in probe units in each
    /// process as the whole workload measured it ([`shared_work`]).
    pub fn share_work(&mut self, work: &[(usize, f64)]) {
        self.work = work
            .iter()
            .copied()
            .filter(|(_, w)| w.is_finite() && *w > 0.0)
            .collect();
    }

    /// Per-round ceilings: baseline_i / the perfect executor's batch_i (1.0 where c = 1).
    pub fn ceilings(&self) -> Vec<f64> {
        match self.perfect_batches() {
            Some(perfect) => self
                .baseline_s
                .iter()
                .zip(perfect)
                .map(|(b, p)| b / p)
                .collect(),
            None => vec![1.0; self.len()],
        }
    }

    /// Median ceiling over rounds, with its blocked interval.
    pub fn ceiling(&self) -> Estimate {
        self.estimate(&self.ceilings())
    }

    /// Median over rounds of speedup_i / ceiling_i, with its blocked interval. The baseline's
    /// time is in both and cancels: what is left is the perfect executor's batch over the
    /// executor's batch, two parallel batches run next to each other.
    ///
    /// Read over the rounds in which the host delivered its cores (a ceiling of at least
    /// [`FULL_SHARE`] x c), whenever there are [`FULL_ROUNDS`] of them from [`FULL_BLOCKS`]
    /// blocks; over every round only when the host hardly ever gave its cores. In a round
    /// where the host gave one core, a perfect executor is no faster than serial and every
    /// executor reads about 1 whatever it does, so the median would move with the share of
    /// such rounds, which is the host's weather, not the executor's: measured here, gil read
    /// 0.50-0.57 from run to run as that share went from 33% to 61%, and async 0.997 in a run
    /// whose rounds had a median ceiling of 1.12 cores, against 0.93-0.99 in nine others,
    /// when the rule asked for a quarter of the rounds to be full.
    pub fn efficiency_vs_ceiling(&self) -> Estimate {
        let Some(perfect) = self.perfect_batches() else {
            return self.estimate(&self.speedups());
        };
        let per_round: Vec<f64> = perfect
            .iter()
            .zip(&self.batches)
            .map(|(p, e)| p / e.batch.wall_s)
            .collect();
        // The rounds whose ceiling (baseline_i / perfect_i) reached FULL_SHARE x c, with their
        // blocks, in one pass over the perfect batches already computed.
        let cores = self.hosts.first().map_or(1, |h| h.probe.many.len());
        let clusters = self.clusters();
        let (full, (blocks, clusters)): (Vec<f64>, (Vec<usize>, Vec<usize>)) = per_round
            .iter()
            .zip(&self.baseline_s)
            .zip(&perfect)
            .zip(self.block_of.iter().zip(&clusters))
            .filter(|(((_, b), p), _)| *b / *p >= FULL_SHARE * cores as f64)
            .map(|(((e, _), _), (block, cluster))| (*e, (*block, *cluster)))
            .unzip();
        let mut full_blocks = blocks;
        full_blocks.dedup();
        if full.len() < FULL_ROUNDS || full_blocks.len() < FULL_BLOCKS {
            return self.estimate(&per_round);
        }
        stats::blocked_median_interval(&full, &clusters)
    }

    /// The figure a reader should read, with its interval: the speedup for work that waits
    /// (api, io: the cores do not bound it, so the CPU ceiling says nothing of it), the
    /// efficiency vs the ceiling for work that computes.
    pub fn figure(&self, waits: bool) -> Estimate {
        if waits {
            self.speedup()
        } else {
            self.efficiency_vs_ceiling()
        }
    }

    /// Rounds in which the host delivered under `share` of `cores` (for the host note).
    pub fn short_rounds(&self, cores: usize, share: f64) -> usize {
        self.ceilings()
            .iter()
            .filter(|&&c| c < share * cores as f64)
            .count()
    }

    /// The round whose executor batch was closest to the running median wall time when it
    /// was measured: the representative batch for timelines and counters. Only it keeps its
    /// task records, so memory stays in proportion to one batch however many rounds run.
    pub fn representative(&self) -> Option<&Measured> {
        self.representative.map(|i| &self.batches[i])
    }

    /// Moves the representative to the newest batch if it is closer to the running median,
    /// and drops the task records of the batch that lost.
    fn keep_representative(&mut self) {
        let newest = self.len() - 1;
        let walls: Vec<f64> = self.batches.iter().map(|m| m.batch.wall_s).collect();
        let median = stats::median(&walls);
        let distance = |i: usize| (walls[i] - median).abs();
        let loser = match self.representative {
            Some(kept) if distance(kept) <= distance(newest) => newest,
            Some(kept) => {
                self.representative = Some(newest);
                kept
            }
            None => {
                self.representative = Some(newest);
                return;
            }
        };
        self.batches[loser].batch.records = Vec::new();
    }
}

/// The three members of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Baseline,
    Executor,
    Probe,
}

/// A random order of the round's members, with the executor's batch in the middle: next to
/// the baseline (their ratio is the speedup) and next to the probe (its spinners make the
/// perfect executor's batch that the executor's batch is compared with). 2 orders, equally
/// likely.
fn round_order(rng: &mut SplitMix) -> [Member; 3] {
    if rng.next_u64() & 1 == 0 {
        [Member::Probe, Member::Executor, Member::Baseline]
    } else {
        [Member::Baseline, Member::Executor, Member::Probe]
    }
}

/// Runs one block: `len` paired rounds of `prepared` against the bench's baseline, added to
/// `rounds` as a new block ([`measure_round`] each). `on_round` hears the number of rounds
/// done after each.
#[allow(clippy::too_many_arguments)]
pub fn measure_block(
    bench: &mut Bench,
    prepared: &mut Prepared,
    probe: &CeilingProbe,
    home: Option<usize>,
    rounds: &mut Rounds,
    len: usize,
    rng: &mut SplitMix,
    on_round: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<()> {
    rounds.begin_block();
    for _ in 0..len {
        measure_round(bench, prepared, probe, home, rounds, rng)?;
        on_round(rounds.len())?;
    }
    Ok(())
}

/// Runs one paired round of `prepared` against the bench's baseline and adds it to the
/// current block of `rounds`. The baseline batch and the probe's one-core reference both run
/// on `home` (when given): the calling thread blocks while the executor's batch runs, and
/// the scheduler wakes it on whichever core is free, so unpinned they could land on cores of
/// different speeds and the round's speedup and ceiling would be relative to different "one
/// core"s. The executor's batch runs with the thread's own cores, so what it spawns is not
/// pinned.
pub fn measure_round(
    bench: &mut Bench,
    prepared: &mut Prepared,
    probe: &CeilingProbe,
    home: Option<usize>,
    rounds: &mut Rounds,
    rng: &mut SplitMix,
) -> Result<()> {
    let spinners = probe.cores() > 1;
    let order = round_order(rng);
    let (mut baseline, mut batch, mut sample) = (None, None, None);
    let mut tasks = Vec::new();
    for (at, member) in order.into_iter().enumerate() {
        match member {
            Member::Baseline => {
                let _home = super::on_core(home);
                let m = bench.run_baseline_of(prepared.info.name)?;
                tasks = m.batch.records.iter().map(|r| r.duration_s()).collect();
                baseline = Some(m.batch.wall_s);
            }
            Member::Executor => batch = Some(bench.run(prepared)?),
            Member::Probe if spinners => {
                // As long as a perfectly parallel batch: the serial batch's time over c.
                let serial_s = baseline
                    .or_else(|| rounds.baseline_s.last().copied())
                    .unwrap_or_else(|| bench.reference_wall_s_of(prepared.info.name));
                let window = super::probe_window(serial_s / probe.cores() as f64);
                let _home = super::on_core(home);
                // The spinners run next to the executor's batch: first when it came
                // before, last when it comes after.
                sample = Some(probe.measure(window, at > 0)?);
            }
            Member::Probe => {}
        }
    }
    let (Some(b), Some(mut m)) = (baseline, batch) else {
        unreachable!("every member ran");
    };
    // Checked already: the outputs (a product matrix per dot task) are not kept.
    m.batch.results = Vec::new();
    rounds.push(b, m, sample.map(|s| Host::new(s, &tasks)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Batch, Counters};

    /// One round: a baseline batch of 8 equal tasks taking `b` s, the executor's batch `e` s,
    /// and a probe that found the calling thread at `alone` steps/s and two spinners at
    /// `rates`.
    /// An executor's batch of `wall_s` seconds, with nothing else kept.
    fn measured(wall_s: f64) -> Measured {
        Measured {
            batch: Batch {
                results: Vec::new(),
                records: Vec::new(),
                wall_s,
                counters: Counters::default(),
            },
            cpu_s: 0.0,
        }
    }

    fn push(r: &mut Rounds, b: f64, e: f64, alone: f64, rates: [f64; 2]) {
        let batch = measured(e);
        let probe = Sample {
            alone,
            many: rates.iter().map(|&rate| probe::Core::at(rate)).collect(),
        };
        r.push_at(0.0, b, batch, Some(Host::new(probe, &[b / 8.0; 8])));
    }

    /// Rounds made of (baseline s, executor s, ceiling) triples, in blocks of
    /// [`BLOCK_ROUNDS`]: the one-core rate is 1 and each of two spinners runs at half the
    /// ceiling.
    fn rounds(triples: &[(f64, f64, f64)]) -> Rounds {
        let mut r = Rounds::default();
        for (i, &(b, e, c)) in triples.iter().enumerate() {
            if i % BLOCK_ROUNDS == 0 {
                r.begin_block();
            }
            push(&mut r, b, e, 1.0, [c / 2.0; 2]);
        }
        r
    }

    fn close(e: Estimate, want: f64) -> bool {
        [e.median, e.lo, e.hi]
            .iter()
            .all(|v| (v - want).abs() < 1e-9)
    }

    #[test]
    fn a_constant_ratio_is_estimated_exactly() {
        let r = rounds(&[(0.020, 0.010, 2.0); 30]);
        assert!(close(r.speedup(), 2.0), "{:?}", r.speedup());
        assert!(close(r.ceiling(), 2.0), "{:?}", r.ceiling());
        let e = r.efficiency_vs_ceiling();
        assert!(close(e, 1.0), "{e:?}");
        assert_eq!(r.short_rounds(2, 0.9), 0);
    }

    /// Rounds of one worker (no probe) whose speedups are `speedups`, two to a block, the
    /// i-th ending at `at_s(i)` on the run's clock.
    fn timed(speedups: &[f64], at_s: impl Fn(usize) -> f64) -> Rounds {
        let mut r = Rounds::default();
        for (i, s) in speedups.iter().enumerate() {
            if i % 2 == 0 {
                r.begin_block();
            }
            let batch = Measured {
                batch: Batch {
                    results: Vec::new(),
                    records: Vec::new(),
                    wall_s: 0.020 / s,
                    counters: Counters::default(),
                },
                cpu_s: 0.0,
            };
            r.push_at(at_s(i), 0.020, batch, None);
        }
        r
    }

    #[test]
    fn a_shift_that_lasts_a_window_of_the_run_widens_the_interval_as_one_draw() {
        // 40 rounds over four windows of the run; the host was slower for the whole last
        // window, across five blocks. By block, those five blocks count as five of twenty
        // draws; by window, as one of four, and the interval says how little four phases of
        // the host tell.
        let speedups: Vec<f64> = (0..40)
            .map(|i| {
                if i >= 30 {
                    0.90
                } else {
                    1.0 + 0.001 * (i % 3) as f64
                }
            })
            .collect();
        let by_window = timed(&speedups, |i| (i / 10) as f64 * WINDOW_S + 0.5);
        let in_one_window = timed(&speedups, |_| 0.5);
        assert_eq!(by_window.windows(), 4);
        assert_eq!(in_one_window.windows(), 1);
        let (w, b) = (by_window.speedup(), in_one_window.speedup());
        assert_eq!(
            w.median, b.median,
            "the clusters move the interval, not the median"
        );
        assert!(w.hi - w.lo > 1.5 * (b.hi - b.lo), "{w:?} vs {b:?}");
        // Four windows, one of them slow: the long-run level is 0.976 if one window in four
        // is, and the interval reaches well below it.
        assert!(w.lo < 0.93 && w.contains(0.976), "{w:?} vs {b:?}");
    }

    #[test]
    fn windows_that_agree_give_about_the_width_of_blocks_that_agree() {
        let speedups: Vec<f64> = (0..60).map(|i| 1.0 + 0.01 * (i % 5) as f64).collect();
        let by_window = timed(&speedups, |i| (i / 6) as f64 * WINDOW_S);
        let in_one_window = timed(&speedups, |_| 0.0);
        let (w, b) = (by_window.speedup(), in_one_window.speedup());
        let ratio = (w.hi - w.lo) / (b.hi - b.lo);
        assert!((0.8..=2.0).contains(&ratio), "{w:?} vs {b:?}");
    }

    #[test]
    fn the_workload_shares_one_estimate_of_the_baseline_work() {
        // Two configurations of one workload, the same baseline batch (20 ms of a one-core
        // rate of 1). The first one's probe read the one-core rate 3% low in every round:
        // alone, its ceilings would all be 3% high and its eff/ceil 3% low; with the work
        // measured over both configurations' rounds the bias is halved, and it is one
        // number for both.
        let (mut low, mut fair) = (Rounds::default(), Rounds::default());
        for _ in 0..6 {
            push(&mut low, 0.020, 0.010, 0.97, [1.0, 1.0]);
            push(&mut fair, 0.020, 0.010, 1.0, [1.0, 1.0]);
        }
        let alone = low.efficiency_vs_ceiling().median;
        let work = shared_work([&low, &fair]);
        assert_eq!(work.len(), 1, "{work:?}");
        assert_eq!(work[0].0, 0);
        assert!((work[0].1 - 0.020 * 0.985).abs() < 1e-12, "{work:?}");
        low.share_work(&work);
        fair.share_work(&work);
        let shared = low.efficiency_vs_ceiling().median;
        assert!((alone - 0.97).abs() < 1e-9, "{alone}");
        assert!((shared - 0.985).abs() < 1e-9, "{shared}");
        assert_eq!(shared, fair.efficiency_vs_ceiling().median);
        assert!(shared_work([&Rounds::default()]).is_empty());
    }

    #[test]
    fn each_fork_has_its_own_estimate_of_the_baseline_work() {
        // Six rounds in each of two forks. In fork 1 the host ran the probe's one-core unit
        // 4% slower than in fork 0 while the batches took the same time. With one estimate
        // for the run, both forks read eff/ceil 0.98 and the interval is a point; with one
        // per fork, fork 0 reads 1.0 and fork 1 0.96, and the interval, whose clusters are
        // the forks, spans the difference.
        let two_forks = || {
            let mut forked = Rounds::default();
            for (process, alone) in [(0, 1.0), (1, 0.96)] {
                for i in 0..6 {
                    let batch = measured(0.010);
                    let probe = Sample {
                        alone,
                        many: [1.0, 1.0].iter().map(|&r| probe::Core::at(r)).collect(),
                    };
                    let host = Host::new(probe, &[0.020 / 8.0; 8]);
                    forked.push_in(process, i as f64, 0.020, batch, Some(host));
                }
            }
            forked
        };
        let mut forked = two_forks();
        let work = shared_work([&forked]);
        assert_eq!(work.len(), 2, "{work:?}");
        assert!((work[0].1 - 0.020).abs() < 1e-12, "{work:?}");
        assert!((work[1].1 - 0.020 * 0.96).abs() < 1e-12, "{work:?}");
        let mut one = two_forks();
        one.share_work(&[(0, 0.0196), (1, 0.0196)]);
        assert_eq!(one.efficiency_vs_ceiling(), Estimate::exact(0.98));
        forked.share_work(&work);
        let per_fork = forked.efficiency_vs_ceiling();
        assert!(per_fork.lo <= 0.96 && per_fork.hi >= 1.0, "{per_fork:?}");
    }

    #[test]
    fn one_worker_has_a_ceiling_of_one_and_reads_its_speedup() {
        let mut r = Rounds::default();
        for _ in 0..10 {
            let batch = measured(0.021);
            r.push_at(0.0, 0.020, batch, None);
        }
        assert!(close(r.ceiling(), 1.0));
        assert!(close(r.efficiency_vs_ceiling(), 0.020 / 0.021));
    }

    #[test]
    fn the_baseline_core_slowing_down_moves_the_speedup_but_not_the_efficiency_vs_ceiling() {
        // In every third round the baseline's core ran at half speed during the baseline
        // batch only (40 ms instead of 20); the executor's batch and the probe's spinners saw
        // the same host throughout, and the executor took 5% longer than a perfect one.
        let mut r = Rounds::default();
        for i in 0..30 {
            let b = if i % 3 == 0 { 0.040 } else { 0.020 };
            push(&mut r, b, 0.010 / 0.95, 1.0, [1.0, 1.0]);
        }
        let e = r.efficiency_vs_ceiling();
        assert!(close(e, 0.95), "{e:?}");
        // The speedup's interval reaches into the slow rounds (3.8 where the rest read 1.9).
        let s = r.speedup();
        assert!((s.median - 1.9).abs() < 1e-9 && s.hi > 3.0, "{s:?}");
    }

    #[test]
    fn a_bimodal_host_moves_the_speedup_but_not_the_efficiency_vs_ceiling() {
        // Rounds alternate between two free cores (ceiling 2.0, speedup 1.9) and two vCPUs
        // sharing one core (ceiling 1.0, speedup 0.95): the executor is at 95% either way.
        let triples: Vec<(f64, f64, f64)> = (0..40)
            .map(|i| {
                if i % 3 == 0 {
                    (0.020, 0.020 / 0.95, 1.0)
                } else {
                    (0.020, 0.020 / 1.9, 2.0)
                }
            })
            .collect();
        let r = rounds(&triples);
        let e = r.efficiency_vs_ceiling();
        assert!(
            (e.median - 0.95).abs() < 1e-9 && e.lo > 0.949 && e.hi < 0.951,
            "{e:?}"
        );
        // The plain speedup's interval reaches into the one-core rounds.
        let s = r.speedup();
        assert!((s.median - 1.9).abs() < 1e-9, "{s:?}");
        assert_eq!(r.short_rounds(2, 0.9), 14);
        assert!(crate::engine::sweep::host_note(14, 40, &[2])
            .unwrap()
            .contains("under 1.8 cores in 35% of rounds"));
        assert_eq!(crate::engine::sweep::host_note(4, 40, &[2]), None);
    }

    #[test]
    fn a_host_that_seldom_gives_its_cores_is_still_read_over_the_rounds_with_them() {
        // The host gave two cores in one round of five (ceiling 2.0, the executor at 95% of
        // it) and one core otherwise (every executor reads about 1 there). Reading every
        // round would report about 1, the host's weather; the full rounds say 0.95.
        let triples: Vec<(f64, f64, f64)> = (0..45)
            .map(|i| {
                if i % 5 == 0 {
                    (0.020, 0.020 / 1.9, 2.0)
                } else {
                    (0.020, 0.020, 1.0)
                }
            })
            .collect();
        let e = rounds(&triples).efficiency_vs_ceiling();
        assert!((e.median - 0.95).abs() < 1e-9, "{e:?}");
        // Full rounds from fewer than FULL_BLOCKS blocks are too few to read alone: every
        // round is read, and the interval shows the mix.
        let mut seldom = triples.clone();
        for (i, t) in seldom.iter_mut().enumerate() {
            if i >= 2 * BLOCK_ROUNDS {
                *t = (0.020, 0.020, 1.0);
            }
        }
        let e = rounds(&seldom).efficiency_vs_ceiling();
        assert!((e.median - 1.0).abs() < 1e-9, "{e:?}");
    }

    #[test]
    fn outliers_do_not_move_the_median() {
        // One round in five caught a burst on the executor's batch only (twice as slow).
        let triples: Vec<(f64, f64, f64)> = (0..50)
            .map(|i| {
                let e = if i % 5 == 0 { 0.020 } else { 0.010 };
                (0.019 + 0.002 * (i % 2) as f64, e, 2.0)
            })
            .collect();
        let r = rounds(&triples);
        let s = r.speedup();
        assert!(s.median > 1.85 && s.median < 2.15, "{s:?}");
        assert!(s.lo > 1.8, "{s:?}");
        // The representative batch is a typical one, not an outlier.
        assert_eq!(r.representative().unwrap().batch.wall_s, 0.010);
    }

    #[test]
    fn the_batch_is_next_to_the_baseline_and_the_probe_and_both_orders_occur() {
        let mut rng = SplitMix::new(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let o = round_order(&mut rng);
            assert_eq!(o[1], Member::Executor, "{o:?}");
            seen.insert(format!("{o:?}"));
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn the_policy_splits_the_minimum_into_blocks_then_settles_on_the_figure() {
        let p = Policy::new(8, 2.0).unwrap();
        assert_eq!(p.min_blocks(), 3);
        assert_eq!(
            [
                p.block_len(0),
                p.block_len(3),
                p.block_len(6),
                p.block_len(8)
            ],
            [3, 3, 2, BLOCK_ROUNDS]
        );
        assert_eq!(Policy::new(1, 0.0).unwrap().block_len(0), 1);
        assert_eq!(Policy::default().min_blocks(), 10);
        let narrow = Estimate {
            median: 0.95,
            lo: 0.94,
            hi: 0.96,
        };
        let wide = Estimate {
            median: 0.95,
            lo: 0.80,
            hi: 0.99,
        };
        // `n` rounds, spread evenly over `span_s` of the run's clock.
        let spread = |n: usize, span_s: f64| {
            let mut r = Rounds::default();
            for i in 0..n {
                let t = span_s * i as f64 / (n.max(2) - 1) as f64;
                let batch = measured(0.010);
                r.push_at(t, 0.020, batch, None);
            }
            r
        };
        let two_windows = WINDOW_S * MIN_WINDOWS as f64 - 1.0;
        assert!(
            !p.settled(&spread(7, two_windows), &narrow),
            "never fewer than --repeat"
        );
        assert!(p.settled(&spread(8, two_windows), &narrow));
        assert!(
            !p.settled(&spread(8, 1.0), &narrow),
            "one window of the host's phases measures none of their variation"
        );
        assert!(!p.settled(&spread(100, two_windows), &wide));
        assert!(
            p.settled(&spread(MAX_ROUNDS, 0.0), &wide),
            "the memory bound"
        );
        assert_eq!(p.block_len(MAX_ROUNDS - 2), 2);
        assert!(Policy::new(0, 1.0).is_err());
        assert!(Policy::new(MAX_ROUNDS + 1, 1.0).is_err());
        assert!(Policy::new(5, -1.0).is_err());
        assert!(Policy::new(5, f64::NAN).is_err());
        assert!(Policy::new(5, MAX_BUDGET_S + 1.0).is_err());
    }

    #[test]
    fn rounds_remember_their_blocks_and_a_shifted_block_widens_the_estimates() {
        // Four blocks of 8 rounds at 95% of a perfect executor; in one block the pool ran
        // 12% slower throughout (it landed badly). Read as 32 independent rounds the
        // interval would hide that; read by blocks it shows.
        let mut r = Rounds::default();
        for block in 0..4 {
            r.begin_block();
            for i in 0..8 {
                let slow = if block == 2 { 1.12 } else { 1.0 };
                let jitter = 1.0 + 0.004 * (i % 3) as f64;
                push(&mut r, 0.020, 0.010 / 0.95 * slow * jitter, 1.0, [1.0, 1.0]);
            }
        }
        assert_eq!(r.blocks(), 4);
        let blocked = r.efficiency_vs_ceiling();
        let per_round: Vec<f64> = r
            .perfect_batches()
            .unwrap()
            .iter()
            .zip(&r.batches)
            .map(|(p, e)| p / e.batch.wall_s)
            .collect();
        let plain = stats::median_interval(&per_round);
        assert_eq!(blocked.median, plain.median);
        assert!(blocked.lo < plain.lo - 0.01, "{blocked:?} vs {plain:?}");
        assert_eq!(r.figure(false), blocked);
        assert_eq!(r.figure(true), r.speedup());
    }
}
