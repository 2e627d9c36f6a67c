//! Command-line interface: argument parsing and dispatch only; the work is in the library.
//!
//! Every error ends as one line on stderr. Usage errors exit 2, failures exit 1, a stop
//! signal 128 + its number (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).

use crate::error::{Error, UsageError};
use crate::executor::{self, ExecOptions};
use crate::output::{self, Writer};
use crate::progress::Progress;
use crate::run::{self, Event, Overrides, SweepConfig};
use crate::workload::{self, ServerKind};
use crate::{export, interrupt, system, validate};
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
    /// process: seconds a task may run before its worker is killed and replaced and the task
    /// fails (0.001..=86400).
    #[arg(long, default_value_t = validate::DEFAULT_TASK_TIMEOUT.as_secs_f64())]
    pub task_timeout_s: f64,
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
        options.task_timeout = validate::task_timeout(self.task_timeout_s)?;
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
    /// Timed repetitions per configuration, after one warm-up (1..=10000).
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

/// Checks that a file can be written at `path`. Kept for callers of the old name;
/// [`output::check_file`] also names the option in its error.
pub fn check_output_path(path: &std::path::Path) -> Result<(), UsageError> {
    output::check_file("output", path)
}

/// Checks every output of `parbench run` before any work: `-o`, `--chart`, `--timeline`.
fn check_run_outputs(args: &RunArgs) -> Result<(), UsageError> {
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
    validate::repeat(args.repeat)?;
    let exporter = export::find(&args.format)?;
    check_run_outputs(&args)?;
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
    let mut progress = Progress::new(run::steps(&cfg), args.quiet);
    let outcome = run::sweep(&cfg, &mut |event| match event {
        Event::Start(_, _, label) => progress.step(label),
    });
    progress.finish();
    // A stop signal that reached the workers too shows up first as failed tasks: it is still
    // the signal. Checked on success as well: a signal during the last batch still stops.
    interrupt::check()?;
    let mut report = outcome?;
    crate::plot::fill_serial_fractions(&mut report.results, cfg.cores);
    // Every output is attempted, the main export first; failures are reported together.
    let mut out = Writer::new(args.quiet);
    let text = exporter.render(&report);
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
    output::write_stdout(out.as_bytes())?;
    Ok(0)
}

/// Exit code for an error: 2 for usage errors, 128 + the signal for a stop signal (130 for
/// Ctrl-C), 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if cause.is::<UsageError>() {
            return 2;
        }
        match cause.downcast_ref::<Error>() {
            Some(Error::Usage(_)) => return 2,
            Some(Error::Interrupted(sig)) => return interrupt::exit_code(*sig),
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
    output::say(&format!("parbench: error: {}", one_line.join("; ")));
}

/// The first line of a clap error, completed with the lines it introduces: clap puts the
/// names of missing arguments on the lines after "...were not provided:", and the first
/// line alone would not say which.
fn clap_error_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let mut text = first.trim_start_matches("error: ").trim_end().to_string();
    if text.ends_with(':') {
        let listed: Vec<&str> = lines
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        text = format!("{} {}", text, listed.join(", "));
    }
    text
}

/// Prints `--help` or `--version` on stdout; a full device is an error (exit 1), a closed
/// pipe is not.
fn print_help(e: &clap::Error) -> i32 {
    let printed = e.print().and_then(|()| std::io::stdout().flush());
    match printed {
        Ok(()) => 0,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(err) => {
            output::say(&format!("parbench: error: {}", output::stdout_error(&err)));
            1
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run(args) => run_command(*args),
        Command::List => list_command(),
        Command::Compare(args) => crate::compare::command(args),
        Command::Worker => Ok(executor::process::worker_main()),
        Command::Timeline(args) => Ok(crate::plot::command(*args)?),
        Command::Chart(args) => Ok(crate::plot::chart_command(args)?),
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
                    ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => print_help(&e),
                    ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                        output::say("parbench: error: a subcommand is required (see --help)");
                        2
                    }
                    _ => {
                        output::say(&format!(
                            "parbench: error: {} (see --help)",
                            clap_error_line(&e)
                        ));
                        2
                    }
                };
            }
        };
        // Workers keep the default actions: a terminal's Ctrl-C ends them, and their pool
        // reads that as the user stopping the run.
        if !matches!(cli.command, Command::Worker) {
            interrupt::install();
        }
        let outcome = dispatch(cli);
        // By now every pool and workload is dropped: workers reaped, temporary directories
        // removed. A stop signal decides the exit status whatever the command returned.
        match (outcome, interrupt::signal()) {
            (_, Some(sig)) => {
                output::say(&format!("parbench: error: {}", Error::Interrupted(sig)));
                interrupt::exit_code(sig)
            }
            (Ok(code), None) => code,
            (Err(e), None) => {
                print_error(&e);
                exit_code(&e)
            }
        }
    });
    outcome.unwrap_or_else(|payload| {
        let msg = crate::error::TaskError::from_panic(payload.as_ref());
        output::say(&format!("parbench: internal error: {msg}"));
        101
    })
}
