//! `rayon`: a dedicated `rayon::ThreadPool` of W threads, work-stealing over the tasks.
//! Never the global pool, so worker counts mean what they say.

use super::{execute_timed, Ctx, ExecOptions, Executor, ExecutorInfo, Job};
use crate::error::{Error, Result};
use crate::measure::{Batch, BatchBuilder, Counters, Origin};
use ::rayon::prelude::*;

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "rayon",
    about: "dedicated rayon thread pool of W threads, work stealing",
    scales: true,
    start,
};

fn start(options: &ExecOptions) -> Result<Box<dyn Executor>> {
    let pool = ::rayon::ThreadPoolBuilder::new()
        .num_threads(options.workers)
        .thread_name(|i| format!("parbench-rayon-{i}"))
        .start_handler({
            let placement = options.placement.clone();
            move |i| placement.place_current(i)
        })
        .build()
        .map_err(|e| Error::executor(INFO.name, e))?;
    Ok(Box::new(Rayon { pool }))
}

/// A rayon pool owned by this executor.
pub struct Rayon {
    pool: ::rayon::ThreadPool,
}

impl Executor for Rayon {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn workers(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let origin = Origin::now();
        let workload = job.workload.as_ref();
        // One task per rayon job: with tens of tasks, splitting finer only adds stealing.
        let outcomes: Vec<_> = self.pool.install(|| {
            job.inputs
                .par_iter()
                .with_max_len(1)
                .map(|input| {
                    let worker = ::rayon::current_thread_index().unwrap_or(0);
                    execute_timed(workload, input, &Ctx::plain(worker), origin)
                })
                .collect()
        });
        let mut batch = BatchBuilder::new(job.len(), origin);
        for (result, record) in outcomes {
            batch.set(result, record);
        }
        Ok(batch.finish(Counters::default()))
    }
}
