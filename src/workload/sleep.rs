//! `sleep`: tasks that only sleep for `--latency-ms`, with no server, socket or body: the
//! host's own floor under api. Run beside api in the same run (`-w api,sleep` with the same
//! tasks, workers and latency) it says how much of api's wall time is the HTTP round trip
//! and the client, and how much is what sleeping alone costs on this host (the timer's
//! overshoot, the wake-ups of W threads on two vCPUs). Hidden from `all`.

use super::{inputs_by_index, Params, Workload, WorkloadInfo};
use crate::error::{Result, TaskError, UsageError};
use crate::measure::{TaskInput, TaskOutput};
use crate::task::Ctx;
use std::sync::Arc;
use std::time::Duration;

/// Registry entry.
pub const INFO: WorkloadInfo = WorkloadInfo {
    name: "sleep",
    about: "tasks that only sleep --latency-ms: the floor under api, measured in the same run",
    hidden: true,
    defaults,
    quick: super::api::quick,
    open,
    demand: |p| {
        check(p)?;
        Ok(crate::workload::Demand::default())
    },
};

/// api's defaults, so that `-w api,sleep` compares like with like.
fn defaults() -> Params {
    Params {
        size: 0,
        ..(super::api::INFO.defaults)()
    }
}

fn check(params: &Params) -> Result<(), UsageError> {
    if params.latency_ms > super::api::MAX_LATENCY_MS {
        return Err(UsageError::new(format!(
            "sleep: latency {} ms is more than the maximum of {} ms",
            params.latency_ms,
            super::api::MAX_LATENCY_MS
        )));
    }
    Ok(())
}

fn open(params: Params) -> Result<Arc<dyn Workload>> {
    check(&params)?;
    Ok(Arc::new(Sleep { params }))
}

/// The sleep workload.
#[derive(Debug)]
pub struct Sleep {
    params: Params,
}

impl Workload for Sleep {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn inputs(&self) -> Result<Vec<TaskInput>> {
        Ok(inputs_by_index(self.params.tasks, |_| Vec::new()))
    }

    fn run(&self, input: &TaskInput, ctx: &Ctx) -> Result<TaskOutput, TaskError> {
        // A blocking wait, as api's client waits on its socket: the simulated GIL is released.
        ctx.release(|| std::thread::sleep(Duration::from_millis(self.params.latency_ms)));
        Ok(TaskOutput {
            checksum: input.index as u64,
            units: 1,
            payload: Default::default(),
        })
    }

    fn ideal_s(&self, workers: usize) -> Option<f64> {
        Some(super::api::ideal_wait_s(&self.params, workers))
    }

    fn waits(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_sleeps_at_least_its_latency_and_refuses_absurd_ones() {
        let w = open(Params {
            tasks: 2,
            latency_ms: 3,
            ..defaults()
        })
        .unwrap();
        let inputs = w.inputs().unwrap();
        let started = std::time::Instant::now();
        let out = w.run(&inputs[1], &Ctx::plain(0)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(3));
        assert_eq!(out.checksum, 1);
        let too_long = Params {
            latency_ms: super::super::api::MAX_LATENCY_MS + 1,
            ..defaults()
        };
        assert!(open(too_long).is_err());
    }
}
