//! `io` group: every task writes its own text file into one temporary directory.

use super::config::{self, QUICK_DIVISOR};
use super::sweep;
use criterion::{criterion_group, Criterion};
use parbench::workload::Params;

fn io(c: &mut Criterion) {
    sweep::workload_group(c, "io", quick);
}

/// Quick profile: [`QUICK_DIVISOR`] times fewer bytes per file, same number of files.
pub fn quick(p: &mut Params) {
    p.size = (p.size / QUICK_DIVISOR).max(1);
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = io
}
