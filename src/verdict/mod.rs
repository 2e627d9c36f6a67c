//! The verdict: per workload, which executor wins at how many workers, or which tie, in one
//! plain sentence; and the one decision type the gate uses too.
//!
//! It reads result rows ([`RunResult`]), whoever measured them: `parbench run`'s sweep, or
//! the Criterion suite's sidecars ([`crate::criterion`]) through `parbench report` and the
//! page `cargo bench` writes. Every figure is an estimate over paired rounds, computed by the
//! engine; no ratio of unpaired medians is taken here.
//!
//! The rule ([`rank`]): the best executor at a worker count wins only when it beats every
//! other by more than [`MARGIN`] and the intervals clear; otherwise the executors it does not
//! clearly beat tie with it. Compute-bound work (cpu, dot) is ranked by efficiency vs the
//! measured ceiling, and the ceiling is quoted; work that waits (api, io) is ranked by its
//! speedup, quoted against its own ideal (W workers: tasks / ceil(tasks / W)).

pub mod page;

use crate::engine::stats::Estimate;
use crate::report::RunResult;
use serde::{Deserialize, Serialize};

/// The practical margin: a winner must be ahead of every other executor by more than this
/// (the regression gate's threshold, 3%), with intervals that do not overlap.
pub const MARGIN: f64 = 0.03;

/// Below this speedup at its best worker count, an executor "does not scale".
pub const NO_GAIN: f64 = 1.10;

/// What was decided, by any of parbench's rules: among executors at one worker count
/// (winner, tie), or between two measurements of one benchmark (unchanged, regressed,
/// improved, inconclusive, missing: the gate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// One executor beats every other by more than the margin, intervals clear.
    Winner(String),
    /// These executors (best first) are not clearly apart.
    Tie(Vec<String>),
    /// The change lies within the threshold on both sides.
    Unchanged,
    /// Slower by more than the threshold, and not by chance.
    Regressed,
    /// Faster by more than the threshold, and not by chance.
    Improved,
    /// The budget ran out with the interval straddling a threshold.
    Inconclusive,
    /// The benchmark exists on one side only.
    Missing,
}

impl Decision {
    /// The word shown in tables.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Winner(_) => "winner",
            Decision::Tie(_) => "tie",
            Decision::Unchanged => "unchanged",
            Decision::Regressed => "regressed",
            Decision::Improved => "improved",
            Decision::Inconclusive => "inconclusive",
            Decision::Missing => "missing",
        }
    }

    /// The executors named: the winner, or every tied one; none for the gate's decisions.
    pub fn names(&self) -> Vec<String> {
        match self {
            Decision::Winner(e) => vec![e.clone()],
            Decision::Tie(es) => es.clone(),
            _ => Vec::new(),
        }
    }

    /// The gate's rule on a ratio head/base with its interval, at `threshold` (0.03 = 3%):
    /// regressed when the median ratio is above 1 + T and the interval excludes 1, improved
    /// in mirror, unchanged when the whole interval is within 1 +- T; `None` otherwise.
    pub fn of_change(ratio: &Estimate, threshold: f64) -> Option<Decision> {
        let (up, down) = (1.0 + threshold, 1.0 - threshold);
        if ratio.median > up && ratio.lo > 1.0 {
            Some(Decision::Regressed)
        } else if ratio.median < down && ratio.hi < 1.0 {
            Some(Decision::Improved)
        } else if ratio.lo >= down && ratio.hi <= up {
            Some(Decision::Unchanged)
        } else {
            None
        }
    }
}

/// True when `a` is clearly ahead of `b`: by more than `margin` and with intervals that
/// clear.
pub fn clearly_ahead(a: &Estimate, b: &Estimate, margin: f64) -> bool {
    a.median > b.median * (1.0 + margin) && a.lo > b.hi
}

