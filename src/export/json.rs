//! The whole report as one JSON document (schema in the README).

use super::{ExportOptions, Exporter};
use crate::report::Report;

/// `--format json`.
pub struct Json;

impl Exporter for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn render(&self, report: &Report, _options: &ExportOptions) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        let mut s = serde_json::to_string_pretty(report).expect("report serialises");
        s.push('\n');
        s
    }
}
