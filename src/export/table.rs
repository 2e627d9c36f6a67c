//! Aligned plain-text table for the terminal.

use super::{human_rows, ExportOptions, Exporter};
use crate::report::Report;

/// `--format table`.
pub struct Table;

impl Exporter for Table {
    fn name(&self) -> &'static str {
        "table"
    }

    fn render(&self, report: &Report, options: &ExportOptions) -> String {
        let (headers, rows) = human_rows(report, options);
        let widths: Vec<usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([h.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i < 3 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = String::new();
        out.push_str(&line(headers.iter().map(|h| h.to_string()).collect()));
        out.push('\n');
        for row in rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        let m = &report.machine;
        let pinned = m
            .cpus
            .as_ref()
            .map(|c| format!(" (pinned to {})", crate::system::CpuList(c.clone())))
            .unwrap_or_default();
        out.push_str(&format!(
            "cores: {}{pinned}. speedup: median over paired rounds of serial/executor, 95% interval.\n\
             ceiling: cores the host delivered (c spinners / one), eff = speedup / min(workers, cores),\n\
             eff/ceil = speedup / ceiling per round: read it for CPU-bound work. --wide: more columns.\n",
            m.cores
        ));
        if let Some(note) = &m.note {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}
