//! `threads`: W scoped OS threads spawned inside the batch and gone after it, as the seed's
//! `with ThreadPoolExecutor(W) as ex: ex.map(...)` made them. Like `ex.map`, the threads
//! pull the next task from a shared counter, so a slower core takes fewer tasks.

use super::{execute_timed, Ctx, ExecOptions, Executor, ExecutorInfo, Job};
use crate::error::{Error, Result};
use crate::measure::{Batch, BatchBuilder, Counters, Origin};
use crate::system::Placement;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "threads",
    about: "W OS threads spawned for each batch, pulling tasks (ThreadPoolExecutor per call)",
    scales: true,
    start,
};

fn start(options: &ExecOptions) -> Result<Box<dyn Executor>> {
    Ok(Box::new(Threads {
        workers: options.workers,
        placement: options.placement.clone(),
    }))
}

/// Scoped threads spawned per batch.
#[derive(Debug)]
pub struct Threads {
    workers: usize,
    placement: Placement,
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
        let workload = job.workload.as_ref();
        let next = AtomicUsize::new(0);
        let threads = self.workers.min(job.len()).max(1);
        let per_worker = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|worker| {
                    let next = &next;
                    let placement = &self.placement;
                    std::thread::Builder::new()
                        .name(format!("parbench-thread-{worker}"))
                        .spawn_scoped(scope, move || {
                            placement.place_current(worker);
                            let ctx = Ctx::plain(worker);
                            let mut done = Vec::new();
                            loop {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                let Some(input) = job.inputs.get(i) else {
                                    break done;
                                };
                                done.push(execute_timed(workload, input, &ctx, origin));
                            }
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
