//! From Criterion's samples to the verdict: speedups with intervals, the host ceiling, the
//! winner (or the tie) at each worker count, and one sentence per workload.
//!
//! A speedup is the ratio of medians `time(serial/1) / time(executor/W)` over Criterion's
//! per-iteration sample times, with a 95% bootstrap interval ([`bootstrap_ratio`]): the two
//! benchmarks ran minutes apart, unpaired, so the interval is what keeps a noisy 3% from
//! being called a win.

use super::{Measured, Results, CEILING_GROUP};
use crate::engine::stats::{bootstrap_ratio, Estimate};
use crate::verdict::profile::Run;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Bootstrap resamples per ratio: a few hundred beyond each end of a 95% interval, and
/// about 2 ms per ratio of 10-sample benchmarks.
pub const RESAMPLES: usize = 10_000;

/// Below this speedup an executor "does not scale": within the noise of a 10-sample median.
pub const NO_GAIN: f64 = 1.10;

/// Above this share of the ceiling the work is not bound by the cores (it waits).
const ABOVE_CEILING: f64 = 1.15;

/// At 1 worker every executor runs the tasks one after another, as serial does: a median
/// speedup there further than this from 1.0 says the baseline caught another host phase.
pub const BASELINE_DRIFT: f64 = 0.10;

/// Who comes first at one worker count.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// One executor's interval is above every other's.
    Winner(String),
    /// The best executor's interval overlaps these executors' (best first): no winner.
    Tie(Vec<String>),
}

impl Outcome {
    /// The executors named: the winner, or every tied one.
    pub fn names(&self) -> Vec<String> {
        match self {
            Outcome::Winner(e) => vec![e.clone()],
            Outcome::Tie(es) => es.clone(),
        }
    }
}

/// The decision at one worker count.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Winner or tie.
    pub outcome: Outcome,
    /// The best executor's speedup (highest median).
    pub best: Estimate,
    /// Lowest and highest median among the executors named by the outcome.
    pub range: (f64, f64),
}

/// Decides among `(executor, speedup)` candidates: the highest median is best, and every
/// executor whose interval overlaps the best's is tied with it. NaN speedups are ignored.
pub fn decide(candidates: &[(String, Estimate)]) -> Option<Decision> {
    let mut c: Vec<&(String, Estimate)> = candidates
        .iter()
        .filter(|(_, e)| e.median.is_finite())
        .collect();
    // Highest median first; equal medians in name order, so the result never depends on
    // the order of the files.
    c.sort_by(|a, b| b.1.median.total_cmp(&a.1.median).then(a.0.cmp(&b.0)));
    let best = c.first()?.1;
    let tied: Vec<&&(String, Estimate)> = c.iter().filter(|(_, e)| e.overlaps(&best)).collect();
    let medians = tied.iter().map(|(_, e)| e.median);
    let range = (
        medians.clone().fold(f64::INFINITY, f64::min),
        medians.fold(f64::NEG_INFINITY, f64::max),
    );
    let outcome = if tied.len() == 1 {
        Outcome::Winner(tied[0].0.clone())
    } else {
        Outcome::Tie(tied.iter().map(|(n, _)| n.clone()).collect())
    };
    Some(Decision {
        outcome,
        best,
        range,
    })
}

/// One executor at one worker count.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Speedup against serial/1 with its interval.
    pub speedup: Estimate,
    /// Criterion's median time per iteration, ns.
    pub median_ns: f64,
    /// Criterion's directory of the benchmark, for links.
    pub dir: String,
}

/// One worker count of a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Worker count.
    pub workers: usize,
    /// Winner or tie; `None` when nothing but serial ran there.
    pub decision: Option<Decision>,
}

/// Everything the page says about one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadVerdict {
    /// Workload (Criterion group) name.
    pub workload: String,
    /// serial/1: Criterion directory and median ns, when present.
    pub serial: Option<(String, f64)>,
    /// Executors measured (serial aside), in registry order.
    pub executors: Vec<String>,
    /// Worker counts, ascending.
    pub workers: Vec<usize>,
    /// `(executor, W)` to its cell.
    pub cells: BTreeMap<(String, usize), Cell>,
    /// One per worker count, ascending.
    pub columns: Vec<Column>,
    /// The worker count the sentence is about: the fewest workers that reach the top.
    pub headline: Option<usize>,
    /// The plain sentence.
    pub sentence: String,
    /// Ids of results expected but absent, e.g. `cpu/serial/1`, `cpu/gil/8`.
    pub missing: Vec<String>,
    /// Median speedup of the executors at 1 worker, when it is off 1.0 by more than
    /// [`BASELINE_DRIFT`]: serial/1 then ran while the host was slower or faster.
    pub baseline_drift: Option<f64>,
}

