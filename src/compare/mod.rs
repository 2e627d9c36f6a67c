//! `parbench compare`: a regression gate over Criterion baselines that holds up under noise.
//!
//! Criterion's own verdict compares one run with one run; on a shared 2-core machine it called
//! most no-change runs "regressed". The gate instead reads k base and k head baselines saved by
//! interleaved passes (A B B A ..., see `ci/bench-gate.sh`), forms the paired ratios
//! `head_i / base_i`, and calls a benchmark
//! - **regressed** when the median ratio exceeds `1 + T` AND at least `ceil(0.8 k)` ratios exceed 1;
//! - **improved** when the median ratio is below `1 - T` AND at least `ceil(0.8 k)` are below 1;
//! - **unchanged** otherwise, and **missing** when it has no complete pair (present on one side).
//!
//! With a single pair there is no spread to judge by, so the verdict also requires Criterion's
//! bootstrap interval of the change (`change/estimates.json`, when it belongs to this very pair)
//! to exclude zero, and the row says that one pair is weak evidence.
//!
//! Exit codes: 0 no regression, 1 at least one regression, 2 usage or data errors, among
//! them base and head baselines that share no benchmark (nothing would be compared).

mod load;
mod render;

pub use load::{load, ChangeInterval, Found, Statistic};

use crate::error::UsageError;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Default threshold, in percent: the smallest slowdown the gate is meant to catch.
pub const DEFAULT_THRESHOLD_PCT: f64 = 5.0;

/// Share of pairs that must agree on the direction of a change.
pub const AGREEMENT: f64 = 0.8;

/// How the result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Aligned text for a terminal.
    #[default]
    Table,
    /// GitHub-flavoured Markdown for a PR comment or `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// Machine-readable JSON.
    Json,
}

/// Arguments of `parbench compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Criterion output directory [default: $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion,
    /// else target/criterion].
    #[arg(long, value_name = "DIR")]
    pub criterion_dir: Option<PathBuf>,
    /// Base baseline names (saved with --save-baseline), comma-separated, in run order.
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        value_delimiter = ',',
        required = true
    )]
    pub base: Vec<String>,
    /// Head baseline names, as many as --base; head_i is paired with base_i.
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        value_delimiter = ',',
        required = true
    )]
    pub head: Vec<String>,
    /// Smallest median slowdown, in percent, that counts as a regression (e.g. 5 or 5%).
    #[arg(
        long,
        value_name = "PCT",
        default_value = "5",
        allow_hyphen_values = true
    )]
    pub threshold: String,
    /// Only benchmarks whose id matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// What stands for one baseline: Criterion's median, or the fastest sample (robust to
    /// bursts of host noise when passes last a few seconds; `PARBENCH_GATE_STATISTIC=min`
    /// selects it in `ci/bench-gate.sh`).
    #[arg(long, value_enum, default_value_t = Statistic::Median)]
    pub statistic: Statistic,
}

/// The gate's decision for one benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Slower beyond the threshold, consistently across pairs.
    Regressed,
    /// Faster beyond the threshold, consistently across pairs.
    Improved,
    /// Neither.
    Unchanged,
    /// Present on one side only (added or removed benchmark): listed, never fails the gate.
    Missing,
}

impl Verdict {
    /// Lower-case name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Missing => "missing",
        }
    }
}

/// What the verdict of a row rests on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Evidence {
    /// Several paired ratios (the intended use).
    Pairs {
        /// Number of complete pairs.
        pairs: usize,
        /// Ratios needed on the side of the change.
        needed: usize,
    },
    /// One pair, backed by Criterion's bootstrap interval of the change: weak evidence.
    SinglePairInterval {
        /// Criterion's interval for this pair.
        interval: ChangeInterval,
    },
    /// One pair and no interval for it: the weakest evidence.
    SinglePair,
    /// No complete pair.
    None,
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Benchmark id (`cpu/rayon/2`).
    pub id: String,
    /// Median over the base baselines of the statistic (time per iteration, ns).
    pub base_median_ns: Option<f64>,
    /// The same for the head baselines, in ns.
    pub head_median_ns: Option<f64>,
    /// `head_i / base_i` per pair; `None` where one side of the pair is absent.
    pub ratios: Vec<Option<f64>>,
    /// Median of the present ratios.
    pub median_ratio: Option<f64>,
    /// The decision.
    pub verdict: Verdict,
    /// What the decision rests on.
    pub evidence: Evidence,
    /// A caveat for the reader (weak evidence, incomplete pairs, missing side).
    pub note: Option<String>,
}

