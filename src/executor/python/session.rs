//! One long-lived CPython process running the embedded worker script, and the line protocol
//! spoken with it (described at the top of `worker.py`).
//!
//! The process leads a process group of its own, so killing the group also kills the pool
//! processes a `ProcessPoolExecutor` forked inside it; dropping a session does that and
//! reaps it. A reader thread turns its stdout into messages, so every wait has a deadline.

use super::{MARK_ENV, SCRIPT};
use crate::error::TaskError;
use serde::Deserialize;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of the worker's stderr kept to explain a death.
const STDERR_LINES: usize = 8;

/// One message from the worker.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Reply {
    /// Started and listening.
    Ready {
        /// Its pid.
        pid: u32,
    },
    /// A job's inputs are in memory and its pool is warm.
    Loaded,
    /// A task began (serial and threads).
    Start {
        /// Task index.
        task: usize,
    },
    /// A task finished.
    Task(TaskReply),
    /// The batch is over.
    Done,
    /// The worker cannot go on.
    Fatal {
        /// Why.
        error: String,
    },
}

/// A finished task as the worker reports it.
#[derive(Debug, Deserialize)]
pub struct TaskReply {
    /// Task index.
    pub task: usize,
    /// True when the task returned.
    pub ok: bool,
    /// What it returned: an integer, or bytes as hex.
    pub value: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// CLOCK_MONOTONIC ns at its start and stop (absent when its pool broke under it).
    pub start: Option<u64>,
    /// See `start`.
    pub stop: Option<u64>,
    /// Worker lane.
    pub worker: Option<usize>,
    /// Process that ran it.
    pub pid: Option<u32>,
}

/// What came instead of the next message.
#[derive(Debug)]
pub enum Broken {
    /// Nothing within the deadline.
    Timeout(Duration),
    /// The worker closed its stdout (it died) or cannot be written to.
    Gone(String),
    /// The worker wrote something that is not a message, or not the one expected.
    Garbage(String),
}

enum Line {
    Text(String),
    End(String),
}

/// A running worker.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The worker's pid.
    pub pid: u32,
}

