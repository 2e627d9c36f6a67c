//! `threads`: W scoped OS threads, the tasks split statically into W contiguous chunks, as the
//! seed split its URLs. Threads are spawned inside the batch, as the seed's were.

use super::{execute_timed, Ctx, ExecOptions, Executor, ExecutorInfo, Job};
use crate::error::{Error, Result};
use crate::measure::{Batch, BatchBuilder, Counters, Origin};

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "threads",
    about: "W scoped OS threads, tasks split into W contiguous chunks",
    scales: true,
    start,
};

fn start(options: &ExecOptions) -> Result<Box<dyn Executor>> {
    Ok(Box::new(Threads {
        workers: options.workers,
    }))
}

/// Scoped threads with a static split.
#[derive(Debug)]
pub struct Threads {
    workers: usize,
}

impl Executor for Threads {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn workers(&self) -> usize {
        self.workers
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let origin = Origin::now();
        let mut batch = BatchBuilder::new(job.len(), origin);
        let chunk = job.len().div_ceil(self.workers).max(1);
        let workload = job.workload.as_ref();
        let per_worker = std::thread::scope(|scope| {
            let handles: Vec<_> = job
                .inputs
                .chunks(chunk)
                .enumerate()
                .map(|(worker, inputs)| {
                    std::thread::Builder::new()
                        .name(format!("parbench-thread-{worker}"))
                        .spawn_scoped(scope, move || {
                            let ctx = Ctx::plain(worker);
                            inputs
                                .iter()
                                .map(|input| execute_timed(workload, input, &ctx, origin))
                                .collect::<Vec<_>>()
                        })
                })
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(|e| Error::executor(INFO.name, format!("cannot spawn a thread: {e}")))?;
            // Tasks catch their own panics, so a join error means the executor itself broke.
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| Error::executor(INFO.name, "a worker thread panicked"))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        for (result, record) in per_worker.into_iter().flatten() {
            batch.set(result, record);
        }
        Ok(batch.finish(Counters::default()))
    }
}
