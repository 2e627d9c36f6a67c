//! Bencher Metric Format, the shape of Bencher's JSON adapter (`JsonNewMetric`):
//! `{ "<series>": { "<measure>": { "value", "lower_value"?, "upper_value"? } } }`.
//!
//! One benchmark per row, named by [`track::run_series`] (`cpu/threads/2 [run quick tasks=8
//! size=625000]`), with these measures (slugs, so Bencher creates the missing ones):
//! - `latency`, Bencher's built-in, in ns: the median batch, bounded by the fastest and the
//!   slowest round;
//! - `speedup`, `ceiling`, `efficiency-vs-ceiling`: the median over rounds, bounded by its 95%
//!   interval (bigger is better: set an upper-bound-free threshold on them in Bencher);
//! - `bytes-per-second` (io): bytes the tasks moved over the median wall time. Not
//!   `throughput`, which Bencher defines as operations per second.
//!
//! A measure without a finite value is left out, and so is a bound that is not finite or
//! not on its side of the value ([`track::Metric`]); a row left with no measure is left out.

use super::track::{run_series, Metric};
use super::{ExportOptions, Exporter};
use crate::report::{Report, RunResult};
use serde_json::{json, Map, Value};

/// `--format bmf`.
pub struct Bmf;

/// The measures of one row, each `None` when it has no finite value.
fn measures(r: &RunResult) -> [(&'static str, Option<Metric>); 5] {
    [
        ("latency", Metric::of_spread(r.wall_s, 1e9)),
        ("speedup", r.speedup.and_then(Metric::of)),
        ("ceiling", r.ceiling.and_then(Metric::of)),
        (
            "efficiency-vs-ceiling",
            r.efficiency_vs_ceiling.and_then(Metric::of),
        ),
        ("bytes-per-second", r.bytes_per_s.and_then(Metric::bare)),
    ]
}

/// One measure as Bencher reads it: absent bounds are left out, never null.
fn metric_json(m: Metric) -> Value {
    let mut o = Map::new();
    o.insert("value".into(), json!(m.value));
    if let Some(lo) = m.lower {
        o.insert("lower_value".into(), json!(lo));
    }
    if let Some(hi) = m.upper {
        o.insert("upper_value".into(), json!(hi));
    }
    Value::Object(o)
}

impl Exporter for Bmf {
    fn name(&self) -> &'static str {
        "bmf"
    }

    fn render(&self, report: &Report, options: &ExportOptions) -> String {
        let mut doc = Map::new();
        for r in &report.results {
            let metrics: Map<String, Value> = measures(r)
                .into_iter()
                .filter_map(|(name, m)| Some((name.to_string(), metric_json(m?))))
                .collect();
            if !metrics.is_empty() {
                doc.insert(run_series(r, &options.flags), Value::Object(metrics));
            }
        }
        let mut s = serde_json::to_string_pretty(&Value::Object(doc)).expect("BMF serialises");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::Estimate;
    use crate::export::tests::{report_of, row};

    fn render(report: &Report) -> Value {
        serde_json::from_str(&Bmf.render(report, &ExportOptions::default())).unwrap()
    }

    #[test]
    fn a_nan_estimate_leaves_its_measure_out() {
        let mut r = row("cpu", "threads", 2);
        r.speedup = Some(Estimate::exact(f64::NAN));
        r.ceiling = Some(Estimate {
            median: 1.9,
            lo: f64::NAN,
            hi: 1.8,
        });
        r.bytes_per_s = Some(f64::INFINITY);
        let doc = render(&report_of(vec![r]));
        let bench = &doc["cpu/threads/2 [run quick tasks=8 size=1000]"];
        assert!(bench.get("speedup").is_none(), "{doc}");
        assert!(bench.get("bytes-per-second").is_none(), "{doc}");
        // A NaN bound and one below its value go; the value stays.
        assert_eq!(bench["ceiling"], json!({ "value": 1.9 }));
        assert!(!doc.to_string().contains("null"), "{doc}");
    }

    #[test]
    fn a_row_with_nothing_finite_is_left_out() {
        let mut r = row("cpu", "threads", 2);
        r.wall_s.median = f64::NAN;
        r.speedup = None;
        r.ceiling = None;
        r.efficiency_vs_ceiling = None;
        let doc = render(&report_of(vec![r, row("io", "pool", 1)]));
        let names: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(names, ["io/pool/1 [run quick tasks=8 size=1000]"]);
        let io = &doc[names[0]];
        assert!(io.get("throughput").is_none());
        assert!(io["bytes-per-second"]["value"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn rows_that_differ_in_work_are_different_series() {
        let mut dot2 = row("dot", "rayon", 2);
        dot2.inner_threads = 2;
        let mut big = row("dot", "rayon", 2);
        big.size = 2000;
        let doc = render(&report_of(vec![row("dot", "rayon", 2), dot2, big]));
        let names: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&&"dot/rayon/2 [run quick tasks=8 size=1000 inner=2]".to_string()));
    }
}
