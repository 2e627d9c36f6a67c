//! The sweep behind `parbench run`: every workload x executor x worker count, each measured
//! in paired rounds against the baseline with the host ceiling beside it.
//!
//! Rounds come in blocks ([`rounds::measure_block`]): a block starts a fresh pool, warms it
//! and runs a few rounds. A workload's configurations take turns block by block, in a new
//! random order every pass, so each configuration's blocks are spread over the workload's
//! whole window and sample its host phases and neighbours, instead of one configuration
//! owning one stretch of time after whatever ran just before it. Every configuration gets
//! its minimum first; then the workload's share of the run's budget goes, pass by pass, to
//! the wider half of the configurations whose figure to read is still wider than the target.

use super::probe::CeilingProbe;
use super::rounds::{self, Policy, Rounds};
use super::stats::{Estimate, SplitMix};
use super::{Bench, Prepared};
use crate::error::{Error, Result};
use crate::executor::{self, ExecOptions, ExecutorInfo};
use crate::report::{Machine, Report, RunResult, Spread};
use crate::workload::Overrides;
use crate::{interrupt, system};
use std::time::{Duration, Instant};

/// A round counts as short of cores when its ceiling is under this share of c.
pub const SHORT_SHARE: f64 = rounds::FULL_SHARE;
/// The run prints a note when more than this share of rounds were short of cores.
pub const NOTE_SHARE: f64 = 0.10;

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Workload names, distinct.
    pub workloads: Vec<String>,
    /// Executor names, distinct; the baseline is measured in every round whether listed or
    /// not, and gets its own row.
    pub executors: Vec<String>,
    /// Worker counts, distinct (executors that do not scale run once, at 1).
    pub workers: Vec<usize>,
    /// Parameter overrides.
    pub overrides: Overrides,
    /// When to stop each configuration's rounds.
    pub policy: Policy,
    /// Stop starting blocks once the run has taken this long (`--max-time`); what was
    /// measured is kept and the report is marked partial.
    pub max_time: Option<Duration>,
    /// Options passed to every executor (worker binary, GIL switch interval).
    pub exec: ExecOptions,
    /// Cores for efficiency, utilisation and the ceiling's c.
    pub cores: usize,
    /// Cores the run is pinned to, recorded in the report.
    pub cpus: Option<Vec<usize>>,
}

impl SweepConfig {
    /// A sweep with the default policy and this machine's cores.
    pub fn new(workloads: Vec<String>, executors: Vec<String>, workers: Vec<usize>) -> Self {
        SweepConfig {
            workloads,
            executors,
            workers,
            overrides: Overrides::default(),
            policy: Policy::default(),
            max_time: None,
            exec: ExecOptions::new(1),
            cores: system::available_cores(),
            cpus: None,
        }
    }

    /// The executor configurations measured for each workload: every listed executor but
    /// the baseline, at every worker count (once at 1 for executors that do not scale).
    pub fn points(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for e in &self.executors {
            if executor::is_baseline(e) {
                continue;
            }
            for &n in &self.workers {
                let n = executor::workers_of(e, n);
                if !out.contains(&(e.clone(), n)) {
                    out.push((e.clone(), n));
                }
            }
        }
        out
    }

    /// Configurations in the whole sweep: the points of every workload, plus its baseline.
    pub fn configurations(&self) -> usize {
        self.workloads.len() * (self.points().len() + 1)
    }

    /// The whole run's budget for blocks beyond the minimum: `--budget-s`, or less where
    /// [`rounds::MAX_PER_CONFIG`] caps it for a small sweep.
    pub fn budget(&self) -> Duration {
        let configs = (self.workloads.len() * self.points().len()) as u32;
        self.policy
            .budget
            .min(rounds::MAX_PER_CONFIG.saturating_mul(configs))
    }
}

/// Progress events, for a progress bar.
#[derive(Debug, Clone)]
pub enum Event {
    /// A workload opened its baseline: (workload, about how long its blocks will take: its
    /// budget, or longer where its minimum of rounds of this serial batch needs longer).
    Workload(String, Duration),
    /// A block is starting: its configuration's label, the configuration's block number
    /// (1-based), and whether the configuration is still within its minimum.
    Block(String, usize, bool),
    /// A configuration finished a round: (label, rounds done).
    Round(String, usize),
}

