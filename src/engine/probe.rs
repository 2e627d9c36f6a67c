//! The host ceiling: how many cores the host really delivered in a round.
//!
//! c spinner threads (no shared data), started once and parked between measurements, are
//! woken together and count loop steps until a common deadline; their counts are compared
//! with one spinner's count over a window of the same length, and that one spinner is the
//! calling thread itself, the one that runs the serial baseline: when the cores run at
//! different speeds (they do here), "one core" means the baseline's core. The ratio is the
//! speedup a perfect executor could have reached on what the host gave in that round: 2.0 on
//! two free cores, 1.5 when one vCPU ran at half speed, 1.0 when both vCPUs shared one core.
//! Counting over a fixed window (not a fixed amount of work) credits an uneven pair of cores
//! the way a pool that pulls work would use them.
//!
//! The c spinners are all parked threads, as a pool's workers are, and each counts from when
//! it wakes: waking an idle vCPU costs from tens of microseconds to milliseconds on a shared
//! host, every executor whose workers wait between batches pays it, and so the ceiling counts
//! it against the host too. (An earlier probe ran the calling thread as one of the c and so
//! woke one thread fewer than any pool does, counting that wake-up against the executor.)

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

/// A probe of c spinner threads, started once and reused by every round, and the calling
/// thread as the one-core reference.
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
    /// A probe of `cores` spinners: starts `cores` threads (none for one core), parked until
    /// a measurement.
    pub fn start(cores: usize) -> Result<Self> {
        let n = if cores > 1 { cores } else { 0 };
        let mut spinners = Vec::with_capacity(n);
        for i in 0..n {
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

    /// Number of spinners: the c of the ceiling.
    pub fn cores(&self) -> usize {
        self.spinners.len().max(1)
    }

    /// Sends `command` to every spinner thread while the calling thread waits, as a caller
    /// of a pool waits for its batch, and returns their counts.
    fn together(&self, command: impl Fn() -> Command) -> Result<Vec<u64>> {
        let gone = || Error::executor("probe", "a spinner thread is gone");
        for s in &self.spinners {
            s.commands.send(command()).map_err(|_| gone())?;
        }
        self.spinners
            .iter()
            .map(|s| s.counts.recv().map_err(|_| gone()))
            .collect()
    }

    /// Steps counted by each spinner thread from now until one deadline. They count from when
    /// they wake: a late wake is time the host did not deliver.
    fn count_many(&self, window: Duration) -> Result<Vec<u64>> {
        let start = monotonic_ns();
        let deadline = start + window.as_nanos() as u64;
        self.together(|| Command::Window(start, deadline))
    }

    /// Steps the calling thread counts alone over `window`: the one-core reference.
    fn count_alone(window: Duration) -> u64 {
        let start = monotonic_ns();
        spin(start, start + window.as_nanos() as u64)
    }

    /// Time for the spinners to do `steps` loop steps in all, split evenly: the batch of a
    /// perfect executor on c cores with no overhead but its workers' wake-up. The Criterion
    /// suite's `ceiling/<W>` group times this, so its report shows what the host delivered.
    pub fn fixed_work(&self, steps: u64) -> Result<Duration> {
        let each = steps / self.cores() as u64;
        let started = std::time::Instant::now();
        if self.spinners.is_empty() {
            work(each);
        } else {
            self.together(|| Command::Work(each))?;
        }
        Ok(started.elapsed())
    }

    /// One measurement: the speed of each of the c spinners while all ran, relative to the
    /// calling thread running alone, each over `window` (the length of a perfectly parallel
    /// batch: the serial batch's time over c), in the order `many_first` says. `[1.0]` when
    /// c is 1.
    pub fn measure(&self, window: Duration, many_first: bool) -> Result<Vec<f64>> {
        let c = self.cores();
        if c <= 1 {
            return Ok(vec![1.0]);
        }
        let window = window.clamp(MIN_WINDOW, MAX_WINDOW);
        let (one, many) = if many_first {
            let many = self.count_many(window)?;
            (Self::count_alone(window), many)
        } else {
            let one = Self::count_alone(window);
            (one, self.count_many(window)?)
        };
        let alone = one.max(1) as f64;
        Ok(many.iter().map(|&n| n as f64 / alone).collect())
    }
}

/// The ceiling of a round: the speedup a perfect executor reaches on cores of these `speeds`
/// (relative to the baseline's core) with these `tasks` (their durations in the baseline's
/// batch). A perfect executor has no overhead and gives the next task to the core that is
/// free first, as a pool pulling from a queue does, so the task sizes count: 8 equal tasks on
/// cores of speed 1 and 0.8 take 5 task-times, not 8 / 1.8 = 4.4. With equal speeds and
/// enough tasks it is the sum of the speeds. Without tasks it is that sum.
pub fn ceiling(tasks: &[f64], speeds: &[f64]) -> f64 {
    let speeds: Vec<f64> = speeds
        .iter()
        .copied()
        .filter(|s| s.is_finite() && *s > 0.0)
        .collect();
    let serial: f64 = tasks.iter().filter(|d| d.is_finite() && **d > 0.0).sum();
    if speeds.is_empty() {
        return 1.0;
    }
    if serial <= 0.0 {
        return speeds.iter().sum();
    }
    let mut free = vec![0.0f64; speeds.len()];
    for &d in tasks.iter().filter(|d| d.is_finite() && **d > 0.0) {
        // The core free first takes the task; a tie goes to the faster core.
        let k = (0..free.len())
            .min_by(|&a, &b| {
                free[a]
                    .total_cmp(&free[b])
                    .then(speeds[b].total_cmp(&speeds[a]))
            })
            .expect("at least one core");
        free[k] += d / speeds[k];
    }
    let makespan = free.iter().copied().fold(0.0, f64::max);
    if makespan > 0.0 {
        serial / makespan
    } else {
        speeds.iter().sum()
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

#[cfg(test)]
mod tests {
    use super::ceiling;

    #[test]
    fn equal_cores_and_many_tasks_give_the_core_count() {
        assert!((ceiling(&[1.0; 64], &[1.0, 1.0]) - 2.0).abs() < 1e-12);
        assert!((ceiling(&[], &[1.0, 0.5]) - 1.5).abs() < 1e-12);
        assert_eq!(ceiling(&[1.0; 8], &[1.0]), 1.0);
    }

    #[test]
    fn uneven_cores_and_coarse_tasks_cost_what_list_scheduling_costs() {
        // Speeds 1 and 0.8, 8 equal tasks: the slow core finishes last at 5 task-times.
        let c = ceiling(&[1.0; 8], &[1.0, 0.8]);
        assert!((c - 8.0 / 5.0).abs() < 1e-9, "{c}");
        // Finer tasks come closer to the sum of the speeds.
        let fine = ceiling(&[0.125; 64], &[1.0, 0.8]);
        assert!(fine > 1.75 && fine <= 1.8 + 1e-9, "{fine}");
        // One task cannot be split: no speedup at all.
        assert!((ceiling(&[1.0], &[1.0, 1.0]) - 1.0).abs() < 1e-12);
    }
}
