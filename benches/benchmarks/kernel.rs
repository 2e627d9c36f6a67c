//! `kernel` group: the dot workload's dgemm kernel alone, on K inner threads, as numpy's BLAS
//! would run it. The throughput is 2 n^3 floating-point operations per iteration, declared
//! as elements: Criterion cannot print FLOP/s, so it prints "Gelem/s" where an element is
//! one FLOP (Gelem/s = GFLOP/s). `kernel/dgemm/2` over `kernel/dgemm/1` is the
//! inner-parallel speedup, free of the task's input and checksum handling.

use super::config::{self, knobs};
use super::sweep;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use parbench::workload::dot::multiply_row_blocks;
use parbench::workload::Rng;
use std::hint::black_box;

/// Inner thread counts: 1 and the machine's 2 cores, then 4 to show oversubscription.
const INNER: &[usize] = &[1, 2, 4];

fn kernel(c: &mut Criterion) {
    let n = sweep::workload_params("dot").size as usize;
    let mut rng = Rng::new(2017, 0);
    let a = Array2::from_shape_fn((n, n), |_| rng.next_f64());
    let b = Array2::from_shape_fn((n, n), |_| rng.next_f64());
    let mut out = Array2::<f64>::zeros((n, n));
    let mut group = c.benchmark_group("kernel");
    config::apply(&mut group, knobs().profile.overhead());
    group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
    for &k in INNER {
        group.bench_with_input(BenchmarkId::new("dgemm", k), &k, |bench, &k| {
            bench.iter(|| {
                let (a, b): (ArrayView2<f64>, ArrayView2<f64>) = (a.view(), b.view());
                let c: ArrayViewMut2<f64> = out.view_mut();
                multiply_row_blocks(k, a, b, c).expect("start inner threads");
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = kernel
}
