//! Command-line interface: argument parsing and dispatch only; the work is in the library.
//!
//! Every error ends as one line on stderr. Usage errors exit 2, failures exit 1, Ctrl-C 130.

use crate::error::{Error, UsageError};
use crate::executor::{self, ExecOptions};
use crate::progress::Progress;
use crate::run::{self, Event, Overrides, SweepConfig};
use crate::workload::{self, ServerKind};
use crate::{export, interrupt, system};
use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// Which executor wins, for which work, at how many workers.
#[derive(Debug, Parser)]
#[command(name = "parbench", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sweep workloads x executors x worker counts and print a speedup table.
    Run(Box<RunArgs>),
    /// List the registered workloads and executors with their defaults.
    List,
    /// Gate: compare saved Criterion baselines (paired base_i/head_i); exit 1 on a regression.
    Compare(crate::compare::CompareArgs),
    /// Internal: a process-pool worker serving tasks over its stdin and stdout.
    #[command(hide = true)]
    Worker,
    /// Run one batch per executor and draw its tasks on a timeline (SVG, or HTML with tooltips).
    Timeline(Box<crate::plot::TimelineArgs>),
    /// Redraw the speedup chart and timelines from a JSON report of `parbench run`.
    Chart(crate::plot::ChartArgs),
    /// Write the verdict page (which executor wins, at how many workers) from `cargo bench`
    /// results already on disk.
    Report(crate::verdict::ReportArgs),
}

/// Server choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ServerArg {
    /// mockito: a new connection per request (default).
    Mockito,
    /// keep-alive HTTP/1.1 server.
    Keepalive,
}

/// Parameters shared by every command that runs batches.
#[derive(Debug, Clone, Args)]
pub struct WorkloadArgs {
    /// Tasks per batch (default: the workload's).
    #[arg(long)]
    pub tasks: Option<usize>,
    /// Per-task size: loop steps (cpu), bytes per file (io), matrix dimension (dot), body bytes (api).
    #[arg(long)]
    pub size: Option<u64>,
    /// api: server latency per response in ms (default 20).
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// api: mock server.
    #[arg(long, value_enum)]
    pub server: Option<ServerArg>,
    /// api: client timeout per request in ms (default 10000).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// io: fsync every file after writing it.
    #[arg(long)]
    pub fsync: bool,
    /// dot: threads inside the matrix kernel (default 1).
    #[arg(long)]
    pub inner_threads: Option<usize>,
    /// Seed for the deterministic inputs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// gil: switch interval in ms, like sys.setswitchinterval (default 5).
    #[arg(long, default_value_t = 5.0)]
    pub switch_interval_ms: f64,
}

impl WorkloadArgs {
    /// The overrides these flags set.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            tasks: self.tasks,
            size: self.size,
            latency_ms: self.latency_ms,
            server: self.server.map(|s| match s {
                ServerArg::Mockito => ServerKind::Mockito,
                ServerArg::Keepalive => ServerKind::Keepalive,
            }),
            timeout_ms: self.timeout_ms,
            fsync: self.fsync,
            inner_threads: self.inner_threads,
            seed: self.seed,
        }
    }

    /// Executor options for these flags, with this binary as the process worker.
    pub fn exec_options(&self) -> Result<ExecOptions, Error> {
        let mut options = ExecOptions::new(1);
        options.switch_interval = run::switch_interval(self.switch_interval_ms)?;
        options.worker_exe = run::current_exe();
        Ok(options)
    }
}

/// `parbench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Workloads: a comma-separated list, or `all`.
    #[arg(long, short = 'w', default_value = "all")]
    pub workload: String,
    /// Executors: a comma-separated list, or `all`. Serial always runs too: it is the baseline.
    #[arg(long, short = 'e', default_value = "all")]
    pub executor: String,
    /// Worker counts, comma-separated.
    #[arg(long, short = 'n', value_delimiter = ',', default_value = "1,2,4")]
    pub workers: Vec<usize>,
    /// Timed repetitions per configuration, after one warm-up.
    #[arg(long, short = 'r', default_value_t = 3)]
    pub repeat: usize,
    /// Output format: table, json, csv, markdown, bmf.
    #[arg(long, short = 'f', default_value = "table")]
    pub format: String,
    /// Write the export to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Hide the progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Also draw the speedup chart (speedup vs workers, ideal and Amdahl fit) to this SVG file.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Also write one timeline per configuration into this directory.
    #[arg(long)]
    pub timeline: Option<PathBuf>,
    /// Pin the whole run (threads and worker processes) to these cores, e.g. `0` or `0-1`.
    /// Efficiency and utilisation are then computed against the pinned core count.
    #[arg(long)]
    pub cpus: Option<system::CpuList>,
    /// Workload parameters.
    #[command(flatten)]
    pub params: WorkloadArgs,
}

/// Expands `all` or a comma-separated list, checking every name against a registry.
pub fn expand_names(
    list: &str,
    all: Vec<&'static str>,
    find: impl Fn(&str) -> Result<(), UsageError>,
) -> Result<Vec<String>, UsageError> {
    if list.trim() == "all" {
        return Ok(all.into_iter().map(String::from).collect());
    }
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(UsageError::new(format!("empty name in list '{list}'")));
    }
    for n in &names {
        find(n)?;
    }
    Ok(names)
}

/// The executor list with `serial` first, added when missing.
pub fn with_serial(mut executors: Vec<String>) -> Vec<String> {
    executors.retain(|e| e != "serial");
    executors.insert(0, "serial".to_string());
    executors
}

