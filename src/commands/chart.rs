//! `parbench chart`: redraw the speedup chart and timelines from a saved JSON report. No
//! benchmark runs, only drawing, so pictures can be restyled or made on another machine.

use crate::error::{Result, UsageError};
use crate::output::{self, Writer};
use crate::plot::{check_picture, speedup_picture, write_timelines};
use crate::report::Report;
use std::path::PathBuf;

/// Arguments of `parbench chart`.
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

/// Runs `parbench chart`.
pub fn command(args: ChartArgs) -> Result<i32> {
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
