//! `parbench run`: sweep workloads x executors x worker counts in paired rounds and print
//! speedups with their intervals beside the host's measured ceiling.

use super::{executor_names, worker_counts, workload_names, ExecArgs};
use crate::engine::forks::{self, Child};
use crate::engine::rounds::Policy;
use crate::engine::sweep::{self, Event, SweepConfig};
use crate::error::{Error, UsageError};
use crate::export::{self, ExportOptions};
use crate::output::{self, Writer};
use crate::progress::Progress;
use crate::workload::Overrides;
use crate::{interrupt, limits, system};
use clap::Args;
use std::path::PathBuf;

/// `parbench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Workloads: a comma-separated list, or `all`.
    #[arg(long, short = 'w', default_value = "all")]
    pub workload: String,
    /// Executors: a comma-separated list. `all` (the default) is every executor built into
    /// the binary; the py-* (the same tasks in a real CPython, see --python) are named, or
    /// added with `py`: `-e all,py`. Serial always runs too: it is the baseline of every
    /// round (py-serial of every py-* round).
    #[arg(long, short = 'e', default_value = "all")]
    pub executor: String,
    /// Worker counts, comma-separated.
    #[arg(long, short = 'n', value_delimiter = ',', default_value = "1,2,4")]
    pub workers: Vec<usize>,
    /// Fewest paired rounds per configuration (1..=10000), run in blocks of 3 spread over the
    /// workload's window: each block is a fresh pool.
    #[arg(long, short = 'r', default_value_t = 30)]
    pub repeat: usize,
    /// Time budget of the whole run in seconds (0..=86400), at most 15 s per configuration.
    /// After every configuration's --repeat rounds, more blocks go to those whose figure to
    /// read (eff/ceil; the speedup for api and io) is still wider than +-2%, the widest first;
    /// each workload draws its share of what is left.
    #[arg(long, default_value_t = 140.0)]
    pub budget_s: f64,
    /// Fresh parbench processes the run is measured in (1..=20), one after another, each with
    /// its share of the rounds and the budget; the intervals count the variation between
    /// them, which one process cannot show (docs/method.md, "Forks"). At most one per block
    /// of --repeat's minimum (3 rounds); 1 measures in this process.
    #[arg(long, default_value_t = crate::engine::forks::DEFAULT_FORKS)]
    pub forks: usize,
    /// Stop the whole run after this many seconds (1..=86400): no new block starts, and every
    /// configuration with at least one block is written, marked partial.
    #[arg(long)]
    pub max_time: Option<f64>,
    /// Output format: table, json, csv, markdown, bmf (Bencher), github-benchmark
    /// (github-action-benchmark's customSmallerIsBetter).
    #[arg(long, short = 'f', default_value = "table")]
    pub format: String,
    /// Table and Markdown: every column (min, max, wall/ideal, CPU time, throughput, ...).
    #[arg(long)]
    pub wide: bool,
    /// Write the export to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Hide the progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Also draw the speedup chart (intervals, ideal, measured ceiling, Amdahl fit) to this
    /// SVG or HTML file.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Also write one timeline per configuration into this directory.
    #[arg(long)]
    pub timeline: Option<PathBuf>,
    /// Pin the whole run (threads and worker processes) to these cores, e.g. `0` or `0-1`.
    /// Efficiency and the ceiling then count the pinned cores.
    #[arg(long)]
    pub cpus: Option<system::CpuList>,
    /// Let the OS place the workers. By default worker i runs on core i mod c, one core
    /// each, and so do the ceiling probe's spinners (see the README: "Placement").
    #[arg(long)]
    pub no_pin: bool,
    /// Workload parameters.
    #[command(flatten)]
    pub params: Overrides,
    /// Executor options.
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// Checks every output before any work: `-o`, `--chart`, `--timeline`, and that no two
/// name the same file.
fn check_outputs(args: &RunArgs) -> Result<(), UsageError> {
    let mut files: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(path) = &args.output {
        output::check_file("-o", path)?;
        files.push(("-o", path));
    }
    if let Some(path) = &args.chart {
        crate::plot::check_picture("--chart", path)?;
        files.push(("--chart", path));
    }
    if let Some(dir) = &args.timeline {
        output::check_dir("--timeline", dir)?;
    }
    output::check_distinct(&files)
}

