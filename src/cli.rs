//! Command-line interface: argument parsing and dispatch only; the work is in the library.
//!
//! Every error ends as one line on stderr. Usage errors exit 2, failures exit 1, a stop
//! signal 128 + its number (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).

use crate::commands;
use crate::error::{Error, UsageError};
use crate::executor;
use crate::export;
use crate::interrupt;
use crate::output;
use crate::workload;
use clap::{Parser, Subcommand};
use std::io::Write as _;

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
    Run(Box<commands::run::RunArgs>),
    /// List the registered workloads and executors with their defaults, and which py-*
    /// executors can run here.
    List {
        /// The Python interpreter the py-* executors would run [default: $PARBENCH_PYTHON,
        /// else python3 on PATH].
        #[arg(long, value_name = "PATH")]
        python: Option<std::path::PathBuf>,
    },
    /// Internal: a process-pool worker serving tasks over its stdin and stdout.
    #[command(hide = true)]
    Worker,
    /// Internal: one side of the paired gate, serving benchmark turns over stdin and stdout.
    #[command(hide = true)]
    Serve,
    /// Paired regression gate: two builds take turns batch by batch; exit 1 on a regression.
    Gate(Box<crate::gate::GateArgs>),
    /// Run one batch per executor and draw its tasks on a timeline (SVG, or HTML with tooltips).
    Timeline(Box<commands::timeline::TimelineArgs>),
    /// Redraw the speedup chart and timelines from a JSON report of `parbench run`.
    Chart(commands::chart::ChartArgs),
    /// Write the verdict page (which executor wins, at how many workers) from `cargo bench`
    /// results already on disk.
    Report(commands::report::ReportArgs),
}

fn list_command(python: Option<&std::path::Path>) -> anyhow::Result<i32> {
    executor::python::choose(python, "--python")?;
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
        let state = match executor::unavailable(e.name, None) {
            Some(why) => format!(" [unavailable: {why}]"),
            None => match executor::unavailable(e.name, Some("dot")) {
                Some(why) => format!(" [dot declined: {why}]"),
                None => String::new(),
            },
        };
        out.push_str(&format!("  {:<15} {}{state}\n", e.name, e.about));
    }
    if let Ok(py) = executor::python::describe() {
        out.push_str(&format!(
            "python: {} {} ({}), GIL {}, numpy {}\n",
            py.implementation,
            py.version,
            py.executable,
            if py.gil_enabled {
                "on"
            } else {
                "off (free-threaded)"
            },
            py.numpy.as_deref().unwrap_or("missing")
        ));
    }
    out.push_str(&format!("formats: {}\n", export::formats().join(", ")));
    output::write_stdout(out.as_bytes())?;
    Ok(0)
}

/// Exit code for an error: 2 for usage errors and a gate side that failed, 128 + the
/// signal for a stop signal (130 for Ctrl-C), 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if cause.is::<UsageError>() || cause.is::<crate::gate::GateError>() {
            return 2;
        }
        match cause.downcast_ref::<Error>() {
            Some(Error::Usage(_)) => return 2,
            Some(Error::Interrupted(sig)) => return interrupt::exit_code(*sig),
            Some(Error::Fork { code, .. }) => return *code,
            _ => {}
        }
    }
    1
}

/// Prints an error as exactly one line on stderr.
pub fn print_error(error: &anyhow::Error) {
    output::say(&format!("parbench: error: {}", error_line(error)));
}

/// An error and its causes as one line.
pub fn error_line(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    let one_line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    one_line.join("; ")
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
        Command::Run(args) => commands::run::command(*args),
        Command::List { python } => list_command(python.as_deref()),
        Command::Worker => Ok(executor::process::worker_main()),
        Command::Serve => Ok(crate::serve::serve_main()),
        Command::Gate(args) => crate::gate::command(*args),
        Command::Timeline(args) => Ok(commands::timeline::command(*args)?),
        Command::Chart(args) => Ok(commands::chart::command(args)?),
        Command::Report(args) => commands::report::command(args),
    }
}

/// The whole program: parse, dispatch, turn every error into one line and an exit code.
pub fn main() -> i32 {
    crate::system::steady_allocator();
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
                // A fork's parent says it once for the run.
                if !crate::engine::forks::is_fork() {
                    output::say(&format!("parbench: error: {}", Error::Interrupted(sig)));
                }
                interrupt::exit_code(sig)
            }
            (Ok(code), None) => code,
            (Err(e), None) => {
                let code = exit_code(&e);
                match crate::engine::forks::Child::from_env() {
                    // A fork's parent says it, once for the run.
                    Ok(Some(fork)) => fork.fail(code, &error_line(&e)),
                    _ => print_error(&e),
                }
                code
            }
        }
    });
    outcome.unwrap_or_else(|payload| {
        let msg = crate::error::TaskError::from_panic(payload.as_ref());
        output::say(&format!("parbench: internal error: {msg}"));
        101
    })
}
