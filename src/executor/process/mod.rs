//! `process`: a pool of W worker processes fed over pipes, like Python's ProcessPoolExecutor.
//!
//! Workers are this project's own binary started as `parbench worker` (never a `fork()` of a
//! multi-threaded parent). Parent and worker talk over the child's stdin and stdout only,
//! with length-prefixed frames ([`protocol`]); a task's input and output cross the pipe as
//! raw bytes, through `vmsplice(2)` when they are large, into pipes grown to 1 MiB.
//!
//! One parent thread serves every worker with `poll(2)` on non-blocking pipes: a worker gets
//! its next task the moment its reply arrives (dynamic dispatch), large inputs stream to
//! several workers at once, and no thread hand-off sits in the round trip. A worker that
//! dies, closes its pipe or sends garbage fails only the task it was running, with an error
//! that names the task and the worker's pid, and is replaced at once.

pub mod protocol;
mod worker;

pub use worker::{worker_main, FAULT_ENV, PARENT_ENV};

use super::{ExecOptions, Executor, ExecutorInfo, Job};
use crate::error::{Error, Result, TaskError};
use crate::measure::{
    monotonic_ns, Batch, BatchBuilder, Counters, Origin, TaskInput, TaskOutput, TaskRecord,
};
use crate::workload::Params;
use protocol::{Frame, FrameReader, Kind};
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "process",
    about: "pool of W worker processes fed over pipes (ProcessPoolExecutor)",
    scales: true,
    start,
};

fn start(options: &ExecOptions) -> Result<Box<dyn Executor>> {
    let exe = match &options.worker_exe {
        Some(exe) => exe.clone(),
        None => default_worker_exe()?,
    };
    Ok(Box::new(
        ProcessPool::builder(exe).workers(options.workers).start()?,
    ))
}

/// The running `parbench` binary, for the CLI. Refuses any other binary (a test harness or a
/// bench): started as `<it> worker`, it would run its own tests instead of serving tasks.
pub fn default_worker_exe() -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::executor(INFO.name, format!("cannot find this binary: {e}")))?;
    if exe.file_stem().and_then(|s| s.to_str()) != Some("parbench") {
        return Err(Error::executor(
            INFO.name,
            format!(
                "{} is not the parbench binary; set ExecOptions::worker_exe \
                 (env!(\"CARGO_BIN_EXE_parbench\") in tests and benches)",
                exe.display()
            ),
        ));
    }
    Ok(exe)
}

/// Pipe buffer size asked for with `F_SETPIPE_SZ` (the unprivileged maximum by default).
pub const PIPE_BYTES: usize = 1 << 20;

/// Beyond this many workers the pipes keep their default size: 2 MiB of pipe per worker
/// would exhaust the per-user pipe budget (`pipe-user-pages-soft`, 64 MiB by default), and
/// the kernel would then shrink new pipes to one page.
const GROW_PIPES_UP_TO: usize = 16;

/// How a pool is started.
#[derive(Debug, Clone)]
pub struct ProcessPoolBuilder {
    exe: PathBuf,
    workers: usize,
    env: Vec<(OsString, OsString)>,
    zero_copy: bool,
    pipe_bytes: Option<usize>,
    start_timeout: Duration,
    grace: Duration,
}

impl ProcessPoolBuilder {
    /// Number of worker processes (default 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// An extra environment variable for the workers (tests use [`FAULT_ENV`]).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sends large inputs with `vmsplice` instead of `write` (default on; off only to
    /// measure what it saves).
    pub fn zero_copy(mut self, on: bool) -> Self {
        self.zero_copy = on;
        self
    }

    /// Pipe buffer size to ask for, or `None` for the kernel default (64 KiB).
    pub fn pipe_bytes(mut self, bytes: Option<usize>) -> Self {
        self.pipe_bytes = bytes;
        self
    }

    /// How long a worker may take to say hello (default 30 s: a loaded machine is slow, but
    /// a worker that never answers must not hang the pool).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long shutdown waits for workers to exit before killing them (default 2 s).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Starts every worker and waits for each to say hello. The time this takes is
    /// [`ProcessPool::start_time`].
    pub fn start(self) -> Result<ProcessPool> {
        super::check_workers(self.workers)?;
        let began = Instant::now();
        let mut pool = ProcessPool {
            lanes: Vec::with_capacity(self.workers),
            config: self,
            start_time: Duration::ZERO,
        };
        for lane in 0..pool.config.workers {
            let worker = pool.spawn(lane)?;
            pool.lanes.push(Some(worker));
        }
        let mut session = Session::new(None, pool.lanes.len());
        while pool
            .lanes
            .iter()
            .flatten()
            .any(|w| w.state == State::Starting)
        {
            pool.turn(&mut session)?;
            if let Some(loss) = session.losses.first() {
                return Err(Error::executor(
                    INFO.name,
                    format!("a worker failed to start: {loss}"),
                ));
            }
        }
        pool.start_time = began.elapsed();
        Ok(pool)
    }
}

