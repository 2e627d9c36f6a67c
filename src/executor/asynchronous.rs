//! `async`: a tokio multi-thread runtime with W worker threads, built once when the executor
//! starts. Every task of a batch is spawned at once and awaits [`Workload::run_async`]. For
//! work that waits (api, io) a semaphore of W permits bounds how many are in flight, so
//! `workers` means the same as for the other executors. Work that computes never yields, so
//! the runtime's W workers already bound it to W at a time, and it takes no permit: with one,
//! a cpu batch's timeline showed a worker idle for 0.6 ms of a 7 ms batch while a task waited
//! for the permit that the other worker's task still held, and the rounds were bimodal.
//!
//! What a task does while it waits decides everything: api overrides `run_async` with a real
//! async client, so W in-flight requests share the runtime's workers. io wraps its blocking
//! writes in `tokio::task::block_in_place`, so the runtime moves its other tasks to a fresh
//! thread (no copy of the payload, as `spawn_blocking` would need). cpu and dot use the default
//! `run_async`, which runs their code on the worker itself: that honestly shows what CPU work
//! does to an async runtime.
//!
//! [`Workload::run_async`]: crate::workload::Workload::run_async

use super::{inject_fault, ExecOptions, Executor, ExecutorInfo, Job};
use crate::error::{Error, Result, TaskError};
use crate::measure::{Batch, BatchBuilder, Counters, Origin, TaskOutput, TaskRecord};
use crate::system::Placement;
use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use tokio::sync::Semaphore;

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "async",
    about: "tokio runtime with W worker threads, at most W tasks in flight (semaphore)",
    scales: true,
    start,
};

fn start(options: &ExecOptions) -> Result<Box<dyn Executor>> {
    Ok(Box::new(Async::new(options.workers, &options.placement)?))
}

thread_local! {
    /// The runtime thread's number, in the order they started: a task that takes no permit
    /// draws its lane on the timeline from the worker it runs on.
    static THREAD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The async executor: a runtime owned by this executor (never a global one).
pub struct Async {
    runtime: tokio::runtime::Runtime,
    workers: usize,
}

impl Async {
    /// Builds a runtime with `workers` worker threads, with its IO and timer drivers on.
    /// Threads are placed in the order they start: the W workers first, then any thread
    /// that `block_in_place` starts in a worker's stead.
    pub fn new(workers: usize, placement: &Placement) -> Result<Self> {
        let started = AtomicUsize::new(0);
        let placement = placement.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("parbench-async")
            .on_thread_start(move || {
                let n = started.fetch_add(1, Ordering::Relaxed);
                THREAD.with(|t| t.set(n));
                placement.place_current(n);
            })
            .enable_all()
            .build()
            .map_err(|e| Error::executor(INFO.name, format!("cannot build the runtime: {e}")))?;
        Ok(Async { runtime, workers })
    }
}

/// W permits plus the lane numbers that go with them, so each in-flight task owns one lane
/// 0..W and a timeline shows at most W bars at once, one per lane.
struct Lanes {
    permits: Semaphore,
    free: Mutex<Vec<usize>>,
}

impl Lanes {
    fn new(workers: usize) -> Self {
        Lanes {
            permits: Semaphore::new(workers),
            // Popped from the end: lane 0 first.
            free: Mutex::new((0..workers).rev().collect()),
        }
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        // Nothing panics while holding this mutex.
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Gives a lane back when the task ends, however it ends.
struct LaneGuard<'a> {
    lanes: &'a Lanes,
    lane: usize,
}

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        self.lanes.free().push(self.lane);
    }
}

/// Awaits `fut`, turning a panic in any of its polls into `Err(payload)`.
async fn catch_panics<F: Future>(fut: F) -> Result<F::Output, Box<dyn Any + Send>> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            // Ready at once: a panicked future is never polled again.
            Err(payload) => Poll::Ready(Err(payload)),
        }
    })
    .await
}

/// One task: wait for a lane (work that waits) or take the lane of the worker it runs on
/// (work that computes, `lanes` is `None`), then run it with faults and panics handled as
/// [`super::execute`] handles them, timed from `origin`.
async fn run_task(
    job: Job,
    index: usize,
    lanes: Option<Arc<Lanes>>,
    origin: Origin,
) -> (Result<TaskOutput, TaskError>, TaskRecord) {
    let permit = match &lanes {
        Some(lanes) => Some(lanes.permits.acquire().await),
        None => None,
    };
    // `permit` is matched by reference: it must live until the task ends.
    let lane = match (&lanes, &permit) {
        (None, _) => Some(THREAD.with(|t| t.get())),
        (Some(lanes), Some(Ok(_))) => lanes.free().pop(),
        _ => None,
    };
    // With W permits and W lanes, a permit always finds a lane.
    let Some(lane) = lane else {
        let now = origin.elapsed_s();
        let record = TaskRecord {
            task: index,
            worker: 0,
            pid: std::process::id(),
            start_s: now,
            stop_s: now,
            ok: false,
        };
        return (Err(TaskError::new("no free lane for this task")), record);
    };
    let _lane = lanes.as_deref().map(|lanes| LaneGuard { lanes, lane });
    let workload = job.workload.as_ref();
    let input = &job.inputs[index];
    let start_s = origin.elapsed_s();
    let result = catch_panics(async {
        inject_fault(workload, input);
        workload.run_async(input, lane).await
    })
    .await
    .unwrap_or_else(|payload| Err(TaskError::from_panic(payload.as_ref())));
    let stop_s = origin.elapsed_s();
    let record = TaskRecord {
        task: index,
        worker: lane,
        pid: std::process::id(),
        start_s,
        stop_s,
        ok: result.is_ok(),
    };
    (result, record)
}

impl Executor for Async {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn workers(&self) -> usize {
        self.workers
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let origin = Origin::now();
        let lanes = job
            .workload
            .waits()
            .then(|| Arc::new(Lanes::new(self.workers)));
        let handles: Vec<_> = (0..job.len())
            .map(|index| {
                self.runtime
                    .spawn(run_task(job.clone(), index, lanes.clone(), origin))
            })
            .collect();
        let outcomes = self.runtime.block_on(async move {
            let mut outcomes = Vec::with_capacity(handles.len());
            for handle in handles {
                outcomes.push(handle.await);
            }
            outcomes
        });
        let mut batch = BatchBuilder::new(job.len(), origin);
        for outcome in outcomes {
            // Tasks catch their own panics and the runtime outlives the batch, so a join
            // error means the executor itself broke.
            let (result, record) =
                outcome.map_err(|e| Error::executor(INFO.name, format!("a task was lost: {e}")))?;
            batch.set(result, record);
        }
        Ok(batch.finish(Counters::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_panics_passes_values_and_catches_panics() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(catch_panics(async { 7 })).unwrap(), 7);
        let caught = rt.block_on(catch_panics(async {
            tokio::task::yield_now().await;
            panic!("after a yield")
        }));
        let err = TaskError::from_panic(caught.unwrap_err().as_ref());
        assert!(err.message.contains("after a yield"), "{err}");
    }

    #[test]
    fn lanes_are_handed_out_once() {
        let lanes = Lanes::new(3);
        let taken: Vec<usize> = (0..3).map(|_| lanes.free().pop().unwrap()).collect();
        assert_eq!(taken, vec![0, 1, 2]);
        assert!(lanes.free().pop().is_none());
        drop(LaneGuard {
            lanes: &lanes,
            lane: 1,
        });
        assert_eq!(lanes.free().pop(), Some(1));
    }
}
