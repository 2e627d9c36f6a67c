//! The subcommands that run or draw: argument structs and their thin bodies. The work is in
//! the engine, the exports and the pictures.

use crate::error::{Result, UsageError};
use crate::executor::{self, ExecOptions};
use std::time::Duration;

pub mod chart;
pub mod report;
pub mod run;
pub mod timeline;

/// Options of the executors themselves, shared by every command that runs batches.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// gil: switch interval in ms, like sys.setswitchinterval.
    #[arg(long, default_value_t = 5.0)]
    pub switch_interval_ms: f64,
    /// process: seconds a task may run before its worker is killed and replaced and the task
    /// fails (0.001..=86400).
    #[arg(long, default_value_t = crate::validate::DEFAULT_TASK_TIMEOUT.as_secs_f64())]
    pub task_timeout_s: f64,
    /// py-*: the Python interpreter to run [default: $PARBENCH_PYTHON, else python3 on PATH].
    #[arg(long, value_name = "PATH")]
    pub python: Option<std::path::PathBuf>,
}

impl ExecArgs {
    /// Executor options for these flags, with this binary as the process worker.
    pub fn options(&self) -> Result<ExecOptions> {
        let mut options = ExecOptions::new(1);
        options.switch_interval = switch_interval(self.switch_interval_ms)?;
        options.worker_exe = std::env::current_exe().ok();
        options.task_timeout = crate::validate::task_timeout(self.task_timeout_s)?;
        executor::python::choose(self.python.as_deref(), "--python")?;
        Ok(options)
    }
}

/// The switch interval as a `Duration` from milliseconds, within (0, 10000].
pub fn switch_interval(ms: f64) -> Result<Duration, UsageError> {
    if !(ms.is_finite() && ms > 0.0 && ms <= 10_000.0) {
        return Err(UsageError::new(format!(
            "switch interval {ms} ms must be in (0, 10000]"
        )));
    }
    Ok(Duration::from_secs_f64(ms / 1e3))
}

/// Expands `all` or a comma-separated list, checking every name against a registry. A name
/// given twice counts once; an empty name is an error.
pub fn expand_names(
    list: &str,
    all: Vec<&'static str>,
    find: impl Fn(&str) -> Result<(), UsageError>,
) -> Result<Vec<String>, UsageError> {
    if list.trim() == "all" {
        return Ok(all.into_iter().map(String::from).collect());
    }
    let mut names: Vec<String> = Vec::new();
    for n in list.split(',').map(str::trim) {
        if n.is_empty() {
            return Err(UsageError::new(format!("empty name in list '{list}'")));
        }
        find(n)?;
        if !names.iter().any(|m| m == n) {
            names.push(n.to_string());
        }
    }
    Ok(names)
}

/// Executor names from a list, checked: `all` is every executor built into this binary,
/// `py` every py-* executor that can run here (the others are skipped with a one-line note);
/// a py-* named on its own that cannot run here is a usage error.
pub fn executor_names(list: &str) -> Result<Vec<String>, UsageError> {
    let mut names: Vec<String> = Vec::new();
    for item in list.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(UsageError::new(format!("empty name in list '{list}'")));
        }
        let group = match item {
            "py" => {
                let mut runnable = Vec::new();
                for name in executor::python_names() {
                    match executor::unavailable(name, None) {
                        Some(why) => {
                            crate::output::say(&format!("parbench: note: skipping {name}: {why}"))
                        }
                        None => runnable.push(name.to_string()),
                    }
                }
                runnable
            }
            _ => {
                let group =
                    expand_names(item, executor::names(), |n| executor::find(n).map(|_| ()))?;
                for name in &group {
                    if let Some(why) = executor::unavailable(name, None) {
                        return Err(UsageError::new(format!("{name} is unavailable: {why}")));
                    }
                }
                group
            }
        };
        for name in group {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    Ok(names)
}

/// Workload names from a list, checked.
pub fn workload_names(list: &str) -> Result<Vec<String>, UsageError> {
    expand_names(list, crate::workload::names(), |n| {
        crate::workload::find(n).map(|_| ())
    })
}

/// Worker counts, checked and without repeats, in the order given.
pub fn worker_counts(counts: &[usize]) -> Result<Vec<usize>, UsageError> {
    if counts.is_empty() {
        return Err(UsageError::new("give at least one worker count"));
    }
    let mut out = Vec::new();
    for &w in counts {
        executor::check_workers(w)?;
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(out)
}
