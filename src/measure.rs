//! The one measurement record that every consumer reads: outputs, task timelines, counters.

use crate::error::{Error, TaskError, TaskFailure};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Nanoseconds on CLOCK_MONOTONIC. It is one clock for every thread and process on the
/// machine, so worker processes can stamp their tasks on the parent's time axis.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The shared origin of a batch: every task's start and stop is measured from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin(pub u64);

impl Origin {
    /// An origin at this instant.
    pub fn now() -> Self {
        Origin(monotonic_ns())
    }

    /// Seconds from the origin to a monotonic timestamp.
    pub fn secs_to(&self, t_ns: u64) -> f64 {
        t_ns.saturating_sub(self.0) as f64 / 1e9
    }

    /// Seconds from the origin to now.
    pub fn elapsed_s(&self) -> f64 {
        self.secs_to(monotonic_ns())
    }
}

/// One task's input: deterministic bytes derived from the workload's seed.
/// Bytes, so the process pool can ship it without a serialiser in the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInput {
    /// Position of the task in its batch.
    pub index: usize,
    /// The workload-defined payload (a loop count, a text, two matrices, a request path).
    pub data: Bytes,
}

/// Read-only bytes: owned, or a window of memory shared with another process (a process
/// worker reads large inputs straight from the parent's shared memory, uncopied). Either
/// way a workload sees a `&[u8]`.
#[derive(Clone)]
pub struct Bytes(Repr);

#[derive(Clone)]
enum Repr {
    Owned(Vec<u8>),
    Shared(Arc<dyn AsRef<[u8]> + Send + Sync>, std::ops::Range<usize>),
}

impl Bytes {
    /// `range` of `memory`, kept alive as long as these bytes are. Panics if the range is
    /// outside the memory (a caller's bug).
    pub fn shared(
        memory: Arc<dyn AsRef<[u8]> + Send + Sync>,
        range: std::ops::Range<usize>,
    ) -> Self {
        assert!(range.start <= range.end && range.end <= (*memory).as_ref().len());
        Bytes(Repr::Shared(memory, range))
    }

    /// The owned buffer, for reuse; `None` for shared bytes.
    pub fn into_vec(self) -> Option<Vec<u8>> {
        match self.0 {
            Repr::Owned(v) => Some(v),
            Repr::Shared(..) => None,
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Owned(v) => v,
            Repr::Shared(m, r) => &(**m).as_ref()[r.clone()],
        }
    }
}

impl Default for Bytes {
    fn default() -> Self {
        Bytes(Repr::Owned(Vec::new()))
    }
}

// As a byte sequence, whatever holds it; read back owned.
impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<u8>::deserialize(d).map(Bytes::from)
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(Repr::Owned(v))
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Bytes {}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.0 {
            Repr::Owned(_) => "owned",
            Repr::Shared(..) => "shared",
        };
        write!(f, "Bytes({} bytes, {kind})", self.len())
    }
}

/// One task's output. `checksum` is what executors are compared on; `payload` is what the
/// workload returns to its caller (the product matrix for dot): owned, or, from a process
/// worker, in the worker's shared memory, uncopied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOutput {
    /// Checksum of the task's result.
    pub checksum: u64,
    /// Units processed: bytes written for io, body bytes read for api, steps for cpu.
    pub units: u64,
    /// The task's returned value, when it has one worth shipping.
    pub payload: Bytes,
}

/// Where and when one task ran: the seed's timeline data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Task index.
    pub task: usize,
    /// Worker lane: 0..W for every executor.
    pub worker: usize,
    /// Process id that ran it (the parent's for in-process executors).
    pub pid: u32,
    /// Seconds from the batch origin to the task's start.
    pub start_s: f64,
    /// Seconds from the batch origin to the task's stop.
    pub stop_s: f64,
    /// Whether the task produced an output.
    pub ok: bool,
}

impl TaskRecord {
    /// Duration of the task in seconds.
    pub fn duration_s(&self) -> f64 {
        self.stop_s - self.start_s
    }
}

/// What the kernel counted for a process so far (`getrusage(RUSAGE_SELF)`: every thread,
/// the exited ones included), or, as a difference of two readings, during a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time, user + sys, in microseconds.
    pub cpu_us: u64,
    /// Page faults served without IO (first touch of fresh memory, a shared page mapped in).
    pub minor_faults: u64,
    /// Page faults that waited for IO.
    pub major_faults: u64,
    /// Context switches because a thread blocked (a wait, a read, a lock).
    pub voluntary_switches: u64,
    /// Context switches because the scheduler preempted a thread that could have run.
    pub involuntary_switches: u64,
}

impl Usage {
    /// Words in [`Usage::to_words`], the order the process pool's frames carry them in.
    pub const WORDS: usize = 5;

