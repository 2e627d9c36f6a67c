//! `parbench run`: sweep workloads x executors x worker counts in paired rounds and print
//! speedups with their intervals beside the host's measured ceiling.

use super::{executor_names, worker_counts, workload_names, ExecArgs};
use crate::engine::rounds::Policy;
use crate::engine::sweep::{self, Event, SweepConfig};
use crate::error::UsageError;
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
    /// Executors: a comma-separated list, or `all`. Serial always runs too: it is the
    /// baseline of every round.
    #[arg(long, short = 'e', default_value = "all")]
    pub executor: String,
    /// Worker counts, comma-separated.
    #[arg(long, short = 'n', value_delimiter = ',', default_value = "1,2,4")]
    pub workers: Vec<usize>,
    /// Fewest paired rounds per configuration (1..=10000).
    #[arg(long, short = 'r', default_value_t = 5)]
    pub repeat: usize,
    /// Time budget per configuration in seconds (0..=3600): rounds stop when the intervals of
    /// the speedup and of eff/ceil are within +-2% or the budget is spent, never before
    /// --repeat rounds.
    #[arg(long, default_value_t = 2.0)]
    pub budget_s: f64,
    /// Output format: table, json, csv, markdown, bmf.
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
    check_outputs(&args)?;
    for w in &workloads {
        args.params.params_for(w)?;
    }
    let mut cfg = SweepConfig::new(workloads, executors, workers);
    cfg.policy = policy;
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
    let mut progress = Progress::new(cfg.configurations(), args.quiet);
    let outcome = sweep::sweep(&cfg, &mut |event| match event {
        Event::Config(_, _, label) => progress.step(label),
        Event::Round(label, n) => progress.message(format!("{label}: round {n}")),
    });
    progress.finish();
    // A stop signal that reached the workers too shows up first as failed tasks: it is still
    // the signal. Checked on success as well: a signal during the last batch still stops.
    interrupt::check()?;
    // When the OS refused something mid-run, its limit is named before the symptom.
    let report = outcome.map_err(limits::explain)?;
    if let Some(note) = &report.machine.note {
        if args.output.is_some() || args.format != "table" {
            output::say(&format!("parbench: note: {note}"));
        }
    }
    // Every output is attempted, the main export first; failures are reported together.
    let mut out = Writer::new(args.quiet);
    let text = exporter.render(&report, &ExportOptions { wide: args.wide });
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
    Ok(0)
}
