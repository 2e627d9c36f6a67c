//! Stop signals: SIGINT (Ctrl-C), SIGTERM (`kill`, a CI timeout) and SIGHUP (a closed
//! terminal) are handled alike. The handler only records the signal and wakes any `poll(2)`
//! through a self-pipe; it never exits. The program then stops at the next check (at once in
//! the process pool, at the next batch boundary for in-process executors), drops its pools
//! (workers reaped) and workloads (temporary directories removed), and exits 128 + the
//! signal. A second signal changes nothing: cleanup is never skipped.
//!
//! An in-process executor cannot abandon a running batch (a thread cannot be killed), and a
//! batch may run for minutes. So the stop is bounded: if the program has not ended
//! [`STOP_GRACE`] after the signal, a watcher thread removes the registered temporary
//! directories and files itself ([`register_temp`]) and exits with the same status. Worker
//! processes die with their parent (`PR_SET_PDEATHSIG`).

use std::io::Write as _;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

/// How long a stop signal waits for the normal cleanup (the batch stopping, pools dropped)
/// before the watcher removes the temporary directories and exits on its own.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Temporary directories and files to remove if the program must exit without its normal
/// cleanup.
static TEMP_DIRS: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
static NEXT_TEMP_ID: AtomicU64 = AtomicU64::new(0);

/// The signals that ask parbench to stop.
pub const STOP_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The first stop signal received, 0 until then.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Write end of the self-pipe, -1 until [`install`] made it.
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Read end of the self-pipe, -1 until [`install`] made it.
static WAKE_READ: AtomicI32 = AtomicI32::new(-1);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe work here: atomics and write(2), with errno preserved.
    let _ = SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    let fd = WAKE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: errno is thread-local and restored before returning; write(2) on a
        // non-blocking pipe we own is async-signal-safe (a full pipe just fails with EAGAIN,
        // which is fine: it is already readable).
        unsafe {
            let errno = *libc::__errno_location();
            let byte = 1u8;
            libc::write(fd, (&byte as *const u8).cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP and makes the self-pipe. Idempotent.
/// Not called in `parbench worker`: workers keep the default actions (the pool sets them,
/// [`default_actions_in_child`]), so a terminal's Ctrl-C ends them and the pool reads that
/// as the user stopping the run.
pub fn install() {
    INSTALL.call_once(|| {
        let mut fds = [-1; 2];
        // SAFETY: pipe2 writes two descriptors into the array we own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } == 0 {
            WAKE_READ.store(fds[0], Ordering::SeqCst);
            WAKE_WRITE.store(fds[1], Ordering::SeqCst);
        }
        if let Some(fd) = wake_fd() {
            // Without the thread the stop is only unbounded, not wrong: ignore a failure.
            let _ = std::thread::Builder::new()
                .name("parbench-stop".into())
                .spawn(move || watch(fd));
        }
        for sig in STOP_SIGNALS {
            // SAFETY: a zeroed sigaction with a handler address and an empty mask is valid;
            // the handler only touches atomics and write(2).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    });
}

/// Gives the stop signals their default action, unblocked: in a child about to `exec` (from
/// `pre_exec`), or first thing in a child that was started without a hook. Both an ignored disposition and a blocked mask survive `exec`, and
/// `std::process::Command` resets neither: a parent started with SIGINT ignored (any
/// `cmd &` from a script: the shell does that to background jobs), or spawning from a thread
/// that blocks it, would otherwise start workers that shrug off Ctrl-C and finish their
/// tasks. Async-signal-safe.
pub fn default_actions_in_child() {
    // SAFETY: sigemptyset, sigaddset, sigaction and sigprocmask are async-signal-safe and
    // touch only this process's own signal state and the local values.
    unsafe {
        let mut stop: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut stop);
        for sig in STOP_SIGNALS {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
            libc::sigaddset(&mut stop, sig);
        }
        libc::sigprocmask(libc::SIG_UNBLOCK, &stop, std::ptr::null_mut());
    }
}

/// The first stop signal received, if any.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// True once a stop signal has been received.
pub fn requested() -> bool {
    signal().is_some()
}

/// `Err(Interrupted)` once a stop signal has been received.
pub fn check() -> crate::error::Result<()> {
    match signal() {
        Some(sig) => Err(crate::error::Error::Interrupted(sig)),
        None => Ok(()),
    }
}

/// A descriptor that becomes readable when a stop signal arrives (it is never drained), for
/// loops that wait in `poll(2)`: the signal may be delivered to another thread, which would
/// not interrupt their `poll`. `None` before [`install`].
pub fn wake_fd() -> Option<RawFd> {
    let fd = WAKE_READ.load(Ordering::SeqCst);
    (fd >= 0).then_some(fd)
}

pub use crate::error::signal_name;

/// The exit status for a run stopped by `sig`: 128 + the signal number, as a shell reports a
/// process killed by it.
pub fn exit_code(sig: i32) -> i32 {
    128 + sig
}

/// Keeps a temporary directory or file on the list the stop watcher removes; dropping the
/// guard (after the directory or file itself is removed or renamed) takes it off.
#[derive(Debug)]
pub struct TempGuard(u64);

/// Registers a temporary directory or file for removal should the program exit on a stop
/// signal without its normal cleanup (see [`STOP_GRACE`]).
pub fn register_temp(dir: &Path) -> TempGuard {
    let id = NEXT_TEMP_ID.fetch_add(1, Ordering::SeqCst);
    TEMP_DIRS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, dir.to_path_buf()));
    TempGuard(id)
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        TEMP_DIRS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _)| *id != self.0);
    }
}

