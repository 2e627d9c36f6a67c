//! Text and Markdown renderings of a [`Comparison`].

use super::{Comparison, Row, Verdict};
use std::fmt::Write;

/// A time in ns with a unit that keeps 3-4 significant digits.
fn time(ns: Option<f64>) -> String {
    let Some(ns) = ns else {
        return "-".to_string();
    };
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "us")
    } else {
        (ns, "ns")
    };
    format!("{value:.3} {unit}")
}

fn ratios(row: &Row, sep: &str) -> String {
    row.ratios
        .iter()
        .map(|r| r.map_or_else(|| "-".to_string(), |r| format!("{r:.3}")))
        .collect::<Vec<_>>()
        .join(sep)
}

fn change(row: &Row) -> String {
    row.median_ratio.map_or_else(
        || "-".to_string(),
        |m| format!("{:+.1}%", (m - 1.0) * 100.0),
    )
}

fn summary(cmp: &Comparison) -> String {
    format!(
        "{} regressed, {} improved, {} unchanged, {} missing",
        cmp.count(Verdict::Regressed),
        cmp.count(Verdict::Improved),
        cmp.count(Verdict::Unchanged),
        cmp.count(Verdict::Missing)
    )
}

fn rule(cmp: &Comparison) -> String {
    let per_baseline = cmp.statistic.describe();
    let k = cmp.base.len();
    let needed = (super::AGREEMENT * k as f64).ceil() as usize;
    let t = cmp.threshold * 100.0;
    if k >= 2 {
        format!(
            "{k} pairs ({} vs {}); regressed = median head/base > {:.3} and >= {needed} of {k} \
             pairs slower (improved: the mirror image); per baseline: {per_baseline}",
            cmp.base.join(","),
            cmp.head.join(","),
            1.0 + t / 100.0
        )
    } else {
        format!(
            "1 pair ({} vs {}), threshold {t}%: a single pair is weak evidence; \
             interleave several passes (ci/bench-gate.sh); per baseline: {per_baseline}",
            cmp.base.join(","),
            cmp.head.join(",")
        )
    }
}

/// Aligned columns, then the rule, the counts and the notes.
pub fn table(cmp: &Comparison) -> String {
    let header = [
        "benchmark",
        "base",
        "head",
        "head/base per pair",
        "median ratio",
        "verdict",
    ];
    let cells: Vec<[String; 6]> = cmp
        .rows
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                time(r.base_median_ns),
                time(r.head_median_ns),
                ratios(r, " "),
                change(r),
                r.verdict.as_str().to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            // Text columns left-aligned, numbers right-aligned.
            if i == 0 || i == 3 || i == 5 {
                let _ = write!(s, "{c:<w$}  ");
            } else {
                let _ = write!(s, "{c:>w$}  ");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &cells {
        line(row);
    }
    let _ = writeln!(out, "\n{}", rule(cmp));
    let _ = writeln!(out, "{}", summary(cmp));
    for r in cmp.rows.iter().filter(|r| r.note.is_some()) {
        let _ = writeln!(out, "  {}: {}", r.id, r.note.as_deref().unwrap_or_default());
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A headline, the rule, and one table row per benchmark (regressions first).
pub fn markdown(cmp: &Comparison) -> String {
    let regressed = cmp.count(Verdict::Regressed);
    let mut out = String::new();
    let headline = if regressed > 0 {
        format!("FAIL: {regressed} benchmark(s) regressed")
    } else {
        "PASS: no regression".to_string()
    };
    let _ = writeln!(out, "### parbench compare: {headline}\n");
    let _ = writeln!(out, "{}.\n", rule(cmp));
    let _ = writeln!(out, "{}.\n", summary(cmp));
    let _ = writeln!(
        out,
        "| benchmark | base | head | head/base per pair | median ratio | verdict | note |"
    );
    let _ = writeln!(out, "|---|---:|---:|---|---:|---|---|");
    let mut rows: Vec<&Row> = cmp.rows.iter().collect();
    // Stable sort: the rows a reviewer must look at come first, in id order within a verdict.
    rows.sort_by_key(|r| match r.verdict {
        Verdict::Regressed => 0,
        Verdict::Improved => 1,
        Verdict::Missing => 2,
        Verdict::Unchanged => 3,
    });
    for r in rows {
        let verdict = match r.verdict {
            Verdict::Regressed | Verdict::Improved => format!("**{}**", r.verdict.as_str()),
            _ => r.verdict.as_str().to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            md_escape(&r.id),
            time(r.base_median_ns),
            time(r.head_median_ns),
            ratios(r, ", "),
            change(r),
            verdict,
            md_escape(r.note.as_deref().unwrap_or(""))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_pick_a_readable_unit() {
        assert_eq!(time(Some(12.0)), "12.000 ns");
        assert_eq!(time(Some(12_345.0)), "12.345 us");
        assert_eq!(time(Some(2.5e7)), "25.000 ms");
        assert_eq!(time(Some(3.0e9)), "3.000 s");
        assert_eq!(time(None), "-");
    }
}
