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
//! Measuring may stop early, per benchmark, but only at a few looks spaced by doubling
//! (30, 60, 120, ... pairs), and an early regressed or improved needs the 99% interval
//! wholly beyond 1 +- T (an early unchanged: the 95% interval wholly within). Peeking after
//! every pair let one run of unlucky pairs decide: on this host the pairs of a few hundred
//! milliseconds share one host phase, and a docs-only change was failed at 25 pairs on
//! dot/threads/2 (1.058 [1.035-1.170]). A regressed or improved verdict is then confirmed by
//! a second block of pairs from new processes (see `gate_one`).

use crate::engine::stats::{median_interval, median_interval_at, median_rank, Estimate};

/// What the gate concluded about one benchmark: the one decision type of parbench
/// ([`crate::verdict::Decision`]: regressed, improved, unchanged, inconclusive, missing).
pub use crate::verdict::Decision as Verdict;

/// The rule's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// The threshold as a fraction: 0.03 means a 3% change.
    pub threshold: f64,
    /// The first look for an early stop; the next looks are at twice, four times, ... as
    /// many pairs. Few looks keep the chance of a false early verdict near one look's.
    pub first_look: usize,
    /// Confidence of the interval an early regressed or improved must clear.
    pub early_confidence: f64,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            threshold: 0.03,
            first_look: 30,
            early_confidence: 0.99,
        }
    }
}

impl Rule {
    /// The estimate of a ratio stream: median and 95% interval.
    pub fn estimate(ratios: &[f64]) -> Estimate {
        median_interval(ratios)
    }

    /// True when `n` pairs is one of the looks: first_look times a power of two.
    pub fn is_look(&self, n: usize) -> bool {
        let first = self.first_look.max(6);
        n >= first && n % first == 0 && (n / first).is_power_of_two()
    }

    /// The verdict after `ratios`, if it is a look and the verdict is clear; `None` to keep
    /// measuring.
    pub fn early(&self, ratios: &[f64]) -> Option<Verdict> {
        if !self.is_look(ratios.len()) {
            return None;
        }
        self.clear(ratios)
    }

    /// The verdict if the intervals already make it clear, at any number of pairs.
    fn clear(&self, ratios: &[f64]) -> Option<Verdict> {
        // No interval of a median below 6 pairs, so nothing is clear yet.
        median_rank(ratios.len())?;
        let (up, down) = (1.0 + self.threshold, 1.0 - self.threshold);
        let strict = median_interval_at(ratios, self.early_confidence);
        let e = Self::estimate(ratios);
        if strict.lo > up && strict.lo > 1.0 {
            Some(Verdict::Regressed)
        } else if strict.hi < down && strict.hi < 1.0 {
            Some(Verdict::Improved)
        } else if e.lo >= down && e.hi <= up {
            Some(Verdict::Unchanged)
        } else {
            None
        }
    }

    /// The verdict when the budget is spent: the change rule on the 95% interval
    /// ([`Verdict::of_change`]), inconclusive where it decides nothing.
    pub fn last(&self, ratios: &[f64]) -> Verdict {
        if let Some(v) = self.clear(ratios) {
            return v;
        }
        if median_rank(ratios.len()).is_none() {
            return Verdict::Inconclusive;
        }
        Verdict::of_change(&Self::estimate(ratios), self.threshold).unwrap_or(Verdict::Inconclusive)
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
        assert_eq!(rule.early(&[1.07; 30]), Some(Verdict::Regressed));
        assert_eq!(rule.early(&[0.93; 30]), Some(Verdict::Improved));
        assert_eq!(rule.early(&[1.0; 30]), Some(Verdict::Unchanged));
        // Too few pairs to decide anything.
        assert_eq!(rule.early(&[1.07; 5]), None);
        assert_eq!(rule.last(&[1.07; 5]), Verdict::Inconclusive);
    }

    #[test]
    fn early_stops_happen_only_at_the_looks() {
        let rule = Rule::default();
        assert_eq!(rule.early(&[1.07; 29]), None);
        assert_eq!(rule.early(&[1.07; 31]), None, "not a look");
        assert_eq!(rule.early(&[1.07; 45]), None, "not a look");
        assert_eq!(rule.early(&[1.07; 60]), Some(Verdict::Regressed));
        assert_eq!(rule.early(&[1.07; 240]), Some(Verdict::Regressed));
        assert_eq!(
            rule.last(&[1.07; 31]),
            Verdict::Regressed,
            "the budget ended it"
        );
        let looks: Vec<usize> = (1..=1000).filter(|&n| rule.is_look(n)).collect();
        assert_eq!(looks, vec![30, 60, 120, 240, 480, 960]);
    }

    #[test]
    fn a_streak_of_slow_pairs_cannot_fail_an_unchanged_build_early() {
        // 20 pairs in one unlucky host phase (ratio ~1.05), then the rest around 1.0: like
        // the stream that failed a docs-only gate.
        let rule = Rule::default();
        let mut ratios: Vec<f64> = (0..20).map(|i| 1.04 + 0.001 * i as f64).collect();
        let mut rng = SplitMix::new(7);
        let mut first_25 = Vec::new();
        while ratios.len() < 300 {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            ratios.push(0.97 + 0.06 * u);
            let n = ratios.len();
            if n == 25 {
                first_25 = ratios.clone();
            }
            assert_ne!(rule.early(&ratios), Some(Verdict::Regressed), "{n} pairs");
        }
        assert_ne!(rule.last(&ratios), Verdict::Regressed);
        // A peek after every pair, at 95%, would have failed it at 25 pairs.
        let peek = Rule::estimate(&first_25);
        assert!(peek.lo > 1.0 + rule.threshold, "{peek:?}");
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
        let ratios: Vec<f64> = (0..120)
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
        let ratios: Vec<f64> = (0..61).map(|i| 0.98 + 0.08 * i as f64 / 59.0).collect();
        let e = Rule::estimate(&ratios);
        assert!(e.lo < 1.03 && e.hi > 1.03, "{e:?}");
        assert_eq!(rule.last(&ratios), Verdict::Inconclusive);
    }
}
