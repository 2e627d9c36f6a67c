//! What the tracking services receive, read the way they read it: `-f bmf` into types that
//! mirror Bencher's JSON adapter, `-f github-benchmark` (run and report) into the shape of
//! github-action-benchmark's `BenchmarkResult`. No timing is asserted: only the shape, the
//! names, and that every value is finite and inside its bounds.

mod common;

use parbench::engine::stats::Estimate;
use parbench::export::{self, ExportOptions};
use parbench::report::Report;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Bencher's `JsonNewMetric` (lib/bencher_json/src/project/metric/mod.rs): `value` is a
/// required float, `lower_value` and `upper_value` optional floats. Bencher would take a
/// null bound as absent; parbench never writes one, so a null bound fails here too.
#[derive(Debug, Deserialize)]
struct JsonNewMetric {
    value: f64,
    #[serde(default, deserialize_with = "not_null")]
    lower_value: Option<f64>,
    #[serde(default, deserialize_with = "not_null")]
    upper_value: Option<f64>,
}

fn not_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    f64::deserialize(d).map(Some)
}

/// The shape Bencher's json adapter (lib/bencher_adapter/src/adapters/json/v0.rs) reads a
/// file into: benchmark name to measure to metric. One bad metric and the file is refused.
type JsonResultsMap = BTreeMap<String, BTreeMap<String, JsonNewMetric>>;

/// github-action-benchmark's `BenchmarkResult` (src/extract.ts): `name`, `unit` and a
/// numeric `value` required, `range` and `extra` optional strings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchmarkResult {
    name: String,
    unit: String,
    value: f64,
    range: Option<String>,
    extra: Option<String>,
}

/// A Bencher slug (lib/bencher_valid/src/slug.rs): at most 64 characters of lowercase
/// letters and digits in words joined by single hyphens. A measure named by its slug is
/// created by Bencher when it is missing.
fn is_slug(s: &str) -> bool {
    s.len() <= 64
        && !s.is_empty()
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Checks a BMF document as Bencher reads it, and parbench's own promises about it.
fn check_bmf(text: &str) -> JsonResultsMap {
    let doc: JsonResultsMap = serde_json::from_str(text).expect("Bencher's adapter reads it");
    assert!(!doc.is_empty(), "{text}");
    assert!(!text.contains("null"), "{text}");
    for (bench, measures) in &doc {
        // Bencher: a benchmark name is 1..=1024 characters, and one ending in
        // `-bencher-ignore` (or its snake and Pascal cases) is ignored.
        assert!(!bench.is_empty() && bench.len() <= 1024, "{bench}");
        assert!(!bench.to_lowercase().ends_with("ignore"), "{bench}");
        assert!(measures.contains_key("latency"), "{bench}: {text}");
        assert!(
            !measures.contains_key("throughput"),
            "bytes are not ops/s: {bench}"
        );
        for (measure, m) in measures {
            assert!(is_slug(measure), "{bench}: measure {measure} is a slug");
            assert!(m.value.is_finite(), "{bench} {measure}");
            if let Some(lo) = m.lower_value {
                assert!(
                    lo.is_finite() && lo <= m.value,
                    "{bench} {measure}: {lo} <= {}",
                    m.value
                );
            }
            if let Some(hi) = m.upper_value {
                assert!(
                    hi.is_finite() && hi >= m.value,
                    "{bench} {measure}: {hi} >= {}",
                    m.value
                );
            }
        }
    }
    doc
}

/// Checks a github-benchmark document as the action reads it.
fn check_github(text: &str) -> Vec<BenchmarkResult> {
    let doc: Vec<BenchmarkResult> = serde_json::from_str(text).expect("the action reads it");
    assert!(!doc.is_empty(), "{text}");
    for e in &doc {
        assert!(!e.name.is_empty());
        assert_eq!(e.unit, "ms", "{e:?}");
        assert!(e.value.is_finite() && e.value > 0.0, "{e:?}");
        if let Some(r) = &e.range {
            assert!(r.starts_with("± "), "{e:?}");
        }
    }
    let mut names: Vec<&str> = doc.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), doc.len(), "one entry per series: {text}");
    assert!(!text.contains("null"), "{text}");
    doc
}