/// The whole comparison: settings and rows, sorted by id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Base baseline names.
    pub base: Vec<String>,
    /// Head baseline names.
    pub head: Vec<String>,
    /// Threshold as a fraction (0.05 = 5%).
    pub threshold: f64,
    /// What stands for one baseline.
    pub statistic: Statistic,
    /// One row per benchmark.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Number of rows with this verdict.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == verdict).count()
    }

    /// 1 when anything regressed, else 0.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.count(Verdict::Regressed) > 0)
    }

    /// Aligned text table.
    pub fn to_table(&self) -> String {
        render::table(self)
    }

    /// Markdown summary for a PR comment.
    pub fn to_markdown(&self) -> String {
        render::markdown(self)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Parses `5`, `5%` or `2.5` as a percentage and returns a fraction.
pub fn parse_threshold(text: &str) -> Result<f64, UsageError> {
    let t = text.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim();
    match t.parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(UsageError::new(format!(
            "--threshold {text}: expected a percentage in [0, 100), e.g. 5 or 5%"
        ))),
    }
}

/// The default Criterion directory: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `target/criterion`.
pub fn default_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("criterion")
}

/// Checks the baseline names: same count on both sides, none empty, none repeated.
fn check_names(base: &[String], head: &[String]) -> Result<(), UsageError> {
    if base.len() != head.len() {
        return Err(UsageError::new(format!(
            "--base names {} baseline(s) and --head {}: pairs need the same number on each side",
            base.len(),
            head.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for name in base.iter().chain(head) {
        if name.trim().is_empty() || name.contains(['/', '\\']) {
            return Err(UsageError::new(format!(
                "baseline name {name:?} is not a directory name"
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(UsageError::new(format!(
                "baseline {name} is named twice in --base/--head"
            )));
        }
    }
    Ok(())
}

/// Reads, filters and judges. Every error is a usage or data error (exit 2).
pub fn compare(
    dir: &std::path::Path,
    base: &[String],
    head: &[String],
    threshold: f64,
    filter: Option<&str>,
    statistic: Statistic,
) -> Result<Comparison, UsageError> {
    check_names(base, head)?;
    let filter = filter
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| UsageError::new(format!("--filter: {e}")))?;
    let mut found = load(dir, base, head, statistic)?;
    // A baseline that no benchmark has is a typo or a pass that never ran: refuse to guess.
    // Checked before filtering, so that a filter selecting only added benchmarks stays legal.
    for (side, names) in [(Side::Base, base), (Side::Head, head)] {
        for (i, name) in names.iter().enumerate() {
            if !found.iter().any(|f| side.of(f)[i].is_some()) {
                return Err(UsageError::new(format!(
                    "baseline {name} is missing for every benchmark under {} \
                     (expected <bench>/{name}/estimates.json)",
                    dir.display()
                )));
            }
        }
    }
    // Base and head on disjoint benchmarks (renamed groups, a wrong directory) would list
    // every row as missing and pass without comparing anything: that is a data error.
    let paired = |f: &Found| {
        f.base
            .iter()
            .zip(&f.head)
            .any(|(b, h)| b.is_some() && h.is_some())
    };
    if !found.iter().any(paired) {
        let only_base = found
            .iter()
            .filter(|f| f.base.iter().any(Option::is_some))
            .count();
        let only_head = found
            .iter()
            .filter(|f| f.head.iter().any(Option::is_some))
            .count();
        return Err(UsageError::new(format!(
            "nothing to compare: no benchmark under {} has both a base and a head result \
             ({only_base} only in base, {only_head} only in head)",
            dir.display()
        )));
    }
    if let Some(re) = &filter {
        found.retain(|f| re.is_match(&f.id));
        if found.is_empty() {
            return Err(UsageError::new(format!(
                "no benchmark under {} matches --filter {}",
                dir.display(),
                re.as_str()
            )));
        }
    }
    let mut rows: Vec<Row> = found.iter().map(|f| judge(f, threshold)).collect();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Comparison {
        base: base.to_vec(),
        head: head.to_vec(),
        threshold,
        statistic,
        rows,
    })
}

/// One side of the comparison.
#[derive(Clone, Copy)]
enum Side {
    Base,
    Head,
}

impl Side {
    fn of(self, f: &Found) -> &[Option<f64>] {
        match self {
            Side::Base => &f.base,
            Side::Head => &f.head,
        }
    }
}

/// Median of a non-empty slice (mean of the two middle values for an even count).
fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(crate::report::Spread::of(values).median)
}

/// Applies the verdict rules to one benchmark.
pub fn judge(found: &Found, threshold: f64) -> Row {
    let ratios: Vec<Option<f64>> = found
        .base
        .iter()
        .zip(&found.head)
        .map(|(b, h)| match (b, h) {
            (Some(b), Some(h)) => Some(h / b),
            _ => None,
        })
        .collect();
    let present: Vec<f64> = ratios.iter().flatten().copied().collect();
    let base_values: Vec<f64> = found.base.iter().flatten().copied().collect();
    let head_values: Vec<f64> = found.head.iter().flatten().copied().collect();
    let k = ratios.len();
    let n = present.len();
    let mut row = Row {
        id: found.id.clone(),
        base_median_ns: median(&base_values),
        head_median_ns: median(&head_values),
        median_ratio: median(&present),
        ratios,
        verdict: Verdict::Missing,
        evidence: Evidence::None,
        note: None,
    };
    let Some(med) = row.median_ratio else {
        row.note = Some(
            match (base_values.is_empty(), head_values.is_empty()) {
                (true, _) => "not in base (new benchmark?)",
                (_, true) => "not in head (removed benchmark?)",
                _ => "no pair has both sides",
            }
            .to_string(),
        );
        return row;
    };
    let slower = med > 1.0 + threshold;
    let faster = med < 1.0 - threshold;
    if n >= 2 {
        let needed = (AGREEMENT * n as f64).ceil() as usize;
        let up = present.iter().filter(|r| **r > 1.0).count();
        let down = present.iter().filter(|r| **r < 1.0).count();
        row.verdict = if slower && up >= needed {
            Verdict::Regressed
        } else if faster && down >= needed {
            Verdict::Improved
        } else {
            Verdict::Unchanged
        };
        row.evidence = Evidence::Pairs { pairs: n, needed };
    } else {
        // One pair: Criterion's interval only counts if it was computed from this very pair,
        // which shows as its point estimate matching the ratio of the two medians.
        let interval = found
            .change
            .filter(|c| (c.point - (med - 1.0)).abs() <= 1e-6 * med.max(1.0));
        row.verdict = match interval {
            Some(c) if slower && c.lower > 0.0 => Verdict::Regressed,
            Some(c) if faster && c.upper < 0.0 => Verdict::Improved,
            Some(_) => Verdict::Unchanged,
            None if slower => Verdict::Regressed,
            None if faster => Verdict::Improved,
            None => Verdict::Unchanged,
        };
        row.evidence = match interval {
            Some(interval) => Evidence::SinglePairInterval { interval },
            None => Evidence::SinglePair,
        };
        row.note = Some(match interval {
            Some(c) => format!(
                "single pair: weak evidence (Criterion {:.0}% CI {:+.1}%..{:+.1}%)",
                c.level * 100.0,
                c.lower * 100.0,
                c.upper * 100.0
            ),
            None => "single pair, no confidence interval: weak evidence".to_string(),
        });
    }
    if n < k && n > 0 {
        let extra = format!("only {n} of {k} pairs complete");
        row.note = Some(match row.note.take() {
            Some(note) => format!("{note}; {extra}"),
            None => extra,
        });
    }
    row
}

/// `parbench compare`: prints the comparison and returns the exit code (0 clean, 1 regressed).
/// A [`UsageError`] inside the returned error means exit code 2.
pub fn command(args: CompareArgs) -> anyhow::Result<i32> {
    command_to(args, &mut std::io::stdout().lock())
}

/// [`command`] writing to `out` instead of stdout.
pub fn command_to(args: CompareArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let threshold = parse_threshold(&args.threshold)?;
    let dir = args.criterion_dir.clone().unwrap_or_else(default_dir);
    let cmp = compare(
        &dir,
        &args.base,
        &args.head,
        threshold,
        args.filter.as_deref(),
        args.statistic,
    )?;
    let text = match args.format {
        Format::Table => cmp.to_table(),
        Format::Markdown => cmp.to_markdown(),
        Format::Json => cmp.to_json(),
    };
    let written = writeln!(out, "{}", text.trim_end()).and_then(|()| out.flush());
    match written {
        // A reader that stopped early (`| head`) does not change the verdict.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(crate::output::stdout_error(&e).into())
        }
        _ => Ok(cmp.exit_code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(base: &[Option<f64>], head: &[Option<f64>]) -> Found {
        Found {
            id: "g/f/1".into(),
            dir: PathBuf::from("g/f/1"),
            base: base.to_vec(),
            head: head.to_vec(),
            change: None,
        }
    }

    fn all(v: &[f64]) -> Vec<Option<f64>> {
        v.iter().copied().map(Some).collect()
    }

    #[test]
    fn four_of_five_slower_with_large_median_regresses() {
        let f = found(
            &all(&[100.0, 100.0, 100.0, 100.0, 100.0]),
            &all(&[110.0, 108.0, 107.0, 99.0, 112.0]),
        );
        let row = judge(&f, 0.05);
        assert_eq!(row.verdict, Verdict::Regressed);
        assert_eq!(
            row.evidence,
            Evidence::Pairs {
                pairs: 5,
                needed: 4
            }
        );
        assert!((row.median_ratio.unwrap() - 1.08).abs() < 1e-12);
    }

    #[test]
    fn large_median_without_agreement_is_unchanged() {
        // Median ratio 1.08 but only 3 of 5 pairs slower: one noisy side, not a regression.
        let f = found(&all(&[100.0; 5]), &all(&[110.0, 108.0, 90.0, 95.0, 112.0]));
        assert_eq!(judge(&f, 0.05).verdict, Verdict::Unchanged);
    }

    #[test]
    fn consistent_small_slowdown_is_unchanged() {
        let f = found(
            &all(&[100.0; 5]),
            &all(&[102.0, 103.0, 101.0, 104.0, 102.0]),
        );
        assert_eq!(judge(&f, 0.05).verdict, Verdict::Unchanged);
    }

    #[test]
    fn mirror_image_improves() {
        let f = found(&all(&[100.0; 5]), &all(&[90.0, 91.0, 89.0, 101.0, 88.0]));
        assert_eq!(judge(&f, 0.05).verdict, Verdict::Improved);
    }

    #[test]
    fn one_side_only_is_missing() {
        let f = found(&[None, None], &all(&[1.0, 2.0]));
        let row = judge(&f, 0.05);
        assert_eq!(row.verdict, Verdict::Missing);
        assert!(row.note.unwrap().contains("not in base"));
    }

    #[test]
    fn incomplete_pairs_are_judged_on_complete_ones_and_noted() {
        let f = found(
            &[Some(100.0), Some(100.0), None],
            &[Some(120.0), Some(121.0), Some(130.0)],
        );
        let row = judge(&f, 0.05);
        assert_eq!(row.verdict, Verdict::Regressed);
        assert_eq!(row.ratios[2], None);
        assert!(row.note.unwrap().contains("2 of 3"));
    }

    #[test]
    fn single_pair_uses_matching_interval_only() {
        let mut f = found(&all(&[100.0]), &all(&[110.0]));
        // An interval that straddles zero vetoes the regression.
        f.change = Some(ChangeInterval {
            point: 0.10,
            lower: -0.02,
            upper: 0.2,
            level: 0.95,
        });
        let row = judge(&f, 0.05);
        assert_eq!(row.verdict, Verdict::Unchanged);
        assert!(matches!(row.evidence, Evidence::SinglePairInterval { .. }));
        // An interval from another comparison (point does not match) is ignored.
        f.change = Some(ChangeInterval {
            point: 0.30,
            lower: -0.02,
            upper: 0.6,
            level: 0.95,
        });
        let row = judge(&f, 0.05);
        assert_eq!(row.verdict, Verdict::Regressed);
        assert_eq!(row.evidence, Evidence::SinglePair);
        assert!(row.note.unwrap().contains("weak evidence"));
    }

    #[test]
    fn threshold_parsing() {
        assert_eq!(parse_threshold("5").unwrap(), 0.05);
        assert_eq!(parse_threshold(" 2.5% ").unwrap(), 0.025);
        for bad in ["", "-1", "abc", "100", "NaN", "inf"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_must_pair_up_and_be_distinct() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(check_names(&s(&["a", "b"]), &s(&["c"])).is_err());
        assert!(check_names(&s(&["a"]), &s(&["a"])).is_err());
        assert!(check_names(&s(&["a/b"]), &s(&["c"])).is_err());
        assert!(check_names(&s(&["a", "b"]), &s(&["c", "d"])).is_ok());
    }
}
