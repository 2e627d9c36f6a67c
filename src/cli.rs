//! Command-line interface: argument parsing and dispatch only; the work is in the library.
//!
//! Every error ends as one line on stderr. Usage errors exit 2, failures exit 1, Ctrl-C 130.

use crate::commands;
use crate::error::{Error, UsageError};
use crate::executor;
use crate::export;
use crate::workload;
use clap::{Parser, Subcommand};

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
    /// List the registered workloads and executors with their defaults.
    List,
    /// Gate: compare saved Criterion baselines (paired base_i/head_i); exit 1 on a regression.
    Compare(crate::compare::CompareArgs),
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
    Report(crate::verdict::ReportArgs),
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

/// Exit code for an error: 2 for usage errors and a gate side that failed, 130 for Ctrl-C,
/// 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if cause.is::<UsageError>() || cause.is::<crate::gate::GateError>() {
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
        Command::Run(args) => commands::run::command(*args),
        Command::List => list_command(),
        Command::Compare(args) => crate::compare::command(args),
        Command::Worker => Ok(executor::process::worker_main()),
        Command::Serve => Ok(crate::serve::serve_main()),
        Command::Gate(args) => crate::gate::command(*args),
        Command::Timeline(args) => Ok(commands::timeline::command(*args)?),
        Command::Chart(args) => Ok(commands::chart::command(args)?),
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