/// `parbench ARGS`, which must succeed; its stdout.
fn stdout_of(args: &[&str]) -> String {
    let out = common::parbench_cmd(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `parbench run` on `scope` (workloads, executors, workers), small enough for a test: two
/// tiny tasks, one round; its output in `format`.
fn tiny_run(scope: &[&str], format: &str) -> String {
    let mut args = vec!["run"];
    args.extend(scope);
    args.extend([
        "--tasks",
        "2",
        "--size",
        "64",
        "-r",
        "1",
        "--budget-s",
        "0",
        "-q",
    ]);
    args.extend(["-f", format]);
    stdout_of(&args)
}

/// Every workload, two executors, 1 and 2 workers.
fn sweep(format: &str) -> String {
    tiny_run(&["-w", "all", "-e", "threads,process", "-n", "1,2"], format)
}

#[test]
fn bmf_of_a_sweep_is_what_bencher_takes() {
    let doc = check_bmf(&sweep("bmf"));
    // serial and 2 executors x 2 worker counts, for each of 4 workloads: all distinct.
    assert_eq!(doc.len(), 4 * 5, "{:?}", doc.keys());
    for (bench, measures) in &doc {
        assert!(
            bench.ends_with(" [run quick tasks=2 size=64]"),
            "profile, tasks and size name the series: {bench}"
        );
        assert_eq!(
            measures.contains_key("bytes-per-second"),
            bench.starts_with("io/"),
            "{bench}"
        );
    }
}

#[test]
fn github_benchmark_of_a_sweep_is_what_the_action_takes() {
    let doc = check_github(&sweep("github-benchmark"));
    assert_eq!(doc.len(), 4 * 5);
    let threads = doc
        .iter()
        .find(|e| e.name.starts_with("cpu/threads/2 "))
        .expect("cpu/threads/2");
    let extra = threads.extra.as_deref().unwrap_or_default();
    assert!(
        extra.contains("speedup ") && extra.contains("rounds 1"),
        "{extra}"
    );
}

#[test]
fn a_nan_estimate_leaves_its_measure_out() {
    // A real run's report, then the NaN an estimator gives when it has nothing to work on.
    let json = tiny_run(&["-w", "cpu", "-e", "threads", "-n", "2"], "json");
    let mut report: Report = serde_json::from_str(&json).unwrap();
    let row = report.results.last_mut().unwrap();
    row.speedup = Some(Estimate::exact(f64::NAN));
    row.ceiling = Some(Estimate {
        median: 1.5,
        lo: f64::NAN,
        hi: f64::INFINITY,
    });
    let render = |format: &str| {
        export::find(format)
            .unwrap()
            .render(&report, &ExportOptions::default())
    };
    let doc = check_bmf(&render("bmf"));
    let threads = &doc["cpu/threads/2 [run quick tasks=2 size=64]"];
    assert!(!threads.contains_key("speedup"));
    let ceiling = &threads["ceiling"];
    assert_eq!(
        (ceiling.value, ceiling.lower_value, ceiling.upper_value),
        (1.5, None, None)
    );
    let entries = check_github(&render("github-benchmark"));
    assert!(!entries[1].extra.as_deref().unwrap().contains("speedup"));
}

#[test]
fn github_benchmark_of_a_report_is_what_the_action_takes() {
    let results = tempfile::tempdir().unwrap();
    let dir = results.path();
    common::criterion_fixture::full_run(dir, "cpu");
    let report = |extra: &[&str]| {
        let mut args = vec!["report", "--criterion-dir", dir.to_str().unwrap()];
        args.extend(["-f", "github-benchmark"]);
        args.extend(extra);
        stdout_of(&args)
    };
    let text = report(&[]);
    let doc = check_github(&text);
    assert!(!doc.is_empty());
    let pool = doc
        .iter()
        .find(|e| e.name.starts_with("cpu/pool/2 "))
        .expect("cpu/pool/2");
    assert!(
        pool.range.is_some(),
        "the rounds give an interval: {pool:?}"
    );
    assert!(
        pool.extra.as_deref().unwrap().contains("speedup 1.9"),
        "{pool:?}"
    );

    // The same list to a file, and no page written beside the results.
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("bench.json");
    report(&["-o", file.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert!(!dir.join("parbench/index.html").exists());
}