/// Ranks `(name, figure)` candidates (higher is better): the best wins when it is clearly
/// ahead of every other, else every candidate it is not clearly ahead of ties with it.
/// Non-finite figures are left out; `None` when nothing is left.
pub fn rank(candidates: &[(String, Estimate)], margin: f64) -> Option<(Decision, Estimate)> {
    let mut c: Vec<&(String, Estimate)> = candidates
        .iter()
        .filter(|(_, e)| e.median.is_finite())
        .collect();
    // Highest median first; equal medians in name order, so the order of rows never matters.
    c.sort_by(|a, b| b.1.median.total_cmp(&a.1.median).then(a.0.cmp(&b.0)));
    let best = c.first()?.1;
    let tied: Vec<String> = c
        .iter()
        .filter(|(_, e)| !clearly_ahead(&best, e, margin))
        .map(|(n, _)| n.clone())
        .collect();
    let decision = if tied.len() == 1 {
        Decision::Winner(tied[0].clone())
    } else {
        Decision::Tie(tied)
    };
    Some((decision, best))
}

/// The verdict at one worker count.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Worker count.
    pub workers: usize,
    /// Winner or tie, with the best figure.
    pub decision: Decision,
    /// The best figure at this count (efficiency vs ceiling, or speedup for work that waits).
    pub best: Estimate,
}

/// Everything the verdict says about one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadVerdict {
    /// Workload name.
    pub workload: String,
    /// True for work that waits (api, io).
    pub waits: bool,
    /// One per worker count with an executor other than the baseline, ascending.
    pub columns: Vec<Column>,
    /// The worker count the sentence is about: the fewest workers whose best speedup
    /// reaches the best at any count (within the margin, or within its own interval).
    pub headline: Option<usize>,
    /// The plain sentence.
    pub sentence: String,
}

impl WorkloadVerdict {
    /// The executor and worker count to draw against the baseline: the headline's winner,
    /// or the first of its tie.
    pub fn pick(&self) -> Option<(String, usize)> {
        let w = self.headline?;
        let col = self.columns.iter().find(|c| c.workers == w)?;
        Some((col.decision.names().into_iter().next()?, w))
    }
}

/// The verdict of every workload in `rows`, in order of first appearance. The baseline's
/// rows (the executor that does not scale) take no part in the decisions.
pub fn analyse(rows: &[RunResult]) -> Vec<WorkloadVerdict> {
    let mut workloads: Vec<&str> = Vec::new();
    for r in rows {
        if !workloads.contains(&r.workload.as_str()) {
            workloads.push(&r.workload);
        }
    }
    workloads
        .into_iter()
        .map(|w| {
            let mine: Vec<&RunResult> = rows
                .iter()
                .filter(|r| r.workload == w && !crate::executor::is_baseline(&r.executor))
                .collect();
            workload(w, &mine)
        })
        .collect()
}

/// The sentences of every workload, for a terminal or a log.
pub fn sentences(verdicts: &[WorkloadVerdict]) -> Vec<String> {
    verdicts.iter().map(|v| v.sentence.clone()).collect()
}

