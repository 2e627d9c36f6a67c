//! Paired rounds: a baseline batch, the executor's batch and the ceiling probe, back to back
//! in a random order, repeated until the speedup's interval is narrow or the budget is spent.
//!
//! A round lasts tens of milliseconds, shorter than the host's slow phases (seconds), so the
//! three members of a round see the same host: their ratios hold when their times do not.

use super::probe::CeilingProbe;
use super::stats::{self, Estimate, SplitMix};
use super::{Bench, Measured, Prepared};
use crate::error::{Result, UsageError};
use std::time::{Duration, Instant};

/// Most rounds a configuration may take, whatever the budget: a bound on memory (the same
/// bound as `--repeat`).
pub const MAX_ROUNDS: usize = crate::validate::MAX_REPEAT;
/// Longest budget per configuration accepted, in seconds.
pub const MAX_BUDGET_S: f64 = 3600.0;

/// When to stop measuring a configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Never fewer rounds than this (`--repeat`).
    pub min_rounds: usize,
    /// Stop when the 95% intervals of the speedup and of the efficiency vs ceiling are both
    /// within +-this of their medians (0.02 = 2%): the second is the figure to read when the
    /// host wavers, so it must be as sure as the first.
    pub target_half_width: f64,
    /// Time budget per configuration, rounds included, start-up excluded (`--budget-s`).
    pub budget: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_rounds: 5,
            target_half_width: 0.02,
            budget: Duration::from_secs(2),
        }
    }
}

impl Policy {
    /// A policy from the user's numbers, checked against the documented bounds.
    pub fn new(min_rounds: usize, budget_s: f64) -> Result<Policy, UsageError> {
        crate::validate::repeat(min_rounds)?;
        if !(budget_s.is_finite() && (0.0..=MAX_BUDGET_S).contains(&budget_s)) {
            return Err(UsageError::new(format!(
                "budget {budget_s} s must be 0..={MAX_BUDGET_S}"
            )));
        }
        Ok(Policy {
            min_rounds,
            budget: Duration::from_secs_f64(budget_s),
            ..Policy::default()
        })
    }

    /// True when no more rounds are needed after `done` rounds taking `spent`, with these
    /// `estimates` (each must be narrow enough).
    pub fn done(&self, done: usize, spent: Duration, estimates: &[Estimate]) -> bool {
        if done < self.min_rounds {
            return false;
        }
        done >= MAX_ROUNDS
            || spent >= self.budget
            || (stats::median_rank(done).is_some()
                && estimates
                    .iter()
                    .all(|e| e.relative_half_width() <= self.target_half_width))
    }
}

/// What a configuration's rounds measured.
#[derive(Debug, Default)]
pub struct Rounds {
    /// Baseline batch wall times, one per round.
    pub baseline_s: Vec<f64>,
    /// The executor's batches, one per round.
    pub batches: Vec<Measured>,
    /// Ceiling per round (1.0 where c = 1).
    pub ceiling: Vec<f64>,
    representative: Option<usize>,
}

impl Rounds {
    /// Number of rounds.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// True before the first round.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Per-round speedups, baseline_i / executor_i.
    pub fn speedups(&self) -> Vec<f64> {
        self.baseline_s
            .iter()
            .zip(&self.batches)
            .map(|(b, e)| b / e.batch.wall_s)
            .collect()
    }

    /// Median speedup over rounds, with its interval.
    pub fn speedup(&self) -> Estimate {
        stats::median_interval(&self.speedups())
    }

    /// Median ceiling over rounds, with its interval.
    pub fn ceiling(&self) -> Estimate {
        stats::median_interval(&self.ceiling)
    }

    /// Median over rounds of speedup_i / ceiling_i, with its interval.
    pub fn efficiency_vs_ceiling(&self) -> Estimate {
        let per_round: Vec<f64> = self
            .speedups()
            .iter()
            .zip(&self.ceiling)
            .map(|(s, c)| s / c)
            .collect();
        stats::median_interval(&per_round)
    }

    /// Rounds in which the host delivered under `share` of `cores` (for the host note).
    pub fn short_rounds(&self, cores: usize, share: f64) -> usize {
        self.ceiling
            .iter()
            .filter(|&&c| c < share * cores as f64)
            .count()
    }

