//! `pool`: a fixed pool of W threads pulling tasks from one shared queue, like Python's
//! ThreadPoolExecutor. Started once, outside the timed region, and reused across batches.

use super::{execute_timed, Ctx, ExecOptions, Executor, ExecutorInfo, Interpreter, Job};
use crate::error::{Error, Result, TaskError};
use crate::measure::{Batch, BatchBuilder, Counters, Origin, TaskOutput, TaskRecord};
use crate::system::Placement;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "pool",
    about: "fixed pool of W threads pulling from a shared queue (ThreadPoolExecutor)",
    scales: true,
    start,
};

fn start(options: &ExecOptions) -> Result<Box<dyn Executor>> {
    Ok(Box::new(ThreadPool::start(
        INFO.name,
        options.workers,
        None,
        &options.placement,
    )?))
}

type Outcome = (Result<TaskOutput, TaskError>, TaskRecord);

/// One queued task: which job, which input, and where to send the outcome.
struct Work {
    job: Job,
    index: usize,
    origin: Origin,
    reply: Sender<Outcome>,
}

/// An interpreter shared by every thread of a pool.
pub type SharedInterpreter = Arc<dyn Interpreter + Send>;

/// A fixed-size thread pool with a shared FIFO queue.
pub struct ThreadPool {
    name: &'static str,
    queue: Option<Sender<Work>>,
    threads: Vec<JoinHandle<()>>,
}

impl ThreadPool {
    /// Starts `workers` threads named after executor `name`. With an `interpreter`, each
    /// task runs holding its lock, taken after the task leaves the queue and dropped before
    /// the thread waits on the queue again (the `gil` executor).
    pub fn start(
        name: &'static str,
        workers: usize,
        interpreter: Option<SharedInterpreter>,
        placement: &Placement,
    ) -> Result<Self> {
        let (queue, rx) = channel::<Work>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..workers)
            .map(|worker| {
                let rx = Arc::clone(&rx);
                let interpreter = interpreter.clone();
                let placement = placement.clone();
                std::thread::Builder::new()
                    .name(format!("parbench-{name}-{worker}"))
                    .spawn(move || {
                        placement.place_current(worker);
                        worker_loop(worker, &rx, interpreter.as_deref())
                    })
            })
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::executor(name, format!("cannot spawn a thread: {e}")))?;
        Ok(ThreadPool {
            name,
            queue: Some(queue),
            threads,
        })
    }
}

fn worker_loop(
    worker: usize,
    rx: &Mutex<Receiver<Work>>,
    interpreter: Option<&(dyn Interpreter + Send)>,
) {
    let ctx = match interpreter {
        Some(i) => Ctx::interpreted(worker, i),
        None => Ctx::plain(worker),
    };
    loop {
        // Hold the lock only to take one item; a poisoned lock cannot happen because
        // nothing panics while holding it.
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(work) = next else { return };
        let input = &work.job.inputs[work.index];
        if let Some(i) = interpreter {
            i.acquire();
        }
        let outcome = execute_timed(work.job.workload.as_ref(), input, &ctx, work.origin);
        if let Some(i) = interpreter {
            i.release();
        }
        // The batch may have given up on us; that is not this thread's problem.
        let _ = work.reply.send(outcome);
    }
}

impl Executor for ThreadPool {
    fn name(&self) -> &'static str {
        self.name
    }

    fn workers(&self) -> usize {
        self.threads.len()
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let queue = self
            .queue
            .as_ref()
            .ok_or_else(|| Error::executor(self.name, "pool is shut down"))?;
        let origin = Origin::now();
        let mut batch = BatchBuilder::new(job.len(), origin);
        let (reply, results) = channel();
        for index in 0..job.len() {
            queue
                .send(Work {
                    job: job.clone(),
                    index,
                    origin,
                    reply: reply.clone(),
                })
                .map_err(|_| Error::executor(self.name, "all pool threads are gone"))?;
        }
        drop(reply);
        // Ends when every task has replied, or early if the threads died (then the missing
        // tasks are kept as failures by `finish`).
        for (result, record) in results.iter().take(job.len()) {
            batch.set(result, record);
        }
        Ok(batch.finish(Counters::default()))
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.queue.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
