//! `parbench timeline`: run one batch per executor and draw the seed's timeline figure.
//! `parbench chart`: redraw the speedup chart and timelines from a saved JSON report.

use super::speedup::speedup_picture;
use super::timeline::{timeline_svg, write_timelines, Panel};
use super::{check_picture, ms, picture_text};
use crate::cli::WorkloadArgs;
use crate::error::{list_capped, Error, Result, UsageError};
use crate::executor::{self, Job};
use crate::output::{self, Writer};
use crate::progress::Progress;
use crate::report::Report;
use crate::{interrupt, workload};
use std::path::PathBuf;

/// Arguments of `parbench timeline`.
#[derive(Debug, Clone, clap::Args)]
pub struct TimelineArgs {
    /// Workload to run.
    #[arg(long)]
    pub workload: String,
    /// Executors, comma-separated, or `all`; several are stacked as panels on one time axis.
    #[arg(long, value_delimiter = ',')]
    pub executor: Vec<String>,
    /// Workers per executor (executors that do not scale, like serial, use one).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Compare against the baseline: adds serial when missing; with no --executor, draws the
    /// seed's figure: serial, threads and processes.
    #[arg(long)]
    pub compare: bool,
    /// Output file: .svg, or .html for hover tooltips.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// No progress bar, and no "wrote FILE" line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Workload parameters, as for `parbench run`.
    #[command(flatten)]
    pub params: WorkloadArgs,
}

/// The executors to draw, in panel order.
fn executors(args: &TimelineArgs) -> Result<Vec<String>, UsageError> {
    let mut names: Vec<String> = args.executor.iter().map(|s| s.trim().to_string()).collect();
    // As in `parbench run`: an empty name is a typo (`threads,,pool`), not something to skip.
    if names.iter().any(String::is_empty) {
        return Err(UsageError::new(format!(
            "timeline: empty name in --executor list '{}'",
            args.executor.join(",")
        )));
    }
    if names == ["all"] {
        names = executor::names().into_iter().map(String::from).collect();
    }
    if names.is_empty() {
        if !args.compare {
            return Err(UsageError::new(
                "timeline: give --executor NAME[,NAME...] or --compare",
            ));
        }
        // The seed's figure: serial, threads and a process pool (the thread pool stands in
        // when no process executor is registered).
        let process = if executor::find("process").is_ok() {
            "process"
        } else {
            "pool"
        };
        names = vec!["serial".into(), "threads".into(), process.into()];
    } else if args.compare && !names.iter().any(|n| n == "serial") {
        names.insert(0, "serial".into());
    }
    let mut seen = Vec::new();
    for n in &names {
        executor::find(n)?;
        if seen.contains(n) {
            return Err(UsageError::new(format!(
                "timeline: executor '{n}' is listed twice"
            )));
        }
        seen.push(n.clone());
    }
    Ok(names)
}

/// Runs `parbench timeline`. Exit code 0, or 1 when some task failed (the picture is still
/// written, with the failed bars marked). Bad arguments are a [`UsageError`] (exit 2).
pub fn command(args: TimelineArgs) -> Result<i32> {
    // Every check that needs no work comes first, so a typo fails in milliseconds.
    check_picture("-o", &args.output)?;
    let names = executors(&args)?;
    executor::check_workers(args.workers)?;
    let info = workload::find(&args.workload)?;
    let params = args.params.overrides().params_for(info.name)?;
    let mut options = args.params.exec_options()?;

    let workload = workload::open(info.name, params)?;
    let job = Job::new(workload.clone())?;

    let mut progress = Progress::new(names.len(), args.quiet);
    let mut panels = Vec::with_capacity(names.len());
    let mut failures = Vec::new();
    let mut reference = None;
    for name in &names {
        let scales = executor::find(name)?.scales;
        let workers = if scales { args.workers } else { 1 };
        progress.step(format!("{} {name} x{workers}", info.name));
        interrupt::check()?;
        options.workers = workers;
        let mut pool = executor::start(name, &options)?;
        let batch = pool.run(&job);
        drop(pool);
        // A Ctrl-C that reached worker processes shows up as failed tasks: it is still Ctrl-C.
        interrupt::check()?;
        let batch = batch?;
        failures.extend(
            batch
                .failures()
                .into_iter()
                .map(|f| format!("{name} x{workers}: {f}")),
        );
        // Every executor must compute the same results, as in `parbench run`.
        if let Ok(got) = batch.checksum() {
            let want = *reference.get_or_insert(got);
            if got != want {
                return Err(Error::ChecksumMismatch {
                    config: format!("{}/{name}/{workers}", info.name),
                    got,
                    want,
                });
            }
        }
        panels.push(Panel::from_batch(name, workers, &batch));
    }
    progress.finish();

    let params = workload.params();
    let title = match panels.as_slice() {
        [one] => format!(
            "{} · {} · wall {} · {} tasks of size {}",
            info.name,
            one.label(),
            ms(one.wall_s),
            params.tasks,
            params.size
        ),
        _ => format!(
            "{}: {} tasks of size {}, one batch per executor",
            info.name, params.tasks, params.size
        ),
    };
    let total: usize = panels.iter().map(|p| p.records.len()).sum();
    let picture = picture_text(&args.output, &title, timeline_svg(&title, &panels))?;
    let mut out = Writer::new(args.quiet);
    let written = out.file("-o", &args.output, picture);
    if !failures.is_empty() {
        // One line, like every other error of the CLI, naming every failed task (up to a
        // cap) with its executor and worker; the picture marks each failure too.
        let marked = if written {
            format!(" (marked in {})", args.output.display())
        } else {
            String::new()
        };
        output::say(&format!(
            "parbench: error: {} of {total} tasks failed{marked}: {}",
            failures.len(),
            list_capped(&failures)
        ));
    }
    out.finish()?;
    Ok(if failures.is_empty() { 0 } else { 1 })
}