    /// This process's usage so far.
    pub fn of_process() -> Usage {
        // SAFETY: getrusage writes into the struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        Usage {
            cpu_us: us(ru.ru_utime) + us(ru.ru_stime),
            minor_faults: ru.ru_minflt as u64,
            major_faults: ru.ru_majflt as u64,
            voluntary_switches: ru.ru_nvcsw as u64,
            involuntary_switches: ru.ru_nivcsw as u64,
        }
    }

    /// What was counted between `earlier` and this reading (never negative).
    pub fn since(&self, earlier: &Usage) -> Usage {
        let w = self.to_words();
        let e = earlier.to_words();
        Usage::from_words(&std::array::from_fn::<u64, { Usage::WORDS }, _>(|i| {
            w[i].saturating_sub(e[i])
        }))
    }

    /// The sum of two usages (a parent's and its workers').
    pub fn plus(&self, other: &Usage) -> Usage {
        let (a, b) = (self.to_words(), other.to_words());
        Usage::from_words(&std::array::from_fn::<u64, { Usage::WORDS }, _>(|i| {
            a[i].saturating_add(b[i])
        }))
    }

    /// The usage as words: cpu_us, minor and major faults, voluntary and involuntary
    /// switches.
    pub fn to_words(&self) -> [u64; Usage::WORDS] {
        [
            self.cpu_us,
            self.minor_faults,
            self.major_faults,
            self.voluntary_switches,
            self.involuntary_switches,
        ]
    }

    /// The inverse of [`Usage::to_words`]; missing words count 0.
    pub fn from_words(words: &[u64]) -> Usage {
        let w = |i: usize| words.get(i).copied().unwrap_or(0);
        Usage {
            cpu_us: w(0),
            minor_faults: w(1),
            major_faults: w(2),
            voluntary_switches: w(3),
            involuntary_switches: w(4),
        }
    }
}

/// Counters that only some executors or workloads have; absent ones stay `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Bytes the parent sent to worker processes.
    pub bytes_sent: Option<u64>,
    /// Bytes the parent received from worker processes.
    pub bytes_received: Option<u64>,
    /// Input bytes the worker processes read from shared memory instead of a pipe: they
    /// were written there once per job and are not in `bytes_sent`.
    pub bytes_sent_shared: Option<u64>,
    /// Output bytes the parent copied out of its workers' shared memory instead of reading
    /// them from a pipe; not in `bytes_received`.
    pub bytes_received_shared: Option<u64>,
    /// Forced switches of the simulated GIL.
    pub forced_switches: Option<u64>,
    /// TCP connections the mock server accepted.
    pub connections: Option<u64>,
    /// CPU seconds (user + sys) spent in worker processes during the batch.
    pub child_cpu_s: Option<f64>,
    /// Minor page faults during the batch: this process (every thread) plus its worker
    /// processes' own, as they reported them. Fresh memory costs one per 4 KiB page touched.
    pub minor_faults: Option<u64>,
    /// Major page faults (ones that waited for IO) during the batch, counted the same way.
    pub major_faults: Option<u64>,
    /// Voluntary context switches (a thread blocked) during the batch, counted the same way.
    pub voluntary_switches: Option<u64>,
    /// Involuntary context switches (a runnable thread preempted) during the batch.
    pub involuntary_switches: Option<u64>,
    /// Of the counts above, the worker processes' share (the process pool only).
    pub child_minor_faults: Option<u64>,
    /// Each worker lane's idle time in the batch, in seconds: the wall time less the time
    /// its tasks ran, from the task records. For the process pool a task's time is the
    /// worker's own, so the time its input and output spend in transit counts as idle.
    pub worker_idle_s: Option<Vec<f64>>,
    /// What the worker processes reported they used in the batch (the process pool sets
    /// it; the engine adds the parent's own and fills in the fields above).
    #[serde(skip)]
    pub children: Option<Usage>,
}

impl Counters {
    /// Records a batch's usage (the parent's, plus its workers' when it has any).
    pub fn set_usage(&mut self, parent: &Usage, children: Option<&Usage>) {
        let all = children.map_or(*parent, |c| parent.plus(c));
        self.minor_faults = Some(all.minor_faults);
        self.major_faults = Some(all.major_faults);
        self.voluntary_switches = Some(all.voluntary_switches);
        self.involuntary_switches = Some(all.involuntary_switches);
        if let Some(c) = children {
            self.child_minor_faults = Some(c.minor_faults);
            self.child_cpu_s = Some(c.cpu_us as f64 / 1e6);
        }
    }
}

/// The result of one batch on one executor: every outcome, every record, the wall time.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Outcome per task, in task order. Failed tasks stay here; nothing is dropped.
    pub results: Vec<Result<TaskOutput, TaskError>>,
    /// Timeline record per task, in task order.
    pub records: Vec<TaskRecord>,
    /// Wall time of the batch, from the origin to the last stop, in seconds.
    pub wall_s: f64,
    /// Optional counters.
    pub counters: Counters,
}

impl Batch {
    /// Combined checksum of all outputs, or an error listing every failed task.
    pub fn checksum(&self) -> Result<u64, Error> {
        self.failures_as_error()?;
        Ok(combine_checksums(
            self.results
                .iter()
                .map(|r| r.as_ref().map(|o| o.checksum).unwrap_or(0)),
        ))
    }

