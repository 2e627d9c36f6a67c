//! `cpu` group: the seed's `count += i` loop on every executor at every worker count.

use super::config;
use super::sweep;
use criterion::{criterion_group, Criterion};

fn cpu(c: &mut Criterion) {
    sweep::workload_group(c, "cpu");
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = cpu
}
