//! The estimators every consumer shares: medians with distribution-free 95% intervals, a
//! bootstrap for statistics of samples (Criterion's), and the Amdahl fit.
//!
//! Medians, not means: on a shared host a round that caught a half-speed burst is an
//! outlier, and one outlier moves a mean but not a median.

use serde::{Deserialize, Serialize};

/// Two-sided confidence level of every interval parbench reports.
pub const CONFIDENCE: f64 = 0.95;

/// A point estimate with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The median.
    pub median: f64,
    /// Lower bound of the 95% interval.
    pub lo: f64,
    /// Upper bound of the 95% interval.
    pub hi: f64,
}

impl Estimate {
    /// An exact value: an interval of zero width.
    pub fn exact(value: f64) -> Self {
        Estimate {
            median: value,
            lo: value,
            hi: value,
        }
    }

    /// Half the interval's width relative to the median: 0.02 means +-2%.
    pub fn relative_half_width(&self) -> f64 {
        if self.median.abs() > 0.0 && self.median.is_finite() {
            (self.hi - self.lo) / 2.0 / self.median.abs()
        } else {
            f64::INFINITY
        }
    }

    /// Half the interval's width, in the estimate's own unit.
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0
    }

    /// True when `value` lies inside the interval (bounds included).
    pub fn contains(&self, value: f64) -> bool {
        self.lo <= value && value <= self.hi
    }

    /// True when the two intervals share at least one value.
    pub fn overlaps(&self, other: &Estimate) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }

    /// The estimate with every bound mapped through an increasing function.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Estimate {
        Estimate {
            median: f(self.median),
            lo: f(self.lo),
            hi: f(self.hi),
        }
    }
}

/// The finite values of `xs`, sorted.
fn sorted_finite(xs: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    s
}

/// Median of sorted values; NaN when empty.
fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Median of the finite values of `xs`; NaN when there are none.
pub fn median(xs: &[f64]) -> f64 {
    median_sorted(&sorted_finite(xs))
}

/// The 1-based rank `j` of the order statistic that bounds the median's 95% interval from
/// below: the largest `j` with P(Binomial(n, 1/2) < j) <= 2.5%. `None` when even the
/// sample's extremes do not reach 95% coverage (n < 6).
pub fn median_rank(n: usize) -> Option<usize> {
    median_rank_at(n, CONFIDENCE)
}

/// [`median_rank`] at another `confidence` (0.99 needs n >= 8).
pub fn median_rank_at(n: usize, confidence: f64) -> Option<usize> {
    let alpha = (1.0 - confidence) / 2.0;
    // P(X = k) for X ~ Binomial(n, 1/2), summed from k = 0 in log space to stay finite.
    let ln2n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut cdf = 0.0f64; // P(X < j) for j = k + 1 after adding P(X = k)
    let mut best = 0;
    for k in 0..n {
        cdf += (ln_choose - ln2n).exp();
        if cdf <= alpha {
            best = k + 1;
        } else {
            break;
        }
        ln_choose += ((n - k) as f64).ln() - ((k + 1) as f64).ln();
    }
    (best >= 1).then_some(best)
}

/// The median of `xs` with its distribution-free 95% interval: the order statistics whose
/// ranks a Binomial(n, 1/2) puts 2.5% beyond on each side. Below 6 samples no such pair
/// exists and the interval is the sample's range (its coverage is 1 - 2^(1-n)).
pub fn median_interval(xs: &[f64]) -> Estimate {
    median_interval_at(xs, CONFIDENCE)
}

/// [`median_interval`] at another `confidence`.
pub fn median_interval_at(xs: &[f64], confidence: f64) -> Estimate {
    let s = sorted_finite(xs);
    let n = s.len();
    if n == 0 {
        return Estimate::exact(f64::NAN);
    }
    let (lo, hi) = match median_rank_at(n, confidence) {
        Some(j) => (s[j - 1], s[n - j]),
        None => (s[0], s[n - 1]),
    };
    Estimate {
        median: median_sorted(&s),
        lo,
        hi,
    }
}