impl WorkloadVerdict {
    /// The executor and worker count to draw against serial: the headline's winner, or the
    /// first of its tie. When the headline is 1 worker (nothing gains from more), the best at
    /// the fewest workers above 1 instead, since that picture shows why.
    pub fn pick(&self) -> Option<(String, usize)> {
        let headline = self.headline?;
        let col = self
            .columns
            .iter()
            .filter(|c| c.decision.is_some())
            .find(|c| (headline > 1 && c.workers == headline) || (headline == 1 && c.workers > 1))
            .or_else(|| self.columns.iter().find(|c| c.workers == headline))?;
        let name = col.decision.as_ref()?.outcome.names().into_iter().next()?;
        Some((name, col.workers))
    }
}

/// What the profile marker says about where the results came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provenance {
    /// The one profile every result came from, described ("quick"); `None` if unknown or mixed.
    pub profile: Option<String>,
    /// Cores of the host that ran them, when known.
    pub cores: Option<usize>,
    /// "mixed profiles" lines; empty when the results are comparable.
    pub mixed: Vec<String>,
    /// True when no marker was found, so nothing could be checked.
    pub unchecked: bool,
}

/// The whole page's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The Criterion directory read.
    pub root: PathBuf,
    /// One per workload with results, in registry order.
    pub workloads: Vec<WorkloadVerdict>,
    /// Host ceiling at each worker count: time(ceiling/1) / time(ceiling/W).
    pub ceiling: BTreeMap<usize, Estimate>,
    /// Criterion directory of each ceiling benchmark.
    pub ceiling_dirs: BTreeMap<usize, String>,
    /// Worker counts with no ceiling result (all of them when ceiling/1 is absent).
    pub ceiling_missing: Vec<usize>,
    /// Where the results came from.
    pub provenance: Provenance,
}

impl Verdict {
    /// The sentences, one per workload, then the notes: for a terminal or a log.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.workloads.iter().map(|w| w.sentence.clone()).collect();
        lines.extend(self.notes());
        lines
    }

    /// Warnings: mixed profiles, missing results, an unchecked profile.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.provenance.mixed.clone();
        if self.provenance.unchecked {
            notes.push(
                "profiles not checked: no parbench/profile.json (results not written by parbench's cargo bench)"
                    .into(),
            );
        }
        for w in &self.workloads {
            if let Some(d) = w.baseline_drift {
                notes.push(format!(
                    "{}: at 1 worker the executors' median speedup is {}, not about 1: {}/serial/1 likely ran while the host was {}, so every {} speedup is off by about as much",
                    w.workload,
                    times(d),
                    w.workload,
                    if d > 1.0 { "slower" } else { "faster" },
                    w.workload
                ));
            }
        }
        let mut missing: Vec<String> = self
            .workloads
            .iter()
            .flat_map(|w| w.missing.iter().cloned())
            .collect();
        missing.extend(
            self.ceiling_missing
                .iter()
                .map(|w| format!("{CEILING_GROUP}/{w}")),
        );
        if !missing.is_empty() {
            const SHOWN: usize = 16;
            let mut list = missing
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if missing.len() > SHOWN {
                list.push_str(&format!(" and {} more", missing.len() - SHOWN));
            }
            notes.push(format!("missing {} result(s): {list}", missing.len()));
        }
        notes
    }
}

/// Position of an executor in the registry, unknown names last.
fn registry_rank(name: &str) -> usize {
    crate::executor::EXECUTORS
        .iter()
        .position(|e| e.name == name)
        .unwrap_or(usize::MAX)
}

/// A stable seed per id, so the same files always give the same page.
fn seed(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The serial executor's name: the registry's executor that does not scale.
fn serial_name() -> &'static str {
    crate::executor::EXECUTORS
        .iter()
        .find(|e| !e.scales)
        .map(|e| e.name)
        .unwrap_or("serial")
}

