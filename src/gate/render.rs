//! The gate's verdicts as a table, Markdown (for a job summary), JSON, or
//! github-action-benchmark's list (the head build's times, for a history of them).

use super::decision::Verdict;
use super::{Outcome, Row};
use crate::error::UsageError;
use crate::export::github_benchmark::{self, labelled, Entry};
use crate::export::track::{series_name, Metric, Source};
use crate::workload::Overrides;

/// Formats `--format` accepts.
pub const FORMATS: &[&str] = &["table", "markdown", "json", "github-benchmark"];

/// Checks a format name.
pub fn check_format(name: &str) -> Result<(), UsageError> {
    if FORMATS.contains(&name) {
        Ok(())
    } else {
        Err(crate::export::unknown_format(name, FORMATS))
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|x| crate::export::ms(x / 1e3))
        .unwrap_or_else(|| "-".into())
}

fn ratio(row: &Row) -> (String, String) {
    match row.ratio {
        Some(e) => (
            format!("{:.3}", e.median),
            format!("{:.3}-{:.3}", e.lo, e.hi),
        ),
        None => ("-".into(), "-".into()),
    }
}

fn verdict(row: &Row) -> String {
    match (&row.verdict, row.missing_on) {
        (Verdict::Missing, Some(side)) => format!("missing on {side}"),
        (Verdict::Regressed | Verdict::Improved, _) if row.blocks > 1 => {
            format!("{} (confirmed)", row.verdict.as_str())
        }
        (Verdict::Inconclusive, _) if row.blocks > 1 => "inconclusive (not confirmed)".to_string(),
        (v, _) => v.as_str().to_string(),
    }
}

/// One line for stderr while the gate runs.
pub fn progress_line(row: &Row) -> String {
    let (m, ci) = ratio(row);
    format!(
        "gate: {:<36} ratio {m} [{ci}] over {} pairs: {}",
        row.id,
        row.pairs,
        verdict(row)
    )
}

/// The sentence under the table: what a verdict means and how noisy the runner was.
pub fn summary(outcome: &Outcome) -> String {
    let spreads: Vec<f64> = outcome
        .rows
        .iter()
        .filter_map(|r| r.spread)
        .filter(|s| s.is_finite())
        .collect();
    let noise = crate::engine::stats::median(&spreads);
    let regressed = outcome
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regressed)
        .count();
    let inconclusive = outcome
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Inconclusive)
        .count();
    format!(
        "{} ({} benchmarks, {:.0} s). A ratio is head/base time of one pair of back-to-back turns; \
         regressed = median ratio above {:.1}% and above 1 with 95% confidence (99% to stop \
         early), confirmed by a second block from new processes (improved: the mirror image), \
         unchanged = the 95% interval within \
         +-{:.1}%, inconclusive = the budget ran out first or the second block did not confirm \
         (not a failure{}). \
         Runner noise: one pair's ratio varied by +-{:.1}% (median half-IQR), which pairing \
         cancels.",
        if regressed > 0 {
            format!("FAIL: {regressed} regressed")
        } else {
            "PASS".to_string()
        },
        outcome.rows.len(),
        outcome.wall_s,
        outcome.threshold_pct,
        outcome.threshold_pct,
        if inconclusive > 0 {
            format!("; {inconclusive} here")
        } else {
            String::new()
        },
        100.0 * noise
    )
}

const HEADERS: [&str; 8] = [
    "benchmark",
    "base ms",
    "head ms",
    "ratio",
    "95% CI",
    "pairs",
    "k",
    "verdict",
];

fn cells(row: &Row) -> Vec<String> {
    let (m, ci) = ratio(row);
    vec![
        row.id.clone(),
        ms(row.base_ms),
        ms(row.head_ms),
        m,
        ci,
        row.pairs.to_string(),
        row.k.to_string(),
        verdict(row),
    ]
}

