//! One side of the gate: a `parbench serve` child process, spoken to one JSON line at a
//! time, with a deadline on every reply. A side is killed and reaped when dropped, so no
//! serve process (nor its process-pool workers, which follow their parent) is left behind.

use crate::serve::{Hello, Reply, Request, PROTOCOL_VERSION};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Duration;

/// Why a side failed: always names the side, and the benchmark when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{side}: {message}")]
pub struct SideError {
    /// `base` or `head`.
    pub side: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A running `parbench serve`.
pub struct Side {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    /// The side's hello: its protocol and version.
    pub hello: Hello,
}

impl Side {
    /// Starts `exe serve` with extra environment variables and waits up to `timeout` for its
    /// hello. A program that is not a parbench, or a parbench without `serve`, fails here.
    pub fn start(
        name: &'static str,
        exe: &Path,
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<Side, SideError> {
        let err = |message: String| SideError {
            side: name,
            message,
        };
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: prctl and personality are plain system calls, async-signal-safe. The child
        // dies with the gate's main thread. It also runs without address-space randomisation
        // (as `setarch -R` does): with it, two processes of the same binary differed by up to
        // 10% on the dispatch benchmarks, in either direction and for the process's whole
        // life (A/A gates measured here: overhead_dispatch/threads/2 0.91-1.10; without it
        // 0.99-1.02). Best effort: where the call is refused the side runs randomised.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let current = libc::personality(0xffff_ffff);
                if current != -1 {
                    libc::personality(
                        current as libc::c_ulong | libc::ADDR_NO_RANDOMIZE as libc::c_ulong,
                    );
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| err(format!("cannot start {}: {e}", exe.display())))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The side's stderr is kept to its last line, for the error message if it dies.
        let (err_tx, err_rx) = channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let mut side = Side {
            name,
            child,
            stdin: None,
            lines,
            hello: Hello {
                program: String::new(),
                protocol: 0,
                version: String::new(),
            },
        };
        side.stdin = side.child.stdin.take();
        let first = side.next_line(timeout).map_err(|m| {
            let said = err_rx.try_iter().last().unwrap_or_default();
            err(format!(
                "{} is not a parbench with `serve` ({m}{})",
                exe.display(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!("; it said: {said}")
                }
            ))
        })?;
        let hello: Hello = serde_json::from_str(&first)
            .ok()
            .filter(|h: &Hello| h.program == "parbench-serve")
            .ok_or_else(|| {
                err(format!(
                    "{} is not a parbench with `serve`: its first line was {:?}",
                    exe.display(),
                    first.chars().take(80).collect::<String>()
                ))
            })?;
        if hello.protocol != PROTOCOL_VERSION {
            return Err(err(format!(
                "speaks serve protocol {} (parbench {}), this gate speaks {PROTOCOL_VERSION}",
                hello.protocol, hello.version
            )));
        }
        side.hello = hello;
        Ok(side)
    }

    /// The side's name, `base` or `head`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn next_line(&mut self, timeout: Duration) -> Result<String, String> {
        match self.lines.recv_timeout(timeout) {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(e)) => Err(format!("cannot read its output: {e}")),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(format!(
                    "no answer within {:.0} s (killed)",
                    timeout.as_secs_f64()
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self
                    .child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                Err(format!("exited ({status})"))
            }
        }
    }

    /// Sends a request and waits up to `timeout` for its reply. `what` names the benchmark
    /// in errors.
    pub fn ask(
        &mut self,
        request: &Request,
        what: &str,
        timeout: Duration,
    ) -> Result<Reply, SideError> {
        let name = self.name;
        let err = |message: String| SideError {
            side: name,
            message: format!("{what}: {message}"),
        };
        let mut line = serde_json::to_string(request).map_err(|e| err(e.to_string()))?;
        line.push('\n');
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| err("stdin closed".into()))?;
        stdin
            .write_all(line.as_bytes())
            .and_then(|_| stdin.flush())
            .map_err(|e| err(format!("cannot send a request ({e}); did it crash?")))?;
        let reply = self.next_line(timeout).map_err(err)?;
        let reply: Reply = serde_json::from_str(&reply).map_err(|e| {
            err(format!(
                "garbled reply {:?}: {e}",
                reply.chars().take(80).collect::<String>()
            ))
        })?;
        match reply {
            Reply::Error(message) => Err(err(message)),
            other => Ok(other),
        }
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"{\"cmd\":\"quit\"}\n");
        }
        // A clean side exits at once on quit; give it a moment, then make sure.
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