fn workload(name: &str, rows: &[&RunResult]) -> WorkloadVerdict {
    let waits = rows.iter().any(|r| r.waits);
    let mut counts: Vec<usize> = rows.iter().map(|r| r.workers).collect();
    counts.sort_unstable();
    counts.dedup();
    let columns: Vec<Column> = counts
        .iter()
        .filter_map(|&w| {
            let candidates: Vec<(String, Estimate)> = rows
                .iter()
                .filter(|r| r.workers == w)
                .filter_map(|r| Some((r.executor.clone(), r.figure()?)))
                .collect();
            let (decision, best) = rank(&candidates, MARGIN)?;
            Some(Column {
                workers: w,
                decision,
                best,
            })
        })
        .collect();
    let speedup_at = |w: usize| -> Option<Estimate> {
        rows.iter()
            .filter(|r| r.workers == w)
            .filter_map(|r| r.speedup)
            .filter(|s| s.median.is_finite())
            .max_by(|a, b| a.median.total_cmp(&b.median))
    };
    // The headline: the fewest workers whose best speedup reaches the top one: within the
    // margin of its median, or with the top's median inside its own interval. (Asking only
    // that the top not be clearly ahead let one noisy block widen the top's interval down
    // to 1 worker, which then "reached" it: dot read "no gain, best at 1 worker" with 1.89x
    // at 2.)
    let top = columns
        .iter()
        .filter_map(|c| speedup_at(c.workers))
        .max_by(|a, b| a.median.total_cmp(&b.median));
    let headline = top.and_then(|top| {
        columns
            .iter()
            .find(|c| {
                speedup_at(c.workers)
                    .is_some_and(|s| top.median <= s.median * (1.0 + MARGIN) || top.median <= s.hi)
            })
            .map(|c| c.workers)
    });
    let mut v = WorkloadVerdict {
        workload: name.to_string(),
        waits,
        columns,
        headline,
        sentence: String::new(),
    };
    v.sentence = sentence(&v, rows);
    v
}

