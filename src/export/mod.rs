//! Exports of a [`Report`]: one file per format behind one [`Exporter`] trait, as hyperfine does.

use crate::engine::stats::Estimate;
use crate::error::UsageError;
use crate::report::{Report, RunResult};
use crate::workload::Overrides;

mod bmf;
mod csv;
pub mod github_benchmark;
mod json;
mod markdown;
pub use markdown::markdown_table;
pub mod table;
pub mod track;

/// Choices that shape an export without changing its data.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Table and Markdown: every column, not only the ones most readers need.
    pub wide: bool,
    /// The run's workload flags: BMF and github-benchmark name each series by them
    /// ([`track::run_series`]), since the report does not record the profile.
    pub flags: Overrides,
}

/// Renders a whole report in one format.
pub trait Exporter {
    /// Format name, as given to `--format`.
    fn name(&self) -> &'static str;
    /// The report rendered as text.
    fn render(&self, report: &Report, options: &ExportOptions) -> String;
}

/// Every format `--format` accepts.
pub fn formats() -> Vec<&'static str> {
    all().iter().map(|e| e.name()).collect()
}

fn all() -> Vec<Box<dyn Exporter>> {
    vec![
        Box::new(table::Table),
        Box::new(json::Json),
        Box::new(csv::Csv),
        Box::new(markdown::Markdown),
        Box::new(bmf::Bmf),
        Box::new(github_benchmark::GithubBenchmark),
    ]
}

/// Looks a format up by name; the error lists the valid names.
pub fn find(name: &str) -> Result<Box<dyn Exporter>, UsageError> {
    all()
        .into_iter()
        .find(|e| e.name() == name)
        .ok_or_else(|| unknown_format(name, &formats()))
}

/// The error for a `--format` that is none of `valid`, for every command that takes one.
pub fn unknown_format(name: &str, valid: &[&str]) -> UsageError {
    UsageError::new(format!(
        "unknown format '{name}'; valid: {}",
        valid.join(", ")
    ))
}

/// A time in milliseconds, digits only, with a precision that suits its size: the one time
/// formatter of the tables, the gate and the pictures.
pub fn ms(seconds: f64) -> String {
    let v = seconds * 1e3;
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        a if a >= 1.0 => format!("{v:.2}"),
        a if a >= 0.1 => format!("{v:.3}"),
        _ => format!("{v:.5}"),
    }
}

/// One column of the tabular formats. A human cell (table, Markdown) or machine cells (CSV),
/// or both; `wide` columns show in the table only with `--wide`.
struct Column {
    header: &'static str,
    human: Option<fn(&RunResult) -> String>,
    machine: Option<fn(&RunResult) -> String>,
    wide: bool,
}

impl Column {
    /// A column shown to people and machines alike.
    fn both(header: &'static str, f: fn(&RunResult) -> String) -> Column {
        Column {
            header,
            human: Some(f),
            machine: Some(f),
            wide: false,
        }
    }

    /// A column with different human and machine cells.
    fn split(
        header: &'static str,
        human: fn(&RunResult) -> String,
        machine: fn(&RunResult) -> String,
    ) -> Column {
        Column {
            header,
            human: Some(human),
            machine: Some(machine),
            wide: false,
        }
    }

    /// A column for machines only (CSV).
    fn machine(header: &'static str, f: fn(&RunResult) -> String) -> Column {
        Column {
            header,
            human: None,
            machine: Some(f),
            wide: false,
        }
    }

    /// A column for people only (table, Markdown).
    fn human(header: &'static str, f: fn(&RunResult) -> String) -> Column {
        Column {
            header,
            human: Some(f),
            machine: None,
            wide: false,
        }
    }

    /// Marks the column as one `--wide` shows.
    fn wide(mut self) -> Column {
        self.wide = true;
        self
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

fn raw<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// `1.92 [1.88-1.95]`, or `-` when there is no finite median.
fn interval(e: Option<Estimate>, digits: usize) -> String {
    e.and_then(track::Metric::of)
        .map_or_else(|| "-".into(), |m| m.text(digits))
}

fn si_bytes(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.2} GB", v / 1e9),
        v if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        v if v >= 1e3 => format!("{:.1} kB", v / 1e3),
        v => format!("{v:.0} B"),
    }
}

