//! `serial`: one task after another on the calling thread. The baseline for every speedup.

use super::{execute_timed, Ctx, ExecOptions, Executor, ExecutorInfo, Job};
use crate::error::Result;
use crate::measure::{Batch, BatchBuilder, Counters, Origin};

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "serial",
    about: "one task after another on the calling thread",
    scales: false,
    start,
};

fn start(_options: &ExecOptions) -> Result<Box<dyn Executor>> {
    Ok(Box::new(Serial))
}

/// The serial executor; it has no workers to start.
#[derive(Debug, Default)]
pub struct Serial;

impl Executor for Serial {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn workers(&self) -> usize {
        1
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let mut batch = BatchBuilder::new(job.len(), Origin::now());
        let ctx = Ctx::plain(0);
        for input in job.inputs.iter() {
            let (result, record) =
                execute_timed(job.workload.as_ref(), input, &ctx, batch.origin());
            batch.set(result, record);
        }
        Ok(batch.finish(Counters::default()))
    }
}
