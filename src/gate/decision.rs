//! The gate's decision rule, on a stream of paired ratios head/base.
//!
//! Each pair is one turn of each build, back to back, in a random order: a ratio of two
//! times taken milliseconds apart, which the host's slow phases (seconds) cannot split. The
//! estimate is the median ratio with its distribution-free 95% interval, and the threshold
//! T is the smallest change worth failing a build for:
//!
//! - **regressed**: the median ratio is above 1 + T and the interval excludes 1: slower by
//!   more than T, and not by chance;
//! - **improved**: the mirror image, below 1 - T with the interval below 1;
//! - **unchanged**: the whole interval lies within 1 +- T;
//! - **inconclusive**: none of these when the budget ran out (the interval straddles a
//!   threshold); it is reported and does not fail the gate.
//!
//! Measuring stops early, per benchmark, as soon as the interval lies wholly above 1 + T,
//! wholly below 1 - T, or wholly within 1 +- T: more pairs could not change the verdict.

use crate::engine::stats::{median_interval, median_rank, Estimate};
use serde::{Deserialize, Serialize};

/// What the gate concluded about one benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Slower by more than the threshold, with 95% confidence that it is slower at all.
    Regressed,
    /// Faster by more than the threshold, with 95% confidence that it is faster at all.
    Improved,
    /// The 95% interval lies within the threshold on both sides.
    Unchanged,
    /// The budget ran out with the interval straddling a threshold.
    Inconclusive,
    /// The benchmark exists on one side only.
    Missing,
}

impl Verdict {
    /// The word shown in tables.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Missing => "missing",
        }
    }
}

/// The rule's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// The threshold as a fraction: 0.03 means a 3% change.
    pub threshold: f64,
    /// Fewest pairs before an early stop: the interval of a median needs at least 6, and a
    /// few more keep one lucky streak from deciding.
    pub min_pairs: usize,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            threshold: 0.03,
            min_pairs: 20,
        }
    }
}

impl Rule {
    /// The estimate of a ratio stream: median and 95% interval.
    pub fn estimate(ratios: &[f64]) -> Estimate {
        median_interval(ratios)
    }

    /// The verdict now, if more pairs cannot change it; `None` to keep measuring.
    pub fn early(&self, ratios: &[f64]) -> Option<Verdict> {
        if ratios.len() < self.min_pairs.max(6) || median_rank(ratios.len()).is_none() {
            return None;
        }
        let e = Self::estimate(ratios);
        let (up, down) = (1.0 + self.threshold, 1.0 - self.threshold);
        if e.lo > up && e.lo > 1.0 {
            Some(Verdict::Regressed)
        } else if e.hi < down && e.hi < 1.0 {
            Some(Verdict::Improved)
        } else if e.lo >= down && e.hi <= up {
            Some(Verdict::Unchanged)
        } else {
            None
        }
    }

    /// The verdict when the budget is spent.
    pub fn last(&self, ratios: &[f64]) -> Verdict {
        if let Some(v) = self.early(ratios) {
            return v;
        }
        if median_rank(ratios.len()).is_none() {
            return Verdict::Inconclusive;
        }
        let e = Self::estimate(ratios);
        if e.median > 1.0 + self.threshold && e.lo > 1.0 {
            Verdict::Regressed
        } else if e.median < 1.0 - self.threshold && e.hi < 1.0 {
            Verdict::Improved
        } else if e.lo >= 1.0 - self.threshold && e.hi <= 1.0 + self.threshold {
            Verdict::Unchanged
        } else {
            Verdict::Inconclusive
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::SplitMix;

    /// `n` ratios around `centre`, spread uniformly over +-`spread`, with a fraction of
    /// outliers at 0.5 and 2.0 (a burst that hit one side of a pair).
    fn stream(n: usize, centre: f64, spread: f64, outliers: f64, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix::new(seed);
        (0..n)
            .map(|_| {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let o = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                if o < outliers / 2.0 {
                    0.5
                } else if o < outliers {
                    2.0
                } else {
                    centre * (1.0 + spread * (2.0 * u - 1.0))
                }
            })
            .collect()
    }

    #[test]
    fn a_constant_ratio_is_decided_early() {
        let rule = Rule::default();
        assert_eq!(rule.early(&[1.07; 20]), Some(Verdict::Regressed));
        assert_eq!(rule.early(&[0.93; 20]), Some(Verdict::Improved));
        assert_eq!(rule.early(&[1.0; 20]), Some(Verdict::Unchanged));
        // Too few pairs to decide anything.
        assert_eq!(rule.early(&[1.07; 5]), None);
        assert_eq!(rule.last(&[1.07; 5]), Verdict::Inconclusive);
    }

    #[test]
    fn noise_with_outliers_does_not_fail_an_unchanged_build() {
        let rule = Rule::default();
        for seed in 0..50 {
            let ratios = stream(200, 1.0, 0.10, 0.15, seed);
            let v = rule.last(&ratios);
            assert_ne!(v, Verdict::Regressed, "seed {seed}");
            assert_ne!(v, Verdict::Improved, "seed {seed}");
        }
    }

    #[test]
    fn a_five_percent_slowdown_is_caught_through_noise() {
        let rule = Rule::default();
        for seed in 0..50 {
            let ratios = stream(400, 1.05, 0.10, 0.15, seed);
            assert_eq!(rule.last(&ratios), Verdict::Regressed, "seed {seed}");
        }
    }

    #[test]
    fn a_bimodal_host_is_paired_away() {
        // Half the pairs ran while the host gave half speed to both sides: the ratio of a
        // pair is unchanged by it, so the verdict is too.
        let rule = Rule::default();
        let ratios: Vec<f64> = (0..100)
            .map(|i| {
                let (base, head) = if i % 2 == 0 {
                    (10.0, 10.7)
                } else {
                    (20.0, 21.4)
                };
                head / base
            })
            .collect();
        assert_eq!(rule.early(&ratios), Some(Verdict::Regressed));
    }

    #[test]
    fn an_interval_across_the_threshold_is_inconclusive() {
        let rule = Rule::default();
        // Median 1.02, interval about 1.01-1.03: neither within +-3% nor above it.
        let ratios: Vec<f64> = (0..60).map(|i| 0.98 + 0.08 * i as f64 / 59.0).collect();
        let e = Rule::estimate(&ratios);
        assert!(e.lo < 1.03 && e.hi > 1.03, "{e:?}");
        assert_eq!(rule.last(&ratios), Verdict::Inconclusive);
    }
}
