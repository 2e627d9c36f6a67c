//! Exports of a [`Report`]: one file per format behind one [`Exporter`] trait, as hyperfine does.

use crate::error::UsageError;
use crate::report::{Report, RunResult};

mod bmf;
mod csv;
mod json;
mod markdown;
mod table;

/// Renders a whole report in one format.
pub trait Exporter {
    /// Format name, as given to `--format`.
    fn name(&self) -> &'static str;
    /// The report rendered as text.
    fn render(&self, report: &Report) -> String;
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
    ]
}

/// Looks a format up by name; the error lists the valid names.
pub fn find(name: &str) -> Result<Box<dyn Exporter>, UsageError> {
    all().into_iter().find(|e| e.name() == name).ok_or_else(|| {
        UsageError::new(format!(
            "unknown format '{name}'; valid: {}",
            formats().join(", ")
        ))
    })
}

/// The benchmark id used by Criterion and BMF: `workload/executor/workers`.
pub fn bench_id(r: &RunResult) -> String {
    format!("{}/{}/{}", r.workload, r.executor, r.workers)
}

/// One column of the tabular formats: a header, a human cell and a machine cell.
struct Column {
    header: &'static str,
    human: fn(&RunResult) -> String,
    machine: fn(&RunResult) -> String,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

fn raw<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn si_bytes(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.2} GB", v / 1e9),
        v if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        v if v >= 1e3 => format!("{:.1} kB", v / 1e3),
        v => format!("{v:.0} B"),
    }
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
        Column {
            header: "workload",
            human: |r| r.workload.clone(),
            machine: |r| r.workload.clone(),
        },
        Column {
            header: "executor",
            human: |r| r.executor.clone(),
            machine: |r| r.executor.clone(),
        },
        Column {
            header: "workers",
            human: |r| r.workers.to_string(),
            machine: |r| r.workers.to_string(),
        },
        Column {
            header: "tasks",
            human: |r| r.tasks.to_string(),
            machine: |r| r.tasks.to_string(),
        },
        Column {
            header: "median_s",
            human: |r| format!("{:.4}", r.wall_s.median),
            machine: |r| r.wall_s.median.to_string(),
        },
        Column {
            header: "min_s",
            human: |r| format!("{:.4}", r.wall_s.min),
            machine: |r| r.wall_s.min.to_string(),
        },
        Column {
            header: "max_s",
            human: |r| format!("{:.4}", r.wall_s.max),
            machine: |r| r.wall_s.max.to_string(),
        },
        Column {
            header: "speedup",
            human: |r| opt(r.speedup, 2),
            machine: |r| raw(r.speedup),
        },
        Column {
            header: "efficiency",
            human: |r| opt(r.efficiency, 2),
            machine: |r| raw(r.efficiency),
        },
        Column {
            header: "wall/ideal",
            human: |r| opt(r.wall_over_ideal, 3),
            machine: |r| raw(r.wall_over_ideal),
        },
        Column {
            header: "cpu_s",
            human: |r| format!("{:.3}", r.cpu_s),
            machine: |r| r.cpu_s.to_string(),
        },
        Column {
            header: "util",
            human: |r| format!("{:.2}", r.utilisation),
            machine: |r| r.utilisation.to_string(),
        },
        Column {
            header: "throughput",
            human: |r| {
                r.bytes_per_s
                    .map(|b| format!("{}/s", si_bytes(b)))
                    .unwrap_or_else(|| "-".into())
            },
            machine: |r| raw(r.bytes_per_s),
        },
        Column {
            header: "pool_start_ms",
            human: |r| format!("{:.2}", r.pool_start_s * 1e3),
            machine: |r| (r.pool_start_s * 1e3).to_string(),
        },
        Column {
            header: "serial_frac",
            human: |r| opt(r.serial_fraction, 3),
            machine: |r| raw(r.serial_fraction),
        },
        Column {
            header: "extra",
            human: extras,
            machine: extras,
        },
    ]
}

/// Header and rows of human-formatted cells.
fn human_rows(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let cols = columns();
    let rows = report
        .results
        .iter()
        .map(|r| cols.iter().map(|c| (c.human)(r)).collect())
        .collect();
    (cols.iter().map(|c| c.header).collect(), rows)
}

/// Header and rows of machine-readable cells.
fn machine_rows(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let cols = columns();
    let rows = report
        .results
        .iter()
        .map(|r| cols.iter().map(|c| (c.machine)(r)).collect())
        .collect();
    (cols.iter().map(|c| c.header).collect(), rows)
}