/// A small deterministic generator (splitmix64) for resampling and for the order of turns:
/// reproducible from its seed, no dependency.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// A generator seeded from the clock and the process id: a fresh order every run.
    pub fn from_entropy() -> Self {
        SplitMix(crate::measure::monotonic_ns() ^ ((std::process::id() as u64) << 32))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 11) as u128 * n as u128) >> 53) as usize
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Percentile bootstrap of a statistic of one sample: `resamples` resamples with
/// replacement, the statistic of each, and the 2.5% and 97.5% points of those. `median` is
/// the statistic of the sample itself. Deterministic for a given seed.
pub fn bootstrap(
    xs: &[f64],
    resamples: usize,
    seed: u64,
    statistic: impl Fn(&[f64]) -> f64,
) -> Estimate {
    let s = sorted_finite(xs);
    if s.is_empty() {
        return Estimate::exact(f64::NAN);
    }
    let point = statistic(&s);
    let mut rng = SplitMix::new(seed);
    let mut buf = vec![0.0; s.len()];
    let mut stats: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            for slot in buf.iter_mut() {
                *slot = s[rng.below(s.len())];
            }
            statistic(&buf)
        })
        .filter(|v| v.is_finite())
        .collect();
    stats.sort_by(f64::total_cmp);
    if stats.is_empty() {
        return Estimate::exact(point);
    }
    let at = |q: f64| stats[((q * (stats.len() - 1) as f64).round() as usize).min(stats.len() - 1)];
    let alpha = (1.0 - CONFIDENCE) / 2.0;
    Estimate {
        median: point,
        lo: at(alpha),
        hi: at(1.0 - alpha),
    }
}

/// Bootstrap interval of the ratio of two independent samples' medians, `num / den`: for
/// Criterion's samples of two benchmarks that did not run paired.
pub fn bootstrap_ratio(num: &[f64], den: &[f64], resamples: usize, seed: u64) -> Estimate {
    let (a, b) = (sorted_finite(num), sorted_finite(den));
    if a.is_empty() || b.is_empty() {
        return Estimate::exact(f64::NAN);
    }
    let point = median_sorted(&a) / median_sorted(&b);
    let mut rng = SplitMix::new(seed);
    let (mut ra, mut rb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
    let mut ratios: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            for slot in ra.iter_mut() {
                *slot = a[rng.below(a.len())];
            }
            for slot in rb.iter_mut() {
                *slot = b[rng.below(b.len())];
            }
            median(&ra) / median(&rb)
        })
        .filter(|v| v.is_finite())
        .collect();
    ratios.sort_by(f64::total_cmp);
    if ratios.is_empty() {
        return Estimate::exact(point);
    }
    let at = |q: f64| ratios[(q * (ratios.len() - 1) as f64).round() as usize];
    let alpha = (1.0 - CONFIDENCE) / 2.0;
    Estimate {
        median: point,
        lo: at(alpha),
        hi: at(1.0 - alpha),
    }
}

/// Amdahl's serial fraction fitted by least squares to `(processors, speedup)` points.
///
/// Amdahl's law in time: `T(p) / T(1) = f + (1 - f) / p`, which is linear in `f`, so the
/// least-squares fit of the measured time ratios `1 / speedup` has a closed form. Points
/// at `p = 1` carry no information; non-finite or non-positive speedups are ignored. The
/// result is clamped to `0..=1`; `None` when no point has `p > 1`.
pub fn amdahl_fit(points: &[(usize, f64)]) -> Option<f64> {
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(p, s) in points {
        if p < 1 || !s.is_finite() || s <= 0.0 {
            continue;
        }
        let inv_p = 1.0 / p as f64;
        let x = 1.0 - inv_p;
        let y = 1.0 / s - inv_p;
        sxy += x * y;
        sxx += x * x;
    }
    (sxx > 0.0).then(|| (sxy / sxx).clamp(0.0, 1.0))
}

/// Amdahl's speedup on `p` processors with serial fraction `f`.
pub fn amdahl_speedup(f: f64, p: f64) -> f64 {
    1.0 / (f + (1.0 - f) / p.max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_match_binomial_tables() {
        // Published ranks for the 95% interval of a median (e.g. Conover, table A3).
        assert_eq!(median_rank(5), None);
        assert_eq!(median_rank(6), Some(1));
        assert_eq!(median_rank(10), Some(2));
        assert_eq!(median_rank(20), Some(6));
        assert_eq!(median_rank(30), Some(10));
        assert_eq!(median_rank(100), Some(40));
        // Beyond the old normal approximation's range the exact sum still works.
        assert_eq!(median_rank(10_000), Some(4902));
        // 99%: wider, and it needs more samples to exist at all.
        assert_eq!(median_rank_at(7, 0.99), None);
        assert_eq!(median_rank_at(8, 0.99), Some(1));
        assert_eq!(median_rank_at(100, 0.99), Some(37));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = SplitMix::new(7);
        let mut v: Vec<usize> = (0..50).collect();
        rng.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }
}
