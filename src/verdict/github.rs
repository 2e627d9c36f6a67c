//! `parbench report --format github-benchmark`: each Criterion result as an entry of
//! github-action-benchmark's list ([`crate::export::github_benchmark`]).
//!
//! The value is the median time per iteration (one batch) over Criterion's samples, in ms,
//! its range the 95% interval of that median. The name is a `bench` series of the run the
//! profile marker attributes the result to (profile and work knobs); a result no run claims
//! is `unknown-profile`, a series of its own. The speedup (or, for the ceiling group, the
//! host's ceiling) goes in `extra`.

use super::analysis::Verdict;
use super::{Measured, Results, CEILING_GROUP};
use crate::engine::stats::median_interval;
use crate::export::github_benchmark::{labelled, Entry};
use crate::export::track::{series_name, Metric, Source};

/// One entry per result with a finite median.
pub(crate) fn entries(results: &Results, verdict: &Verdict) -> Vec<Entry> {
    results
        .benches
        .iter()
        .filter_map(|b| {
            let ms = Metric::of(median_interval(&b.times_ns).map(|ns| ns / 1e6))?;
            let tags = results
                .marker
                .as_ref()
                .and_then(|m| m.attribute(&b.group, b.modified_ns))
                .map_or_else(
                    || vec!["unknown-profile".to_string()],
                    |run| run.series_tags(),
                );
            let extra = [
                relative(b, verdict),
                Some(format!("samples {}", b.times_ns.len())),
            ];
            Some(Entry::time(
                series_name(&b.id, Source::Bench, &tags),
                ms,
                extra.into_iter().flatten().collect(),
            ))
        })
        .collect()
}

/// The result against its reference: an executor's speedup over serial/1, or the ceiling
/// the host showed at that worker count.
fn relative(b: &Measured, verdict: &Verdict) -> Option<String> {
    let workers = b.workers()?;
    if b.group == CEILING_GROUP {
        return labelled(
            "ceiling",
            verdict.ceiling.get(&workers).copied().and_then(Metric::of),
        );
    }
    let function = b.function.clone()?;
    let cell = verdict
        .workloads
        .iter()
        .find(|w| w.workload == b.group)?
        .cells
        .get(&(function, workers))?;
    labelled("speedup", Metric::of(cell.speedup))
}
