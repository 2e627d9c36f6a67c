//! The host ceiling: how many cores the host really delivered in a round.
//!
//! c spinners (no shared data) count loop steps until a common deadline; their total is
//! compared with one spinner's count over a window of the same length. The first spinner is
//! the calling thread itself, the one that runs the serial baseline: when the cores run at
//! different speeds (they do here), "one core" means the baseline's core. The others are
//! threads started once, parked between measurements. The
//! ratio is the speedup a perfect executor could have reached on what the host gave in that
//! round: 2.0 on two free cores, 1.5 when one vCPU ran at half speed, 1.0 when both vCPUs
//! shared one core. Counting over a fixed window (not a fixed amount of work) credits an
//! uneven pair of cores the way a pool that pulls work would use them.

use crate::error::{Error, Result};
use crate::measure::monotonic_ns;
use std::hint::black_box;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// Steps between two clock reads: a few microseconds of work.
const STEPS_PER_CHECK: u64 = 2048;

/// Shortest and longest window accepted.
pub const MIN_WINDOW: Duration = Duration::from_micros(500);
/// See [`MIN_WINDOW`].
pub const MAX_WINDOW: Duration = Duration::from_millis(200);

/// What a spinner is asked to do.
enum Command {
    /// Count steps from a start instant to a deadline (monotonic ns).
    Window(u64, u64),
    /// Do this many steps as fast as possible.
    Work(u64),
}

struct Spinner {
    commands: Sender<Command>,
    counts: Receiver<u64>,
    handle: Option<JoinHandle<()>>,
}

/// A probe of c spinners: the calling thread and c - 1 threads started once and reused by
/// every round.
pub struct CeilingProbe {
    spinners: Vec<Spinner>,
}

/// Counts loop steps from `start_ns` until `deadline_ns`, spinning until the start.
fn spin(start_ns: u64, deadline_ns: u64) -> u64 {
    while monotonic_ns() < start_ns {
        std::hint::spin_loop();
    }
    let mut count: u64 = 0;
    let mut acc: u64 = 0;
    loop {
        for i in 0..STEPS_PER_CHECK {
            acc = black_box(acc.wrapping_add(i));
        }
        count += STEPS_PER_CHECK;
        if monotonic_ns() >= deadline_ns {
            break;
        }
    }
    black_box(acc);
    count
}

/// Does `steps` loop steps; returns them.
fn work(steps: u64) -> u64 {
    let mut acc: u64 = 0;
    for i in 0..steps {
        acc = black_box(acc.wrapping_add(i));
    }
    black_box(acc);
    steps
}

impl CeilingProbe {
    /// A probe of `cores` spinners: starts `cores - 1` threads, parked until a measurement.
    pub fn start(cores: usize) -> Result<Self> {
        let mut spinners = Vec::with_capacity(cores);
        for i in 1..cores.max(1) {
            let (commands, command_rx) = channel::<Command>();
            let (count_tx, counts) = channel::<u64>();
            let handle = std::thread::Builder::new()
                .name(format!("parbench-probe-{i}"))
                .spawn(move || {
                    while let Ok(command) = command_rx.recv() {
                        let count = match command {
                            Command::Window(start, deadline) => spin(start, deadline),
                            Command::Work(steps) => work(steps),
                        };
                        if count_tx.send(count).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| Error::executor("probe", format!("cannot start a spinner: {e}")))?;
            spinners.push(Spinner {
                commands,
                counts,
                handle: Some(handle),
            });
        }
        Ok(CeilingProbe { spinners })
    }

    /// Number of spinners, the calling thread included: the c of the ceiling.
    pub fn cores(&self) -> usize {
        self.spinners.len() + 1
    }

    /// Sends `command` to the first `n` spinner threads, runs `own` on the calling thread,
    /// and returns the sum of everyone's counts.
    fn together(
        &self,
        n: usize,
        command: impl Fn() -> Command,
        own: impl FnOnce() -> u64,
    ) -> Result<u64> {
        let gone = || Error::executor("probe", "a spinner thread is gone");
        for s in &self.spinners[..n] {
            s.commands.send(command()).map_err(|_| gone())?;
        }
        let mut total = own();
        for s in &self.spinners[..n] {
            total += s.counts.recv().map_err(|_| gone())?;
        }
        Ok(total)
    }

    /// Steps counted by `n` spinners (the calling thread and n - 1 threads) from now until
    /// one deadline. The parked threads count from when they wake: waking an idle vCPU
    /// costs milliseconds on a shared host, and every executor whose workers sleep between
    /// batches pays it too, so the ceiling must count it against the host as well.
    fn count(&self, n: usize, window: Duration) -> Result<u64> {
        let start = monotonic_ns();
        let deadline = start + window.as_nanos() as u64;
        self.together(
            n - 1,
            || Command::Window(start, deadline),
            || spin(start, deadline),
        )
    }

    /// Time for the spinners to do `steps` loop steps in all, split evenly: the batch of a
    /// perfect executor on c cores with no overhead but one wake-up. The Criterion suite's
    /// `ceiling/<W>` group times this, so its report shows what the host delivered.
    pub fn fixed_work(&self, steps: u64) -> Result<Duration> {
        let each = steps / self.cores() as u64;
        let started = std::time::Instant::now();
        self.together(self.spinners.len(), || Command::Work(each), || work(each))?;
        Ok(started.elapsed())
    }

    /// One measurement: c spinners' total over one spinner's count, each over `window` (the
    /// length of a perfectly parallel batch: the serial batch's time over c), in the order
    /// `many_first` says. Exactly 1.0 when c is 1.
    pub fn measure(&self, window: Duration, many_first: bool) -> Result<f64> {
        let c = self.cores();
        if c <= 1 {
            return Ok(1.0);
        }
        let window = window.clamp(MIN_WINDOW, MAX_WINDOW);
        let (one, many) = if many_first {
            let many = self.count(c, window)?;
            (self.count(1, window)?, many)
        } else {
            let one = self.count(1, window)?;
            (one, self.count(c, window)?)
        };
        Ok(many as f64 / one.max(1) as f64)
    }
}

impl Drop for CeilingProbe {
    fn drop(&mut self) {
        for s in &mut self.spinners {
            // Closing the command channel ends the thread's loop.
            let (dead, _) = channel();
            drop(std::mem::replace(&mut s.commands, dead));
            if let Some(h) = s.handle.take() {
                let _ = h.join();
            }
        }
    }
}
