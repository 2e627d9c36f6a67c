//! GitHub-flavoured Markdown table, for READMEs and PR comments.

use super::{human_rows, ExportOptions, Exporter};
use crate::report::Report;

/// `--format markdown`.
pub struct Markdown;

impl Exporter for Markdown {
    fn name(&self) -> &'static str {
        "markdown"
    }

    fn render(&self, report: &Report, options: &ExportOptions) -> String {
        let (headers, rows) = human_rows(report, options);
        markdown_table(&headers, &rows)
    }
}

/// A GitHub-flavoured Markdown table of `rows` under `headers`.
pub fn markdown_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", headers.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(headers.len())));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}
