//! `api` group: HTTP GETs to the local mock server, which answers after a fixed latency.

use super::config;
use super::sweep;
use criterion::{criterion_group, Criterion};

fn api(c: &mut Criterion) {
    sweep::workload_group(c, "api");
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = api
}
