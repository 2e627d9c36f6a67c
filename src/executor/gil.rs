//! `gil`: W OS threads sharing one simulated global interpreter lock, so Rust shows what
//! Python's threads do: CPU work does not speed up, blocking IO and network waits do.
//!
//! # The model (after CPython's `Python/ceval_gil.c`, "new GIL" of 3.2+)
//!
//! - The lock is a `locked` flag guarded by a mutex, with a condition variable that a
//!   releasing thread signals.
//! - A thread that wants the lock waits on that condition for at most the switch interval
//!   (5 ms by default, like `sys.setswitchinterval`). If the interval passes and no switch
//!   happened meanwhile, it sets a *drop request*.
//! - The holder polls the drop request at check points (the cpu loop calls one every few
//!   thousand steps, as the eval loop checks its eval breaker between bytecodes). When it is
//!   set, the holder releases the lock and then waits until another thread has taken it
//!   (CPython's `FORCE_SWITCHING`), so it cannot grab the lock straight back. Each such drop
//!   counts as one forced switch.
//! - Blocking calls (file writes, HTTP requests, the dot kernel) run with the lock released
//!   (`Ctx::release`), as CPython does around syscalls and numpy around its kernels.
//!
//! So at most one thread runs "interpreted" code at a time: cpu x gil stays at about 1x at any
//! worker count, while api and io scale like plain threads. Tasks run on a pool started once
//! and reused across batches (the `pool` executor's queue), each task holding the lock from
//! the moment its thread picks it up.

use super::pool::ThreadPool;
use super::{ExecOptions, Executor, ExecutorInfo, Interpreter, Job};
use crate::error::{Result, UsageError};
use crate::measure::Batch;
use crate::system::Placement;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "gil",
    about: "pool of W threads under a simulated Python GIL (CPython's ceval_gil.c model)",
    scales: true,
    start,
};

fn start(options: &ExecOptions) -> Result<Box<dyn Executor>> {
    Ok(Box::new(GilPool::new(
        options.workers,
        options.switch_interval,
        &options.placement,
    )?))
}

/// The state behind the mutex.
#[derive(Debug, Default)]
struct State {
    /// Whether some thread holds the lock.
    locked: bool,
    /// Incremented at every take: a waiter that sees it unchanged after its timed wait knows
    /// no switch happened, and a forced holder waits until it changes.
    switch_number: u64,
}

/// A simulated global interpreter lock.
#[derive(Debug)]
pub struct Gil {
    state: Mutex<State>,
    /// Signalled when the lock is released.
    released: Condvar,
    /// Signalled when the lock is taken (forced switching).
    taken: Condvar,
    /// Set by a waiter whose switch interval ran out; polled by the holder at check points.
    drop_request: AtomicBool,
    interval: Duration,
    forced_switches: AtomicU64,
}

impl Gil {
    /// A free lock with this switch interval (at least 1 microsecond, as CPython clamps it).
    pub fn new(interval: Duration) -> Self {
        Gil {
            state: Mutex::new(State::default()),
            released: Condvar::new(),
            taken: Condvar::new(),
            drop_request: AtomicBool::new(false),
            interval: interval.max(Duration::from_micros(1)),
            forced_switches: AtomicU64::new(0),
        }
    }

    /// Forced switches since the lock was made.
    pub fn forced_switches(&self) -> u64 {
        self.forced_switches.load(Ordering::Relaxed)
    }

    /// The switch interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this mutex, so poisoning cannot carry a broken state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the lock, asking the holder to drop it whenever a full interval passes without
    /// a switch (CPython's `take_gil`).
    fn take(&self) {
        let mut state = self.lock();
        while state.locked {
            let seen = state.switch_number;
            let (next, timeout) = self
                .released
                .wait_timeout(state, self.interval)
                .unwrap_or_else(|p| p.into_inner());
            state = next;
            if timeout.timed_out() && state.locked && state.switch_number == seen {
                self.drop_request.store(true, Ordering::Release);
            }
        }
        state.locked = true;
        state.switch_number += 1;
        // Whoever was asked to drop the lock has now been served.
        self.drop_request.store(false, Ordering::Release);
        drop(state);
        self.taken.notify_all();
    }

