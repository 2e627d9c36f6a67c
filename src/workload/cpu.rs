//! `cpu`: the seed's pure-Python loop, `count += i` for i in 0..size, made opaque to the
//! optimiser so it really runs `size` steps of the same arithmetic.

use super::{inputs_by_index, Params, Workload, WorkloadInfo};
use crate::error::{Result, TaskError};
use crate::measure::{TaskInput, TaskOutput};
use crate::task::Ctx;
use std::hint::black_box;
use std::sync::Arc;

/// Registry entry.
pub const INFO: WorkloadInfo = WorkloadInfo {
    name: "cpu",
    about: "pure CPU loop: count += i for i in 0..size (seed: 10 x 1e7 steps)",
    hidden: false,
    defaults,
    quick: super::quick_linear,
    open,
    // A loop: no descriptor, no thread, inputs of a few bytes.
    demand: |p| check(p).map(|()| crate::workload::Demand::default()),
};

/// Steps between two check points of the simulated GIL: cheap enough not to show, frequent
/// enough that a 5 ms switch interval is honoured (a few microseconds between checks).
pub const CHECK_EVERY: u64 = 4096;

pub use super::SLOWDOWN_ENV;

fn defaults() -> Params {
    Params {
        tasks: 8,
        size: 60_000_000,
        ..Params::default()
    }
}

/// More steps than this per task is minutes of work: refused as a likely typo.
const MAX_STEPS: u64 = 100_000_000_000;

/// The bounds on the parameters, checked before anything is opened or counted.
fn check(params: &Params) -> Result<(), crate::error::UsageError> {
    if params.size == 0 || params.size > MAX_STEPS {
        return Err(crate::error::UsageError::new(format!(
            "cpu size {} must be 1..={MAX_STEPS} steps per task",
            params.size
        )));
    }
    Ok(())
}

fn open(params: Params) -> Result<Arc<dyn Workload>> {
    check(&params)?;
    let slowdown = super::slowdown(INFO.name)?;
    Ok(Arc::new(Cpu { params, slowdown }))
}

/// The cpu workload.
#[derive(Debug)]
pub struct Cpu {
    params: Params,
    slowdown: f64,
}

/// `count += i` for i in 0..steps, one step at a time, with a check point every
/// [`CHECK_EVERY`] steps.
pub fn count_loop(steps: u64, ctx: &Ctx) -> u64 {
    let mut count: u64 = 0;
    let mut i: u64 = 0;
    while i < steps {
        let end = (i + CHECK_EVERY).min(steps);
        count = count_steps(count, i, end);
        i = end;
        ctx.checkpoint();
    }
    count
}

/// The hot loop, kept out of line so there is exactly one copy of it in the binary. Inlined,
/// the compiler made one copy per kind of `Ctx`, and their code alignment differed: one copy
/// ran at half the speed of the other (measured: 2x CPU time under `gil` x 1 vs `pool` x 1),
/// which would have been reported as an executor difference.
#[inline(never)]
pub fn count_steps(mut count: u64, start: u64, end: u64) -> u64 {
    for i in start..end {
        // black_box hides `i` from the optimiser: no closed form, no vectorised sum.
        count = count.wrapping_add(black_box(i));
    }
    count
}

impl Workload for Cpu {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn inputs(&self) -> Result<Vec<TaskInput>> {
        Ok(inputs_by_index(self.params.tasks, |_| {
            self.params.size.to_le_bytes().to_vec()
        }))
    }

    fn run(&self, input: &TaskInput, ctx: &Ctx) -> Result<TaskOutput, TaskError> {
        let steps = input
            .data
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| TaskError::new("cpu input is not an 8-byte step count"))?;
        let count = count_loop(steps, ctx);
        if self.slowdown > 1.0 {
            let extra = ((self.slowdown - 1.0) * steps as f64) as u64;
            black_box(count_loop(extra, ctx));
        }
        Ok(TaskOutput {
            checksum: count,
            units: steps,
            payload: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_matches_closed_form() {
        let ctx = Ctx::plain(0);
        for n in [0u64, 1, 2, 4095, 4096, 4097, 100_000] {
            assert_eq!(count_loop(n, &ctx), n * n.saturating_sub(1) / 2, "n = {n}");
        }
    }
}
