//! CSV with raw numbers, one row per configuration, for spreadsheets and pandas.

use super::{machine_rows, ExportOptions, Exporter};
use crate::report::Report;

/// `--format csv`.
pub struct Csv;

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Exporter for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn render(&self, report: &Report, _options: &ExportOptions) -> String {
        let (headers, rows) = machine_rows(report);
        let mut out = headers.join(",");
        out.push('\n');
        for row in rows {
            out.push_str(&row.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }
}
