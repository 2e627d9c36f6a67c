//! One thread that wakes waiting replies at their deadlines, for the keep-alive server's
//! latency.
//!
//! tokio's timer rounds every sleep up to its next millisecond tick (a 20 ms latency becomes
//! 20-21 ms), and a blocking sleep per reply costs an OS thread and two wake-ups per request,
//! which at 64 in-flight requests on two cores is itself measurable. This thread sleeps on a
//! condition variable until just before the earliest deadline, waits awake for the rest, and
//! fires every reply that is due in one wake-up. A sleeping thread wakes late on this VM: the
//! kernel's timer slack (50 us by default) and an idle vCPU's wake-up (tens of us, see
//! shared/NOTES.md) both land on every wave of replies; the thread sets its slack to 1 ns
//! and spins the last [`SPIN_AHEAD`], so a reply's latency is the one asked for.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long before a deadline the alarm thread stops sleeping and waits awake: longer than
/// an idle vCPU's wake-up here, short enough that it costs under 1% of a core at one wave of
/// replies per 20 ms.
pub const SPIN_AHEAD: Duration = Duration::from_micros(150);

/// A reply waiting for its deadline.
struct Waiter {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

// Ordered so that `BinaryHeap`, a max-heap, pops the earliest deadline first.
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Waiter {}

#[derive(Default)]
struct State {
    waiting: BinaryHeap<Waiter>,
    next_seq: u64,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    // Nothing panics while the lock is held, so a poisoned lock still holds a sound state.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The alarm thread, owned by its server. Dropping it stops the thread; replies still waiting
/// wake at once.
pub struct Alarm {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Alarm {
    /// Starts the thread.
    pub fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("parbench-keepalive-alarm".into())
            .spawn(move || run(&theirs))?;
        Ok(Alarm {
            shared,
            thread: Some(thread),
        })
    }

    /// A handle for the replies to wait on; it does not keep the thread alive.
    pub fn sleeper(&self) -> Sleeper {
        Sleeper(Arc::clone(&self.shared))
    }
}

/// What a reply holds to wait on the alarm thread.
#[derive(Clone)]
pub struct Sleeper(Arc<Shared>);

impl Sleeper {
    /// Waits until `delay` from now, or until the alarm stops.
    pub async fn sleep(&self, delay: Duration) {
        let (wake, woken) = oneshot::channel();
        let at = Instant::now() + delay;
        {
            let mut state = self.0.lock();
            if state.stop {
                return;
            }
            let earliest = state.waiting.peek().is_none_or(|w| at < w.at);
            let seq = state.next_seq;
            state.next_seq += 1;
            state.waiting.push(Waiter { at, seq, wake });
            if earliest {
                self.0.changed.notify_one();
            }
        }
        // An error means the alarm stopped: the server is going away, so stop waiting.
        let _ = woken.await;
    }
}

fn run(shared: &Shared) {
    // SAFETY: prctl(PR_SET_TIMERSLACK) changes only this thread's timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let mut state = shared.lock();
    loop {
        if state.stop {
            // Dropping the senders wakes every waiter.
            state.waiting.clear();
            return;
        }
        let now = Instant::now();
        while state.waiting.peek().is_some_and(|w| w.at <= now) {
            if let Some(w) = state.waiting.pop() {
                // The reply may have been dropped with its connection; nothing to wake then.
                let _ = w.wake.send(());
            }
        }
        state = match state.waiting.peek() {
            None => shared
                .changed
                .wait(state)
                .unwrap_or_else(|p| p.into_inner()),
            Some(w) if w.at - now <= SPIN_AHEAD => {
                // Awake for the last stretch, with the lock let go so that replies can queue.
                let at = w.at;
                drop(state);
                while Instant::now() < at {
                    std::hint::spin_loop();
                }
                shared.lock()
            }
            Some(w) => {
                let left = w.at - now - SPIN_AHEAD;
                shared
                    .changed
                    .wait_timeout(state, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
        };
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_wake_no_earlier_than_their_deadlines_in_any_order() {
        let alarm = Alarm::start().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let tasks: Vec<_> = [3u64, 1, 2, 0, 1]
                .into_iter()
                .map(|ms| {
                    let sleeper = alarm.sleeper();
                    tokio::spawn(async move {
                        let t = Instant::now();
                        sleeper.sleep(Duration::from_millis(ms)).await;
                        (ms, t.elapsed())
                    })
                })
                .collect();
            for t in tasks {
                let (ms, took) = t.await.unwrap();
                assert!(took >= Duration::from_millis(ms), "{ms} ms took {took:?}");
            }
        });
    }

    #[test]
    fn dropping_the_alarm_releases_its_waiters() {
        let alarm = Alarm::start().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let sleeper = alarm.sleeper();
        let waiter = runtime.spawn(async move { sleeper.sleep(Duration::from_secs(3600)).await });
        // Stop the thread while the hour-long wait is queued (or about to be).
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(alarm);
        });
        runtime.block_on(waiter).unwrap();
        stopper.join().unwrap();
    }
}
