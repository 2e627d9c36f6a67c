//! `parbench chart`: redraw the speedup chart and timelines from a saved JSON report. No
//! benchmark runs, only drawing, so pictures can be restyled or made on another machine.

use crate::error::{Result, UsageError};
use crate::plot::{speedup_chart, write_result_timeline, Format};
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
}

/// Runs `parbench chart`.
pub fn command(args: ChartArgs) -> Result<i32> {
    if args.output.is_none() && args.timeline.is_none() {
        return Err(UsageError::new("chart: give -o FILE.svg and/or --timeline DIR").into());
    }
    if let Some(out) = &args.output {
        Format::for_output(out)?;
        super::check_output_path("-o", out)?;
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
