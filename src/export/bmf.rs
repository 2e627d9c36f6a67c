//! Bencher Metric Format: `{ "<id>": { "latency": { "value", "lower_value", "upper_value" } } }`,
//! in nanoseconds, so results can be tracked across a fleet on an existing service.

use super::{bench_id, Exporter};
use crate::report::Report;
use serde_json::{json, Map, Value};

/// `--format bmf`.
pub struct Bmf;

impl Exporter for Bmf {
    fn name(&self) -> &'static str {
        "bmf"
    }

    fn render(&self, report: &Report) -> String {
        let mut doc = Map::new();
        for r in &report.results {
            let mut metrics = Map::new();
            metrics.insert(
                "latency".into(),
                json!({
                    "value": r.wall_s.median * 1e9,
                    "lower_value": r.wall_s.min * 1e9,
                    "upper_value": r.wall_s.max * 1e9,
                }),
            );
            if let Some(b) = r.bytes_per_s {
                metrics.insert("throughput".into(), json!({ "value": b }));
            }
            doc.insert(bench_id(r), Value::Object(metrics));
        }
        let mut s = serde_json::to_string_pretty(&Value::Object(doc)).expect("BMF serialises");
        s.push('\n');
        s
    }
}
