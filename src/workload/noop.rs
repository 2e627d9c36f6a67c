//! `noop`: tasks that do nothing with an input of `size` bytes. Hidden from `all`; the
//! overhead benches use it to time dispatch and process round trips apart from any work.

use super::{inputs_by_index, Params, Workload, WorkloadInfo};
use crate::error::{Result, TaskError};
use crate::measure::{TaskInput, TaskOutput};
use crate::task::Ctx;
use std::sync::Arc;

/// Registry entry.
pub const INFO: WorkloadInfo = WorkloadInfo {
    name: "noop",
    about: "empty tasks carrying `size` bytes of input, to measure executor overhead",
    hidden: true,
    defaults,
    quick: |_| {},
    open,
    demand: |p| {
        check(p)?;
        Ok(crate::workload::Demand {
            input_bytes: input_bytes(p),
            ..Default::default()
        })
    },
};

/// Bytes the batch's inputs hold.
fn input_bytes(p: &Params) -> u64 {
    p.size.saturating_mul(p.tasks as u64)
}

fn defaults() -> Params {
    Params {
        tasks: 1,
        size: 0,
        ..Params::default()
    }
}

/// Largest input per task: the inputs are allocated in full before the batch.
pub const MAX_SIZE: u64 = 1 << 30;
/// Largest total input of a batch, all tasks together.
pub const MAX_TOTAL: u64 = 8 << 30;

/// The bounds on the parameters, checked before anything is opened or counted.
fn check(params: &Params) -> Result<(), crate::error::UsageError> {
    if params.size > MAX_SIZE {
        return Err(crate::error::UsageError::new(format!(
            "noop size {} must be 0..={MAX_SIZE} bytes per task",
            params.size
        )));
    }
    if input_bytes(params) > MAX_TOTAL {
        return Err(crate::error::UsageError::new(format!(
            "noop inputs of {} x {} bytes exceed {MAX_TOTAL} bytes in memory",
            params.tasks, params.size
        )));
    }
    Ok(())
}

fn open(params: Params) -> Result<Arc<dyn Workload>> {
    check(&params)?;
    Ok(Arc::new(Noop { params }))
}

/// The noop workload.
#[derive(Debug)]
pub struct Noop {
    params: Params,
}

impl Workload for Noop {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn inputs(&self) -> Result<Vec<TaskInput>> {
        Ok(inputs_by_index(self.params.tasks, |_| {
            vec![0u8; self.params.size as usize]
        }))
    }

    fn run(&self, input: &TaskInput, _ctx: &Ctx) -> Result<TaskOutput, TaskError> {
        Ok(TaskOutput {
            checksum: input.data.len() as u64,
            units: input.data.len() as u64,
            payload: Default::default(),
        })
    }

    fn bytes_per_task(&self) -> Option<u64> {
        Some(self.params.size)
    }
}
