//! Starting, naming and ending worker processes: `parbench worker` children spawned from one
//! long-lived thread, their pipes made non-blocking, and reaping.

use super::pipes::{self, Outgoing, GROW_PIPES_UP_TO};
use super::protocol::{self, FrameReader};
use super::worker::{self, CORES_ENV};
use super::{ProcessPool, INFO, PARENT_ENV};
use crate::error::{Error, Result};
use crate::workload::Params;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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

/// Where a worker is in its conversation with the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Spawned, hello not yet received.
    Starting,
    /// Waiting for a task.
    Idle,
    /// Running `task`, sent at `sent_ns`.
    Busy { task: usize, sent_ns: u64 },
}

/// One worker process and the parent's side of its pipes.
pub(super) struct Worker {
    pub(super) lane: usize,
    pub(super) pid: u32,
    pub(super) child: Child,
    pub(super) stdin: Option<ChildStdin>,
    pub(super) stdout: ChildStdout,
    pub(super) reader: FrameReader,
    pub(super) out: Outgoing,
    pub(super) state: State,
    /// A task written behind the running one, waiting in the worker's pipe.
    pub(super) queued: Option<usize>,
    /// The workload the worker has open: an `Open` frame is sent only when it changes.
    pub(super) opened: Option<(&'static str, Params)>,
    /// The worker's own usage (CPU time, faults, switches), as last reported.
    pub(super) usage: crate::measure::Usage,
    /// The parent's mappings of the worker's output slots.
    pub(super) outputs: super::shm::WorkerOutputs,
    pub(super) zero_copy: bool,
    pub(super) spawned: Instant,
}

impl Worker {
    /// Writes as much of the queued bytes as the worker's stdin takes now; returns the bytes
    /// written.
    pub(super) fn flush(&mut self) -> std::io::Result<u64> {
        let Some(stdin) = self.stdin.as_ref() else {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        };
        self.out.flush(stdin.as_fd(), &mut self.zero_copy)
    }

    pub(super) fn name(&self) -> String {
        format!("{} (pid {})", self.lane, self.pid)
    }

    /// CPU time of the (possibly dead, not yet reaped) process from `/proc`, in us.
    pub(super) fn proc_cpu_us(&self) -> Option<u64> {
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
    pub(super) fn reap(&mut self, patient: bool) -> Option<ExitStatus> {
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

impl ProcessPool {
    pub(super) fn spawn(&self, lane: usize) -> Result<Worker> {
        let mut cmd = Command::new(&self.config.exe);
        cmd.arg("worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env(PARENT_ENV, std::process::id().to_string())
            .envs(self.config.env.iter().map(|(k, v)| (k, v)));
        // The worker sets its own cores and signal actions as it starts (`worker.rs`), so
        // that `Command` can start it with posix_spawn (a vfork) instead of fork + pre_exec:
        // a fork write-protects every page of this process until the child execs, and each
        // page this process writes afterwards takes a fault. Measured here on dot, the
        // serial baseline and the probe of a process pool's first round after its start
        // ran 8% and 14% slower than in its later rounds; the other executors' did not.
        // Children are started by a long-lived spawner thread, whose cores may differ from
        // the pool's: they get the pool's, as an in-process pool's threads inherit them, or
        // the lane's own core when the pool is placed.
        let cores = match self.config.placement.core_of(lane) {
            Some(core) => vec![core],
            None => self.affinity.clone(),
        };
        cmd.env(CORES_ENV, worker::cores_env(&cores));
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
            queued: None,
            opened: None,
            usage: crate::measure::Usage::default(),
            outputs: super::shm::WorkerOutputs::default(),
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
            pipes::set_nonblocking(fd).map_err(|e| {
                Error::executor(INFO.name, format!("cannot make a pipe non-blocking: {e}"))
            })?;
        }
        Ok(worker)
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