/// Checks that a file can be created at `path`: its directory must exist.
pub fn check_output_path(path: &std::path::Path) -> Result<(), UsageError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    match dir {
        Some(d) if !d.is_dir() => Err(UsageError::new(format!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            d.display()
        ))),
        _ => Ok(()),
    }
}

fn run_command(args: RunArgs) -> anyhow::Result<i32> {
    let workloads = expand_names(&args.workload, workload::names(), |n| {
        workload::find(n).map(|_| ())
    })?;
    let executors = expand_names(&args.executor, executor::names(), |n| {
        executor::find(n).map(|_| ())
    })?;
    // Serial is the baseline of every speedup and checksum: it always runs.
    let executors = with_serial(executors);
    if args.workers.is_empty() {
        return Err(UsageError::new("give at least one worker count").into());
    }
    for &w in &args.workers {
        executor::check_workers(w)?;
    }
    let exporter = export::find(&args.format)?;
    if let Some(path) = &args.output {
        check_output_path(path)?;
    }
    if let Some(path) = &args.chart {
        check_output_path(path)?;
        crate::plot::Format::for_output(path)?;
    }
    let mut cfg = SweepConfig::new(workloads, executors, args.workers.clone());
    cfg.repeat = args.repeat;
    cfg.overrides = args.params.overrides();
    cfg.exec = args.params.exec_options()?;
    if let Some(cpus) = &args.cpus {
        // Before any pool starts, so every thread and child process inherits the mask.
        system::pin_to_cpus(&cpus.0)?;
        cfg.cpus = Some(cpus.0.clone());
    }
    cfg.cores = system::available_cores();
    interrupt::install();
    let mut progress = Progress::new(run::steps(&cfg), args.quiet);
    let outcome = run::sweep(&cfg, &mut |event| match event {
        Event::Start(_, _, label) => progress.step(label),
    });
    progress.finish();
    // A Ctrl-C that reached the workers too shows up first as failed tasks: it is still Ctrl-C.
    let mut report = outcome.map_err(|e| {
        if interrupt::requested() {
            Error::Interrupted
        } else {
            e
        }
    })?;
    crate::plot::fill_serial_fractions(&mut report.results, cfg.cores);
    if let Some(path) = &args.chart {
        crate::plot::speedup_chart(&report.results, cfg.cores, path)?;
    }
    if let Some(dir) = &args.timeline {
        for result in &report.results {
            crate::plot::write_result_timeline(dir, result)?;
        }
    }
    let text = exporter.render(&report);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("cannot write to stdout")?,
    }
    Ok(0)
}

fn list_command() -> anyhow::Result<i32> {
    let mut out = String::from("workloads:\n");
    for w in workload::WORKLOADS.iter().filter(|w| !w.hidden) {
        let d = (w.defaults)();
        out.push_str(&format!(
            "  {:<8} {} [default tasks {}, size {}]\n",
            w.name, w.about, d.tasks, d.size
        ));
    }
    out.push_str("executors:\n");
    for e in executor::EXECUTORS {
        out.push_str(&format!("  {:<8} {}\n", e.name, e.about));
    }
    out.push_str(&format!("formats: {}\n", export::formats().join(", ")));
    print!("{out}");
    Ok(0)
}

/// Exit code for an error: 2 for usage errors, 130 for Ctrl-C, 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if cause.is::<UsageError>() {
            return 2;
        }
        match cause.downcast_ref::<Error>() {
            Some(Error::Usage(_)) => return 2,
            Some(Error::Interrupted) => return 130,
            _ => {}
        }
    }
    1
}

/// Prints an error as exactly one line on stderr.
pub fn print_error(error: &anyhow::Error) {
    let text = format!("{error:#}");
    let one_line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    eprintln!("parbench: error: {}", one_line.join("; "));
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run(args) => run_command(*args),
        Command::List => list_command(),
        Command::Compare(args) => crate::compare::command(args),
        Command::Worker => Ok(executor::process::worker_main()),
        Command::Timeline(args) => Ok(crate::plot::command(*args)?),
        Command::Chart(args) => Ok(crate::plot::chart_command(args)?),
        Command::Report(args) => crate::verdict::command(args),
    }
}

/// The whole program: parse, dispatch, turn every error into one line and an exit code.
pub fn main() -> i32 {
    // Task panics are caught and reported as task errors; the default hook would print a
    // second, multi-line report for each, so it is silenced. A bug outside tasks still ends
    // as one line through catch_unwind below.
    std::panic::set_hook(Box::new(|_| {}));
    // With a file-size limit (a full quota), the kernel would kill us with SIGXFSZ before the
    // write could fail with EFBIG and name its file; ignore it so the error is reported.
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let outcome = std::panic::catch_unwind(|| {
        let cli = match Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) => {
                use clap::error::ErrorKind;
                return match e.kind() {
                    ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                        let _ = e.print();
                        0
                    }
                    ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                        eprintln!("parbench: error: a subcommand is required (see --help)");
                        2
                    }
                    _ => {
                        let rendered = e.render().to_string();
                        let first = rendered.lines().next().unwrap_or("invalid arguments");
                        let first = first.trim_start_matches("error: ");
                        eprintln!("parbench: error: {first} (see --help)");
                        2
                    }
                };
            }
        };
        match dispatch(cli) {
            Ok(code) => code,
            Err(e) => {
                print_error(&e);
                exit_code(&e)
            }
        }
    });
    outcome.unwrap_or_else(|payload| {
        let msg = crate::error::TaskError::from_panic(payload.as_ref());
        eprintln!("parbench: internal error: {msg}");
        101
    })
}
