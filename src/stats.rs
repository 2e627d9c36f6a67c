//! The one statistics core: every median, quantile, interval and resampling in parbench is
//! here. Medians with distribution-free 95% intervals, the blocked (cluster bootstrap)
//! interval of paired rounds, quantiles, and the Amdahl fit. The engine, the exports, the
//! verdict and the gate all call these; none has its own.
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
    #[serde(deserialize_with = "nan_if_null")]
    pub median: f64,
    /// Lower bound of the 95% interval.
    #[serde(deserialize_with = "nan_if_null")]
    pub lo: f64,
    /// Upper bound of the 95% interval.
    #[serde(deserialize_with = "nan_if_null")]
    pub hi: f64,
}

/// JSON has no NaN: serde_json writes a non-finite estimate (no round measured it, as when
/// the probe's every spinner woke after its window) as `null`, so a report read back takes
/// `null` as NaN instead of refusing the whole file.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
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
        // The wall clock's nanoseconds: the statistics core imports nothing from parbench.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        SplitMix(now ^ ((std::process::id() as u64) << 32))
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

/// Fewest finite values a cluster needs for its median to count in the spread between
/// clusters: a median of one or two rounds is mostly those rounds' own noise. Its values
/// still count in the median.
pub const MIN_CLUSTER_VALUES: usize = 3;

/// The median of per-round `values` with a 95% interval that includes the variation
/// between clusters: `block[i]` names the cluster (a block, a window of the run, a fork)
/// round i was measured in.
///
/// State that lasts a cluster (the host's phase, where the pool landed, a process's address
/// layout) moves all its rounds at once, so rounds are not independent and an interval over
/// rounds alone is too narrow. This is the batch-means interval of simulation output
/// analysis: the k clusters' medians are k draws of what one cluster says, and the median of
/// all rounds is within t(k - 1) x s / sqrt(k) of the truth, s the standard deviation of the
/// cluster medians and t Student's 97.5% point with k - 1 degrees of freedom, which is what
/// few clusters need. The interval is never narrower than the rounds' own order-statistic
/// interval ([`median_interval`]). So clusters that agree give about the rounds' width, a
/// shift in one cluster widens it, and a constant gives a point.
///
/// A cluster bootstrap preceded this (resampling whole clusters, widened by t / z). With
/// the 5 forks of a run as the clusters it drew from 126 distinct resamples and came out too
/// narrow: in ten dot runs (2026-12-07) pool's intervals overlapped in 41 of 45 pairs of
/// runs; this interval, on the same rounds, 44.
pub fn blocked_median_interval(values: &[f64], block: &[usize]) -> Estimate {
    let plain = median_interval(values);
    let medians: Vec<f64> = clusters(values, block)
        .iter()
        .filter(|g| g.len() >= MIN_CLUSTER_VALUES)
        .map(|g| median(g))
        .collect();
    let k = medians.len();
    if k < 2 || !plain.median.is_finite() {
        return plain;
    }
    // Deviations from the first median, so that equal medians give a spread of exactly 0.
    let d: Vec<f64> = medians.iter().map(|m| m - medians[0]).collect();
    let mean = d.iter().sum::<f64>() / k as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    let half = t975(k - 1) * (var / k as f64).sqrt();
    let m = plain.median;
    Estimate {
        median: m,
        lo: (m - half).min(plain.lo),
        hi: (m + half).max(plain.hi),
    }
}

/// The 97.5% point of Student's t with `df` (>= 1) degrees of freedom.
pub fn t975(df: usize) -> f64 {
    // Standard tables for 1..=30 degrees of freedom.
    const T975: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    const Z975: f64 = 1.959_964;
    let df = df.max(1);
    match T975.get(df - 1) {
        Some(t) => *t,
        // Beyond the table, the first terms of the Cornish-Fisher expansion (error < 0.001).
        None => {
            let (z, n) = (Z975, df as f64);
            z + (z.powi(3) + z) / (4.0 * n)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * n * n)
        }
    }
}

/// The most clusters the blocked interval resamples. Blocks are numbered in the order they
/// ran, and neighbouring blocks share the host's slower phases (a core at half speed for tens
/// of seconds), so hundreds of blocks are not hundreds of independent draws: treated as such
/// they give an interval that shrinks past what the next run repeats. Beyond this many,
/// consecutive blocks are pooled into this many stretches of the run (the batch-means method
/// of simulation output analysis), so a drift over the run stays in the interval however
/// many rounds a configuration gets.
pub const MAX_CLUSTERS: usize = 10;