/// Where a worker is in its conversation with the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Spawned, hello not yet received.
    Starting,
    /// Waiting for a task.
    Idle,
    /// Running `task`, sent at `sent_ns`.
    Busy { task: usize, sent_ns: u64 },
}

/// Bytes queued for a worker's stdin: frame heads, then a task's input, shared with the job.
/// With `vmsplice` the pipe refers to the input's pages; that is sound because the caller's
/// `Job` keeps the inputs alive and unchanged until `run` returns, by which time every
/// worker has read its input whole (it replied) or is dead with its pipe closed.
#[derive(Default)]
struct Outgoing {
    head: Vec<u8>,
    head_at: usize,
    data: Option<(Arc<Vec<TaskInput>>, usize)>,
    data_at: usize,
}

impl Outgoing {
    fn data(&self) -> &[u8] {
        self.data
            .as_ref()
            .map(|(inputs, i)| inputs[*i].data.as_slice())
            .unwrap_or(&[])
    }

    fn pending(&self) -> bool {
        self.head_at < self.head.len() || self.data_at < self.data().len()
    }
}

/// One worker process and the parent's side of its pipes.
struct Worker {
    lane: usize,
    pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    reader: FrameReader,
    out: Outgoing,
    state: State,
    /// The workload the worker has open: an `Open` frame is sent only when it changes.
    opened: Option<(&'static str, Params)>,
    /// The worker's own CPU time, as last reported.
    cpu_us: u64,
    zero_copy: bool,
    spawned: Instant,
}

impl Worker {
    fn name(&self) -> String {
        format!("{} (pid {})", self.lane, self.pid)
    }