impl Session {
    /// Starts `python -c SCRIPT serve KIND WORKERS SWITCH` with `env`, and waits for it to be
    /// ready.
    pub fn start(
        python: &Path,
        args: &[String],
        env: &[(&str, String)],
        timeout: Duration,
    ) -> Result<Session, String> {
        let mut cmd = Command::new(python);
        cmd.arg("-c")
            .arg(SCRIPT)
            .args(args)
            .env(MARK_ENV, std::process::id().to_string())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // No pre_exec hook, so that `Command` uses posix_spawn rather than fork: a fork
        // write-protects every page of this measuring process until the child execs (see
        // `executor/process/spawn.rs`). The script resets the stop signals itself.
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let pid = child.id();
        let (stdin, stdout, stderr_pipe) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    kill_group(&mut child);
                    return Err("the worker's pipes are missing".into());
                }
            };
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        let _ = std::thread::Builder::new()
            .name("parbench-py-stderr".into())
            .spawn(move || {
                for line in BufReader::new(stderr_pipe).lines().map_while(|l| l.ok()) {
                    let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                    if tail.len() == STDERR_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        let (tx, lines) = channel();
        let _ = std::thread::Builder::new()
            .name("parbench-py-stdout".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let mut line = String::new();
                    let end = match reader.read_line(&mut line) {
                        Ok(0) => Some("closed its output".to_string()),
                        Ok(_) => None,
                        Err(e) => Some(format!("cannot be read: {e}")),
                    };
                    let message = match end {
                        Some(why) => Line::End(why),
                        None => Line::Text(line),
                    };
                    let last = matches!(message, Line::End(_));
                    if tx.send(message).is_err() || last {
                        return;
                    }
                }
            });
        let mut session = Session {
            child,
            stdin: Some(stdin),
            lines,
            stderr,
            pid,
        };
        match session.next(timeout) {
            Ok(Reply::Ready { .. }) => Ok(session),
            Ok(other) => Err(format!("answered {other:?} instead of ready")),
            Err(e) => Err(session.explain(&e)),
        }
    }

    /// Sends one message line, then `blobs` back to back.
    pub fn send(&mut self, line: &str, blobs: &[&[u8]]) -> Result<(), Broken> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| Broken::Gone("its input is closed".into()))?;
        let mut write = || -> std::io::Result<()> {
            stdin.write_all(line.as_bytes())?;
            stdin.write_all(b"\n")?;
            for blob in blobs {
                stdin.write_all(blob)?;
            }
            stdin.flush()
        };
        write().map_err(|e| Broken::Gone(format!("cannot be written to: {e}")))
    }

    /// The next message, waiting at most `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Result<Reply, Broken> {
        let deadline = Instant::now() + timeout;
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(Line::Text(text)) => match serde_json::from_str::<Reply>(text.trim_end()) {
                Ok(Reply::Fatal { error }) => Err(Broken::Gone(format!("failed: {error}"))),
                Ok(reply) => Ok(reply),
                Err(_) => Err(Broken::Garbage(format!(
                    "wrote garbage: {:?}",
                    text.trim_end().chars().take(60).collect::<String>()
                ))),
            },
            Ok(Line::End(why)) => Err(Broken::Gone(why)),
            Err(RecvTimeoutError::Timeout) => Err(Broken::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(Broken::Gone("closed its output".into())),
        }
    }

    /// One sentence for a broken session: what happened, how it ended, its last stderr line.
    pub fn explain(&mut self, broken: &Broken) -> String {
        let what = match broken {
            Broken::Timeout(t) => format!(
                "the Python worker (pid {}) sent nothing for {:.1} s and was killed",
                self.pid,
                t.as_secs_f64()
            ),
            Broken::Gone(why) | Broken::Garbage(why) => {
                format!("the Python worker (pid {}) {why}", self.pid)
            }
        };
        self.kill();
        // The reader threads see the pipes close once the group is dead; give the stderr
        // reader a moment to take the last line.
        std::thread::sleep(Duration::from_millis(20));
        let status = self
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(
                |s| match std::os::unix::process::ExitStatusExt::signal(&s) {
                    Some(sig) => format!(" ({})", crate::interrupt::signal_name(sig)),
                    None => format!(" (exit {})", s.code().unwrap_or(-1)),
                },
            )
            .unwrap_or_default();
        let last = self
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .back()
            .cloned()
            .map(|l| format!("; it said: {}", l.trim()))
            .unwrap_or_default();
        // How it ended says something only when it ended by itself.
        match broken {
            Broken::Gone(_) => format!("{what}{status}{last}"),
            _ => format!("{what}{last}"),
        }
    }

    /// Kills the worker's whole process group and reaps the worker.
    pub fn kill(&mut self) {
        self.stdin = None;
        kill_group(&mut self.child);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.kill();
    }
}

fn kill_group(child: &mut Child) {
    if child.try_wait().ok().flatten().is_none() {
        // SAFETY: kill(2) with a negative pid signals the group the child leads; it was
        // started with process_group(0), so the group is its own.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    }
    let _ = child.wait();
    // Pool processes whose leader already exited may still be in the group.
    // SAFETY: as above; ESRCH when the group is empty is harmless.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
}

/// Runs `python -c SCRIPT probe` and returns its one line of output, within `timeout`.
pub fn probe(python: &Path, timeout: Duration) -> Result<String, String> {
    let mut child = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg("probe")
        .env(MARK_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        let mut e = String::new();
        let _ = err.read_to_string(&mut e);
        (text, e)
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        kill_group(&mut child);
        return Err(format!(
            "{} did not answer within {:.0} s",
            python.display(),
            timeout.as_secs_f64()
        ));
    };
    let (text, err) = reader.join().unwrap_or_default();
    if !status.success() {
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "{} is not a Python 3 that runs the worker ({status}){}",
            python.display(),
            if last.is_empty() {
                String::new()
            } else {
                format!(": {}", last.trim())
            }
        ));
    }
    Ok(text)
}

/// A task error naming the task's fate when its worker broke.
pub fn lost(task: usize, running: bool, why: &str) -> TaskError {
    TaskError::new(if running {
        format!("task {task} was running when {why}")
    } else {
        format!("task {task} never ran: {why}")
    })
}