/// What a sweep produced: the report, and what stopped it early, if anything. A stopped
/// sweep's report holds every configuration with at least one whole block of rounds, and
/// says `partial`.
#[derive(Debug)]
pub struct Outcome {
    /// The results measured.
    pub report: Report,
    /// Why the sweep stopped before the end: a signal, `--max-time`, a failed workload.
    pub stopped: Option<Error>,
}

/// One configuration of a workload while its blocks are being measured.
struct Config {
    info: &'static ExecutorInfo,
    workers: usize,
    /// Cores the ceiling is measured on: min(workers, cores), at least 1.
    c: usize,
    label: String,
    /// The first block's pool start, in seconds.
    pool_start_s: Option<f64>,
    rounds: Rounds,
}

/// Runs the sweep. For each workload the baseline runs first (reference checksum); then the
/// configurations' blocks are interleaved (see the module notes). The sweep never loses what
/// it measured: an error or a signal ends it with every configuration with a whole block in
/// [`Outcome::report`], marked partial.
pub fn sweep(cfg: &SweepConfig, on_event: &mut dyn FnMut(Event)) -> Outcome {
    let mut run = Run {
        cfg,
        started: Instant::now(),
        rng: SplitMix::from_entropy(),
        home: super::home_core(),
        configs_left: cfg.workloads.len() * cfg.points().len(),
        results: Vec::new(),
        short_rounds: 0,
        counted_rounds: 0,
        short_cores: Vec::new(),
    };
    let mut stopped = None;
    for workload_name in &cfg.workloads {
        if let Err(e) = run.workload(workload_name, on_event) {
            stopped = Some(e);
            break;
        }
    }
    let mut machine = machine(cfg);
    machine.note = host_note(run.short_rounds, run.counted_rounds, &run.short_cores);
    let mut report = Report {
        machine,
        results: run.results,
        partial: stopped.is_some(),
    };
    super::analysis::fill_serial_fractions(&mut report.results, cfg.cores);
    Outcome { report, stopped }
}

/// The state of a sweep across its workloads.
struct Run<'a> {
    cfg: &'a SweepConfig,
    started: Instant,
    rng: SplitMix,
    home: Option<usize>,
    /// Configurations of the workloads not begun yet, this one's included.
    configs_left: usize,
    results: Vec<RunResult>,
    short_rounds: usize,
    counted_rounds: usize,
    short_cores: Vec<usize>,
}

