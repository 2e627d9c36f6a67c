//! github-action-benchmark's custom format: a JSON list of `{name, unit, value, range?,
//! extra?}` (its `BenchmarkResult`), read by its `customSmallerIsBetter` tool.
//!
//! **Every entry is a time in ms, smaller is better.** One file feeds one tool, and the tool
//! fixes the direction for every entry in it, so a file cannot hold both times and speedups.
//! The time is what a regression moves directly; the speedup, eff/ceil and the ceiling go in
//! `extra`, which the action shows beside the point. `run` writes the median batch over the
//! rounds (range: out to the fastest and slowest round), `report` Criterion's median time
//! per iteration (range: its 95% interval), `gate` the head build's median time per batch.
//! Names come from [`super::track::series_name`], so series never mix. An entry whose value
//! is not finite is left out ([`Metric`]): the action would read a null as 0.

use super::track::{run_series, Metric};
use super::{si_bytes, ExportOptions, Exporter};
use crate::report::Report;
use serde::Serialize;

/// The unit of every entry.
pub const UNIT: &str = "ms";

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The series name.
    pub name: String,
    /// Always [`UNIT`].
    pub unit: &'static str,
    /// A finite time in ms.
    pub value: f64,
    /// `± x`: how far the value's bounds reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// What else was measured, one item per line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<String>,
}

impl Entry {
    /// The entry of a time in ms, with the other figures as `extra` lines (none: no `extra`).
    pub fn time(name: String, ms: Metric, extra: Vec<String>) -> Entry {
        Entry {
            name,
            unit: UNIT,
            value: ms.value,
            range: ms.range(),
            extra: (!extra.is_empty()).then(|| extra.join("\n")),
        }
    }
}

/// `label 1.92 [1.73-1.95]` when the metric has a finite value.
pub fn labelled(label: &str, m: Option<Metric>) -> Option<String> {
    m.map(|m| format!("{label} {}", m.text(3)))
}

/// The list as the action reads it.
pub fn render(entries: &[Entry]) -> String {
    let mut s = serde_json::to_string_pretty(entries).expect("entries serialise");
    s.push('\n');
    s
}

/// `--format github-benchmark`.
pub struct GithubBenchmark;

impl Exporter for GithubBenchmark {
    fn name(&self) -> &'static str {
        "github-benchmark"
    }

    fn render(&self, report: &Report, options: &ExportOptions) -> String {
        let entries: Vec<Entry> = report
            .results
            .iter()
            .filter_map(|r| {
                let ms = Metric::of_spread(r.wall_s, 1e3)?;
                let extra = [
                    labelled("speedup", r.speedup.and_then(Metric::of)),
                    labelled("eff/ceil", r.efficiency_vs_ceiling.and_then(Metric::of)),
                    labelled("ceiling", r.ceiling.and_then(Metric::of)),
                    Some(format!("rounds {}", r.rounds)),
                    r.bytes_per_s
                        .and_then(Metric::bare)
                        .map(|b| format!("moved {}/s", si_bytes(b.value))),
                ];
                Some(Entry::time(
                    run_series(r, &options.flags),
                    ms,
                    extra.into_iter().flatten().collect(),
                ))
            })
            .collect();
        render(&entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::Estimate;
    use crate::export::tests::{report_of, row};
    use serde_json::Value;

    #[test]
    fn every_entry_has_a_name_a_unit_and_a_finite_value() {
        let mut nan = row("cpu", "pool", 2);
        nan.wall_s.median = f64::NAN;
        let mut half = row("cpu", "rayon", 2);
        half.speedup = Some(Estimate::exact(f64::NAN));
        let report = report_of(vec![
            row("cpu", "serial", 1),
            nan,
            half,
            row("io", "pool", 2),
        ]);
        let text = GithubBenchmark.render(&report, &ExportOptions::default());
        let doc: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(doc.len(), 3, "the NaN row is left out: {text}");
        for e in &doc {
            assert!(e["name"].as_str().unwrap().contains(" [run quick "), "{e}");
            assert_eq!(e["unit"], "ms");
            assert_eq!(e["value"].as_f64(), Some(10.0), "{e}");
            assert_eq!(e["range"], "± 2.00", "{e}");
        }
        let rayon = doc[1]["extra"].as_str().unwrap();
        assert!(!rayon.contains("speedup"), "{rayon}");
        assert!(rayon.contains("eff/ceil 0.950 [0.930-0.980]"), "{rayon}");
        assert!(doc[2]["extra"]
            .as_str()
            .unwrap()
            .contains("moved 800.0 kB/s"));
        assert!(!text.contains("null"));
    }
}