/// Arguments of `parbench chart`: redraw pictures from a saved JSON report.
#[derive(Debug, Clone, clap::Args)]
pub struct ChartArgs {
    /// A report written by `parbench run --format json`.
    pub report: PathBuf,
    /// Speedup chart: .svg, or .html for hover tooltips.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Also write one timeline per configuration into this directory.
    #[arg(long, value_name = "DIR")]
    pub timeline: Option<PathBuf>,
    /// No "wrote FILE" lines.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs `parbench chart`: no benchmark runs, only drawing, so pictures can be restyled or
/// made on another machine from the JSON of a sweep.
pub fn chart_command(args: ChartArgs) -> Result<i32> {
    if args.output.is_none() && args.timeline.is_none() {
        return Err(UsageError::new("chart: give -o FILE.svg and/or --timeline DIR").into());
    }
    let mut files = Vec::new();
    if let Some(out) = &args.output {
        check_picture("-o", out)?;
        files.push(("-o", out.as_path()));
    }
    if let Some(dir) = &args.timeline {
        output::check_dir("--timeline", dir)?;
    }
    output::check_distinct(&files)?;
    let text = std::fs::read_to_string(&args.report).map_err(|e| {
        UsageError::new(format!(
            "cannot read {}: {}",
            args.report.display(),
            output::os_error_text(&e)
        ))
    })?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        UsageError::new(format!(
            "{} is not a parbench JSON report: {e}",
            args.report.display()
        ))
    })?;
    // An edited or corrupt report must not decide how much memory drawing takes.
    crate::validate::validate_report(&report)
        .map_err(|e| UsageError::new(format!("{}: {e}", args.report.display())))?;
    // Rendered before anything is written: a report without speedups is a usage error.
    let chart = match &args.output {
        Some(path) => Some((
            path,
            speedup_picture(&report.results, report.machine.cores, path)?,
        )),
        None => None,
    };
    let mut out = Writer::new(args.quiet);
    if let Some((path, picture)) = chart {
        out.file("-o", path, picture);
    }
    if let Some(dir) = &args.timeline {
        write_timelines(&mut out, "--timeline", dir, &report.results);
    }
    out.finish()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a `parbench timeline` command line.
    fn parse(line: &[&str]) -> TimelineArgs {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cmd {
            #[command(flatten)]
            args: TimelineArgs,
        }
        let mut argv = vec!["timeline", "--workload", "cpu", "-o", "t.svg"];
        argv.extend_from_slice(line);
        Cmd::parse_from(argv).args
    }

    fn args(executor: &[&str], compare: bool) -> TimelineArgs {
        let list = executor.join(",");
        let mut line = vec![];
        if !executor.is_empty() {
            line.extend(["--executor", list.as_str()]);
        }
        if compare {
            line.push("--compare");
        }
        parse(&line)
    }

    #[test]
    fn compare_adds_the_serial_baseline() {
        assert_eq!(
            executors(&args(&["threads"], true)).unwrap(),
            vec!["serial", "threads"]
        );
        let seed = executors(&args(&[], true)).unwrap();
        assert_eq!(seed[..2], ["serial", "threads"]);
        assert_eq!(seed.len(), 3);
        assert_eq!(
            executors(&args(&["all"], false)).unwrap(),
            executor::names()
        );
    }

    #[test]
    fn bad_executor_lists_are_usage_errors() {
        assert!(executors(&args(&[], false)).is_err());
        assert!(executors(&args(&["nope"], false)).is_err());
        assert!(executors(&args(&["threads", "threads"], false)).is_err());
        let empty = executors(&args(&["threads", "", "pool"], false)).unwrap_err();
        assert!(empty.to_string().contains("empty name"), "{empty}");
        assert!(executors(&args(&[""], true)).is_err());
    }
}