    /// Every failed task, in task order.
    pub fn failures(&self) -> Vec<TaskFailure> {
        self.results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.as_ref().err().map(|e| TaskFailure {
                    task: i,
                    worker: self
                        .records
                        .get(i)
                        .map(|rec| {
                            if rec.pid != std::process::id() {
                                format!("{} (pid {})", rec.worker, rec.pid)
                            } else {
                                rec.worker.to_string()
                            }
                        })
                        .unwrap_or_else(|| "?".into()),
                    error: e.clone(),
                })
            })
            .collect()
    }

    /// `Ok` when every task succeeded, else [`Error::TasksFailed`].
    pub fn failures_as_error(&self) -> Result<(), Error> {
        let failures = self.failures();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::TasksFailed {
                failures,
                total: self.results.len(),
            })
        }
    }

    /// Each lane's idle time, `workers` lanes: the wall time less the time its tasks ran.
    pub fn worker_idle_s(&self, workers: usize) -> Vec<f64> {
        let mut busy = vec![0.0f64; workers];
        for r in &self.records {
            if let Some(b) = busy.get_mut(r.worker) {
                *b += r.duration_s().max(0.0);
            }
        }
        busy.iter().map(|b| (self.wall_s - b).max(0.0)).collect()
    }

    /// Sum of the units processed by successful tasks.
    pub fn units(&self) -> u64 {
        self.results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|o| o.units)
            .sum()
    }
}

/// Order-sensitive combination of per-task checksums (FNV-style), so a swapped output is caught.
pub fn combine_checksums(parts: impl IntoIterator<Item = u64>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        h ^= p;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    h
}

/// FNV-1a over bytes: a cheap, deterministic checksum for task payloads.
pub fn checksum_bytes(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in data.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h ^= u64::from_le_bytes(word);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ data.len() as u64
}

/// Assembles a [`Batch`] from tasks finishing in any order.
#[derive(Debug)]
pub struct BatchBuilder {
    origin: Origin,
    results: Vec<Option<Result<TaskOutput, TaskError>>>,
    records: Vec<Option<TaskRecord>>,
}

impl BatchBuilder {
    /// A builder for `tasks` tasks timed from `origin`.
    pub fn new(tasks: usize, origin: Origin) -> Self {
        BatchBuilder {
            origin,
            results: vec![None; tasks],
            records: vec![None; tasks],
        }
    }

    /// The batch origin.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Stores one task's outcome and record.
    pub fn set(&mut self, result: Result<TaskOutput, TaskError>, record: TaskRecord) {
        if result.is_err() {
            // A client's EOF may be a server out of descriptors: look while it still is.
            crate::refusal::watch_failure();
        }
        let i = record.task;
        self.results[i] = Some(result);
        self.records[i] = Some(record);
    }

    /// Finishes the batch. A task that never reported is kept as a failure, never dropped.
    pub fn finish(self, counters: Counters) -> Batch {
        let origin = self.origin;
        let wall_s = origin.elapsed_s();
        let records: Vec<TaskRecord> = self
            .records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| TaskRecord {
                    task: i,
                    worker: 0,
                    pid: std::process::id(),
                    start_s: wall_s,
                    stop_s: wall_s,
                    ok: false,
                })
            })
            .collect();
        let results = self
            .results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(TaskError::new("task never ran"))))
            .collect();
        Batch {
            results,
            records,
            wall_s,
            counters,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_differences_and_sums_never_go_negative() {
        let a = Usage::from_words(&[10, 20, 1, 5, 7]);
        let b = Usage::from_words(&[4, 25, 0, 5, 2]);
        assert_eq!(a.since(&b).to_words(), [6, 0, 1, 0, 5]);
        assert_eq!(a.plus(&b).to_words(), [14, 45, 1, 10, 9]);
        assert_eq!(Usage::from_words(&a.to_words()), a);
        let now = Usage::of_process();
        // Touch fresh memory: the process's own count can only grow.
        std::hint::black_box(vec![1u8; 1 << 20]);
        assert!(Usage::of_process().minor_faults >= now.minor_faults);
    }

    #[test]
    fn idle_time_is_the_wall_less_each_lanes_tasks() {
        let record = |task, worker, start_s, stop_s| TaskRecord {
            task,
            worker,
            pid: 1,
            start_s,
            stop_s,
            ok: true,
        };
        let batch = Batch {
            results: vec![Ok(TaskOutput::default()); 3],
            records: vec![
                record(0, 0, 0.0, 0.4),
                record(1, 0, 0.5, 1.0),
                record(2, 1, 0.2, 0.6),
            ],
            wall_s: 1.0,
            counters: Counters::default(),
        };
        let idle = batch.worker_idle_s(3);
        let want = [0.1, 0.6, 1.0];
        for (got, want) in idle.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{idle:?}");
        }
    }
}