/// One entry per benchmark the head build ran: its median time per batch, named as a gate
/// series of the profile the sides serve; the ratio, verdict and pairs as `extra`.
fn entries(outcome: &Outcome) -> Vec<Entry> {
    let tags = Overrides {
        profile: Some(crate::serve::PROFILE),
        ..Overrides::default()
    }
    .series_tags();
    outcome
        .rows
        .iter()
        .filter_map(|row| {
            let head = row.head_ms.and_then(Metric::bare)?;
            let extra = [
                labelled("head/base", row.ratio.and_then(Metric::of)),
                Some(format!("verdict {}", verdict(row))),
                Some(format!("pairs {}", row.pairs)),
                row.base_ms.map(|b| format!("base {} ms", ms(Some(b)))),
            ];
            Some(Entry::time(
                series_name(&row.id, Source::Gate, &tags),
                head,
                extra.into_iter().flatten().collect(),
            ))
        })
        .collect()
}

/// The outcome in `format` (checked by [`check_format`]).
pub fn render(outcome: &Outcome, format: &str) -> String {
    match format {
        "github-benchmark" => github_benchmark::render(&entries(outcome)),
        "json" => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "threshold_pct": outcome.threshold_pct,
                "wall_s": outcome.wall_s,
                "failed": outcome.failed(),
                "summary": summary(outcome),
                "rows": outcome.rows,
            }))
            .expect("gate outcome serialises");
            s.push('\n');
            s
        }
        "markdown" => {
            let rows: Vec<Vec<String>> = outcome.rows.iter().map(cells).collect();
            let mut out = crate::export::markdown_table(&HEADERS, &rows);
            out.push('\n');
            out.push_str(&summary(outcome));
            out.push('\n');
            out
        }
        _ => {
            let rows: Vec<Vec<String>> = outcome.rows.iter().map(cells).collect();
            // The id and the verdict align left, the figures right.
            let mut out = crate::export::table::aligned(&HEADERS, &rows, |i| i == 0 || i == 7);
            out.push_str(&summary(outcome));
            out.push('\n');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::Estimate;

    fn row(id: &str, base_ms: Option<f64>, head_ms: Option<f64>, verdict: Verdict) -> Row {
        Row {
            id: id.into(),
            base_ms,
            head_ms,
            ratio: Some(Estimate {
                median: 1.01,
                lo: 0.99,
                hi: 1.02,
            }),
            spread: Some(0.03),
            pairs: 60,
            blocks: 1,
            k: 4,
            verdict,
            missing_on: None,
        }
    }

    #[test]
    fn github_benchmark_lists_the_head_times_it_has() {
        let mut gone = row("dot/pool/2", Some(3.0), None, Verdict::Missing);
        gone.missing_on = Some("head");
        gone.ratio = None;
        let outcome = Outcome {
            threshold_pct: 3.0,
            rows: vec![
                row("cpu/rayon/2", Some(15.0), Some(15.15), Verdict::Unchanged),
                gone,
                row(
                    "cpu/pool/2",
                    Some(15.0),
                    Some(f64::NAN),
                    Verdict::Inconclusive,
                ),
            ],
            wall_s: 10.0,
        };
        let doc: serde_json::Value =
            serde_json::from_str(&render(&outcome, "github-benchmark")).unwrap();
        let entries = doc.as_array().unwrap();
        assert_eq!(entries.len(), 1, "no head time, no entry: {doc}");
        let e = &entries[0];
        assert_eq!(e["name"], "cpu/rayon/2 [gate quick]");
        assert_eq!(e["unit"], "ms");
        assert_eq!(e["value"].as_f64(), Some(15.15));
        let extra = e["extra"].as_str().unwrap();
        assert!(extra.contains("head/base 1.010 [0.990-1.020]"), "{extra}");
        assert!(extra.contains("verdict unchanged"), "{extra}");
        assert!(extra.contains("base 15.0 ms"), "{extra}");
        assert!(check_format("github-benchmark").is_ok());
    }
}
