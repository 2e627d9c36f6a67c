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

/// Largest ratio printed as a number; beyond it the table says ">999" (a 1000x slowdown is
/// a broken benchmark, and "+inf%" or 40 digits say nothing more).
const MAX_SHOWN_RATIO: f64 = 999.0;

/// A head/base ratio with three decimals, or ">999" beyond [`MAX_SHOWN_RATIO`].
fn ratio(r: f64) -> String {
    if r.is_finite() && r <= MAX_SHOWN_RATIO {
        format!("{r:.3}")
    } else {
        format!(">{MAX_SHOWN_RATIO:.0}")
    }
}

fn ratios(row: &Row, sep: &str) -> String {
    row.ratios
        .iter()
        .map(|r| r.map_or_else(|| "-".to_string(), ratio))
        .collect::<Vec<_>>()
        .join(sep)
}

/// The median change in percent, "+12.3%"; above +999% (a ratio over 10.99) ">+999%". A
/// ratio cannot go below 0, so the other end is -100%.
fn change(row: &Row) -> String {
    row.median_ratio.map_or_else(
        || "-".to_string(),
        |m| {
            let pct = (m - 1.0) * 100.0;
            if pct.is_finite() && pct <= 999.0 {
                format!("{pct:+.1}%")
            } else {
                ">+999%".to_string()
            }
        },
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

    #[test]
    fn extreme_changes_stay_readable() {
        let row = |m: f64| Row {
            id: "g".into(),
            base_median_ns: Some(1.0),
            head_median_ns: Some(m),
            ratios: vec![Some(m)],
            median_ratio: Some(m),
            verdict: Verdict::Regressed,
            evidence: super::super::Evidence::SinglePair,
            note: None,
        };
        assert_eq!(change(&row(1.123)), "+12.3%");
        assert_eq!(change(&row(0.5)), "-50.0%");
        assert_eq!(change(&row(10.99)), "+999.0%");
        for huge in [11.0, 1e300, f64::INFINITY, f64::NAN] {
            assert_eq!(change(&row(huge)), ">+999%", "{huge}");
        }
        for huge in [1000.0, 1e300, f64::INFINITY, f64::NAN] {
            assert_eq!(ratios(&row(huge), " "), ">999", "{huge}");
        }
        assert_eq!(ratios(&row(11.0), " "), "11.000");
    }
}
