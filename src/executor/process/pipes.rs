//! The parent's side of the pipe plumbing: queued bytes for a worker's stdin (written with
//! `vmsplice` when large), pipe sizes, and the `poll(2)`/non-blocking helpers (the
//! wait-awake one serves the worker too).

use super::protocol;
use crate::measure::TaskInput;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a side of a round trip stays awake for the other's next message before it
/// sleeps in `poll`/`read`. An idle vCPU of this VM takes tens of microseconds to wake, and
/// a short task's round trip woke two (45 us where the pipe costs 2.2). Bounded, and used
/// only right after a message, so an idle pool burns at most this much CPU.
pub(super) const AWAKE: Duration = Duration::from_micros(50);

/// Polls `fds` without sleeping until one is ready or `budget` has passed. Returns how many
/// are ready: 0 when the budget ran out (the caller then sleeps in a blocking call, which
/// also reports any error this saw).
pub(super) fn poll_awake(fds: &mut [libc::pollfd], budget: Duration) -> usize {
    let until = Instant::now() + budget;
    loop {
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        if n != 0 {
            return usize::try_from(n).unwrap_or(0);
        }
        std::hint::spin_loop();
        if Instant::now() >= until {
            return 0;
        }
    }
}

/// Pipe buffer size asked for with `F_SETPIPE_SZ` (the unprivileged maximum by default).
pub const PIPE_BYTES: usize = 1 << 20;

/// Beyond this many workers the pipes keep their default size: 2 MiB of pipe per worker
/// would exhaust the per-user pipe budget (`pipe-user-pages-soft`, 64 MiB by default), and
/// the kernel would then shrink new pipes to one page.
pub(super) const GROW_PIPES_UP_TO: usize = 16;

/// Bytes queued for a worker's stdin: frame heads, then a task's input, shared with the job.
/// With `vmsplice` the pipe refers to the input's pages; that is sound because the caller's
/// `Job` keeps the inputs alive and unchanged until `run` returns, by which time every
/// worker has read its input whole (it replied) or is dead with its pipe closed.
#[derive(Default)]
pub(super) struct Outgoing {
    pub(super) head: Vec<u8>,
    pub(super) head_at: usize,
    pub(super) data: Option<(Arc<Vec<TaskInput>>, usize)>,
    pub(super) data_at: usize,
}

impl Outgoing {
    pub(super) fn data(&self) -> &[u8] {
        self.data
            .as_ref()
            .map(|(inputs, i)| &inputs[*i].data[..])
            .unwrap_or(&[])
    }

    pub(super) fn pending(&self) -> bool {
        self.head_at < self.head.len() || self.data_at < self.data().len()
    }
}

impl Outgoing {
    /// Writes as much of the queued bytes to `fd` as the pipe takes now; returns the bytes
    /// written. `zero_copy` is the worker's `vmsplice` switch (turned off where it fails).
    pub(super) fn flush(
        &mut self,
        fd: BorrowedFd<'_>,
        zero_copy: &mut bool,
    ) -> std::io::Result<u64> {
        let mut written = 0u64;
        while self.pending() {
            let head = &self.head[self.head_at..];
            let data = &self.data()[self.data_at..];
            match protocol::write_some(fd, head, data, zero_copy, true) {
                Ok(n) => {
                    let from_head = n.min(head.len());
                    self.head_at += from_head;
                    self.data_at += n - from_head;
                    written += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !self.pending() {
            *self = Outgoing::default();
        }
        Ok(written)
    }
}

pub(super) fn pollfd(fd: BorrowedFd<'_>, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    }
}

pub(super) fn set_nonblocking(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    // SAFETY: fcntl flag get/set on a descriptor we borrow.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