/// "a", "a and b", "a, b and c".
pub fn join_names(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// "1 worker", "2 workers".
fn workers_word(w: usize) -> String {
    if w == 1 {
        "1 worker".into()
    } else {
        format!("{w} workers")
    }
}

/// "1.90" or "1.88-1.93": the span of some medians, with `digits` decimals.
fn span(values: &[f64], digits: usize, unit: &str) -> String {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (format!("{lo:.digits$}"), format!("{hi:.digits$}"));
    if a == b {
        format!("{b}{unit}")
    } else {
        format!("{a}-{b}{unit}")
    }
}

/// The plain sentence for one workload.
fn sentence(v: &WorkloadVerdict, rows: &[&RunResult]) -> String {
    let name = &v.workload;
    let (Some(w), Some(col)) = (
        v.headline,
        v.headline
            .and_then(|w| v.columns.iter().find(|c| c.workers == w)),
    ) else {
        return format!("{name}: nothing but the baseline was measured.");
    };
    let named = col.decision.names();
    let at_w: Vec<&&RunResult> = rows
        .iter()
        .filter(|r| r.workers == w && named.contains(&r.executor))
        .collect();
    let speedups: Vec<f64> = at_w
        .iter()
        .filter_map(|r| r.speedup.map(|s| s.median))
        .collect();
    let best_speedup = speedups.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let who = match &col.decision {
        Decision::Winner(e) => format!("{e} wins at {}", workers_word(w)),
        _ => format!("{} tie at {}", join_names(&named), workers_word(w)),
    };
    let how = if w == 1 || best_speedup < NO_GAIN {
        let best = named.first().cloned().unwrap_or_default();
        // For compute-bound work, whether the host gave the cores to gain with.
        let host = rows
            .iter()
            .filter(|r| !r.waits && r.workers > 1)
            .filter_map(|r| r.ceiling.map(|c| c.median))
            .fold(f64::NEG_INFINITY, f64::max);
        let host = if host.is_finite() && host < NO_GAIN {
            format!(
                " Nor did the host: its measured ceiling was at most {host:.2}x, so read eff/ceil."
            )
        } else {
            String::new()
        };
        return format!(
            "{name}: no executor gains {:.0}% over serial at any worker count (best: {best}, {best_speedup:.2}x at {}).{}{host}",
            (NO_GAIN - 1.0) * 100.0,
            workers_word(w),
            no_scale(rows)
        );
    } else if v.waits {
        let shares: Vec<f64> = at_w
            .iter()
            .filter_map(|r| Some(100.0 * r.speedup?.median / r.ideal_speedup()))
            .collect();
        let ideal = at_w.first().map_or(w as f64, |r| r.ideal_speedup());
        format!(
            "{}, {} of the ideal {ideal:.0}x for work that waits",
            span(&speedups, 2, "x"),
            span(&shares, 0, "%")
        )
    } else {
        let effs: Vec<f64> = at_w
            .iter()
            .filter_map(|r| r.efficiency_vs_ceiling.map(|e| e.median))
            .collect();
        let ceilings: Vec<f64> = at_w
            .iter()
            .filter_map(|r| r.ceiling.map(|c| c.median))
            .collect();
        format!(
            "{}, {} of the measured ceiling of {}",
            span(&speedups, 2, "x"),
            span(&effs, 2, ""),
            span(&ceilings, 2, "x")
        )
    };
    let margin = match &col.decision {
        Decision::Winner(_) => format!("; ahead of the rest by more than {:.0}%", MARGIN * 100.0),
        _ => format!("; none ahead by more than {:.0}%", MARGIN * 100.0),
    };
    format!("{name}: {who} ({how}{margin}).{}", no_scale(rows))
}

/// " gil does not scale (best 1.01x)." for executors below [`NO_GAIN`] at every count.
fn no_scale(rows: &[&RunResult]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.executor.as_str()) {
            names.push(&r.executor);
        }
    }
    let flat: Vec<String> = names
        .into_iter()
        .filter_map(|e| {
            let best = rows
                .iter()
                .filter(|r| r.executor == e && r.workers > 1)
                .filter_map(|r| r.speedup.map(|s| s.median))
                .fold(f64::NEG_INFINITY, f64::max);
            (best.is_finite() && best < NO_GAIN).then(|| format!("{e} (best {best:.2}x)"))
        })
        .collect();
    match flat.len() {
        0 => String::new(),
        1 => format!(" {} does not scale.", flat[0]),
        _ => format!(" {} do not scale.", join_names(&flat)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Spread;

    fn est(median: f64, half: f64) -> Estimate {
        Estimate {
            median,
            lo: median - half,
            hi: median + half,
        }
    }

    fn c(name: &str, median: f64, half: f64) -> (String, Estimate) {
        (name.to_string(), est(median, half))
    }

    #[test]
    fn a_clear_winner_needs_the_margin_and_clear_intervals() {
        let (d, best) = rank(&[c("a", 1.00, 0.01), c("b", 0.90, 0.01)], MARGIN).unwrap();
        assert_eq!(d, Decision::Winner("a".into()));
        assert_eq!(best.median, 1.00);
        // 2% ahead with narrow intervals: within the margin, a tie.
        let (d, _) = rank(&[c("a", 1.00, 0.001), c("b", 0.98, 0.001)], MARGIN).unwrap();
        assert_eq!(d, Decision::Tie(vec!["a".into(), "b".into()]));
        // 10% ahead but the intervals overlap: a tie.
        let (d, _) = rank(&[c("a", 1.00, 0.08), c("b", 0.90, 0.08)], MARGIN).unwrap();
        assert_eq!(d, Decision::Tie(vec!["a".into(), "b".into()]));
        // A clearly beaten third is left out of the tie.
        let (d, _) = rank(
            &[c("a", 1.00, 0.01), c("b", 0.99, 0.01), c("g", 0.5, 0.01)],
            MARGIN,
        )
        .unwrap();
        assert_eq!(d, Decision::Tie(vec!["a".into(), "b".into()]));
        assert!(rank(&[c("a", f64::NAN, 0.0)], MARGIN).is_none());
    }

    #[test]
    fn the_change_rule_is_the_gates() {
        assert_eq!(
            Decision::of_change(&est(1.07, 0.02), 0.03),
            Some(Decision::Regressed)
        );
        assert_eq!(
            Decision::of_change(&est(0.93, 0.02), 0.03),
            Some(Decision::Improved)
        );
        assert_eq!(
            Decision::of_change(&est(1.0, 0.01), 0.03),
            Some(Decision::Unchanged)
        );
        assert_eq!(Decision::of_change(&est(1.02, 0.02), 0.03), None);
        let json = serde_json::to_string(&Decision::Regressed).unwrap();
        assert_eq!(json, "\"regressed\"");
    }

    /// A row of `executor` at `workers` with this speedup, ceiling and efficiency vs ceiling.
    fn row(wl: &str, executor: &str, workers: usize, s: f64, ceil: f64, waits: bool) -> RunResult {
        let mut r = RunResult::new(wl, executor, workers, (16, 1), Spread::of(&[0.01]));
        r.waits = waits;
        r.speedup = Some(est(s, 0.01));
        r.ceiling = Some(est(ceil, 0.01));
        r.efficiency_vs_ceiling = Some(est(s / ceil, 0.005));
        r
    }

    #[test]
    fn compute_bound_work_quotes_the_ceiling_and_names_the_tie() {
        let rows = vec![
            row("cpu", "serial", 1, 1.0, 1.0, false),
            row("cpu", "threads", 1, 0.99, 1.0, false),
            row("cpu", "pool", 1, 1.0, 1.0, false),
            row("cpu", "threads", 2, 1.90, 1.95, false),
            row("cpu", "pool", 2, 1.91, 1.95, false),
            row("cpu", "gil", 2, 1.00, 1.95, false),
            row("cpu", "threads", 4, 1.91, 1.95, false),
            row("cpu", "pool", 4, 1.90, 1.95, false),
        ];
        let v = &analyse(&rows)[0];
        assert_eq!(v.headline, Some(2));
        assert_eq!(
            v.columns[1].decision,
            Decision::Tie(vec!["pool".into(), "threads".into()])
        );
        assert!(
            v.sentence.contains("pool and threads tie at 2 workers"),
            "{}",
            v.sentence
        );
        assert!(
            v.sentence.contains("of the measured ceiling of 1.95x"),
            "{}",
            v.sentence
        );
        assert!(
            v.sentence.contains("gil (best 1.00x) does not scale"),
            "{}",
            v.sentence
        );
    }

    #[test]
    fn a_wide_interval_at_the_top_does_not_pull_the_headline_to_one_worker() {
        let mut rows = vec![
            row("dot", "rayon", 1, 0.99, 1.0, false),
            row("dot", "gil", 1, 1.01, 1.0, false),
            row("dot", "rayon", 2, 1.89, 1.99, false),
            row("dot", "gil", 2, 1.88, 2.0, false),
        ];
        rows[2].speedup = Some(Estimate {
            median: 1.89,
            lo: 0.96,
            hi: 1.94,
        });
        let v = &analyse(&rows)[0];
        assert_eq!(v.headline, Some(2), "{}", v.sentence);
        assert!(v.sentence.contains("tie at 2 workers"), "{}", v.sentence);
    }

    #[test]
    fn a_clear_winner_is_named_and_work_that_waits_is_judged_against_its_ideal() {
        let rows = vec![
            row("api", "threads", 8, 7.5, 1.9, true),
            row("api", "async", 8, 7.9, 1.9, true),
            row("api", "threads", 2, 1.9, 1.9, true),
            row("api", "async", 2, 1.95, 1.9, true),
        ];
        let v = &analyse(&rows)[0];
        assert_eq!(v.headline, Some(8));
        assert_eq!(v.columns[1].decision, Decision::Winner("async".into()));
        assert!(
            v.sentence.contains("async wins at 8 workers"),
            "{}",
            v.sentence
        );
        assert!(v.sentence.contains("of the ideal 8x"), "{}", v.sentence);
        assert!(!v.sentence.contains("ceiling"), "{}", v.sentence);
        // Within the margin: a tie, not a win.
        let rows = vec![
            row("api", "threads", 8, 7.70, 1.9, true),
            row("api", "rayon", 8, 7.80, 1.9, true),
        ];
        let v = &analyse(&rows)[0];
        assert_eq!(
            v.columns[0].decision,
            Decision::Tie(vec!["rayon".into(), "threads".into()])
        );
    }
}
