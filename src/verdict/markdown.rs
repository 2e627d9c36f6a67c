//! The verdict as GitHub-flavoured Markdown, for a pull request comment or
//! `$GITHUB_STEP_SUMMARY`: the sentences, the notes and one table per workload. No
//! pictures and no links, since Criterion's pages are not where the Markdown is read.

use super::analysis::{times, Outcome, Verdict};
use std::fmt::Write as _;

/// The Markdown page.
pub(crate) fn page(verdict: &Verdict) -> String {
    let mut out = String::from("## parbench verdict\n\n");
    if let Some(p) = &verdict.provenance.profile {
        let _ = write!(out, "Profile: **{p}**");
        if let Some(c) = verdict.provenance.cores {
            let _ = write!(out, ", host: {c} cores");
        }
        out.push_str(".\n\n");
    }
    for note in verdict.notes() {
        let _ = writeln!(out, "> **Note:** {}", cell(&note));
        out.push('\n');
    }
    for w in &verdict.workloads {
        let _ = writeln!(out, "- {}", w.sentence);
    }
    out.push_str(
        "\nSpeedup = time(serial/1) / time(executor/W), ratio of medians of Criterion's samples, \
         95% bootstrap interval in brackets. **Bold**: the winner; *italic*: tied (intervals \
         overlap). Ceiling = time(ceiling/1) / time(ceiling/W).\n",
    );
    for w in &verdict.workloads {
        let _ = write!(out, "\n### {}\n\n| executor |", w.workload);
        for n in &w.workers {
            let _ = write!(out, " {n} |");
        }
        out.push_str("\n|---|");
        for _ in &w.workers {
            out.push_str("---:|");
        }
        out.push('\n');
        for e in &w.executors {
            let _ = write!(out, "| {} |", cell(e));
            for n in &w.workers {
                let Some(c) = w.cells.get(&(e.clone(), *n)) else {
                    out.push_str(" - |");
                    continue;
                };
                let s = c.speedup;
                let text = if s.median.is_finite() {
                    format!("{} ({:.2}-{:.2})", times(s.median), s.lo, s.hi)
                } else {
                    "?".into()
                };
                let outcome = w
                    .columns
                    .iter()
                    .find(|c| c.workers == *n)
                    .and_then(|c| c.decision.as_ref())
                    .map(|d| &d.outcome);
                let text = match outcome {
                    Some(Outcome::Winner(x)) if x == e => format!("**{text}**"),
                    Some(Outcome::Tie(xs)) if xs.contains(e) => format!("*{text}*"),
                    _ => text,
                };
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out.push_str("| ceiling |");
        for n in &w.workers {
            match verdict.ceiling.get(n) {
                Some(c) => {
                    let _ = write!(out, " {} ({:.2}-{:.2}) |", times(c.median), c.lo, c.hi);
                }
                None => out.push_str(" - |"),
            }
        }
        out.push_str("\n| **verdict** |");
        for c in &w.columns {
            let text = match c.decision.as_ref().map(|d| &d.outcome) {
                Some(Outcome::Winner(e)) => cell(e),
                Some(Outcome::Tie(es)) => format!("tie: {}", cell(&es.join(", "))),
                None => "-".into(),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out
}

/// Text safe inside a table cell: no pipes, no line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