    /// Releases the lock (CPython's `drop_gil`); a forced drop then waits until another
    /// thread has taken it.
    fn give(&self, forced: bool) {
        let mut state = self.lock();
        state.locked = false;
        let mine = state.switch_number;
        self.released.notify_one();
        if forced {
            self.forced_switches.fetch_add(1, Ordering::Relaxed);
            // The waiter that asked is blocked in `take`, so someone will take it.
            while state.switch_number == mine {
                state = self.taken.wait(state).unwrap_or_else(|p| p.into_inner());
            }
        }
    }
}

impl Interpreter for Gil {
    #[inline]
    fn checkpoint(&self) {
        if self.drop_request.load(Ordering::Acquire) {
            self.give(true);
            self.take();
        }
    }

    fn release(&self) {
        self.give(false);
    }

    fn acquire(&self) {
        self.take();
    }
}

/// The `gil` executor: a reusable thread pool whose tasks run under one [`Gil`].
pub struct GilPool {
    gil: Arc<Gil>,
    pool: ThreadPool,
}

impl GilPool {
    /// Starts `workers` threads, placed as `placement` says, sharing a lock with this switch
    /// interval.
    pub fn new(workers: usize, interval: Duration, placement: &Placement) -> Result<Self> {
        if interval.is_zero() {
            return Err(UsageError::new("the GIL switch interval must be positive").into());
        }
        let gil = Arc::new(Gil::new(interval));
        let pool = ThreadPool::start(INFO.name, workers, Some(gil.clone()), placement)?;
        Ok(GilPool { gil, pool })
    }
}

impl Executor for GilPool {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn workers(&self) -> usize {
        self.pool.workers()
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let before = self.gil.forced_switches();
        let mut batch = self.pool.run(job)?;
        batch.counters.forced_switches = Some(self.gil.forced_switches() - before);
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::Ctx;
    use std::sync::atomic::AtomicUsize;

    /// Two threads spinning through check points: the lock is never held by both, and the
    /// spinners hand it over by forced switches. Each spins until ten switches have happened,
    /// which needs both of them to take turns (no timing involved).
    #[test]
    fn mutual_exclusion_and_forced_switches() {
        let gil = Gil::new(Duration::from_micros(200));
        let inside = AtomicUsize::new(0);
        let overlap = AtomicBool::new(false);
        std::thread::scope(|s| {
            for worker in 0..2 {
                let (gil, inside, overlap) = (&gil, &inside, &overlap);
                s.spawn(move || {
                    let ctx = Ctx::interpreted(worker, gil);
                    gil.acquire();
                    while gil.forced_switches() < 10 {
                        if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                            overlap.store(true, Ordering::SeqCst);
                        }
                        std::hint::black_box((0..200u64).sum::<u64>());
                        inside.fetch_sub(1, Ordering::SeqCst);
                        ctx.checkpoint();
                    }
                    gil.release();
                });
            }
        });
        assert!(!overlap.load(Ordering::SeqCst), "two threads held the lock");
        assert!(gil.forced_switches() >= 10);
    }

    #[test]
    fn release_lets_another_thread_in() {
        let gil = Gil::new(Duration::from_secs(3600));
        gil.acquire();
        let ctx = Ctx::interpreted(0, &gil);
        // With an hour-long interval, the other thread can only get in through `release`.
        let got_in = ctx.release(|| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    gil.acquire();
                    gil.release();
                    true
                })
                .join()
                .unwrap()
            })
        });
        assert!(got_in);
        assert_eq!(gil.forced_switches(), 0);
        gil.release();
    }

    #[test]
    fn zero_interval_is_a_usage_error() {
        let err = GilPool::new(1, Duration::ZERO, &Placement::Os)
            .err()
            .unwrap();
        assert!(matches!(err, crate::error::Error::Usage(_)), "{err}");
    }
}
