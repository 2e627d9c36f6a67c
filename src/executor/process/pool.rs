//! The poll loop: one parent thread keeps every worker fed (a task ahead in its pipe while
//! enough are left to give one to every worker, then the next one when its reply arrives),
//! reads replies, and replaces a worker that dies or misbehaves.

use super::pipes::{poll_awake, pollfd, Outgoing, AWAKE};
use super::protocol::{self, Frame, Kind};
use super::shm::Segment;
use super::spawn::State;
use super::{ProcessPool, INFO};
use crate::error::{Error, Result, TaskError};
use crate::executor::Job;
use crate::measure::{
    monotonic_ns, Batch, BatchBuilder, Counters, Origin, TaskOutput, TaskRecord, Usage,
};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a worker was lost.
pub(super) enum Loss {
    /// Its stdout closed or a write to its stdin failed.
    Pipe(String),
    /// It broke the protocol.
    Protocol(String),
    /// It never said hello.
    Timeout(Duration),
    /// Its task did not answer within the task timeout: it is killed, not waited for.
    TaskTimeout(Duration),
}

/// A failed write to a worker's stdin. EPIPE means the worker closed its end (it exited or
/// shut the pipe): said as the EOF on its stdout would say it, since which of the two the
/// parent sees first is a race (a task written ahead makes the write the likelier).
fn write_failed(e: &std::io::Error) -> Loss {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Loss::Pipe(format!("closed its pipe (stdin write failed: {e})"))
    } else {
        Loss::Pipe(format!("stdin write failed: {e}"))
    }
}

/// "2 s", "1.5 s", "0.001 s": a timeout as the user typed it.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        let text = format!("{:.3}", d.as_secs_f64());
        format!("{} s", text.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// The stop signal (SIGINT, SIGTERM, SIGHUP) a worker died of, if it did: the user asking
/// the run to stop, not a fault to replace.
fn stop_signal(status: Option<std::process::ExitStatus>) -> Option<i32> {
    status
        .and_then(|st| st.signal())
        .filter(|sig| crate::interrupt::STOP_SIGNALS.contains(sig))
}

/// Milliseconds for `poll(2)` until `d`, rounded up so a deadline is never polled early in a
/// busy loop of zero timeouts.
fn poll_ms(d: Duration) -> i32 {
    d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
}

/// The state of one batch (or of the start-up handshake, with no job).
pub(super) struct Session<'j> {
    pub(super) job: Option<&'j Job>,
    pub(super) batch: Option<BatchBuilder>,
    pub(super) next: usize,
    /// Tasks handed back unrun (they waited behind a task in a worker that was lost): they
    /// go out again before `next`.
    pub(super) retry: Vec<usize>,
    pub(super) remaining: usize,
    pub(super) sent: u64,
    pub(super) received: u64,
    /// Input bytes handed to workers through shared memory instead of the pipe.
    pub(super) shared: u64,
    /// Output bytes taken from the workers' shared memory instead of the pipe.
    pub(super) received_shared: u64,
    /// When the last task went out: the reply to a short one is waited for awake.
    pub(super) sent_at: Option<Instant>,
    /// The job's large inputs in shared memory, if it has any and a segment could be made.
    pub(super) segment: Option<Arc<Segment>>,
    /// What the workers used during the batch, as they reported it.
    pub(super) usage: Usage,
    pub(super) respawns_left: usize,
    /// Descriptions of every worker lost, in order.
    pub(super) losses: Vec<String>,
    /// The stop signal that ended the batch: this process got SIGINT, SIGTERM or SIGHUP
    /// ([`crate::interrupt`]), or a worker died of one (a terminal's Ctrl-C or hang-up
    /// signals the whole process group). The batch then stops instead of replacing workers.
    pub(super) interrupted: Option<i32>,
}

impl<'j> Session<'j> {
    pub(super) fn new(job: Option<&'j Job>, workers: usize) -> Self {
        let tasks = job.map_or(0, Job::len);
        Session {
            job,
            batch: job.map(|j| BatchBuilder::new(j.len(), Origin::now())),
            next: 0,
            retry: Vec::new(),
            remaining: tasks,
            sent: 0,
            received: 0,
            shared: 0,
            received_shared: 0,
            sent_at: None,
            segment: None,
            usage: Usage::default(),
            respawns_left: tasks + workers,
            losses: Vec::new(),
            interrupted: None,
        }
    }

    fn set(&mut self, result: Result<TaskOutput, TaskError>, record: TaskRecord) {
        if let Some(batch) = self.batch.as_mut() {
            batch.set(result, record);
            self.remaining -= 1;
        }
    }

