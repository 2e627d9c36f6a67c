//! The host ceiling: what the host really delivered in a round.
//!
//! c spinner threads (no shared data), started once, placed as the executors' workers are and
//! parked between measurements as a pool's workers are, are woken for each measurement. Each
//! notes when it got to run and repeats a unit of work until a common deadline, so every core
//! is measured as free after a delay, then running at a rate: a vCPU woken late is time the
//! host did not deliver, and every executor whose workers wait between batches pays it too.
//! The calling thread, which runs the serial baseline, repeats the unit alone on its home core
//! for the one-core rate, which sizes a batch's work in units.
//!
//! The unit is the work itself ([`Unit`]): the cpu loop, or one of the workload's own tasks
//! (dot). What two cores deliver depends on what runs on them: when the host puts our two
//! vCPUs on one physical core's two hyperthreads, or when two tasks share the memory
//! bandwidth, a loop bound by latency slows less than one bound by throughput, and a matrix
//! product less or more than either. Measured here: a latency-bound spin loop put rayon at
//! 0.997-1.039 of the ceiling on cpu work from run to run, with every executor moving
//! together; spinning the cpu loop itself, 0.992-1.003.
//!
//! [`perfect_batch_s`] turns that into the batch time of a perfect executor on those cores,
//! and the round's ceiling is the serial batch over it (`engine::rounds`): 2.0 on two free
//! cores, 1.6 for 8 equal tasks when one vCPU ran at 0.8, 1.0 when both vCPUs shared one
//! core. An earlier probe compared spinner counts over the window, which averaged a late
//! wake into the core's rate: in runs where one spinner woke milliseconds late, executors
//! read up to 1.38 of that "perfect" executor.

use crate::error::{Error, Result};
use crate::measure::monotonic_ns;
use crate::system::Placement;
use crate::workload::cpu::count_steps;
use std::hint::black_box;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Loop steps of one cpu-loop unit: a few microseconds of work between two clock reads.
const STEPS_PER_CHECK: u64 = 2048;

/// Shortest and longest window accepted.
pub const MIN_WINDOW: Duration = Duration::from_micros(500);
/// See [`MIN_WINDOW`].
pub const MAX_WINDOW: Duration = Duration::from_millis(200);

/// One unit of the work a probe repeats; it returns how many units it did (the cpu loop does
/// [`STEPS_PER_CHECK`] steps a call and counts them as steps).
pub type Unit = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The cpu workload's loop, [`STEPS_PER_CHECK`] steps a unit: the probe of work that waits
/// (its ceiling is not its figure).
pub fn loop_unit() -> Unit {
    Arc::new(|| {
        black_box(count_steps(0, 0, STEPS_PER_CHECK));
        STEPS_PER_CHECK
    })
}

/// What a spinner is asked to do.
enum Command {
    /// Repeat the unit from a start instant to a deadline (monotonic ns).
    Window(u64, u64),
}

struct Spinner {
    commands: Sender<Command>,
    counts: Receiver<Counted>,
    handle: Option<JoinHandle<()>>,
}

/// A probe of c spinner threads, started once and reused by every round, and the calling
/// thread as the one-core reference.
pub struct CeilingProbe {
    spinners: Vec<Spinner>,
    unit: Unit,
}

/// What a spinner did: units, when it began them and when it finished the last (monotonic
/// ns).
#[derive(Debug, Clone, Copy)]
struct Counted {
    units: u64,
    began_ns: u64,
    ended_ns: u64,
}

/// Repeats `unit` from `start_ns` (or from when the thread got to run, if later) until
/// `deadline_ns`; the unit under way at the deadline is finished and counted.
fn spin(unit: &Unit, start_ns: u64, deadline_ns: u64) -> Counted {
    let mut began_ns = monotonic_ns();
    while began_ns < start_ns {
        std::hint::spin_loop();
        began_ns = monotonic_ns();
    }
    let mut units = 0;
    let ended_ns = loop {
        units += unit();
        let now = monotonic_ns();
        if now >= deadline_ns {
            break now;
        }
    };
    Counted {
        units,
        began_ns,
        ended_ns,
    }
}