/// The mean over workers of their idle time in the batch, in seconds.
fn mean_idle_s(r: &RunResult) -> Option<f64> {
    let idle = r
        .counters
        .worker_idle_s
        .as_ref()
        .filter(|v| !v.is_empty())?;
    Some(idle.iter().sum::<f64>() / idle.len() as f64)
}

/// Optional per-executor counters, shown only where present.
fn extras(r: &RunResult) -> String {
    let c = &r.counters;
    let mut parts = Vec::new();
    if let (Some(s), Some(rx)) = (c.bytes_sent, c.bytes_received) {
        parts.push(format!(
            "ipc {}/{}",
            si_bytes(s as f64),
            si_bytes(rx as f64)
        ));
    }
    if let (Some(s), Some(rx)) = (c.bytes_sent_shared, c.bytes_received_shared) {
        if s + rx > 0 {
            parts.push(format!(
                "shm {}/{}",
                si_bytes(s as f64),
                si_bytes(rx as f64)
            ));
        }
    }
    if let Some(f) = c.forced_switches {
        parts.push(format!("switches {f}"));
    }
    if let Some(n) = c.connections {
        parts.push(format!("conns {n}"));
    }
    if r.inner_threads > 1 {
        parts.push(format!("inner {}", r.inner_threads));
    }
    parts.join(", ")
}

fn columns() -> Vec<Column> {
    vec![
        Column::both("workload", |r| r.workload.clone()),
        Column::both("executor", |r| r.executor.clone()),
        Column::both("workers", |r| r.workers.to_string()),
        Column::machine("tasks", |r| r.tasks.to_string()),
        Column::machine("size", |r| r.size.to_string()),
        Column::split(
            "median_ms",
            |r| ms(r.wall_s.median),
            |r| (r.wall_s.median * 1e3).to_string(),
        ),
        Column::split(
            "min_ms",
            |r| ms(r.wall_s.min),
            |r| (r.wall_s.min * 1e3).to_string(),
        )
        .wide(),
        Column::split(
            "max_ms",
            |r| ms(r.wall_s.max),
            |r| (r.wall_s.max * 1e3).to_string(),
        )
        .wide(),
        Column::human("speedup [95% CI]", |r| interval(r.speedup, 2)),
        Column::machine("speedup", |r| raw(r.speedup.map(|e| e.median))),
        Column::machine("speedup_lo", |r| raw(r.speedup.map(|e| e.lo))),
        Column::machine("speedup_hi", |r| raw(r.speedup.map(|e| e.hi))),
        Column::split(
            "ceiling",
            |r| opt(r.ceiling.map(|e| e.median), 2),
            |r| raw(r.ceiling.map(|e| e.median)),
        ),
        Column::machine("ceiling_lo", |r| raw(r.ceiling.map(|e| e.lo))),
        Column::machine("ceiling_hi", |r| raw(r.ceiling.map(|e| e.hi))),
        Column::split("eff", |r| opt(r.efficiency, 2), |r| raw(r.efficiency)),
        Column::human("eff/ceil [95% CI]", |r| {
            interval(r.efficiency_vs_ceiling, 2)
        }),
        Column::machine("efficiency_vs_ceiling", |r| {
            raw(r.efficiency_vs_ceiling.map(|e| e.median))
        }),
        Column::machine("efficiency_vs_ceiling_lo", |r| {
            raw(r.efficiency_vs_ceiling.map(|e| e.lo))
        }),
        Column::machine("efficiency_vs_ceiling_hi", |r| {
            raw(r.efficiency_vs_ceiling.map(|e| e.hi))
        }),
        Column::both("rounds", |r| r.rounds.to_string()),
        Column::split("vs_native", |r| opt(r.vs_native, 1), |r| raw(r.vs_native)),
        Column::split(
            "wall/ideal",
            |r| opt(r.wall_over_ideal, 3),
            |r| raw(r.wall_over_ideal),
        )
        .wide(),
        Column::split(
            "cpu_s",
            |r| format!("{:.3}", r.cpu_s),
            |r| r.cpu_s.to_string(),
        )
        .wide(),
        Column::split(
            "minflt",
            |r| opt(r.counters.minor_faults.map(|n| n as f64), 0),
            |r| raw(r.counters.minor_faults),
        )
        .wide(),
        Column::machine("majflt", |r| raw(r.counters.major_faults)),
        Column::split(
            "csw vol/invol",
            |r| match (
                r.counters.voluntary_switches,
                r.counters.involuntary_switches,
            ) {
                (Some(v), Some(i)) => format!("{v}/{i}"),
                _ => "-".into(),
            },
            |r| raw(r.counters.voluntary_switches),
        )
        .wide(),
        Column::machine("involuntary_switches", |r| {
            raw(r.counters.involuntary_switches)
        }),
        Column::split(
            "idle_ms",
            |r| opt(mean_idle_s(r).map(|s| s * 1e3), 2),
            |r| raw(mean_idle_s(r).map(|s| s * 1e3)),
        )
        .wide(),
        Column::split(
            "util",
            |r| format!("{:.2}", r.utilisation),
            |r| r.utilisation.to_string(),
        )
        .wide(),
        Column::split(
            "throughput",
            |r| {
                r.bytes_per_s
                    .map(|b| format!("{}/s", si_bytes(b)))
                    .unwrap_or_else(|| "-".into())
            },
            |r| raw(r.bytes_per_s),
        )
        .wide(),
        Column::split(
            "pool_start_ms",
            |r| ms(r.pool_start_s),
            |r| (r.pool_start_s * 1e3).to_string(),
        )
        .wide(),
        Column::split(
            "serial_frac",
            |r| opt(r.serial_fraction, 3),
            |r| raw(r.serial_fraction),
        )
        .wide(),
        Column::both("extra", extras).wide(),
    ]
}