/// Reads the verdict out of loaded results.
pub fn analyse(results: &Results) -> Verdict {
    let marker = results.marker.as_ref();
    let provenance = provenance(results);
    // The sweep is the same for every group: worker counts seen anywhere, and those the
    // last runs were asked for, are expected everywhere.
    let mut expected_w: BTreeSet<usize> = BTreeSet::new();
    let mut expected_e: BTreeSet<String> = BTreeSet::new();
    let serial = serial_name();
    let workload_names = crate::workload::names();
    for b in &results.benches {
        if !workload_names.contains(&b.group.as_str()) {
            continue;
        }
        if let (Some(f), Some(w)) = (&b.function, b.workers()) {
            if f != serial {
                expected_w.insert(w);
                expected_e.insert(f.clone());
            }
        }
    }
    for name in &workload_names {
        if let Some(run) = marker.and_then(|m| m.latest(name)) {
            expected_w.extend(run.workers.iter().copied());
        }
    }

    let (ceiling, ceiling_dirs, ceiling_missing) = ceiling(results, &expected_w);
    let workloads = workload_names
        .iter()
        .filter(|name| results.benches.iter().any(|b| b.group == **name))
        .map(|name| {
            let mine: Vec<&Measured> = results
                .benches
                .iter()
                .filter(|b| b.group == *name)
                .collect();
            workload(name, &mine, &expected_e, &expected_w, &ceiling)
        })
        .collect();
    Verdict {
        root: results.root.clone(),
        workloads,
        ceiling,
        ceiling_dirs,
        ceiling_missing,
        provenance,
    }
}

type CeilingParts = (
    BTreeMap<usize, Estimate>,
    BTreeMap<usize, String>,
    Vec<usize>,
);

fn ceiling(results: &Results, expected_w: &BTreeSet<usize>) -> CeilingParts {
    let by_w: BTreeMap<usize, &Measured> = results
        .benches
        .iter()
        .filter(|b| b.group == CEILING_GROUP)
        .filter_map(|b| Some((b.workers()?, b)))
        .collect();
    let dirs = by_w.iter().map(|(w, b)| (*w, b.dir.clone())).collect();
    let mut est = BTreeMap::new();
    if let Some(one) = by_w.get(&1) {
        for (&w, b) in &by_w {
            let e = if w == 1 {
                Estimate::exact(1.0)
            } else {
                bootstrap_ratio(&one.times_ns, &b.times_ns, RESAMPLES, seed(&b.id))
            };
            est.insert(w, e);
        }
    }
    let mut wanted: BTreeSet<usize> = expected_w.clone();
    wanted.insert(1);
    let missing = wanted
        .into_iter()
        .filter(|w| !est.contains_key(w))
        .collect();
    (est, dirs, missing)
}

