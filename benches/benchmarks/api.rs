//! `api` group: HTTP GETs to the local mock server, which answers after a fixed latency.

use super::config;
use super::sweep;
use criterion::{criterion_group, Criterion};
use parbench::workload::Params;

fn api(c: &mut Criterion) {
    sweep::workload_group(c, "api", quick);
}

/// Smallest latency the quick profile goes down to: a new loopback connection (0.1-0.4 ms)
/// and the sleep's overshoot (about 0.2 ms) must stay small beside it.
const QUICK_MIN_LATENCY_MS: u64 = 2;

/// Quick profile: a shorter server latency, same number of requests. The work here is
/// waiting, so the latency is what scales the batch time.
pub fn quick(p: &mut Params) {
    p.latency_ms = (p.latency_ms / config::QUICK_DIVISOR).max(QUICK_MIN_LATENCY_MS);
}

criterion_group! {
    name = benches;
    config = config::criterion();
    targets = api
}