/// Header and rows of human-formatted cells: the default columns, or all with `wide`.
/// Header and rows of human cells: the one table model that the table, Markdown and the
/// verdict page render.
pub fn human_rows(
    report: &Report,
    options: &ExportOptions,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let cols: Vec<Column> = columns()
        .into_iter()
        .filter(|c| c.human.is_some() && (options.wide || !c.wide))
        .collect();
    let rows = report
        .results
        .iter()
        .map(|r| cols.iter().filter_map(|c| c.human.map(|f| f(r))).collect())
        .collect();
    (cols.iter().map(|c| c.header).collect(), rows)
}

/// Header and rows of machine-readable cells: every column.
fn machine_rows(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let cols: Vec<Column> = columns()
        .into_iter()
        .filter(|c| c.machine.is_some())
        .collect();
    let rows = report
        .results
        .iter()
        .map(|r| {
            cols.iter()
                .filter_map(|c| c.machine.map(|f| f(r)))
                .collect()
        })
        .collect();
    (cols.iter().map(|c| c.header).collect(), rows)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::{Machine, Spread};

    /// A plausible row of a 2-core run: 10 ms batches, speedup and ceiling near 2 at 2
    /// workers; io rows move bytes.
    pub(crate) fn row(workload: &str, executor: &str, workers: usize) -> RunResult {
        let cores = workers.min(2) as f64;
        let wall = Spread {
            median: 0.010,
            min: 0.009,
            max: 0.012,
        };
        RunResult {
            speedup: Some(Estimate {
                median: cores * 0.95,
                lo: cores * 0.95 - 0.05,
                hi: cores * 0.95 + 0.02,
            }),
            efficiency: Some(0.95),
            ceiling: Some(Estimate {
                median: cores,
                lo: cores - 0.1,
                hi: cores,
            }),
            efficiency_vs_ceiling: Some(Estimate {
                median: 0.95,
                lo: 0.93,
                hi: 0.98,
            }),
            rounds: 40,
            bytes_per_s: (workload == "io").then_some(8.0 * 1000.0 / 0.010),
            ..RunResult::new(workload, executor, workers, (8, 1000), wall)
        }
    }

    /// A report of these rows on a 2-core machine.
    pub(crate) fn report_of(results: Vec<RunResult>) -> Report {
        Report {
            machine: Machine {
                cores: 2,
                ..Machine::default()
            },
            results,
            partial: false,
        }
    }
}
