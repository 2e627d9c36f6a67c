//! `overhead` group: what each executor costs apart from the work.
//!
//! - `overhead/dispatch/<executor>/<W>`: a batch of [`DISPATCH_TASKS`] empty tasks on a warm
//!   pool of W; divide by [`DISPATCH_TASKS`] for the cost of dispatching one task.
//! - `overhead/start_stop/<executor>/<W>`: start a pool of W, run W empty tasks on it (so a
//!   lazily started worker really starts), stop it; every executor that scales.
//! - `overhead/roundtrip/process/<bytes>`: one task carrying 0 B, 64 KiB or 16 MiB to a warm
//!   worker process and back, with byte throughput. Left out while no `process` executor is
//!   registered.

use super::config::{self, knobs};
use super::sweep::{self, check, LazyFixture, Point};
use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use parbench::executor::EXECUTORS;
use std::time::{Duration, Instant};

/// The group's name, the first part of every id.
const GROUP: &str = "overhead";

/// Empty tasks per dispatch batch: enough that every worker of the largest default pool gets
/// several, so the figure is the steady per-task cost, not one wake-up.
pub const DISPATCH_TASKS: usize = 64;

/// Round-trip payloads: nothing (pure latency), one default pipe buffer, one io task's text.
pub const ROUND_TRIP_PAYLOADS: &[u64] = &[0, 64 << 10, 16 << 20];

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group(GROUP);
    config::apply(&mut group, knobs().profile.overhead());
    // Throughput sticks to a group once set, so the benches without one come first.
    start_stop(&mut group);
    dispatch(&mut group);
    round_trip(&mut group);
    group.finish();
}

fn start_stop(group: &mut BenchmarkGroup<'_, WallTime>) {
    for point in sweep::scaling_points() {
        let fixture = LazyFixture::noop(point.workers, 0);
        let id = BenchmarkId::new(format!("start_stop/{}", point.name()), point.workers);
        let what = format!("{GROUP}/start_stop/{}/{}", point.name(), point.workers);
        group.bench_with_input(id, &point, |b, point| {
            let fixture = fixture.get();
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let mut pool = point.start();
                    let batch = pool.run(&fixture.job);
                    drop(pool);
                    total += started.elapsed();
                    let batch = batch.unwrap_or_else(|e| panic!("{what}: {e}"));
                    check(fixture, &batch, &what);
                }
                total
            });
        });
    }
}

fn dispatch(group: &mut BenchmarkGroup<'_, WallTime>) {
    let fixture = LazyFixture::noop(DISPATCH_TASKS, 0);
    if knobs().throughput {
        group.throughput(Throughput::Elements(DISPATCH_TASKS as u64));
    }
    for point in sweep::points() {
        let function = format!("dispatch/{}", point.name());
        sweep::bench_warm(
            group,
            GROUP,
            function,
            point.workers as u64,
            point,
            &fixture,
        );
    }
}

fn round_trip(group: &mut BenchmarkGroup<'_, WallTime>) {
    let Some(process) = EXECUTORS.iter().find(|e| e.name == "process") else {
        return;
    };
    let point = Point {
        executor: process,
        workers: 1,
    };
    for &payload in ROUND_TRIP_PAYLOADS {
        let fixture = LazyFixture::noop(1, payload);
        group.throughput(Throughput::Bytes(payload));
        let function = format!("roundtrip/{}", point.name());
        sweep::bench_warm(group, GROUP, function, payload, point, &fixture);
    }
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = overhead
}
