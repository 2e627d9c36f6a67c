//! `cpu` group: the seed's `count += i` loop on every executor at every worker count.

use super::config::{self, QUICK_DIVISOR};
use super::sweep;
use criterion::{criterion_group, Criterion};
use parbench::workload::Params;

fn cpu(c: &mut Criterion) {
    sweep::workload_group(c, "cpu", quick);
}

/// Quick profile: [`QUICK_DIVISOR`] times fewer loop steps per task; the number of tasks, and so the way they
/// spread over workers, stays the same.
pub fn quick(p: &mut Params) {
    p.size = (p.size / QUICK_DIVISOR).max(1);
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = cpu
}