impl Run<'_> {
    /// Measures one workload: its baseline, then its configurations' blocks, interleaved.
    /// Finished configurations are in `self.results` even when this fails.
    fn workload(&mut self, name: &str, on_event: &mut dyn FnMut(Event)) -> Result<()> {
        let cfg = self.cfg;
        interrupt::check()?;
        self.past_max_time()?;
        let points = cfg.points();
        // This workload's share of what is left of the run's budget.
        let left = cfg.budget().saturating_sub(self.started.elapsed());
        let pot = left.mul_f64(points.len() as f64 / self.configs_left.max(1) as f64);
        self.configs_left = self.configs_left.saturating_sub(points.len());
        let params = cfg.overrides.params_for(name)?;
        let mut bench = Bench::open(name, params, cfg.exec.clone())?;
        on_event(Event::Workload(
            name.to_string(),
            pot.max(minimum_cost(
                &cfg.policy,
                points.len(),
                bench.reference_wall_s,
            )),
        ));
        let waits = bench.job.workload.waits();
        let mut configs = Vec::with_capacity(points.len());
        // A family baseline named on its own (py-serial) still gets its row.
        for e in cfg.executors.iter().filter(|e| executor::is_baseline(e)) {
            if executor::unavailable(e, Some(name)).is_none() {
                bench.start_family_of(e)?;
            }
        }
        for (executor_name, workers) in &points {
            let info = executor::find(executor_name)?;
            // Declined before any work (`parbench run` said so in one line): py-* dot
            // without numpy.
            if executor::unavailable(info.name, Some(name)).is_some() {
                continue;
            }
            let workers = info.workers(*workers);
            configs.push(Config {
                info,
                workers,
                c: workers.min(cfg.cores).max(1),
                label: format!("{name}/{}/{workers}", info.name),
                pool_start_s: None,
                rounds: Rounds::default(),
            });
        }
        let started = Instant::now();
        let outcome = self.blocks(&mut bench, &mut configs, waits, pot, started, on_event);
        self.finish(&mut bench, configs, outcome.is_ok())?;
        outcome
    }

    /// Every configuration's minimum, in passes of one block each; then, while the pot lasts,
    /// passes over the configurations whose figure is still wide.
    fn blocks(
        &mut self,
        bench: &mut Bench,
        configs: &mut [Config],
        waits: bool,
        pot: Duration,
        started: Instant,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<()> {
        let policy = self.cfg.policy;
        let mut order: Vec<usize> = (0..configs.len()).collect();
        for _ in 0..policy.min_blocks() {
            self.rng.shuffle(&mut order);
            for &i in &order {
                let len = policy.block_len(configs[i].rounds.len());
                if len > 0 {
                    self.block(bench, &mut configs[i], len, true, on_event)?;
                }
            }
        }
        loop {
            // How far each configuration's figure is from the target; the settled are done.
            let wide: Vec<(usize, f64)> = configs
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let figure = c.rounds.figure(waits);
                    (!policy.settled(&c.rounds, &figure)).then(|| (i, figure.relative_half_width()))
                })
                .collect();
            if wide.is_empty() {
                return Ok(());
            }
            // The wider half of them gets a block each this pass, in a random order.
            let mut widths: Vec<f64> = wide.iter().map(|(_, w)| *w).collect();
            widths.sort_by(f64::total_cmp);
            let cut = widths[(widths.len() - 1) / 2];
            let mut open: Vec<usize> = wide
                .iter()
                .filter(|(_, w)| *w >= cut || w.is_nan())
                .map(|(i, _)| *i)
                .collect();
            self.rng.shuffle(&mut open);
            for i in open {
                if started.elapsed() >= pot {
                    return Ok(());
                }
                let len = policy.block_len(configs[i].rounds.len());
                self.block(bench, &mut configs[i], len, false, on_event)?;
            }
        }
    }

    /// One block of one configuration: a fresh pool, warmed up, and `len` paired rounds.
    fn block(
        &mut self,
        bench: &mut Bench,
        config: &mut Config,
        len: usize,
        minimum: bool,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<()> {
        interrupt::check()?;
        self.past_max_time()?;
        on_event(Event::Block(
            config.label.clone(),
            config.rounds.blocks() + 1,
            minimum,
        ));
        // One worker against the baseline: both on the baseline's core.
        let _same_core = self.home.and_then(|cpu| super::same_core(config.c, cpu));
        let mut prepared: Prepared = bench.prepare(config.info.name, config.workers)?;
        config.pool_start_s.get_or_insert(prepared.pool_start_s);
        // A fresh probe too: its spinner threads' state (their allocator arenas, for a probe
        // that runs the workload's own tasks) would otherwise last the whole workload.
        let probe = CeilingProbe::start(config.c, &self.cfg.exec.placement, bench.probe_unit())?;
        let label = &config.label;
        rounds::measure_block(
            bench,
            &mut prepared,
            &probe,
            self.home,
            &mut config.rounds,
            len,
            &mut self.rng,
            &mut |n| {
                on_event(Event::Round(label.clone(), n));
                interrupt::check()
            },
        )
    }

    /// An error once the run has taken `--max-time`.
    fn past_max_time(&self) -> Result<()> {
        match self.cfg.max_time {
            Some(max) if self.started.elapsed() >= max => Err(Error::MaxTime(max.as_secs_f64())),
            _ => Ok(()),
        }
    }

    /// The workload's rows: its baseline first, then every configuration (a stopped
    /// workload keeps those with at least one whole block: blocks interleave, so at a stop
    /// most configurations are part way to their minimum, and what they measured is kept,
    /// with its rounds and its interval saying how much that is).
    fn finish(&mut self, bench: &mut Bench, configs: Vec<Config>, complete: bool) -> Result<()> {
        let cfg = self.cfg;
        let min = if complete {
            1
        } else {
            rounds::BLOCK_ROUNDS.min(cfg.policy.min_rounds)
        };
        // Each baseline's walls from the rounds of the configurations paired with it.
        let mut baseline_walls: Vec<(&'static str, Vec<f64>)> = Vec::new();
        let mut rows = Vec::new();
        let mut configs: Vec<Config> = configs
            .into_iter()
            .filter(|c| c.rounds.len() >= min)
            .collect();
        share_work(
            &mut configs
                .iter_mut()
                .map(|c| (c.info.name, &mut c.rounds))
                .collect::<Vec<_>>(),
        );
        for config in configs {
            if config.c > 1 {
                self.short_rounds += config.rounds.short_rounds(config.c, SHORT_SHARE);
                self.counted_rounds += config.rounds.len();
                if !self.short_cores.contains(&config.c) {
                    self.short_cores.push(config.c);
                }
            }
            let base = executor::baseline_of(config.info.name).name;
            match baseline_walls.iter_mut().find(|(b, _)| *b == base) {
                Some((_, walls)) => walls.extend_from_slice(&config.rounds.baseline_s),
                None => baseline_walls.push((base, config.rounds.baseline_s.clone())),
            }
            rows.push(result_of(cfg, bench, &config)?);
        }
        if !rows.is_empty() || complete {
            // Each baseline's own row (serial's, then each family's): its batches from every
            // round of this workload. One more baseline batch stands for its timeline and
            // counters; a stopped workload whose baseline cannot run again still keeps the
            // rows it finished.
            let baselines =
                std::iter::once(executor::baseline().name).chain(bench.family_baselines());
            for base in baselines {
                let mut walls = baseline_walls
                    .iter()
                    .find(|(b, _)| *b == base)
                    .map(|(_, w)| w.clone())
                    .unwrap_or_default();
                match bench.run_baseline_of(base) {
                    Ok(baseline) => {
                        if walls.is_empty() {
                            walls.push(baseline.batch.wall_s);
                        }
                        self.results
                            .push(baseline_result(cfg, bench, base, baseline, &walls)?);
                    }
                    Err(e) if complete => return Err(e),
                    Err(_) => {}
                }
            }
        }
        self.results.extend(rows);
        Ok(())
    }
}

/// About how long `configs` configurations take to reach their minimum of rounds when the
/// serial batch takes `serial_s`: per round a serial batch, an executor batch no slower than
/// it and a probe of a share of it; per block a warm-up batch.
pub fn minimum_cost(policy: &Policy, configs: usize, serial_s: f64) -> Duration {
    let per_config = (policy.min_rounds as f64 * 2.5 + policy.min_blocks() as f64) * serial_s;
    Duration::from_secs_f64((per_config * configs as f64).clamp(0.0, 1e9))
}

/// Gives every configuration's rounds (`(executor, rounds)`) the baseline's work in probe
/// units as all the configurations with the same baseline measured it
/// ([`rounds::shared_work`]): the py-* family's baseline batch is another batch than serial's.
pub fn share_work(configs: &mut [(&str, &mut Rounds)]) {
    let bases: Vec<&'static str> = configs
        .iter()
        .map(|(e, _)| executor::baseline_of(e).name)
        .collect();
    let mut done: Vec<&str> = Vec::new();
    for base in &bases {
        if done.contains(base) {
            continue;
        }
        done.push(base);
        let same = |b: &&str| b == base;
        let work = rounds::shared_work(
            configs
                .iter()
                .zip(&bases)
                .filter(|(_, b)| same(b))
                .map(|((_, r), _)| &**r),
        );
        for ((_, r), _) in configs.iter_mut().zip(&bases).filter(|(_, b)| same(b)) {
            r.share_work(&work);
        }
    }
}

/// The one-line note about the host, when more than [`NOTE_SHARE`] of the rounds with
/// c > 1 measured a ceiling under [`SHORT_SHARE`] x c.
pub fn host_note(short: usize, rounds: usize, cores: &[usize]) -> Option<String> {
    if rounds == 0 || (short as f64) <= NOTE_SHARE * rounds as f64 {
        return None;
    }
    let share = 100.0 * short as f64 / rounds as f64;
    let under = match cores {
        [c] => format!("{:.1} cores", SHORT_SHARE * *c as f64),
        _ => format!("{:.0}% of the cores asked for", SHORT_SHARE * 100.0),
    };
    Some(format!(
        "host delivered under {under} in {share:.0}% of rounds; read efficiency vs ceiling"
    ))
}

/// The result row of one configuration.
fn result_of(cfg: &SweepConfig, bench: &Bench, config: &Config) -> Result<RunResult> {
    let measured = &config.rounds;
    let walls: Vec<f64> = measured.batches.iter().map(|m| m.batch.wall_s).collect();
    let representative = measured
        .representative()
        .expect("at least one round")
        .clone();
    let mut r = row(
        cfg,
        bench,
        config.info.name,
        config.workers,
        &walls,
        representative,
    )?;
    r.pool_start_s = config.pool_start_s.unwrap_or(0.0);
    measured.estimate_into(&mut r, config.workers.min(cfg.cores).max(1));
    Ok(r)
}

/// A baseline's row (serial's, or a family's): speedup 1 by definition.
fn baseline_result(
    cfg: &SweepConfig,
    bench: &Bench,
    baseline: &str,
    representative: super::Measured,
    walls: &[f64],
) -> Result<RunResult> {
    let mut r = row(cfg, bench, baseline, 1, walls, representative)?;
    r.pool_start_s = bench.baseline_pool_start_s_of(baseline);
    r.speedup = Some(Estimate::exact(1.0));
    r.efficiency = Some(1.0);
    r.ceiling = Some(Estimate::exact(1.0));
    r.efficiency_vs_ceiling = Some(Estimate::exact(1.0));
    r.rounds = walls.len();
    r.blocks = 0;
    Ok(r)
}

/// The fields every row shares.
fn row(
    cfg: &SweepConfig,
    bench: &Bench,
    executor: &str,
    workers: usize,
    walls: &[f64],
    representative: super::Measured,
) -> Result<RunResult> {
    let job = &bench.job_of(executor)?;
    let params = job.workload.params();
    let tasks = job.len();
    let wall_s = Spread::of(walls);
    let ideal_s = job
        .workload
        .ideal_s(workers)
        .filter(|i| *i > 0.0 && i.is_finite());
    let super::Measured { batch, cpu_s } = representative;
    Ok(RunResult {
        inner_threads: params.inner_threads,
        ideal_s,
        wall_over_ideal: ideal_s.map(|i| wall_s.median / i),
        cpu_s,
        utilisation: cpu_s / (batch.wall_s * cfg.cores as f64),
        bytes_per_s: job
            .workload
            .bytes_per_task()
            .map(|b| b as f64 * tasks as f64 / wall_s.median),
        checksum: bench.reference_of(executor).unwrap_or_default(),
        vs_native: bench.native_s_of(executor).map(|n| wall_s.median / n),
        waits: job.workload.waits(),
        counters: batch.counters,
        records: batch.records,
        ..RunResult::new(
            job.workload.name(),
            executor,
            workers,
            (tasks, params.size),
            wall_s,
        )
    })
}

/// The machine record for a report.
pub fn machine(cfg: &SweepConfig) -> Machine {
    Machine {
        cores: cfg.cores,
        cpus: cfg.cpus.clone(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        commit: git_commit(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        note: None,
        placement: cfg.exec.placement.cores().map(<[usize]>::to_vec),
        python: cfg
            .executors
            .iter()
            .any(|e| executor::family_of(e).is_some())
            .then(|| executor::python::describe().ok())
            .flatten(),
    }
}

/// The short commit of the working tree (`git rev-parse`), when there is one.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
