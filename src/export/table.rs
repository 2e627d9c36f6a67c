//! Aligned plain-text table for the terminal.

use super::{human_rows, Exporter};
use crate::report::Report;

/// `--format table`.
pub struct Table;

impl Exporter for Table {
    fn name(&self) -> &'static str {
        "table"
    }

    fn render(&self, report: &Report) -> String {
        let (headers, rows) = human_rows(report);
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
        out.push_str(&format!(
            "cores: {}{}; speedup = serial median / median; efficiency = speedup / min(workers, cores); util = cpu / (wall x cores)\n",
            report.machine.cores,
            report.machine.cpus.as_ref().map(|c| format!(" (pinned to cores {})", crate::system::CpuList(c.clone()))).unwrap_or_default()
        ));
        out
    }
}