fn workload(
    name: &str,
    benches: &[&Measured],
    expected_e: &BTreeSet<String>,
    expected_w: &BTreeSet<usize>,
    ceiling: &BTreeMap<usize, Estimate>,
) -> WorkloadVerdict {
    let serial_exe = serial_name();
    let serial = benches
        .iter()
        .find(|b| b.function.as_deref() == Some(serial_exe) && b.workers() == Some(1));
    let mut cells = BTreeMap::new();
    let mut executors: BTreeSet<String> = BTreeSet::new();
    let mut workers: BTreeSet<usize> = BTreeSet::new();
    for b in benches {
        let (Some(f), Some(w)) = (&b.function, b.workers()) else {
            continue;
        };
        if f == serial_exe {
            continue;
        }
        executors.insert(f.clone());
        workers.insert(w);
        let speedup = match serial {
            Some(s) => bootstrap_ratio(&s.times_ns, &b.times_ns, RESAMPLES, seed(&b.id)),
            None => Estimate::exact(f64::NAN),
        };
        cells.insert(
            (f.clone(), w),
            Cell {
                speedup,
                median_ns: b.median_ns,
                dir: b.dir.clone(),
            },
        );
    }
    let mut executors: Vec<String> = executors.into_iter().collect();
    executors.sort_by_key(|e| (registry_rank(e), e.clone()));
    let workers: Vec<usize> = workers.into_iter().collect();

    let mut missing = Vec::new();
    if serial.is_none() {
        missing.push(format!("{name}/{serial_exe}/1"));
    }
    let mut all_e: Vec<String> = expected_e.iter().cloned().collect();
    all_e.sort_by_key(|e| (registry_rank(e), e.clone()));
    for e in &all_e {
        for w in expected_w {
            if !cells.contains_key(&(e.clone(), *w)) {
                missing.push(format!("{name}/{e}/{w}"));
            }
        }
    }

    let columns: Vec<Column> = workers
        .iter()
        .map(|&w| {
            let candidates: Vec<(String, Estimate)> = executors
                .iter()
                .filter_map(|e| Some((e.clone(), cells.get(&(e.clone(), w))?.speedup)))
                .collect();
            Column {
                workers: w,
                decision: decide(&candidates),
            }
        })
        .collect();
    let headline = headline(&columns);
    let at_one: Vec<f64> = cells
        .iter()
        .filter(|((_, w), _)| *w == 1)
        .map(|(_, c)| c.speedup.median)
        .collect();
    let drift = crate::engine::stats::median(&at_one);
    let baseline_drift =
        (drift.is_finite() && (drift - 1.0).abs() > BASELINE_DRIFT).then_some(drift);
    let mut v = WorkloadVerdict {
        workload: name.to_string(),
        serial: serial.map(|s| (s.dir.clone(), s.median_ns)),
        executors,
        workers,
        cells,
        columns,
        headline,
        sentence: String::new(),
        missing,
        baseline_drift,
    };
    v.sentence = sentence(&v, ceiling);
    v
}

/// The fewest workers whose best speedup is level (overlapping intervals) with the best
/// speedup at any worker count: "at how many workers" is answered by the smallest count
/// that gets there.
fn headline(columns: &[Column]) -> Option<usize> {
    let top = columns
        .iter()
        .filter_map(|c| c.decision.as_ref())
        .max_by(|a, b| a.best.median.total_cmp(&b.best.median))?
        .best;
    columns
        .iter()
        .find(|c| c.decision.as_ref().is_some_and(|d| d.best.overlaps(&top)))
        .map(|c| c.workers)
}

