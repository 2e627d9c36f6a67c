//! `dot` group: one dense f64 matrix product per task.

use super::config;
use super::sweep;
use criterion::{criterion_group, Criterion};

fn dot(c: &mut Criterion) {
    sweep::workload_group(c, "dot");
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = dot
}