/// Runs `parbench run`.
pub fn command(args: RunArgs) -> anyhow::Result<i32> {
    // Every check that needs no work comes first, so a typo fails in milliseconds.
    let workloads = workload_names(&args.workload)?;
    let executors = executor_names(&args.executor)?;
    let workers = worker_counts(&args.workers)?;
    let exporter = export::find(&args.format)?;
    let policy = Policy::new(args.repeat, args.budget_s)?;
    let max_time = args.max_time.map(max_time).transpose()?;
    // Each fork measures at least one block of every configuration: no more forks than the
    // minimum has blocks (`-r 1` measures in this process).
    let fork_count = crate::validate::forks(args.forks)?.min(policy.min_blocks());
    // A fork of a parent run: measure its share quietly and write the report for the parent.
    let fork = Child::from_env()?;
    if fork.is_none() {
        check_outputs(&args)?;
    }
    for w in &workloads {
        args.params.params_for(w)?;
    }
    // py-* dot without numpy: declined in one line each, the other workloads still run.
    for e in executors
        .iter()
        .filter(|e| fork.is_none() && crate::executor::family_of(e).is_some())
    {
        for w in &workloads {
            if let Some(why) = crate::executor::unavailable(e, Some(w)) {
                output::say(&format!("parbench: note: {e} declines {w}: {why}"));
            }
        }
    }
    if let Some(py) = crate::executor::python_free_threaded(&executors).filter(|_| fork.is_none()) {
        output::say(&format!("parbench: note: {py}"));
    }
    let mut cfg = SweepConfig::new(workloads, executors, workers);
    cfg.policy = policy;
    cfg.max_time = max_time;
    cfg.overrides = args.params.clone();
    cfg.exec = args.exec.options()?;
    if let Some(cpus) = &args.cpus {
        // Before any pool starts, so every thread and child process inherits the mask.
        system::pin_to_cpus(&cpus.0)?;
        cfg.cpus = Some(cpus.0.clone());
    }
    if !args.no_pin {
        // After --cpus: the workers spread over the cores the run may use.
        cfg.exec.placement = system::Placement::spread();
    }
    cfg.cores = system::available_cores();
    // The OS limits last: a typo is still named first, and no pool or server exists yet.
    let (configs, probe_threads) = limits::of_sweep(&cfg)?;
    limits::check(&configs, probe_threads)?;
    if let Some(fork) = fork {
        return run_fork(cfg, &fork);
    }
    let mut progress = Progress::timed(cfg.budget(), args.quiet);
    let started = std::time::Instant::now();
    let budget = cfg.budget();
    let (report, stopped) = if fork_count > 1 {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        let forks::Forked { report, stopped } = forks::run(&cfg, &argv, fork_count, &mut |i| {
            progress.message(format!("fork {} of {fork_count}", i + 1));
            progress.tick(started.elapsed());
        });
        (report, stopped)
    } else {
        let sweep::Outcome { report, stopped } = sweep::sweep(&cfg, &mut |event| match event {
            Event::Workload(name, cost) => {
                // Known once the workload's serial batch has run: this workload's cost, then
                // what is left of the budget after it.
                let now = started.elapsed();
                let after = budget.saturating_sub(now.saturating_add(cost));
                let left = cost.saturating_add(after);
                progress.plan(now.saturating_add(left));
                if left.as_secs_f64() > 60.0 && !args.quiet {
                    progress.suspend(|| {
                        output::say(&format!(
                            "parbench: {name}: the run needs about {} more",
                            indicatif::HumanDuration(left)
                        ))
                    });
                }
            }
            Event::Block(label, block, minimum) => progress.message(format!(
                "{label}: block {block}{}",
                if minimum {
                    ""
                } else {
                    ", interval still wider than the target"
                }
            )),
            Event::Round(..) => progress.tick(started.elapsed()),
        });
        (report, stopped)
    };
    progress.finish();
    // A stop signal that reached the workers too shows up first as failed tasks: it is still
    // the signal. A run that stopped early still writes what it finished, marked partial.
    let signalled = interrupt::signal().is_some();
    let stop_asked =
        signalled || matches!(stopped, Some(Error::Interrupted(_) | Error::MaxTime(_)));
    let stopped = match stopped {
        // Nothing was measured (a workload that would not open, a bad size): only the error.
        // When the OS refused something mid-run, its limit is named before the symptom.
        Some(e) if report.results.is_empty() && !stop_asked => return Err(limits::explain(e)),
        other => other,
    };
    if (stopped.is_some() || signalled) && !report.results.is_empty() && !args.quiet {
        let short = report
            .results
            .iter()
            .filter(|r| r.blocks > 0 && r.rounds < policy.min_rounds)
            .count();
        output::say(&format!(
            "parbench: note: the run stopped early; {} configurations are written, marked partial ({short} of them short of their {} rounds: read their intervals)",
            report.results.len(),
            policy.min_rounds
        ));
    }
    if let Some(note) = &report.machine.note {
        if args.output.is_some() || args.format != "table" {
            output::say(&format!("parbench: note: {note}"));
        }
    }
    // Every output is attempted, the main export first; failures are reported together.
    let mut out = Writer::new(args.quiet);
    let options = ExportOptions {
        wide: args.wide,
        flags: args.params.clone(),
    };
    let mut text = exporter.render(&report, &options);
    if exporter.name() == "table" {
        // The same sentences as the verdict page, from the same code.
        for line in crate::verdict::sentences(&crate::verdict::analyse(&report.results)) {
            text.push_str(&format!("verdict: {line}\n"));
        }
    }
    match &args.output {
        Some(path) => {
            out.file("-o", path, text);
        }
        None => out.stdout(text),
    }
    if let Some(path) = &args.chart {
        match crate::plot::speedup_picture(&report.results, cfg.cores, path) {
            Ok(picture) => {
                out.file("--chart", path, picture);
            }
            Err(e) => out.fail("--chart", path, e.to_string()),
        }
    }
    if let Some(dir) = &args.timeline {
        crate::plot::write_timelines(&mut out, "--timeline", dir, &report.results);
    }
    out.finish()?;
    interrupt::check()?;
    match stopped {
        // The user bounded the run: what it measured is the answer asked for.
        Some(Error::MaxTime(_)) | None => Ok(0),
        Some(e) => Err(limits::explain(e)),
    }
}

/// Runs one fork of a parent's run: its share of the rounds and the budget, no output but
/// the report for the parent (written whole or partial), and its error on stderr.
fn run_fork(mut cfg: SweepConfig, fork: &Child) -> anyhow::Result<i32> {
    cfg.policy = fork.policy(cfg.policy);
    if fork.left.is_some() {
        cfg.max_time = fork.left;
    }
    let sweep::Outcome { report, stopped } = sweep::sweep(&cfg, &mut |_| {});
    fork.write(&report)?;
    match stopped {
        Some(Error::MaxTime(_)) | None => Ok(0),
        Some(e) => Err(limits::explain(e)),
    }
}

/// Checks `--max-time`: 1..=86400 seconds.
fn max_time(seconds: f64) -> Result<std::time::Duration, UsageError> {
    if seconds.is_finite() && (1.0..=86_400.0).contains(&seconds) {
        Ok(std::time::Duration::from_secs_f64(seconds))
    } else {
        Err(UsageError::new(format!(
            "--max-time {seconds} must be 1..=86400 seconds"
        )))
    }
}