    /// The next task to send, if any is left.
    fn take_task(&mut self) -> Option<usize> {
        let job = self.job?;
        if let Some(task) = self.retry.pop() {
            return Some(task);
        }
        (self.next < job.len()).then(|| {
            self.next += 1;
            self.next - 1
        })
    }

    /// Tasks not yet sent to any worker.
    fn unsent(&self) -> usize {
        self.job.map_or(0, |j| j.len() - self.next) + self.retry.len()
    }

    fn origin(&self) -> Origin {
        self.batch
            .as_ref()
            .map_or(Origin(monotonic_ns()), BatchBuilder::origin)
    }
}

impl ProcessPool {
    /// Gives worker `lane` work: the next task if it is idle and, with `ahead`, one more to
    /// wait in its pipe behind the running one while at least as many tasks are left as
    /// workers without one waiting. A worker then starts its next task without waiting for
    /// this thread to hear its reply and answer (on a VM whose cores are both busy that took
    /// 1.5-2.7 ms), as ProcessPoolExecutor's call queue holds a task ahead. Every worker
    /// gets one ahead or none does: when fewer are left, they go only to workers that are
    /// free, so a slow core is not handed one early.
    fn feed(&mut self, lane: usize, s: &mut Session, ahead: bool) {
        loop {
            let Some(w) = self.lanes[lane].as_ref() else {
                return;
            };
            let wanted = match w.state {
                State::Idle => true,
                State::Busy { .. } => {
                    ahead
                        && w.queued.is_none()
                        && !w.out.pending()
                        && s.unsent() >= self.without_ahead()
                }
                State::Starting => false,
            };
            if !wanted {
                return;
            }
            let Some(task) = s.take_task() else { return };
            if !self.send(lane, task, s) {
                return;
            }
        }
    }

    /// Workers that would take a task now: idle ones, and busy ones with none waiting.
    fn without_ahead(&self) -> usize {
        self.lanes
            .iter()
            .flatten()
            .filter(|w| match w.state {
                State::Idle => true,
                State::Busy { .. } => w.queued.is_none(),
                State::Starting => false,
            })
            .count()
    }