/// The finite values of each block, blocks with none left out; beyond [`MAX_CLUSTERS`],
/// consecutive blocks (in block-number order) pooled into that many of nearly equal size.
fn clusters(values: &[f64], block: &[usize]) -> Vec<Vec<f64>> {
    let mut ids: Vec<usize> = block.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut groups = vec![Vec::new(); ids.len()];
    for (v, id) in values.iter().zip(block) {
        if v.is_finite() {
            let at = ids.binary_search(id).expect("id listed above");
            groups[at].push(*v);
        }
    }
    groups.retain(|g| !g.is_empty());
    let b = groups.len();
    if b <= MAX_CLUSTERS {
        return groups;
    }
    let mut pooled = vec![Vec::new(); MAX_CLUSTERS];
    for (i, g) in groups.into_iter().enumerate() {
        pooled[i * MAX_CLUSTERS / b].extend(g);
    }
    pooled
}

/// The `q` point of sorted values, by the nearest rank.
fn percentile_sorted(s: &[f64], q: f64) -> f64 {
    s[((q * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)]
}

/// The `q` quantile (0..=1) of the finite values of `xs`, by the nearest rank; NaN when
/// there are none.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let s = sorted_finite(xs);
    if s.is_empty() {
        f64::NAN
    } else {
        percentile_sorted(&s, q.clamp(0.0, 1.0))
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

    /// Rounds from `blocks` blocks of `per` rounds each: block b's values are `shift(b)` plus
    /// a fixed, reproducible spread of +-5%.
    fn blocked(blocks: usize, per: usize, shift: impl Fn(usize) -> f64) -> (Vec<f64>, Vec<usize>) {
        let mut rng = SplitMix::new(11);
        let (mut values, mut ids) = (Vec::new(), Vec::new());
        for b in 0..blocks {
            for _ in 0..per {
                let noise = (rng.below(1001) as f64 / 1000.0 - 0.5) * 0.1;
                values.push(shift(b) + noise);
                ids.push(b);
            }
        }
        (values, ids)
    }

    #[test]
    fn blocks_that_agree_give_about_the_rounds_own_width() {
        let (v, ids) = blocked(8, 10, |_| 1.0);
        let plain = median_interval(&v);
        let blocked = blocked_median_interval(&v, &ids);
        assert_eq!(blocked.median, plain.median);
        let ratio = (blocked.hi - blocked.lo) / (plain.hi - plain.lo);
        assert!(
            (1.0..1.8).contains(&ratio),
            "{ratio}: {blocked:?} vs {plain:?}"
        );
    }

    #[test]
    fn a_shift_in_some_blocks_widens_the_interval_over_the_rounds_alone() {
        // Three of eight blocks ran 10% high (a slow phase, a pool on a busy core): the
        // rounds alone cannot see that their blocks moved together.
        let (v, ids) = blocked(8, 10, |b| if b % 3 == 0 { 1.1 } else { 1.0 });
        let plain = median_interval(&v);
        let blocked = blocked_median_interval(&v, &ids);
        assert!(
            blocked.hi - blocked.lo > 1.5 * (plain.hi - plain.lo),
            "{blocked:?} vs {plain:?}"
        );
        assert!(blocked.contains(blocked.median));
        // The same values as one block: no between-block information, the rounds' interval.
        let one = blocked_median_interval(&v, &vec![0; v.len()]);
        assert_eq!(one, plain);
    }

    #[test]
    fn a_report_with_a_non_finite_estimate_reads_back() {
        let json = serde_json::to_string(&Estimate::exact(f64::NAN)).unwrap();
        assert_eq!(json, r#"{"median":null,"lo":null,"hi":null}"#);
        let back: Estimate = serde_json::from_str(&json).unwrap();
        assert!(back.median.is_nan() && back.lo.is_nan() && back.hi.is_nan());
    }

    #[test]
    fn t_is_wider_for_fewer_clusters_and_tends_to_z() {
        assert_eq!(t975(4), 2.776);
        assert!(t975(5) > t975(9));
        // Table and expansion meet smoothly at 30 / 31 degrees of freedom.
        assert!((t975(30) - t975(31)).abs() < 0.01);
        assert!((t975(10_000) - 1.96).abs() < 0.001);
    }

    #[test]
    fn the_interval_is_t_times_the_standard_error_of_the_cluster_medians() {
        // Five clusters (forks) whose medians are 0.96, 0.97, 0.98, 0.99, 1.00: mean 0.98,
        // s = 0.0158, so +-2.776 x 0.0158 / sqrt(5) = +-0.0196 around the median of all.
        let mut v = Vec::new();
        let mut ids = Vec::new();
        for (k, m) in [0.96, 0.97, 0.98, 0.99, 1.00].into_iter().enumerate() {
            for d in [-0.001, 0.0, 0.001] {
                v.push(m + d);
                ids.push(k);
            }
        }
        let e = blocked_median_interval(&v, &ids);
        let half = 2.776 * (0.00025f64).sqrt() / 5f64.sqrt();
        assert!((e.median - 0.98).abs() < 1e-12, "{e:?}");
        assert!((e.hi - (0.98 + half)).abs() < 1e-9, "{e:?}");
        assert!((e.lo - (0.98 - half)).abs() < 1e-9, "{e:?}");
        // A cluster of two rounds does not count in the spread (its values do in the median).
        v.extend([2.0, 2.0]);
        ids.extend([9, 9]);
        let with_small = blocked_median_interval(&v, &ids);
        assert!(with_small.hi - with_small.lo < 0.1, "{with_small:?}");
    }

    #[test]
    fn a_drift_over_many_blocks_stays_in_the_interval() {
        // 200 blocks whose level drifts by 4% over the run (a host phase that outlasts many
        // blocks): as 200 independent clusters the interval would shrink to a sliver that the
        // next run, in another phase, misses; pooled into stretches of the run it keeps the
        // drift.
        let (v, ids) = blocked(200, 3, |b| 1.0 + 0.04 * b as f64 / 200.0);
        let drifting = blocked_median_interval(&v, &ids);
        let plain = median_interval(&v);
        assert!(
            drifting.hi - drifting.lo > 1.5 * (plain.hi - plain.lo),
            "{drifting:?} vs {plain:?}"
        );
        assert!(drifting.contains(1.02), "{drifting:?}");
        // Without a drift, more blocks still narrow it: the stretches agree.
        let (flat, flat_ids) = blocked(200, 3, |_| 1.0);
        let few = blocked(10, 3, |_| 1.0);
        let many = blocked_median_interval(&flat, &flat_ids);
        let ten = blocked_median_interval(&few.0, &few.1);
        assert!(
            many.hi - many.lo < 0.5 * (ten.hi - ten.lo),
            "{many:?} vs {ten:?}"
        );
    }

    #[test]
    fn pooling_keeps_every_value_and_the_order_of_blocks() {
        let values: Vec<f64> = (0..60).map(|i| i as f64).collect();
        let ids: Vec<usize> = (0..60).map(|i| i / 2).collect();
        let groups = clusters(&values, &ids);
        assert_eq!(groups.len(), MAX_CLUSTERS);
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 60);
        // Each stretch holds consecutive blocks: its values follow the previous stretch's.
        for pair in groups.windows(2) {
            let last = pair[0].iter().copied().fold(f64::MIN, f64::max);
            let first = pair[1].iter().copied().fold(f64::MAX, f64::min);
            assert!(last < first, "{pair:?}");
        }
    }

    #[test]
    fn a_constant_ratio_in_every_block_is_a_point() {
        let v = vec![0.97; 40];
        let ids: Vec<usize> = (0..40).map(|i| i / 5).collect();
        assert_eq!(blocked_median_interval(&v, &ids), Estimate::exact(0.97));
    }

    #[test]
    fn the_blocked_interval_is_reproducible_and_ignores_non_finite_rounds() {
        let (mut v, mut ids) = blocked(6, 5, |b| 1.0 + 0.01 * b as f64);
        let a = blocked_median_interval(&v, &ids);
        assert_eq!(a, blocked_median_interval(&v, &ids));
        v.push(f64::NAN);
        ids.push(99);
        let b = blocked_median_interval(&v, &ids);
        assert!(
            b.lo.is_finite() && b.hi.is_finite() && b.median.is_finite(),
            "{b:?}"
        );
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
