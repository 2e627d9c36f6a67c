//! Bencher Metric Format: `{ "<id>": { "latency": { "value", "lower_value", "upper_value" } } }`,
//! latency in nanoseconds (median, min, max over rounds); speedup, ceiling and efficiency vs
//! ceiling as median with the 95% interval in `lower_value`/`upper_value`, so results can be
//! tracked across a fleet on an existing service.

use super::{bench_id, ExportOptions, Exporter};
use crate::report::Report;
use serde_json::{json, Map, Value};

/// `--format bmf`.
pub struct Bmf;

impl Exporter for Bmf {
    fn name(&self) -> &'static str {
        "bmf"
    }

    fn render(&self, report: &Report, _options: &ExportOptions) -> String {
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
            let intervals = [
                ("speedup", r.speedup),
                ("ceiling", r.ceiling),
                ("efficiency_vs_ceiling", r.efficiency_vs_ceiling),
            ];
            for (name, estimate) in intervals {
                if let Some(e) = estimate {
                    metrics.insert(
                        name.into(),
                        json!({ "value": e.median, "lower_value": e.lo, "upper_value": e.hi }),
                    );
                }
            }
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
