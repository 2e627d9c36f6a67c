//! `parbench timeline`: run one batch per executor and draw the seed's timeline figure.
//! `parbench chart`: redraw the speedup chart and timelines from a saved JSON report.

use super::speedup::speedup_chart;
use super::timeline::{write_result_timeline, write_timeline, Panel};
use super::{ms, Format};
use crate::cli::WorkloadArgs;
use crate::error::{Error, Result, UsageError};
use crate::executor::{self, Job};
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
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Workload parameters, as for `parbench run`.
    #[command(flatten)]
    pub params: WorkloadArgs,
}

/// The executors to draw, in panel order.
fn executors(args: &TimelineArgs) -> Result<Vec<String>, UsageError> {
    let mut names: Vec<String> = args
        .executor
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
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
    Format::for_output(&args.output)?;
    let names = executors(&args)?;
    executor::check_workers(args.workers)?;
    let info = workload::find(&args.workload)?;
    let params = args.params.overrides().params_for(info.name)?;
    let mut options = args.params.exec_options()?;

    interrupt::install();
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
    write_timeline(&args.output, &title, &panels)?;
    match failures.first() {
        None => Ok(0),
        Some(first) => {
            // One line, like every other error of the CLI; the picture marks each failure.
            eprintln!(
                "parbench: error: {} tasks failed (marked in {}); first: {first}",
                failures.len(),
                args.output.display()
            );
            Ok(1)
        }
    }
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
}

/// Runs `parbench chart`: no benchmark runs, only drawing, so pictures can be restyled or
/// made on another machine from the JSON of a sweep.
pub fn chart_command(args: ChartArgs) -> Result<i32> {
    if args.output.is_none() && args.timeline.is_none() {
        return Err(UsageError::new("chart: give -o FILE.svg and/or --timeline DIR").into());
    }
    if let Some(out) = &args.output {
        Format::for_output(out)?;
    }
    let text = std::fs::read_to_string(&args.report)
        .map_err(|e| UsageError::new(format!("cannot read {}: {e}", args.report.display())))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        UsageError::new(format!(
            "{} is not a parbench JSON report: {e}",
            args.report.display()
        ))
    })?;
    if let Some(out) = &args.output {
        speedup_chart(&report.results, report.machine.cores, out)?;
    }
    if let Some(dir) = &args.timeline {
        for result in &report.results {
            write_result_timeline(dir, result)?;
        }
    }
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
    }
}
