//! The sweep behind `parbench run`: every workload x executor x worker count, each measured
//! in paired rounds against the baseline with the host ceiling beside it.

use super::probe::CeilingProbe;
use super::rounds::{self, Policy, Rounds};
use super::stats::{Estimate, SplitMix};
use super::Bench;
use crate::error::Result;
use crate::executor::{self, ExecOptions};
use crate::report::{Machine, Report, RunResult, Spread};
use crate::workload::Overrides;
use crate::{interrupt, system};

/// A round counts as short of cores when its ceiling is under this share of c.
pub const SHORT_SHARE: f64 = 0.9;
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
}

/// Progress events, for a progress bar.
#[derive(Debug, Clone)]
pub enum Event {
    /// A configuration is starting: (index, total, label).
    Config(usize, usize, String),
    /// A configuration finished a round: (label, rounds done).
    Round(String, usize),
}

/// Runs the sweep. For each workload the baseline runs first (reference checksum); then each
/// configuration's pool is started, warmed up and measured in paired rounds, and stopped.
pub fn sweep(cfg: &SweepConfig, on_event: &mut dyn FnMut(Event)) -> Result<Report> {
    let points = cfg.points();
    let total = cfg.configurations();
    let mut index = 0;
    let mut results = Vec::with_capacity(total);
    let mut rng = SplitMix::from_entropy();
    let mut short_rounds = 0usize;
    let mut counted_rounds = 0usize;
    let mut short_cores = Vec::new();
    // One probe per distinct c, started once: spinners are threads, not free to start.
    let mut probes: Vec<CeilingProbe> = Vec::new();
    let home = super::home_core();
    for workload_name in &cfg.workloads {
        interrupt::check()?;
        let baseline_label = format!("{workload_name}/{}/1", executor::baseline().name);
        on_event(Event::Config(index, total, baseline_label));
        index += 1;
        let params = cfg.overrides.params_for(workload_name)?;
        let mut bench = Bench::open(workload_name, params, cfg.exec.clone())?;
        let mut baseline_walls = Vec::new();
        let first = results.len();
        for (executor_name, workers) in &points {
            interrupt::check()?;
            let label = format!("{workload_name}/{executor_name}/{workers}");
            on_event(Event::Config(index, total, label.clone()));
            index += 1;
            let c = executor::workers_of(executor_name, *workers)
                .min(cfg.cores)
                .max(1);
            // One worker against the baseline: both on the baseline's core.
            let _same_core = home.and_then(|cpu| super::same_core(c, cpu));
            let mut prepared = bench.prepare(executor_name, *workers)?;
            if !probes.iter().any(|p| p.cores() == c) {
                probes.push(CeilingProbe::start(c, &cfg.exec.placement)?);
            }
            let probe = probes
                .iter()
                .find(|p| p.cores() == c)
                .expect("probe started above");
            let measured = rounds::measure(
                &mut bench,
                &mut prepared,
                probe,
                home,
                &cfg.policy,
                &mut rng,
                &mut |n| {
                    on_event(Event::Round(label.clone(), n));
                    interrupt::check()
                },
            )?;
            if c > 1 {
                short_rounds += measured.short_rounds(c, SHORT_SHARE);
                counted_rounds += measured.len();
                if !short_cores.contains(&c) {
                    short_cores.push(c);
                }
            }
            baseline_walls.extend_from_slice(&measured.baseline_s);
            results.push(result_of(cfg, &bench, &prepared, &measured));
        }
        // The baseline's own row: its batches from every round of this workload.
        // One more baseline batch stands for its timeline and counters.
        let baseline = bench.run_baseline()?;
        if baseline_walls.is_empty() {
            baseline_walls.push(baseline.batch.wall_s);
        }
        results.insert(
            first,
            baseline_result(cfg, &bench, baseline, &baseline_walls),
        );
    }
    let mut machine = machine(cfg);
    machine.note = host_note(short_rounds, counted_rounds, &short_cores);
    let mut report = Report { machine, results };
    super::analysis::fill_serial_fractions(&mut report.results, cfg.cores);
    Ok(report)
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
fn result_of(
    cfg: &SweepConfig,
    bench: &Bench,
    prepared: &super::Prepared,
    measured: &Rounds,
) -> RunResult {
    let walls: Vec<f64> = measured.batches.iter().map(|m| m.batch.wall_s).collect();
    let speedup = measured.speedup();
    let representative = measured
        .representative()
        .expect("at least one round")
        .clone();
    let mut r = row(
        cfg,
        bench,
        prepared.info.name,
        prepared.workers,
        &walls,
        representative,
    );
    r.pool_start_s = prepared.pool_start_s;
    r.efficiency = Some(speedup.median / prepared.workers.min(cfg.cores).max(1) as f64);
    r.speedup = Some(speedup);
    r.ceiling = Some(measured.ceiling());
    r.efficiency_vs_ceiling = Some(measured.efficiency_vs_ceiling());
    r.rounds = measured.len();
    r
}

/// The baseline's row: speedup 1 by definition.
fn baseline_result(
    cfg: &SweepConfig,
    bench: &Bench,
    representative: super::Measured,
    walls: &[f64],
) -> RunResult {
    let mut r = row(
        cfg,
        bench,
        executor::baseline().name,
        1,
        walls,
        representative,
    );
    r.pool_start_s = bench.baseline_pool_start_s();
    r.speedup = Some(Estimate::exact(1.0));
    r.efficiency = Some(1.0);
    r.ceiling = Some(Estimate::exact(1.0));
    r.efficiency_vs_ceiling = Some(Estimate::exact(1.0));
    r.rounds = walls.len();
    r
}

/// The fields every row shares.
fn row(
    cfg: &SweepConfig,
    bench: &Bench,
    executor: &str,
    workers: usize,
    walls: &[f64],
    representative: super::Measured,
) -> RunResult {
    let job = &bench.job;
    let params = job.workload.params();
    let tasks = job.len();
    let wall_s = Spread::of(walls);
    let ideal_s = job
        .workload
        .ideal_s(workers)
        .filter(|i| *i > 0.0 && i.is_finite());
    let super::Measured { batch, cpu_s } = representative;
    RunResult {
        workload: job.workload.name().to_string(),
        executor: executor.to_string(),
        workers,
        tasks,
        size: params.size,
        inner_threads: params.inner_threads,
        wall_s,
        speedup: None,
        efficiency: None,
        ceiling: None,
        efficiency_vs_ceiling: None,
        rounds: 0,
        ideal_s,
        wall_over_ideal: ideal_s.map(|i| wall_s.median / i),
        cpu_s,
        utilisation: cpu_s / (batch.wall_s * cfg.cores as f64),
        bytes_per_s: job
            .workload
            .bytes_per_task()
            .map(|b| b as f64 * tasks as f64 / wall_s.median),
        pool_start_s: 0.0,
        checksum: bench.reference().unwrap_or_default(),
        counters: batch.counters,
        serial_fraction: None,
        records: batch.records,
    }
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
    }
}

fn git_commit() -> Option<String> {
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