    /// Writes as much of the queued bytes as the pipe takes now; returns the bytes written.
    fn flush(&mut self) -> std::io::Result<u64> {
        let Some(stdin) = self.stdin.as_ref() else {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        };
        let mut written = 0u64;
        while self.out.pending() {
            let head = &self.out.head[self.out.head_at..];
            let data = &self.out.data()[self.out.data_at..];
            match protocol::write_some(stdin.as_fd(), head, data, &mut self.zero_copy, true) {
                Ok(n) => {
                    let from_head = n.min(head.len());
                    self.out.head_at += from_head;
                    self.out.data_at += n - from_head;
                    written += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !self.out.pending() {
            self.out = Outgoing::default();
        }
        Ok(written)
    }

    /// CPU time of the (possibly dead, not yet reaped) process from `/proc`, in us.
    fn proc_cpu_us(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name, which is in parentheses and may contain spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf only reads a constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (hz > 0).then(|| ticks * 1_000_000 / hz as u64)
    }

    /// Ends the process and reaps it. When `patient`, first gives it a moment to finish
    /// exiting on its own (its pipe closed), so the status tells why it went.
    fn reap(&mut self, patient: bool) -> Option<ExitStatus> {
        self.stdin = None;
        if patient {
            let until = Instant::now() + Duration::from_millis(200);
            while Instant::now() < until {
                match self.child.try_wait() {
                    Ok(Some(status)) => return Some(status),
                    Ok(None) => std::thread::sleep(Duration::from_micros(500)),
                    Err(_) => break,
                }
            }
        } else if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Idempotent: a reaped child is not killed again.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a worker was lost.
enum Loss {
    /// Its stdout closed or a write to its stdin failed.
    Pipe(String),
    /// It broke the protocol.
    Protocol(String),
    /// It never said hello.
    Timeout(Duration),
}

/// The state of one batch (or of the start-up handshake, with no job).
struct Session<'j> {
    job: Option<&'j Job>,
    batch: Option<BatchBuilder>,
    next: usize,
    remaining: usize,
    sent: u64,
    received: u64,
    cpu_us: u64,
    respawns_left: usize,
    /// Descriptions of every worker lost, in order.
    losses: Vec<String>,
    /// A worker died of SIGINT: the user pressed Ctrl-C (the terminal signals the whole
    /// process group), so the batch stops instead of replacing workers.
    interrupted: bool,
}

impl<'j> Session<'j> {
    fn new(job: Option<&'j Job>, workers: usize) -> Self {
        let tasks = job.map_or(0, Job::len);
        Session {
            job,
            batch: job.map(|j| BatchBuilder::new(j.len(), Origin::now())),
            next: 0,
            remaining: tasks,
            sent: 0,
            received: 0,
            cpu_us: 0,
            respawns_left: tasks + workers,
            losses: Vec::new(),
            interrupted: false,
        }
    }

    fn set(&mut self, result: Result<TaskOutput, TaskError>, record: TaskRecord) {
        if let Some(batch) = self.batch.as_mut() {
            batch.set(result, record);
            self.remaining -= 1;
        }
    }

    fn origin(&self) -> Origin {
        self.batch
            .as_ref()
            .map_or(Origin(monotonic_ns()), BatchBuilder::origin)
    }
}

/// A started pool of worker processes. Reusable across batches; dropping it closes the
/// workers' stdin, waits for them to exit, and kills any that do not within the grace time.
pub struct ProcessPool {
    config: ProcessPoolBuilder,
    lanes: Vec<Option<Worker>>,
    start_time: Duration,
}

impl ProcessPool {
    /// A builder for a pool whose workers run `exe worker`.
    pub fn builder(exe: impl Into<PathBuf>) -> ProcessPoolBuilder {
        ProcessPoolBuilder {
            exe: exe.into(),
            workers: 1,
            env: Vec::new(),
            zero_copy: true,
            pipe_bytes: Some(PIPE_BYTES),
            start_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(2),
        }
    }

    /// Wall time from the first spawn to the last worker's hello.
    pub fn start_time(&self) -> Duration {
        self.start_time
    }

    /// The pid of each lane's worker (`None` for a lane whose worker could not be replaced).
    pub fn pids(&self) -> Vec<Option<u32>> {
        self.lanes
            .iter()
            .map(|w| w.as_ref().map(|w| w.pid))
            .collect()
    }

    fn spawn(&self, lane: usize) -> Result<Worker> {
        let mut cmd = Command::new(&self.config.exe);
        cmd.arg("worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env(PARENT_ENV, std::process::id().to_string())
            .envs(self.config.env.iter().map(|(k, v)| (k, v)));
        let mut child = spawner::spawn(cmd).map_err(|e| {
            Error::executor(
                INFO.name,
                format!(
                    "cannot start worker {} worker: {e}",
                    self.config.exe.display()
                ),
            )
        })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::executor(INFO.name, "worker pipes missing"));
        };
        if let Some(bytes) = self.config.pipe_bytes {
            if self.config.workers <= GROW_PIPES_UP_TO {
                protocol::grow_pipe(stdin.as_fd(), bytes);
                protocol::grow_pipe(stdout.as_fd(), bytes);
            }
        }
        let worker = Worker {
            lane,
            pid: child.id(),
            child,
            stdin: Some(stdin),
            stdout,
            reader: FrameReader::default(),
            out: Outgoing::default(),
            state: State::Starting,
            opened: None,
            cpu_us: 0,
            zero_copy: self.config.zero_copy,
            spawned: Instant::now(),
        };
        for fd in [
            worker.stdin.as_ref().map(|s| s.as_fd()),
            Some(worker.stdout.as_fd()),
        ]
        .into_iter()
        .flatten()
        {
            set_nonblocking(fd).map_err(|e| {
                Error::executor(INFO.name, format!("cannot make a pipe non-blocking: {e}"))
            })?;
        }
        Ok(worker)
    }

    /// Gives an idle worker the next task, if any is left.
    fn feed(&mut self, lane: usize, s: &mut Session) {
        let Some(job) = s.job else { return };
        let Some(w) = self.lanes[lane].as_mut() else {
            return;
        };
        if w.state != State::Idle || s.next >= job.len() {
            return;
        }
        let task = s.next;
        s.next += 1;
        let params = job.workload.params();
        let name = job.workload.name();
        let mut head = Vec::new();
        if w.opened.as_ref() != Some(&(name, params.clone())) {
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
                    return self.feed(lane, s);
                }
            }
        }
        let data_len = job.inputs[task].data.len();
        head.extend(protocol::head(
            Kind::Task,
            &[task as u64, lane as u64],
            data_len,
        ));
        w.out = Outgoing {
            head,
            head_at: 0,
            data: Some((Arc::clone(&job.inputs), task)),
            data_at: 0,
        };
        w.state = State::Busy {
            task,
            sent_ns: monotonic_ns(),
        };
        // Write now rather than after the next poll: one fewer system call per round trip.
        match w.flush() {
            Ok(n) => s.sent += n,
            Err(e) => self.lose(lane, Loss::Pipe(format!("stdin write failed: {e}")), s),
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
                w.cpu_us = frame.words[2];
                if in_batch {
                    // A replacement started during the batch: its start-up CPU counts.
                    s.cpu_us += w.cpu_us;
                }
                w.state = State::Idle;
                self.feed(lane, s);
            }
            (Kind::Done | Kind::Failed, State::Busy { task, .. })
                if frame.words[0] == task as u64 && !w.out.pending() =>
            {
                let cpu = frame.words[3];
                s.cpu_us += cpu.saturating_sub(w.cpu_us);
                w.cpu_us = cpu;
                let origin = s.origin();
                let result = if frame.kind == Kind::Done {
                    Ok(TaskOutput {
                        checksum: frame.words[4],
                        units: frame.words[5],
                        payload: frame.tail,
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
                w.state = State::Idle;
                s.set(result, record);
                self.feed(lane, s);
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
        let patient = matches!(loss, Loss::Pipe(_));
        if let Some(cpu) = w.proc_cpu_us() {
            if s.job.is_some() {
                s.cpu_us += cpu.saturating_sub(w.cpu_us);
            }
        }
        let status = w.reap(patient);
        let signal = status.and_then(|st| st.signal());
        let name = w.name();
        let pid = w.pid;
        let what = match (&loss, signal) {
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
                s.set(
                    Err(TaskError::new(format!("{what} while running task {task}"))),
                    record,
                );
                s.losses.push(what);
            }
            _ => s.losses.push(what),
        }
        // A worker that could not even start is not replaced now (that could loop); the
        // next batch tries again.
        if signal == Some(libc::SIGINT) {
            s.interrupted = true;
        } else if was != State::Starting && s.respawns_left > 0 {
            s.respawns_left -= 1;
            match self.spawn(lane) {
                Ok(new) => self.lanes[lane] = Some(new),
                Err(e) => s.losses.push(e.to_string()),
            }
        }
    }

    /// Waits for something to happen on any pipe and handles it.
    fn turn(&mut self, s: &mut Session) -> Result<()> {
        let mut fds = Vec::with_capacity(2 * self.lanes.len());
        let mut who = Vec::with_capacity(2 * self.lanes.len());
        let mut deadline: Option<Instant> = None;
        for w in self.lanes.iter().flatten() {
            fds.push(pollfd(w.stdout.as_fd(), libc::POLLIN));
            who.push((w.lane, w.pid, false));
            if w.out.pending() {
                if let Some(stdin) = w.stdin.as_ref() {
                    fds.push(pollfd(stdin.as_fd(), libc::POLLOUT));
                    who.push((w.lane, w.pid, true));
                }
            }
            if w.state == State::Starting {
                let d = w.spawned + self.config.start_timeout;
                deadline = Some(deadline.map_or(d, |x| x.min(d)));
            }
        }
        if fds.is_empty() {
            return Err(Error::executor(INFO.name, "no live workers"));
        }
        let timeout_ms = deadline.map_or(-1, |d| {
            d.saturating_duration_since(Instant::now())
                .as_millis()
                .min(i32::MAX as u128) as i32
        });
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(Error::executor(INFO.name, format!("poll failed: {e}")));
        }
        for (fd, &(lane, pid, is_stdin)) in fds.iter().zip(&who) {
            if fd.revents == 0 {
                continue;
            }
            // The lane may hold a replacement by now, which has nothing to say yet.
            let Some(w) = self.lanes[lane].as_mut().filter(|w| w.pid == pid) else {
                continue;
            };
            if is_stdin {
                match w.flush() {
                    Ok(n) => s.sent += n,
                    Err(e) => self.lose(lane, Loss::Pipe(format!("stdin write failed: {e}")), s),
                }
                continue;
            }
            // Read every whole frame that is there.
            while let Some(w) = self.lanes[lane].as_mut().filter(|w| w.pid == pid) {
                let before = w.reader.bytes;
                let got = w.reader.poll(&mut w.stdout);
                s.received += w.reader.bytes - before;
                match got {
                    Ok(Some(frame)) => self.on_frame(lane, frame, s),
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
        Ok(())
    }
}

fn pollfd(fd: BorrowedFd<'_>, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    // SAFETY: fcntl flag get/set on a descriptor we borrow.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Executor for ProcessPool {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn workers(&self) -> usize {
        self.lanes.len()
    }

    fn run(&mut self, job: &Job) -> Result<Batch> {
        let result = self.run_batch(job);
        if result.is_err() {
            // A batch cut short leaves workers mid-task: retire them, so a later batch never
            // reads a stale reply. They are replaced when the pool is next used.
            for lane in self.lanes.iter_mut() {
                if lane.as_ref().is_some_and(|w| w.state != State::Idle) {
                    *lane = None;
                }
            }
        }
        result
    }
}

impl ProcessPool {
    /// [`Executor::run`] without the clean-up after an error.
    fn run_batch(&mut self, job: &Job) -> Result<Batch> {
        // Replace workers lost since the last batch (outside the timed region).
        let mut revive = Session::new(None, self.lanes.len());
        for lane in 0..self.lanes.len() {
            let dead = match self.lanes[lane].as_mut() {
                None => true,
                Some(w) => !matches!(w.child.try_wait(), Ok(None)),
            };
            if dead {
                self.lanes[lane] = None;
                self.lanes[lane] = Some(self.spawn(lane)?);
            }
        }
        while self
            .lanes
            .iter()
            .flatten()
            .any(|w| w.state == State::Starting)
        {
            self.turn(&mut revive)?;
            if revive.interrupted {
                return Err(Error::Interrupted);
            }
            if let Some(loss) = revive.losses.first() {
                return Err(Error::executor(
                    INFO.name,
                    format!("cannot replace a lost worker: {loss}"),
                ));
            }
        }

        let mut s = Session::new(Some(job), self.lanes.len());
        for lane in 0..self.lanes.len() {
            self.feed(lane, &mut s);
        }
        while s.remaining > 0 {
            if s.interrupted {
                return Err(Error::Interrupted);
            }
            if self.lanes.iter().all(Option::is_none) {
                // Every worker is gone and none could be replaced: the rest cannot run.
                let why = s.losses.last().cloned().unwrap_or_default();
                let origin = s.origin();
                while s.next < job.len() {
                    let now = origin.elapsed_s();
                    let task = s.next;
                    s.next += 1;
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
            child_cpu_s: Some(s.cpu_us as f64 / 1e6),
            ..Counters::default()
        };
        Ok(s.batch.take().expect("a batch session").finish(counters))
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        // Closing stdin is the shutdown request: an idle worker reads EOF and exits 0.
        for w in self.lanes.iter_mut().flatten() {
            w.stdin = None;
        }
        let until = Instant::now() + self.config.grace;
        for w in self.lanes.iter_mut().flatten() {
            while Instant::now() < until {
                match w.child.try_wait() {
                    Ok(None) => std::thread::sleep(Duration::from_micros(200)),
                    _ => break,
                }
            }
        }
        // Worker::drop kills whatever is still running and reaps it.
        self.lanes.clear();
    }
}

/// Starts every worker from one long-lived thread.
///
/// Workers ask for `PR_SET_PDEATHSIG`, and Linux delivers that signal when the *thread*
/// that spawned them exits, not the process. Spawning from a thread that lives as long as
/// the process means a pool may be created, used and dropped on any thread (a test, a
/// scoped thread) without its workers being killed under it.
mod spawner {
    use std::process::{Child, Command};
    use std::sync::mpsc::{channel, Sender};
    use std::sync::Mutex;

    type Request = (Command, Sender<std::io::Result<Child>>);

    static SPAWNER: Mutex<Option<Sender<Request>>> = Mutex::new(None);

    /// Spawns `cmd` from the spawner thread.
    pub fn spawn(cmd: Command) -> std::io::Result<Child> {
        let tx = {
            let mut guard = SPAWNER.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                let (tx, rx) = channel::<Request>();
                std::thread::Builder::new()
                    .name("parbench-spawner".into())
                    .spawn(move || {
                        for (mut cmd, reply) in rx {
                            let _ = reply.send(cmd.spawn());
                        }
                    })?;
                *guard = Some(tx);
            }
            guard.clone().expect("spawner started above")
        };
        let (reply, result) = channel();
        tx.send((cmd, reply))
            .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
        result
            .recv()
            .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
    }
}
