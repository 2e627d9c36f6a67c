//! What a tracking service (Bencher, github-action-benchmark) receives, in one place: values
//! that are finite, bounds that hold their value, and series names that say what was measured.
//!
//! **No null, no non-finite value.** Both services take a file whole or not at all: Bencher
//! refuses a file in which one `value` is null, and github-action-benchmark reads null as 0.
//! serde_json writes NaN and the infinities as null, and a NaN reaches a report whenever an
//! estimator had nothing to work on (an empty sample, a zero time). So a measure whose value
//! is not finite is left out. A bound that is not finite, or lies on the wrong side of its
//! value, is left out alone: the value is still what was measured, and the services take a
//! value without bounds.
//!
//! **One series, one kind of result.** A service keeps one history per name, so the name
//! carries everything that changes what is measured: where the result comes from (`run`,
//! `bench` for the Criterion suite, `gate`), the profile, and the settings that change the
//! work (tasks, size, inner threads, other workload flags). Two results that differ in any of
//! these never share a series.

use crate::engine::stats::Estimate;
use crate::report::{RunResult, Spread};
use crate::workload::Overrides;

/// A value fit for a tracking service: finite, with the bounds that hold it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// The value.
    pub value: f64,
    /// A finite lower bound, at most the value.
    pub lower: Option<f64>,
    /// A finite upper bound, at least the value.
    pub upper: Option<f64>,
}

impl Metric {
    /// `value` with the bounds that are finite and on their side of it; `None` when `value`
    /// itself is not finite.
    pub fn new(value: f64, lower: Option<f64>, upper: Option<f64>) -> Option<Metric> {
        if !value.is_finite() {
            return None;
        }
        Some(Metric {
            value,
            lower: lower.filter(|l| l.is_finite() && *l <= value),
            upper: upper.filter(|u| u.is_finite() && *u >= value),
        })
    }

    /// A bare value, without bounds.
    pub fn bare(value: f64) -> Option<Metric> {
        Metric::new(value, None, None)
    }

    /// An estimate: its median, bounded by its 95% interval.
    pub fn of(e: Estimate) -> Option<Metric> {
        Metric::new(e.median, Some(e.lo), Some(e.hi))
    }

    /// Wall times over rounds, times `scale` (1e9 for ns, 1e3 for ms): the median, bounded by
    /// the fastest and the slowest round.
    pub fn of_spread(s: Spread, scale: f64) -> Option<Metric> {
        Metric::new(s.median * scale, Some(s.min * scale), Some(s.max * scale))
    }

    /// `1.92 [1.73-1.95]` with both bounds, else the value alone, to `digits` decimals.
    pub fn text(&self, digits: usize) -> String {
        match (self.lower, self.upper) {
            (Some(lo), Some(hi)) if lo < hi => {
                format!("{:.digits$} [{lo:.digits$}-{hi:.digits$}]", self.value)
            }
            _ => format!("{:.digits$}", self.value),
        }
    }

    /// github-action-benchmark's `range`: `± x`, x the larger distance from the value to a
    /// bound, so that value ± x holds both; `None` without bounds.
    pub fn range(&self) -> Option<String> {
        let spread = [
            self.lower.map(|l| self.value - l),
            self.upper.map(|u| u - self.value),
        ]
        .into_iter()
        .flatten()
        .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))))?;
        Some(format!("± {}", significant(spread)))
    }
}

/// `x` to three significant digits, without an exponent: `0.0123`, `1.23`, `123`.
fn significant(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let digits = (2 - x.abs().log10().floor() as i64).max(0) as usize;
    format!("{x:.digits$}")
}

/// Where a series' results come from: each measures in its own way, so their series never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `parbench run`: paired rounds.
    Run,
    /// The Criterion suite (`cargo bench`), read back by `parbench report`.
    Bench,
    /// `parbench gate`: paired turns of two builds.
    Gate,
}

