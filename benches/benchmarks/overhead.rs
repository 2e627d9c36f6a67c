//! Overhead groups: what each executor costs apart from the work. One Criterion group per
//! kind, so each group's summary compares like with like and its index table lines up.
//!
//! - `overhead_dispatch/<executor>/<W>`: a batch of [`DISPATCH_TASKS`] empty tasks on a warm
//!   pool of W; divide by [`DISPATCH_TASKS`] for the cost of dispatching one task.
//! - `overhead_start_stop/<executor>/<W>`: start a pool of W, run W empty tasks on it (so a
//!   lazily started worker really starts), stop it; every executor that scales.
//! - `overhead_roundtrip/process/<bytes>`: one task carrying 0 B, 64 KiB or 16 MiB to a warm
//!   worker process and back; byte throughput for the two payloads (a 0-byte payload has
//!   none to report). Left out while no `process` executor is registered.

use super::config::{self, knobs};
use super::sweep::{self, check, LazyFixture, Point};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, AxisScale, BenchmarkGroup, BenchmarkId, Criterion, PlotConfiguration,
    Throughput,
};
use parbench::executor::EXECUTORS;
use std::time::{Duration, Instant};

/// Group names, the first part of every id.
const DISPATCH: &str = "overhead_dispatch";
/// See [`DISPATCH`].
const START_STOP: &str = "overhead_start_stop";
/// See [`DISPATCH`].
const ROUND_TRIP: &str = "overhead_roundtrip";

/// Empty tasks per dispatch batch: enough that every worker of the largest default pool gets
/// several, so the figure is the steady per-task cost, not one wake-up.
pub const DISPATCH_TASKS: usize = 64;

/// Round-trip payloads: nothing (pure latency), one default pipe buffer, one io task's text.
pub const ROUND_TRIP_PAYLOADS: &[u64] = &[0, 64 << 10, 16 << 20];

/// A group with the overhead timing.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    config::apply(&mut group, knobs().profile.overhead());
    group
}

fn start_stop(c: &mut Criterion) {
    let mut group = group(c, START_STOP);
    for point in sweep::scaling_points() {
        let fixture = LazyFixture::noop(point.workers, 0);
        let id = BenchmarkId::new(point.name(), point.workers);
        let what = format!("{START_STOP}/{}/{}", point.name(), point.workers);
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
                    check(&fixture, &batch, &what);
                }
                total
            });
        });
    }
    group.finish();
}

fn dispatch(c: &mut Criterion) {
    let mut group = group(c, DISPATCH);
    let fixture = LazyFixture::noop(DISPATCH_TASKS, 0);
    if knobs().throughput {
        group.throughput(Throughput::Elements(DISPATCH_TASKS as u64));
    }
    for point in sweep::native_points() {
        sweep::bench_warm(
            &mut group,
            DISPATCH,
            point.name().to_string(),
            point.workers as u64,
            point,
            &fixture,
        );
    }
    group.finish();
}

fn round_trip(c: &mut Criterion) {
    let Some(process) = EXECUTORS.iter().find(|e| e.name == "process") else {
        return;
    };
    let point = Point {
        executor: process,
        workers: 1,
    };
    let mut group = group(c, ROUND_TRIP);
    // Payloads span three decades of time (about 20 us to 5 ms here): a log axis keeps the
    // small ones visible, and with that span it always has labelled ticks.
    group.plot_config(PlotConfiguration::default().summary_scale(AxisScale::Logarithmic));
    // Throughput sticks to a group once set, so the 0-byte payload (no bytes/s to report)
    // must come first.
    let mut payloads = ROUND_TRIP_PAYLOADS.to_vec();
    payloads.sort_unstable();
    for payload in payloads {
        let fixture = LazyFixture::noop(1, payload);
        if payload > 0 {
            group.throughput(Throughput::Bytes(payload));
        }
        let function = point.name().to_string();
        sweep::bench_warm(&mut group, ROUND_TRIP, function, payload, point, &fixture);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = dispatch, start_stop, round_trip
}