/// "a", "a and b", "a, b and c".
pub fn join_names(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// A speedup as printed: two decimals and an "x".
pub fn times(x: f64) -> String {
    format!("{x:.2}x")
}

fn workers_word(w: usize) -> String {
    if w == 1 {
        "1 worker".into()
    } else {
        format!("{w} workers")
    }
}

/// The plain sentence for one workload.
fn sentence(v: &WorkloadVerdict, ceiling: &BTreeMap<usize, Estimate>) -> String {
    let name = &v.workload;
    if v.serial.is_none() {
        return format!("{name}: no serial/1 result, so no speedup can be computed.");
    }
    let Some(w) = v.headline else {
        return format!("{name}: only serial was measured.");
    };
    let Some(d) = v
        .columns
        .iter()
        .find(|c| c.workers == w)
        .and_then(|c| c.decision.clone())
    else {
        return format!("{name}: only serial was measured.");
    };
    if d.best.median < NO_GAIN {
        let best = d.outcome.names().into_iter().next().unwrap_or_default();
        return format!(
            "{name}: no executor gains {:.0}% over serial at any worker count (best: {best}, {} at {}).",
            (NO_GAIN - 1.0) * 100.0,
            times(d.best.median),
            workers_word(w)
        );
    }
    let named = d.outcome.names();
    let speed = if (d.range.1 - d.range.0).abs() < 0.005 {
        times(d.range.1)
    } else {
        format!("{:.2}-{}", d.range.0, times(d.range.1))
    };
    let against_ceiling = match ceiling.get(&w) {
        Some(c) if c.median.is_finite() && c.median > 0.0 => {
            let share = d.best.median / c.median;
            if share > ABOVE_CEILING {
                // Waiting work passes it by design; computing work only when the host
                // changed speed between the unpaired benchmarks.
                format!(
                    ", above the measured ceiling of {}: the work waits, or the host changed speed between benchmarks",
                    times(c.median)
                )
            } else {
                format!(", {:.0}% of the ceiling", share * 100.0)
            }
        }
        _ => String::new(),
    };
    let head = match &d.outcome {
        Outcome::Winner(e) => format!("{e} wins at {} ({speed}{against_ceiling})", workers_word(w)),
        Outcome::Tie(es) => {
            let who = if es.len() == v.executors.len() && es.len() > 2 {
                format!("all {} executors", es.len())
            } else {
                join_names(es)
            };
            format!(
                "{who} tie at {} ({speed}{against_ceiling})",
                workers_word(w)
            )
        }
    };
    let mut behind = Vec::new();
    let mut flat = Vec::new();
    for e in &v.executors {
        if named.contains(e) {
            continue;
        }
        let Some(cell) = v.cells.get(&(e.clone(), w)) else {
            continue;
        };
        let s = cell.speedup.median;
        if s >= NO_GAIN {
            behind.push((e.clone(), s));
        } else if w > 1 {
            flat.push((e.clone(), s));
        }
    }
    behind.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut parts = vec![format!("{name}: {head}")];
    if !behind.is_empty() {
        let list: Vec<String> = behind
            .iter()
            .map(|(e, s)| format!("{e} {}", times(*s)))
            .collect();
        parts.push(format!("behind: {}", list.join(", ")));
    }
    if !flat.is_empty() {
        let names: Vec<String> = flat.iter().map(|(e, _)| e.clone()).collect();
        let values: Vec<String> = flat.iter().map(|(_, s)| times(*s)).collect();
        let verb = if flat.len() == 1 {
            "does not scale"
        } else {
            "do not scale"
        };
        parts.push(format!(
            "{} {verb} ({})",
            join_names(&names),
            values.join(", ")
        ));
    }
    format!("{}.", parts.join("; "))
}

/// Checks the results against the profile marker.
fn provenance(results: &Results) -> Provenance {
    let Some(marker) = &results.marker else {
        return Provenance {
            unchecked: true,
            ..Provenance::default()
        };
    };
    // Each result's run; results no run claims are listed by id.
    let mut by_group: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    let mut unknown: Vec<&str> = Vec::new();
    for b in &results.benches {
        match marker.attribute(&b.group, b.modified_ns) {
            Some(run) => by_group.entry(b.group.as_str()).or_default().push(run),
            None => unknown.push(b.id.as_str()),
        }
    }
    let mut distinct: Vec<(&Run, Vec<&str>)> = Vec::new();
    for (group, runs) in &by_group {
        for run in runs {
            match distinct.iter_mut().find(|(r, _)| r.same_work(run)) {
                Some((_, groups)) => {
                    if !groups.contains(group) {
                        groups.push(group)
                    }
                }
                None => distinct.push((run, vec![group])),
            }
        }
    }
    let mut mixed = Vec::new();
    if distinct.len() > 1 {
        let parts: Vec<String> = distinct
            .iter()
            .map(|(run, groups)| {
                let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
                format!("{} ran {}", join_names(&groups), run.describe())
            })
            .collect();
        mixed.push(format!(
            "mixed profiles: {}; speedups across these groups compare unlike work",
            parts.join("; ")
        ));
    }
    if !unknown.is_empty() {
        const SHOWN: usize = 6;
        let mut list = unknown
            .iter()
            .take(SHOWN)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if unknown.len() > SHOWN {
            list.push_str(&format!(" and {} more", unknown.len() - SHOWN));
        }
        mixed.push(format!(
            "mixed profiles: {} result(s) were not written by a run the marker records, so their profile is unknown ({list})",
            unknown.len()
        ));
    }
    let profile = match (distinct.as_slice(), unknown.is_empty()) {
        ([(run, _)], true) => Some(run.describe()),
        _ => None,
    };
    Provenance {
        profile,
        cores: distinct.first().map(|(r, _)| r.cores).filter(|&c| c > 0),
        mixed,
        unchecked: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(lo: f64, median: f64, hi: f64) -> Estimate {
        Estimate { median, lo, hi }
    }

    fn cands(list: &[(&str, Estimate)]) -> Vec<(String, Estimate)> {
        list.iter().map(|(n, e)| (n.to_string(), *e)).collect()
    }

    #[test]
    fn a_clear_winner_is_named() {
        let d = decide(&cands(&[
            ("threads", est(1.40, 1.50, 1.60)),
            ("rayon", est(1.85, 1.90, 1.95)),
            ("gil", est(0.95, 0.97, 0.99)),
        ]))
        .unwrap();
        assert_eq!(d.outcome, Outcome::Winner("rayon".into()));
        assert_eq!(d.best.median, 1.90);
        assert_eq!(d.range, (1.90, 1.90));
    }

    #[test]
    fn overlapping_intervals_tie_best_first() {
        let d = decide(&cands(&[
            ("pool", est(1.80, 1.86, 1.92)),
            ("rayon", est(1.85, 1.91, 1.97)),
            ("process", est(1.70, 1.88, 1.90)),
            ("gil", est(0.95, 0.97, 0.99)),
        ]))
        .unwrap();
        assert_eq!(
            d.outcome,
            Outcome::Tie(vec!["rayon".into(), "process".into(), "pool".into()])
        );
        assert_eq!(d.range, (1.86, 1.91));
    }

    #[test]
    fn touching_intervals_tie_and_nan_is_ignored() {
        let d = decide(&cands(&[
            ("a", est(1.5, 1.6, 1.7)),
            ("b", est(1.3, 1.4, 1.5)),
            ("c", est(f64::NAN, f64::NAN, f64::NAN)),
        ]))
        .unwrap();
        assert_eq!(d.outcome, Outcome::Tie(vec!["a".into(), "b".into()]));
        assert!(decide(&cands(&[("c", est(f64::NAN, f64::NAN, f64::NAN))])).is_none());
        assert!(decide(&[]).is_none());
    }

    #[test]
    fn equal_medians_do_not_depend_on_order() {
        let one = decide(&cands(&[
            ("b", est(1.0, 2.0, 3.0)),
            ("a", est(1.0, 2.0, 3.0)),
        ]));
        let two = decide(&cands(&[
            ("a", est(1.0, 2.0, 3.0)),
            ("b", est(1.0, 2.0, 3.0)),
        ]));
        assert_eq!(one, two);
    }

    fn column(w: usize, lo: f64, m: f64, hi: f64) -> Column {
        Column {
            workers: w,
            decision: decide(&cands(&[("rayon", est(lo, m, hi))])),
        }
    }

    #[test]
    fn headline_is_the_fewest_workers_level_with_the_top() {
        let cols = vec![
            column(1, 0.9, 1.0, 1.1),
            column(2, 1.8, 1.9, 1.95),
            column(4, 1.85, 1.93, 2.0),
            column(8, 1.7, 1.8, 1.84),
        ];
        assert_eq!(headline(&cols), Some(2));
        let rising = vec![column(1, 0.9, 1.0, 1.1), column(8, 7.0, 7.5, 8.0)];
        assert_eq!(headline(&rising), Some(8));
    }

    fn measured(id: &str, ms: f64) -> Measured {
        let parts: Vec<&str> = id.split('/').collect();
        Measured {
            id: id.into(),
            group: parts[0].into(),
            function: Some(parts[1].into()),
            param: Some(parts[2].into()),
            dir: id.into(),
            times_ns: (0..10)
                .map(|i| ms * 1e6 * (1.0 + i as f64 * 0.001))
                .collect(),
            median_ns: ms * 1e6,
            modified_ns: 0,
        }
    }

    #[test]
    fn a_baseline_from_another_host_phase_is_noted() {
        let results = Results {
            root: PathBuf::from("x"),
            benches: vec![
                measured("cpu/serial/1", 100.0),
                measured("cpu/rayon/1", 80.0),
                measured("cpu/rayon/2", 40.0),
            ],
            marker: None,
        };
        let v = analyse(&results);
        let cpu = &v.workloads[0];
        assert_eq!(cpu.baseline_drift.map(|d| (d * 100.0).round()), Some(125.0));
        assert!(v
            .notes()
            .iter()
            .any(|n| n.contains("cpu/serial/1 likely ran while the host was slower")));
        // 2.5x at 2 workers, with no ceiling measured: no share of it in the sentence.
        assert_eq!(cpu.sentence, "cpu: rayon wins at 2 workers (2.50x).");
        assert_eq!(cpu.pick(), Some(("rayon".to_string(), 2)));
    }

    #[test]
    fn names_are_joined_as_in_a_sentence() {
        let n = |v: &[&str]| join_names(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(n(&["a"]), "a");
        assert_eq!(n(&["a", "b"]), "a and b");
        assert_eq!(n(&["a", "b", "c"]), "a, b and c");
    }
}
