//! The gate's verdicts as a table, Markdown (for a job summary) or JSON.

use super::decision::Verdict;
use super::{Outcome, Row};
use crate::error::UsageError;

/// Formats `--format` accepts.
pub const FORMATS: &[&str] = &["table", "markdown", "json"];

/// Checks a format name.
pub fn check_format(name: &str) -> Result<(), UsageError> {
    if FORMATS.contains(&name) {
        Ok(())
    } else {
        Err(UsageError::new(format!(
            "unknown format '{name}'; valid: {}",
            FORMATS.join(", ")
        )))
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|x| {
        if x >= 10.0 {
            format!("{x:.1}")
        } else if x >= 0.1 {
            format!("{x:.3}")
        } else {
            format!("{x:.5}")
        }
    })
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
    match (row.verdict, row.missing_on) {
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

/// The outcome in `format` (checked by [`check_format`]).
pub fn render(outcome: &Outcome, format: &str) -> String {
    match format {
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
            let mut out = format!("| {} |\n|{}\n", HEADERS.join(" | "), "---|".repeat(8));
            for row in &outcome.rows {
                out.push_str(&format!("| {} |\n", cells(row).join(" | ")));
            }
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