    /// The round whose executor batch was closest to the running median wall time when it
    /// was measured: the representative batch for timelines and counters. Only it keeps its
    /// task records, so memory stays in proportion to one batch however many rounds run.
    pub fn representative(&self) -> Option<&Measured> {
        self.representative.map(|i| &self.batches[i])
    }

    /// Moves the representative to the newest batch if it is closer to the running median,
    /// and drops the task records of the batch that lost.
    fn keep_representative(&mut self) {
        let newest = self.len() - 1;
        let walls: Vec<f64> = self.batches.iter().map(|m| m.batch.wall_s).collect();
        let median = stats::median(&walls);
        let distance = |i: usize| (walls[i] - median).abs();
        let loser = match self.representative {
            Some(kept) if distance(kept) <= distance(newest) => newest,
            Some(kept) => {
                self.representative = Some(newest);
                kept
            }
            None => {
                self.representative = Some(newest);
                return;
            }
        };
        self.batches[loser].batch.records = Vec::new();
    }
}

/// The three members of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Baseline,
    Executor,
    Probe,
}

/// A random order of the round's members in which the baseline and the executor's batch are
/// next to each other (their ratio is the speedup, so nothing runs between them) and the probe
/// comes first or last: 4 orders, equally likely.
fn round_order(rng: &mut SplitMix) -> [Member; 3] {
    let mut pair = [Member::Baseline, Member::Executor];
    rng.shuffle(&mut pair);
    if rng.next_u64() & 1 == 0 {
        [Member::Probe, pair[0], pair[1]]
    } else {
        [pair[0], pair[1], Member::Probe]
    }
}

