//! `ceiling` group: what this host delivers to a perfect executor, so the verdict page can
//! tell "the executor is slow" apart from "the host gave fewer cores than it has".
//!
//! `ceiling/<W>`: c = min(W, cores) pre-started spinner threads share one cpu batch's work
//! (the profile's cpu tasks x loop steps) evenly, with no queue, no checks and one wake-up.
//! The host's ceiling at W is time(ceiling/1) / time(ceiling/W): 2.0 on two free cores,
//! less when a vCPU runs slow or both share one core.

use super::config::{self, knobs};
use super::sweep;
use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode};
use parbench::engine::probe::{self, CeilingProbe};
use std::time::Duration;

/// Loop steps of one cpu batch in this profile: the probe does the same amount of work.
pub fn steps() -> u64 {
    let p = sweep::workload_params("cpu");
    p.tasks as u64 * p.size
}

fn ceiling(c: &mut Criterion) {
    let steps = steps();
    let cores = parbench::system::available_cores();
    let mut group = c.benchmark_group(parbench::verdict::CEILING_GROUP);
    config::apply(&mut group, knobs().profile.work());
    // One iteration is a whole batch's worth of work, as in the workload groups.
    group.sampling_mode(SamplingMode::Flat);
    for &w in &knobs().workers {
        let spinners = w.min(cores);
        let mut probe: Option<CeilingProbe> = None;
        group.bench_with_input(BenchmarkId::from_parameter(w), &spinners, |b, &c| {
            // Started outside the timed region, once, and reused by every sample.
            let probe = probe.get_or_insert_with(|| {
                CeilingProbe::start(c, &super::sweep::options(w).placement, probe::loop_unit())
                    .unwrap_or_else(|e| panic!("ceiling/{w}: cannot start {c} spinners: {e}"))
            });
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += probe
                        .fixed_work(steps)
                        .unwrap_or_else(|e| panic!("ceiling/{w}: {e}"));
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = ceiling
}
