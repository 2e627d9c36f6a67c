//! `parbench timeline`: one batch per executor on a warm-started pool, drawn as the seed's
//! timeline figure (one lane per worker, one bar per task).

use super::{executor_names, worker_counts, ExecArgs};
use crate::engine::Bench;
use crate::error::{summarise_failures, Result, UsageError};
use crate::executor;
use crate::interrupt;
use crate::output::{self, Writer};
use crate::plot::{check_picture, ms, picture_text, timeline_svg, Panel};
use crate::progress::Progress;
use crate::workload::{self, Overrides};
use std::path::PathBuf;

/// Arguments of `parbench timeline`.
#[derive(Debug, Clone, clap::Args)]
pub struct TimelineArgs {
    /// Workload to run.
    #[arg(long, short = 'w')]
    pub workload: String,
    /// Executors, comma-separated, or `all`; several are stacked as panels on one time axis.
    #[arg(long, short = 'e')]
    pub executor: Option<String>,
    /// Workers per executor (executors that do not scale, like serial, use one).
    #[arg(long, short = 'n', default_value_t = 4)]
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
    pub params: Overrides,
    /// Executor options.
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// The executors to draw, in panel order.
pub fn executors(args: &TimelineArgs) -> Result<Vec<String>, UsageError> {
    let mut names = match &args.executor {
        Some(list) => executor_names(list)?,
        None if args.compare => {
            // The seed's figure: serial, threads and a process pool (the thread pool stands
            // in when no process executor is registered).
            let process = if executor::find("process").is_ok() {
                "process"
            } else {
                "pool"
            };
            vec!["threads".into(), process.into()]
        }
        None => {
            return Err(UsageError::new(
                "timeline: give --executor NAME[,NAME...] or --compare",
            ))
        }
    };
    let baseline = executor::baseline().name;
    if args.compare && !names.iter().any(|n| n == baseline) {
        names.insert(0, baseline.to_string());
    }
    Ok(names)
}

/// Runs `parbench timeline`. Exit code 0, or 1 when some task failed (the picture is still
/// written, with the failed bars marked). Bad arguments are a [`UsageError`] (exit 2).
pub fn command(args: TimelineArgs) -> Result<i32> {
    // Every check that needs no work comes first, so a typo fails in milliseconds.
    check_picture("-o", &args.output)?;
    let names = executors(&args)?;
    worker_counts(&[args.workers])?;
    let info = workload::find(&args.workload)?;
    let params = args.params.params_for(info.name)?;
    let options = args.exec.options()?;
    let baseline = crate::limits::Config::new(info.name, &params, executor::baseline().name, 1);
    let configs = std::iter::once(baseline)
        .chain(names.iter().map(|name| {
            let workers = executor::workers_of(name, args.workers);
            crate::limits::Config::new(info.name, &params, name, workers)
        }))
        .collect::<Result<Vec<_>, UsageError>>()?;
    crate::limits::check(&configs, 0)?;

    let bench = Bench::open_lenient(info.name, params, options)?;
    let mut progress = Progress::new(names.len(), args.quiet);
    let mut panels = Vec::with_capacity(names.len());
    let mut failures = Vec::new();
    for name in &names {
        interrupt::check()?;
        let mut prepared = bench.start(name, args.workers)?;
        let (label, workers) = (prepared.label.clone(), prepared.workers);
        progress.step(label.clone());
        let measured = bench.run_unchecked(&mut prepared);
        drop(prepared);
        // A Ctrl-C that reached worker processes shows up as failed tasks: it is still Ctrl-C.
        interrupt::check()?;
        let batch = measured?.batch;
        let failed = batch.failures();
        if failed.is_empty() {
            // Every executor must compute the same results, as in `parbench run`.
            bench.check_of(name, &batch, &label)?;
        }
        failures.extend(failed.into_iter().map(|mut f| {
            f.error.message = format!("{name} x{workers}: {}", f.error.message);
            f
        }));
        panels.push(Panel::from_batch(name, workers, &batch));
    }
    progress.finish();

    // The py-* run their own job (fewer cpu steps): a title over one panel names its sizes.
    let titled = match names.as_slice() {
        [one] => bench.job_of(one)?,
        _ => bench.job.clone(),
    };
    let params = titled.workload.params();
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
        // One line, like every other error of the CLI, naming the failed tasks (grouped by
        // cause, up to a cap) with their executor and worker; the picture marks each one.
        let marked = if written {
            format!(" (marked in {})", args.output.display())
        } else {
            String::new()
        };
        let summary = summarise_failures(&failures);
        // The limit the OS ran out of, when it did, comes before the tasks' symptom.
        let cause = crate::refusal::cause(&summary)
            .map(|c| format!("{c}: "))
            .unwrap_or_default();
        output::say(&format!(
            "parbench: error: {cause}{} of {total} tasks failed{marked}: {summary}",
            failures.len(),
        ));
    }
    out.finish()?;
    Ok(if failures.is_empty() { 0 } else { 1 })
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
        let mut argv = vec!["timeline", "-w", "cpu", "-o", "t.svg"];
        argv.extend_from_slice(line);
        Cmd::parse_from(argv).args
    }

    fn args(executor: &[&str], compare: bool) -> TimelineArgs {
        let list = executor.join(",");
        let mut line = vec![];
        if !executor.is_empty() {
            line.extend(["-e", list.as_str()]);
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
        assert!(executors(&args(&["threads", "", "pool"], false)).is_err());
        assert_eq!(
            executors(&args(&["threads", "threads"], false)).unwrap(),
            vec!["threads"],
            "a name given twice counts once"
        );
    }
}