impl Source {
    fn tag(self) -> &'static str {
        match self {
            Source::Run => "run",
            Source::Bench => "bench",
            Source::Gate => "gate",
        }
    }
}

/// The series name: `<id> [<source> <tags...>]`, e.g.
/// `cpu/threads/2 [run quick tasks=8 size=625000]`.
pub fn series_name(id: &str, source: Source, tags: &[String]) -> String {
    let mut all = vec![source.tag().to_string()];
    all.extend(tags.iter().cloned());
    format!("{id} [{}]", all.join(" "))
}

/// The series of one `parbench run` row: the run's profile and workload flags
/// ([`Overrides::series_tags`]), then the row's own tasks, size and inner threads.
pub fn run_series(r: &RunResult, flags: &Overrides) -> String {
    let mut tags = flags.series_tags();
    tags.push(format!("tasks={}", r.tasks));
    tags.push(format!("size={}", r.size));
    if r.inner_threads > 1 {
        tags.push(format!("inner={}", r.inner_threads));
    }
    series_name(&r.id().to_string(), Source::Run, &tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_value_no_metric_and_bad_bounds_go_alone() {
        assert_eq!(Metric::new(f64::NAN, Some(1.0), Some(2.0)), None);
        assert_eq!(Metric::new(f64::INFINITY, None, None), None);
        assert_eq!(Metric::of(Estimate::exact(f64::NAN)), None);
        let m = Metric::new(2.0, Some(f64::NAN), Some(1.5)).unwrap();
        assert_eq!(
            (m.lower, m.upper),
            (None, None),
            "NaN and wrong-side bounds go"
        );
        let m = Metric::new(2.0, Some(2.5), Some(f64::INFINITY)).unwrap();
        assert_eq!((m.lower, m.upper), (None, None));
        let m = Metric::new(2.0, Some(1.0), Some(2.0)).unwrap();
        assert_eq!(
            (m.lower, m.upper),
            (Some(1.0), Some(2.0)),
            "a bound may equal the value"
        );
    }

    #[test]
    fn a_range_holds_both_bounds() {
        let m = Metric::new(10.0, Some(9.0), Some(10.5)).unwrap();
        assert_eq!(m.range().as_deref(), Some("± 1.00"));
        let m = Metric::new(0.5, None, Some(0.5123)).unwrap();
        assert_eq!(m.range().as_deref(), Some("± 0.0123"));
        assert_eq!(Metric::bare(3.0).unwrap().range(), None);
        assert_eq!(Metric::bare(3.0).unwrap().text(2), "3.00");
        assert_eq!(
            Metric::new(1.92, Some(1.731), Some(1.95)).unwrap().text(2),
            "1.92 [1.73-1.95]"
        );
    }

    #[test]
    fn every_flag_that_changes_the_work_is_in_the_name() {
        let r = crate::export::tests::row("api", "threads", 2);
        let flags = Overrides {
            profile: Some(crate::workload::Profile::Full),
            latency_ms: Some(5),
            server: Some(crate::workload::ServerKind::Keepalive),
            timeout_ms: Some(100),
            ..Overrides::default()
        };
        assert_eq!(
            run_series(&r, &flags),
            "api/threads/2 [run full latency_ms=5 server=keepalive tasks=8 size=1000]"
        );
        assert_eq!(
            run_series(&r, &Overrides::default()),
            "api/threads/2 [run quick tasks=8 size=1000]"
        );
    }

    #[test]
    fn sources_never_share_a_name() {
        let tags = ["quick".to_string()];
        let names: Vec<String> = [Source::Run, Source::Bench, Source::Gate]
            .into_iter()
            .map(|s| series_name("cpu/rayon/2", s, &tags))
            .collect();
        assert_eq!(names[0], "cpu/rayon/2 [run quick]");
        assert_ne!(names[0], names[1]);
        assert_ne!(names[1], names[2]);
    }
}