/// Runs paired rounds of `prepared` against the bench's baseline until `policy` is met.
/// `on_round` hears the number of rounds done after each.
pub fn measure(
    bench: &mut Bench,
    prepared: &mut Prepared,
    probe: &CeilingProbe,
    policy: &Policy,
    rng: &mut SplitMix,
    on_round: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<Rounds> {
    let mut rounds = Rounds::default();
    let started = Instant::now();
    loop {
        let order = round_order(rng);
        let (mut baseline, mut batch, mut speeds) = (None, None, None);
        let mut tasks = Vec::new();
        for member in order {
            match member {
                Member::Baseline => {
                    let m = bench.run_baseline()?;
                    tasks = m.batch.records.iter().map(|r| r.duration_s()).collect();
                    baseline = Some(m.batch.wall_s);
                }
                Member::Executor => batch = Some(bench.run(prepared)?),
                Member::Probe => {
                    // As long as a perfectly parallel batch: the serial batch's time over c.
                    let serial_s = baseline
                        .or_else(|| rounds.baseline_s.last().copied())
                        .unwrap_or(bench.reference_wall_s);
                    let window = super::probe_window(serial_s / probe.cores() as f64);
                    speeds = Some(probe.measure(window, rng.next_u64() & 1 == 0)?);
                }
            }
        }
        let (Some(b), Some(mut m), Some(speeds)) = (baseline, batch, speeds) else {
            unreachable!("every member ran");
        };
        let c = super::probe::ceiling(&tasks, &speeds);
        // Checked already: the outputs (a product matrix per dot task) are not kept.
        m.batch.results = Vec::new();
        rounds.baseline_s.push(b);
        rounds.batches.push(m);
        rounds.ceiling.push(c);
        rounds.keep_representative();
        on_round(rounds.len())?;
        let estimates = [rounds.speedup(), rounds.efficiency_vs_ceiling()];
        if policy.done(rounds.len(), started.elapsed(), &estimates) {
            break;
        }
    }
    Ok(rounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Batch, Counters};

    /// Rounds made of (baseline s, executor s, ceiling) triples.
    fn rounds(triples: &[(f64, f64, f64)]) -> Rounds {
        let mut r = Rounds::default();
        for &(b, e, c) in triples {
            r.baseline_s.push(b);
            r.batches.push(Measured {
                batch: Batch {
                    results: Vec::new(),
                    records: Vec::new(),
                    wall_s: e,
                    counters: Counters::default(),
                },
                cpu_s: 0.0,
            });
            r.ceiling.push(c);
            r.keep_representative();
        }
        r
    }

    #[test]
    fn a_constant_ratio_is_estimated_exactly() {
        let r = rounds(&[(0.020, 0.010, 2.0); 30]);
        assert_eq!(r.speedup(), Estimate::exact(2.0));
        assert_eq!(r.ceiling(), Estimate::exact(2.0));
        assert_eq!(r.efficiency_vs_ceiling(), Estimate::exact(1.0));
        assert_eq!(r.short_rounds(2, 0.9), 0);
    }

    #[test]
    fn a_bimodal_host_moves_the_speedup_but_not_the_efficiency_vs_ceiling() {
        // Rounds alternate between two free cores (ceiling 2.0, speedup 1.9) and two vCPUs
        // sharing one core (ceiling 1.0, speedup 0.95): the executor is at 95% either way.
        let triples: Vec<(f64, f64, f64)> = (0..40)
            .map(|i| {
                if i % 3 == 0 {
                    (0.020, 0.020 / 0.95, 1.0)
                } else {
                    (0.020, 0.020 / 1.9, 2.0)
                }
            })
            .collect();
        let r = rounds(&triples);
        let e = r.efficiency_vs_ceiling();
        assert!(
            (e.median - 0.95).abs() < 1e-9 && e.lo > 0.949 && e.hi < 0.951,
            "{e:?}"
        );
        // The plain speedup's interval reaches into the one-core rounds.
        let s = r.speedup();
        assert!((s.median - 1.9).abs() < 1e-9, "{s:?}");
        assert_eq!(r.short_rounds(2, 0.9), 14);
        assert!(crate::engine::sweep::host_note(14, 40, &[2])
            .unwrap()
            .contains("under 1.8 cores in 35% of rounds"));
        assert_eq!(crate::engine::sweep::host_note(4, 40, &[2]), None);
    }

    #[test]
    fn outliers_do_not_move_the_median() {
        // One round in five caught a burst on the executor's batch only (twice as slow).
        let triples: Vec<(f64, f64, f64)> = (0..50)
            .map(|i| {
                let e = if i % 5 == 0 { 0.020 } else { 0.010 };
                (0.019 + 0.002 * (i % 2) as f64, e, 2.0)
            })
            .collect();
        let r = rounds(&triples);
        let s = r.speedup();
        assert!(s.median > 1.85 && s.median < 2.15, "{s:?}");
        assert!(s.lo > 1.8, "{s:?}");
        // The representative batch is a typical one, not an outlier.
        assert_eq!(r.representative().unwrap().batch.wall_s, 0.010);
    }

    #[test]
    fn the_baseline_and_the_batch_are_always_adjacent_and_every_such_order_occurs() {
        let mut rng = SplitMix::new(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let o = round_order(&mut rng);
            let at = |m: Member| o.iter().position(|&x| x == m).unwrap();
            assert_eq!(
                at(Member::Baseline).abs_diff(at(Member::Executor)),
                1,
                "{o:?}"
            );
            seen.insert(format!("{o:?}"));
        }
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn the_policy_waits_for_min_rounds_then_the_target_or_the_budget() {
        let p = Policy::new(5, 2.0).unwrap();
        let narrow = Estimate {
            median: 1.9,
            lo: 1.89,
            hi: 1.91,
        };
        let wide = Estimate {
            median: 1.9,
            lo: 1.5,
            hi: 2.0,
        };
        let second = Duration::from_secs(1);
        assert!(
            !p.done(4, second, &[narrow]),
            "never fewer than --repeat rounds"
        );
        assert!(
            !p.done(5, second, &[narrow]),
            "no interval of a median from 5 rounds"
        );
        assert!(p.done(6, second, &[narrow, narrow]));
        assert!(!p.done(30, second, &[wide]));
        assert!(
            !p.done(30, second, &[narrow, wide]),
            "every estimate must be narrow"
        );
        assert!(p.done(30, 2 * second, &[narrow, wide]), "budget spent");
        assert!(Policy::new(0, 1.0).is_err());
        assert!(Policy::new(MAX_ROUNDS + 1, 1.0).is_err());
        assert!(Policy::new(5, -1.0).is_err());
        assert!(Policy::new(5, f64::NAN).is_err());
        assert!(Policy::new(5, MAX_BUDGET_S + 1.0).is_err());
    }
}
