//! `dot` group: one dense f64 matrix product per task.

use super::config::{self, QUICK_DIVISOR};
use super::sweep;
use criterion::{criterion_group, Criterion};
use parbench::workload::Params;

fn dot(c: &mut Criterion) {
    sweep::workload_group(c, "dot", quick);
}

/// Quick profile: the work of a product grows with the cube of the dimension, so the
/// dimension shrinks by the cube root of the divisor to cut the work by the same factor.
pub fn quick(p: &mut Params) {
    let scale = (QUICK_DIVISOR as f64).cbrt();
    p.size = ((p.size as f64 / scale).round() as u64).max(1);
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = dot
}