    /// Writes `task` to worker `lane`: it runs it now if idle, or next. False when the worker
    /// was lost on the way.
    fn send(&mut self, lane: usize, task: usize, s: &mut Session) -> bool {
        let Some(job) = s.job else { return false };
        let Some(w) = self.lanes[lane].as_mut() else {
            return false;
        };
        let params = job.workload.params();
        let name = job.workload.name();
        let mut head = Vec::new();
        // Output slots whose payloads were dropped since: the worker may write them again.
        for slot in w.outputs.released() {
            head.extend(protocol::head(Kind::Release, &[slot], 0));
        }
        if w.opened.as_ref().map(|(n, p)| (*n, p)) != Some((name, params)) {
            match serde_json::to_vec(&(name, params)) {
                Ok(json) => {
                    head.extend(protocol::head(Kind::Open, &[], json.len()));
                    head.extend(json);
                    w.opened = Some((name, params.clone()));
                }
                Err(e) => {
                    let now = s.origin().elapsed_s();
                    let record = TaskRecord {
                        task,
                        worker: lane,
                        pid: w.pid,
                        start_s: now,
                        stop_s: now,
                        ok: false,
                    };
                    s.set(
                        Err(TaskError::new(format!("cannot encode the parameters: {e}"))),
                        record,
                    );
                    return true;
                }
            }
        }
        let shared = s
            .segment
            .as_ref()
            .and_then(|seg| Some((seg, seg.place(task)?)));
        if let Some((seg, (offset, len))) = shared {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&seg.fd) as u64;
            let words = [
                task as u64,
                lane as u64,
                seg.id,
                fd,
                offset as u64,
                len as u64,
            ];
            head.extend(protocol::head(Kind::Task, &words, 0));
            s.shared += len as u64;
            w.out = Outgoing {
                head,
                ..Outgoing::default()
            };
        } else {
            let data_len = job.inputs[task].data.len();
            let words = [task as u64, lane as u64, 0, 0, 0, 0];
            head.extend(protocol::head(Kind::Task, &words, data_len));
            w.out = Outgoing {
                head,
                head_at: 0,
                data: Some((Arc::clone(&job.inputs), task)),
                data_at: 0,
            };
        }
        if w.state == State::Idle {
            w.state = State::Busy {
                task,
                sent_ns: monotonic_ns(),
            };
        } else {
            w.queued = Some(task);
        }
        // Write now rather than after the next poll: one fewer system call per round trip.
        match w.flush() {
            Ok(n) => {
                s.sent += n;
                s.sent_at = Some(Instant::now());
                true
            }
            Err(e) => {
                self.lose(lane, write_failed(&e), s);
                false
            }
        }
    }

    /// Handles one frame from a worker.
    fn on_frame(&mut self, lane: usize, frame: Frame, s: &mut Session) {
        let Some(w) = self.lanes[lane].as_mut() else {
            return;
        };
        let in_batch = s.job.is_some();
        match (frame.kind, w.state) {
            (Kind::Hello, State::Starting) => {
                if frame.words[0] != protocol::VERSION {
                    let msg = format!(
                        "speaks protocol version {}, this parent {} (a stale binary?)",
                        frame.words[0],
                        protocol::VERSION
                    );
                    return self.lose(lane, Loss::Protocol(msg), s);
                }
                w.usage = Usage::from_words(&frame.words[2..]);
                if in_batch {
                    // A replacement started during the batch: its start-up counts.
                    s.usage = s.usage.plus(&w.usage);
                }
                w.state = State::Idle;
                self.feed(lane, s, true);
            }
            // The bytes still pending, if any, are the queued task's: the running one was
            // sent whole before it.
            (Kind::Done | Kind::Failed, State::Busy { task, .. })
                if frame.words[0] == task as u64 && (w.queued.is_some() || !w.out.pending()) =>
            {
                let usage_at = if frame.kind == Kind::Done { 7 } else { 3 };
                let usage = Usage::from_words(&frame.words[usage_at..]);
                s.usage = s.usage.plus(&usage.since(&w.usage));
                w.usage = usage;
                let origin = s.origin();
                let result = if frame.kind == Kind::Done {
                    let (slot, len) = (frame.words[5], frame.words[6] as usize);
                    let payload = if slot == protocol::NO_SLOT {
                        Ok(frame.tail.into())
                    } else {
                        s.received_shared += len as u64;
                        w.outputs.take(w.pid, slot, len).map_err(|e| {
                            TaskError::new(format!("cannot read the worker's shared output: {e}"))
                        })
                    };
                    payload.map(|payload| TaskOutput {
                        checksum: frame.words[3],
                        units: frame.words[4],
                        payload,
                    })
                } else {
                    Err(TaskError::new(String::from_utf8_lossy(&frame.tail)))
                };
                let record = TaskRecord {
                    task,
                    worker: lane,
                    pid: w.pid,
                    start_s: origin.secs_to(frame.words[1]),
                    stop_s: origin.secs_to(frame.words[2]),
                    ok: result.is_ok(),
                };
                // The queued task starts now: its timeout counts from here.
                w.state = match w.queued.take() {
                    Some(next) => State::Busy {
                        task: next,
                        sent_ns: monotonic_ns(),
                    },
                    None => State::Idle,
                };
                s.set(result, record);
                self.feed(lane, s, true);
            }
            (kind, state) => {
                let msg = format!("sent an unexpected {kind:?} frame while {state:?}");
                self.lose(lane, Loss::Protocol(msg), s);
            }
        }
    }

    /// Drops a worker that died or misbehaved: fails its task with an error naming the task
    /// and the worker, reaps the process, and starts a replacement.
    fn lose(&mut self, lane: usize, loss: Loss, s: &mut Session) {
        let Some(mut w) = self.lanes[lane].take() else {
            return;
        };
        // A worker that closed its pipe gets a moment to exit, so its status says why; a
        // stalled one is killed at once.
        let patient = matches!(loss, Loss::Pipe(_));
        if let Some(cpu) = w.proc_cpu_us() {
            if s.job.is_some() {
                s.usage.cpu_us += cpu.saturating_sub(w.usage.cpu_us);
            }
        }
        let status = w.reap(patient);
        let signal = status.and_then(|st| st.signal());
        let name = w.name();
        let pid = w.pid;
        let timed_out = matches!(loss, Loss::TaskTimeout(_));
        let what = match (&loss, signal) {
            (Loss::TaskTimeout(t), _) => match w.state {
                State::Busy { task, .. } => format!(
                    "task {task} timed out after {} in worker pid {pid} (killed)",
                    seconds(*t)
                ),
                _ => format!("worker {name} timed out after {} (killed)", seconds(*t)),
            },
            (_, Some(sig)) => format!("worker {name} was killed by signal {sig}"),
            (Loss::Pipe(m) | Loss::Protocol(m), None) => {
                let exit = status
                    .and_then(|st| st.code())
                    .map(|c| format!(" (exit code {c})"))
                    .unwrap_or_default();
                Error::Protocol {
                    worker: name.clone(),
                    message: format!("{m}{exit}"),
                }
                .to_string()
            }
            (Loss::Timeout(t), None) => Error::Protocol {
                worker: name.clone(),
                message: format!("no hello within {t:?}"),
            }
            .to_string(),
        };
        let was = w.state;
        // A task that waited behind the lost one never ran: it goes to another worker.
        if let Some(queued) = w.queued {
            s.retry.push(queued);
        }
        drop(w);
        match was {
            State::Busy { task, sent_ns } => {
                let origin = s.origin();
                let record = TaskRecord {
                    task,
                    worker: lane,
                    pid,
                    start_s: origin.secs_to(sent_ns),
                    stop_s: origin.elapsed_s(),
                    ok: false,
                };
                let message = if timed_out {
                    what.clone()
                } else {
                    format!("{what} while running task {task}")
                };
                s.set(Err(TaskError::new(message)), record);
                s.losses.push(what);
            }
            _ => s.losses.push(what),
        }
        // A worker that could not even start is not replaced now (that could loop); the
        // next batch tries again.
        if let Some(sig) = stop_signal(status) {
            s.interrupted = Some(sig);
        } else if was != State::Starting && s.respawns_left > 0 {
            s.respawns_left -= 1;
            match self.spawn(lane) {
                Ok(new) => self.lanes[lane] = Some(new),
                Err(e) => s.losses.push(e.to_string()),
            }
        }
    }

    /// Waits for something to happen on any pipe and handles it.
    pub(super) fn turn(&mut self, s: &mut Session) -> Result<()> {
        let mut fds = Vec::with_capacity(2 * self.lanes.len() + 1);
        let mut who = Vec::with_capacity(2 * self.lanes.len() + 1);
        let mut deadline: Option<Instant> = None;
        let (now, now_ns) = (Instant::now(), monotonic_ns());
        let task_timeout_ns =
            u64::try_from(self.config.task_timeout.as_nanos()).unwrap_or(u64::MAX);
        for w in self.lanes.iter().flatten() {
            fds.push(pollfd(w.stdout.as_fd(), libc::POLLIN));
            who.push((w.lane, w.pid, false));
            if w.out.pending() {
                if let Some(stdin) = w.stdin.as_ref() {
                    fds.push(pollfd(stdin.as_fd(), libc::POLLOUT));
                    who.push((w.lane, w.pid, true));
                }
            }
            let due = match w.state {
                State::Starting => Some(w.spawned + self.config.start_timeout),
                State::Busy { sent_ns, .. } => Some(
                    now + Duration::from_nanos(
                        sent_ns
                            .saturating_add(task_timeout_ns)
                            .saturating_sub(now_ns),
                    ),
                ),
                State::Idle => None,
            };
            if let Some(d) = due {
                deadline = Some(deadline.map_or(d, |x| x.min(d)));
            }
        }
        if fds.is_empty() {
            return Err(Error::executor(INFO.name, "no live workers"));
        }
        // A stop signal may be delivered to any thread; the self-pipe wakes this poll anyway.
        let wake = crate::interrupt::wake_fd();
        if let Some(fd) = wake {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            who.push((usize::MAX, 0, false));
        }
        // Right after a task went out, wait for its reply awake (see `AWAKE`), but only with a
        // core to spare: while every core runs a worker this thread would take one from it.
        let busy = self
            .lanes
            .iter()
            .flatten()
            .filter(|w| w.state != State::Idle);
        let awake = s
            .sent_at
            .map_or(Duration::ZERO, |t| AWAKE.saturating_sub(t.elapsed()));
        let ready = if !awake.is_zero() && busy.count() < self.affinity.len() {
            poll_awake(&mut fds, awake)
        } else {
            0
        };
        let n = if ready > 0 {
            ready as i32
        } else {
            let timeout_ms = deadline.map_or(-1, |d| poll_ms(d.saturating_duration_since(now)));
            // SAFETY: `fds` is a valid array of pollfd of the given length.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) }
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::executor(INFO.name, format!("poll failed: {e}")));
            }
        }
        // Stop at once: the caller retires the workers still busy (killed and reaped).
        crate::interrupt::check()?;
        if n < 0 {
            return Ok(());
        }
        for (fd, &(lane, pid, is_stdin)) in fds.iter().zip(&who) {
            if fd.revents == 0 || lane == usize::MAX {
                continue;
            }
            // The lane may hold a replacement by now, which has nothing to say yet.
            let Some(w) = self.lanes[lane].as_mut().filter(|w| w.pid == pid) else {
                continue;
            };
            if is_stdin {
                match w.flush() {
                    Ok(n) => s.sent += n,
                    Err(e) => self.lose(lane, write_failed(&e), s),
                }
                continue;
            }
            // Read every whole frame that is there.
            while let Some(w) = self.lanes[lane].as_mut().filter(|w| w.pid == pid) {
                let before = w.reader.bytes;
                let got = w.reader.poll(&mut w.stdout);
                s.received += w.reader.bytes - before;
                match got {
                    Ok(Some(frame)) => {
                        let staged = w.reader.has_staged();
                        self.on_frame(lane, frame, s);
                        // Nothing read ahead: the next poll says when more comes, which
                        // saves the read that would only say "would block" (a system call
                        // in every round trip).
                        if !staged {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(protocol::ReadError::Garbage(m)) => {
                        self.lose(lane, Loss::Protocol(format!("sent garbage: {m}")), s);
                        break;
                    }
                    Err(e) => {
                        self.lose(lane, Loss::Pipe(e.to_string()), s);
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        let late: Vec<usize> = self
            .lanes
            .iter()
            .flatten()
            .filter(|w| w.state == State::Starting && now >= w.spawned + self.config.start_timeout)
            .map(|w| w.lane)
            .collect();
        for lane in late {
            self.lose(lane, Loss::Timeout(self.config.start_timeout), s);
        }
        let now_ns = monotonic_ns();
        let stalled: Vec<usize> = self
            .lanes
            .iter()
            .flatten()
            .filter(|w| match w.state {
                State::Busy { sent_ns, .. } => now_ns >= sent_ns.saturating_add(task_timeout_ns),
                _ => false,
            })
            .map(|w| w.lane)
            .collect();
        for lane in stalled {
            self.lose(lane, Loss::TaskTimeout(self.config.task_timeout), s);
        }
        Ok(())
    }

    /// [`Executor::run`] without the clean-up after an error.
    pub(super) fn run_batch(&mut self, job: &Job) -> Result<Batch> {
        // Replace workers lost since the last batch (outside the timed region).
        // One that died of a stop signal since (a terminal's Ctrl-C between two batches) stops
        // this batch as it would have stopped the last.
        let mut revive = Session::new(None, self.lanes.len());
        for lane in 0..self.lanes.len() {
            let status = match self.lanes[lane].as_mut().map(|w| w.child.try_wait()) {
                Some(Ok(None)) => continue,
                Some(Ok(Some(status))) => Some(status),
                Some(Err(_)) | None => None,
            };
            self.lanes[lane] = None;
            if let Some(sig) = stop_signal(status) {
                return Err(Error::Interrupted(sig));
            }
            self.lanes[lane] = Some(self.spawn(lane)?);
        }
        while self
            .lanes
            .iter()
            .flatten()
            .any(|w| w.state == State::Starting)
        {
            self.turn(&mut revive)?;
            if let Some(sig) = revive.interrupted {
                return Err(Error::Interrupted(sig));
            }
            if let Some(loss) = revive.losses.first() {
                return Err(Error::executor(
                    INFO.name,
                    format!("cannot replace a lost worker: {loss}"),
                ));
            }
        }

        let mut s = Session::new(Some(job), self.lanes.len());
        // Without a segment (no memfd here) large inputs take the pipe: slower, not wrong.
        s.segment = super::shm::segment_for(&job.inputs).ok().flatten();
        // Every worker its first task before any gets one ahead: the first wake-ups first.
        for ahead in [false, true] {
            for lane in 0..self.lanes.len() {
                self.feed(lane, &mut s, ahead);
            }
        }
        while s.remaining > 0 {
            if let Some(sig) = s.interrupted {
                return Err(Error::Interrupted(sig));
            }
            if self.lanes.iter().all(Option::is_none) {
                // Every worker is gone and none could be replaced: the rest cannot run.
                let why = s.losses.last().cloned().unwrap_or_default();
                let origin = s.origin();
                while let Some(task) = s.take_task() {
                    let now = origin.elapsed_s();
                    let record = TaskRecord {
                        task,
                        worker: 0,
                        pid: 0,
                        start_s: now,
                        stop_s: now,
                        ok: false,
                    };
                    s.set(
                        Err(TaskError::new(format!("no worker left to run it: {why}"))),
                        record,
                    );
                }
                break;
            }
            self.turn(&mut s)?;
        }
        let counters = Counters {
            bytes_sent: Some(s.sent),
            bytes_received: Some(s.received),
            bytes_sent_shared: Some(s.shared),
            bytes_received_shared: Some(s.received_shared),
            child_cpu_s: Some(s.usage.cpu_us as f64 / 1e6),
            children: Some(s.usage),
            ..Counters::default()
        };
        Ok(s.batch.take().expect("a batch session").finish(counters))
    }
}