/// Removes every registered temporary directory and file; returns how many were removed.
pub fn remove_temps() -> usize {
    let dirs: Vec<PathBuf> = TEMP_DIRS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(_, d)| d.clone())
        .collect();
    dirs.iter()
        .filter(|d| {
            std::fs::remove_dir_all(d)
                .or_else(|_| std::fs::remove_file(d))
                .is_ok()
        })
        .count()
}

/// The stop watcher: sleeps until a stop signal, gives the normal cleanup [`STOP_GRACE`],
/// then does the part that matters on disk and exits. Returning from `main` ends the process
/// and this thread with it, so it acts only when the program is stuck in a batch.
fn watch(fd: RawFd) {
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, -1) };
        if let Some(sig) = signal() {
            std::thread::sleep(STOP_GRACE);
            remove_temps();
            // Straight to stderr: the output layer sits above this one (it registers its
            // temporary files here), and a failed write must not stop the exit.
            let _ = writeln!(
                std::io::stderr().lock(),
                "parbench: error: interrupted by {}; the running batch did not stop within {} s, \
                 so it was abandoned and its temporary files removed",
                signal_name(sig),
                STOP_GRACE.as_secs()
            );
            // SAFETY: _exit ends the process at once; nothing here needs unwinding.
            unsafe { libc::_exit(exit_code(sig)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_dirs_are_removed_until_their_guard_drops() {
        let kept = tempfile::tempdir().unwrap();
        let dropped = tempfile::tempdir().unwrap();
        let file = kept.path().join("f.tmp");
        std::fs::write(&file, "x").unwrap();
        let file_guard = register_temp(&file);
        let guard = register_temp(kept.path());
        drop(register_temp(dropped.path()));
        assert!(remove_temps() >= 1);
        drop(file_guard);
        assert!(!kept.path().exists(), "registered: removed");
        assert!(dropped.path().exists(), "unregistered: left alone");
        drop(guard);
        assert!(TEMP_DIRS
            .lock()
            .unwrap()
            .iter()
            .all(|(_, d)| d != kept.path()));
    }

    /// The stop signals ignored and blocked in `cat /proc/self/status` run as a child of a
    /// parent that ignores and blocks them, with or without the reset.
    fn stop_signals_in_child(reset: bool) -> (u64, u64) {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("cat");
        cmd.arg("/proc/self/status");
        // SAFETY: only signal, sigprocmask and the reset, all async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                for sig in STOP_SIGNALS {
                    libc::signal(sig, libc::SIG_IGN);
                    libc::sigaddset(&mut set, sig);
                }
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                if reset {
                    default_actions_in_child();
                }
                Ok(())
            });
        }
        let status = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
        let mask = |field: &str| {
            let line = status.lines().find_map(|l| l.strip_prefix(field)).unwrap();
            let bits = u64::from_str_radix(line.trim(), 16).unwrap();
            STOP_SIGNALS
                .iter()
                .fold(0, |acc, sig| acc | (bits & (1 << (sig - 1))))
        };
        (mask("SigIgn:"), mask("SigBlk:"))
    }

    #[test]
    fn children_get_the_stop_signals_back_unblocked_with_default_actions() {
        assert_ne!(stop_signals_in_child(false), (0, 0), "the setup has teeth");
        assert_eq!(stop_signals_in_child(true), (0, 0));
    }

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(exit_code(libc::SIGINT), 130);
        assert_eq!(exit_code(libc::SIGTERM), 143);
        assert_eq!(exit_code(libc::SIGHUP), 129);
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
    }
}