impl CeilingProbe {
    /// A probe of `cores` spinners repeating `unit`: starts `cores` threads (none for one
    /// core), parked until a measurement, placed as the executors' workers are.
    pub fn start(cores: usize, placement: &Placement, unit: Unit) -> Result<Self> {
        let n = if cores > 1 { cores } else { 0 };
        let mut spinners = Vec::with_capacity(n);
        for i in 0..n {
            let (commands, command_rx) = channel::<Command>();
            let (count_tx, counts) = channel::<Counted>();
            let placement = placement.clone();
            let unit = unit.clone();
            let handle = std::thread::Builder::new()
                .name(format!("parbench-probe-{i}"))
                .spawn(move || {
                    placement.place_current(i);
                    while let Ok(command) = command_rx.recv() {
                        let count = match command {
                            Command::Window(start, deadline) => spin(&unit, start, deadline),
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
        Ok(CeilingProbe { spinners, unit })
    }

    /// Number of spinners: the c of the ceiling.
    pub fn cores(&self) -> usize {
        self.spinners.len().max(1)
    }

    /// Sends `command` to every spinner thread while the calling thread waits, as a caller
    /// of a pool waits for its batch, and returns what each did.
    fn together(&self, command: impl Fn() -> Command) -> Result<Vec<Counted>> {
        let gone = || Error::executor("probe", "a spinner thread is gone");
        // Spinner 0 is placed on the calling thread's own core: woken first, it could take
        // that core from the caller (a woken thread may preempt its waker) before the caller
        // has woken the others, for milliseconds. Measured: spinner 1 then started 0.7-4.3 ms
        // late in 30 of 69 rounds. So it is woken last.
        for s in self.spinners.iter().rev() {
            s.commands.send(command()).map_err(|_| gone())?;
        }
        self.spinners
            .iter()
            .map(|s| s.counts.recv().map_err(|_| gone()))
            .collect()
    }

    /// What each spinner thread delivered from now until a deadline `window` away: when it
    /// got to run, and at what rate from then on. A late wake is time the host did not
    /// deliver; a spinner that did not run before the deadline delivered nothing.
    fn count_many(&self, window: Duration) -> Result<Vec<Core>> {
        let start = monotonic_ns();
        let deadline = start + window.as_nanos() as u64;
        let counted = self.together(|| Command::Window(start, deadline))?;
        Ok(counted
            .into_iter()
            .map(|c| {
                // A spinner that began after the deadline delivered nothing in the window.
                let ran_ns = c.ended_ns.saturating_sub(c.began_ns);
                let late_ns = c.began_ns.saturating_sub(start);
                if c.began_ns >= deadline || ran_ns == 0 {
                    Core::ABSENT
                } else {
                    Core {
                        delay_s: late_ns as f64 / 1e9,
                        rate: c.units as f64 * 1e9 / ran_ns as f64,
                    }
                }
            })
            .collect())
    }

    /// Units per second the calling thread does alone over `window`: the one-core reference.
    fn rate_alone(&self, window: Duration) -> f64 {
        let start = monotonic_ns();
        let c = spin(&self.unit, start, start + window.as_nanos() as u64);
        c.units as f64 * 1e9 / c.ended_ns.saturating_sub(c.began_ns).max(1) as f64
    }

    /// One measurement: each spinner's rate while all c ran for `window` (the length of a
    /// perfectly parallel batch: the serial batch's time over c), and the calling thread's
    /// rate alone over a quarter of it, in the order `many_first` says. No spinners when c
    /// is 1. The rate alone only sizes the batch's work in units, as a median over many
    /// rounds, so a short window does: the round is shorter and more rounds fit the budget.
    pub fn measure(&self, window: Duration, many_first: bool) -> Result<Sample> {
        let window = window.clamp(MIN_WINDOW, MAX_WINDOW);
        let short = (window / 4).max(MIN_WINDOW);
        if self.spinners.is_empty() {
            return Ok(Sample {
                alone: self.rate_alone(short),
                many: Vec::new(),
            });
        }
        let (alone, many) = if many_first {
            let many = self.count_many(window)?;
            (self.rate_alone(short), many)
        } else {
            let alone = self.rate_alone(short);
            (alone, self.count_many(window)?)
        };
        Ok(Sample { alone, many })
    }
}

/// What one probe measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Units per second of the calling thread alone: the one-core reference.
    pub alone: f64,
    /// Each of the c spinners while all ran together.
    pub many: Vec<Core>,
}

/// One core as a spinner found it: free after a delay, then running at a rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Core {
    /// Seconds from the wake-up call until the spinner ran.
    pub delay_s: f64,
    /// Units per second from then on.
    pub rate: f64,
}

impl Core {
    /// A core that did not run at all in the window.
    pub const ABSENT: Core = Core {
        delay_s: 0.0,
        rate: 0.0,
    };

    /// A core free at once at `rate`.
    pub fn at(rate: f64) -> Core {
        Core { delay_s: 0.0, rate }
    }
}

/// The batch time of a perfect executor: `work` (each task's units) on `cores`, each
/// free after its delay and then running at its rate. It has no overhead of its own and gives
/// each task to the core that would finish it first, so task sizes count on uneven cores: 8
/// equal tasks on cores of speed 1 and 0.8 take 5 task-times, not 8 / 1.8 = 4.4. A core that
/// woke late joins late, as a late worker does; one that did not run gets no task. `None`
/// without a core that ran or without work.
pub fn perfect_batch_s(work: &[f64], cores: &[Core]) -> Option<f64> {
    let cores: Vec<Core> = cores
        .iter()
        .copied()
        .filter(|c| c.rate.is_finite() && c.rate > 0.0 && c.delay_s.is_finite())
        .collect();
    let work: Vec<f64> = work
        .iter()
        .copied()
        .filter(|w| w.is_finite() && *w > 0.0)
        .collect();
    if cores.is_empty() || work.is_empty() {
        return None;
    }
    let mut free: Vec<f64> = cores.iter().map(|c| c.delay_s.max(0.0)).collect();
    for w in work {
        let finish = |k: usize| free[k] + w / cores[k].rate;
        let k = (0..free.len())
            .min_by(|&a, &b| finish(a).total_cmp(&finish(b)))
            .expect("at least one core");
        free[k] = finish(k);
    }
    Some(free.iter().copied().fold(0.0, f64::max))
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
    use super::{perfect_batch_s, Core};

    /// The speedup of a perfect executor on cores free at once: one core's time over the
    /// perfect batch.
    fn speedup(work: &[f64], rates: &[f64]) -> f64 {
        let cores: Vec<Core> = rates.iter().map(|&r| Core::at(r)).collect();
        work.iter().sum::<f64>() / perfect_batch_s(work, &cores).unwrap()
    }

    #[test]
    fn equal_cores_and_many_tasks_give_the_core_count() {
        assert!((speedup(&[1.0; 64], &[1.0, 1.0]) - 2.0).abs() < 1e-12);
        assert_eq!(speedup(&[1.0; 8], &[1.0]), 1.0);
        assert_eq!(perfect_batch_s(&[], &[Core::at(1.0)]), None);
        assert_eq!(
            perfect_batch_s(&[1.0], &[Core::ABSENT, Core::at(f64::NAN)]),
            None
        );
    }

    #[test]
    fn uneven_cores_and_coarse_tasks_cost_what_a_perfect_schedule_costs() {
        // Speeds 1 and 0.8, 8 equal tasks: the batch ends at 5 task-times.
        let c = speedup(&[1.0; 8], &[1.0, 0.8]);
        assert!((c - 8.0 / 5.0).abs() < 1e-9, "{c}");
        // Finer tasks come closer to the sum of the speeds.
        let fine = speedup(&[0.125; 64], &[1.0, 0.8]);
        assert!(fine > 1.75 && fine <= 1.8 + 1e-9, "{fine}");
        // One task cannot be split: no speedup at all.
        assert!((speedup(&[1.0], &[1.0, 1.0]) - 1.0).abs() < 1e-12);
        // A core that barely ran gets nothing: the batch is one core's.
        assert!((speedup(&[1.0; 8], &[1.0, 1e-6]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_late_core_joins_late_at_its_own_speed() {
        // 8 tasks of 1 s on two cores of speed 1; the second is free after 2 s. It takes 3
        // of the tasks: the batch ends at 5 s, not at 4 s (both on time) nor 8 s (one core).
        let late = [
            Core::at(1.0),
            Core {
                delay_s: 2.0,
                rate: 1.0,
            },
        ];
        assert!((perfect_batch_s(&[1.0; 8], &late).unwrap() - 5.0).abs() < 1e-12);
    }
}
