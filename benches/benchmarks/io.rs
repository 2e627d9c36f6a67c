//! `io` group: every task writes its own text file into one temporary directory.

use super::config;
use super::sweep;
use criterion::{criterion_group, Criterion};

fn io(c: &mut Criterion) {
    sweep::workload_group(c, "io");
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = io
}
