//! Aligned plain-text table for the terminal.

use super::{human_rows, ExportOptions, Exporter};
use crate::report::Report;

/// `--format table`.
pub struct Table;

/// Rows under headers, each column as wide as its widest cell, two spaces apart; columns for
/// which `left` is true align left, the others right. Every line ends with a newline.
pub fn aligned(headers: &[&str], rows: &[Vec<String>], left: impl Fn(usize) -> bool) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = cells
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if left(i) {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string();
        text.push('\n');
        text
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

impl Exporter for Table {
    fn name(&self) -> &'static str {
        "table"
    }

    fn render(&self, report: &Report, options: &ExportOptions) -> String {
        let (headers, rows) = human_rows(report, options);
        // The names (workload, executor, workers) align left, the figures right.
        let mut out = aligned(&headers, &rows, |i| i < 3);
        let m = &report.machine;
        let pinned = m
            .cpus
            .as_ref()
            .map(|c| format!(" (pinned to {})", crate::system::CpuList(c.clone())))
            .unwrap_or_default();
        out.push_str(&format!(
            "cores: {}{pinned}. speedup: median over paired rounds of serial/executor, 95% interval.\n\
             ceiling: serial / a perfect executor on the cores the probe found, eff = speedup / min(workers, cores),\n\
             eff/ceil = speedup / ceiling per round: read it for CPU-bound work. --wide: more columns.\n",
            m.cores
        ));
        if let Some(note) = &m.note {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}
