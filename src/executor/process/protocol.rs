//! The pipe protocol between the pool and its workers.
//!
//! A frame is a 16-byte header (magic, kind, body length; little-endian), a fixed number of
//! u64 words that depends on the kind, then a raw tail of bytes. The bulk bytes (a task's
//! input, a task's returned payload) are that tail: they cross the pipe as they are, with no
//! encoder copying or inspecting them. Only the rare `Open` frame carries serde JSON (the
//! workload's [`Params`](crate::workload::Params), a few hundred bytes).
//!
//! | kind | words | tail |
//! | --- | --- | --- |
//! | `Hello` (worker) | version, pid, usage | - |
//! | `Open` (parent) | - | JSON `(name, params)` |
//! | `Task` (parent) | index, lane, segment, fd, offset, len | input bytes, or none |
//! | `Done` (worker) | index, start_ns, stop_ns, checksum, units, slot, len, usage | payload, or none |
//! | `Failed` (worker) | index, start_ns, stop_ns, usage | UTF-8 message |
//! | `Release` (parent) | slot | - |
//!
//! `usage` is five words, the worker's own [`Usage`](crate::measure::Usage) so far (CPU
//! time, minor and major page faults, voluntary and involuntary context switches), so the
//! parent can account what its workers used in a batch. A `Task` whose `segment` is not 0
//! carries no tail: its input is `len` bytes at `offset` in the parent's shared-memory
//! segment of that id, open in the parent as descriptor `fd` ([`super::shm`]). A `Done` whose
//! `slot` is not [`NO_SLOT`] carries no tail either: its `len`-byte payload is in the
//! worker's output slot open in the worker as descriptor `slot`, which the worker does not
//! write again until a `Release` of that slot: the parent holds the payload there, uncopied.

use crate::measure::Usage;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd};

/// "PBW1": catches a worker that writes anything but frames (or a stale binary).
pub const MAGIC: u32 = u32::from_le_bytes(*b"PBW1");
/// Bumped whenever a frame layout changes; the parent refuses a worker of another version.
pub const VERSION: u64 = 3;
/// Bytes in a frame header.
pub const HEADER_LEN: usize = 16;
/// Largest body accepted (1 TiB): a bound on what a corrupt length can make us allocate
/// up front; real tails are allocated as their bytes arrive.
pub const MAX_BODY: u64 = 1 << 40;
/// Tails up to this size are allocated in full at once; larger ones grow as bytes arrive.
const EAGER_ALLOC: u64 = 1 << 30;
/// Tails smaller than this are not worth recycling a buffer for.
const RECYCLE_MIN: usize = 64 * 1024;
/// Size of the reader's staging buffer: one read picks up a small frame whole.
const STAGE_LEN: usize = 64 * 1024;

/// Frame kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    /// Worker is up: version, pid, usage.
    Hello = 1,
    /// Open (or switch to) a workload: JSON `(name, params)`.
    Open = 2,
    /// Run one task: index, lane, segment, fd, offset, len; tail = input (segment 0).
    Task = 3,
    /// A task's output: index, start_ns, stop_ns, checksum, units, slot, len, usage; tail =
    /// payload (slot [`NO_SLOT`]).
    Done = 4,
    /// A task's error: index, start_ns, stop_ns, usage; tail = message.
    Failed = 5,
    /// The parent dropped the payload in output slot `slot`: the worker may reuse it.
    Release = 6,
}

impl Kind {
    fn from_u32(v: u32) -> Option<Kind> {
        Some(match v {
            1 => Kind::Hello,
            2 => Kind::Open,
            3 => Kind::Task,
            4 => Kind::Done,
            5 => Kind::Failed,
            6 => Kind::Release,
            _ => return None,
        })
    }

    /// Number of u64 words before the tail.
    pub fn words(self) -> usize {
        match self {
            Kind::Hello => 2 + Usage::WORDS,
            Kind::Open => 0,
            Kind::Task => 6,
            Kind::Done => 7 + Usage::WORDS,
            Kind::Failed => 3 + Usage::WORDS,
            Kind::Release => 1,
        }
    }
}

/// Largest word count of any kind.
const MAX_WORDS: usize = 7 + Usage::WORDS;

/// The `slot` word of a `Done` whose payload is in its tail.
pub const NO_SLOT: u64 = u64::MAX;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What it is.
    pub kind: Kind,
    /// Its fixed words (`kind.words()` of them).
    pub words: Vec<u64>,
    /// Its raw tail.
    pub tail: Vec<u8>,
}

/// Encodes a frame's header and words; the tail (`tail_len` bytes) is written after them.
pub fn head(kind: Kind, words: &[u64], tail_len: usize) -> Vec<u8> {
    debug_assert_eq!(words.len(), kind.words());
    let mut out = Vec::with_capacity(HEADER_LEN + 8 * words.len());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(kind as u32).to_le_bytes());
    out.extend_from_slice(&((8 * words.len() + tail_len) as u64).to_le_bytes());
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// Why reading frames stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The other side closed the pipe; `mid_frame` when it did so inside a frame.
    Closed {
        /// True when a frame had started.
        mid_frame: bool,
    },
    /// Bytes that are not a valid frame.
    Garbage(String),
    /// The read itself failed.
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed { mid_frame: false } => write!(f, "closed its pipe"),
            ReadError::Closed { mid_frame: true } => {
                write!(f, "closed its pipe in the middle of a frame")
            }
            ReadError::Garbage(what) => write!(f, "sent garbage: {what}"),
            ReadError::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

enum Part {
    /// Reading the header and words into `fixed`.
    Fixed,
    /// Reading the tail into `tail`, `filled` bytes so far, `len` in all.
    Tail {
        kind: Kind,
        len: usize,
        filled: usize,
    },
}

/// Incremental frame decoder over any reader. With a non-blocking reader it returns
/// `Ok(None)` when it needs more bytes, so the parent can serve many workers from one
/// thread; with a blocking one (the worker) it simply waits.
pub struct FrameReader {
    stage: Box<[u8]>,
    /// Unconsumed bytes are `stage[pos..end]`.
    pos: usize,
    end: usize,
    fixed: [u8; HEADER_LEN + 8 * MAX_WORDS],
    fixed_filled: usize,
    words: Vec<u64>,
    tail: Vec<u8>,
    /// A buffer handed back with [`FrameReader::recycle`], for the next large tail.
    spare: Vec<u8>,
    part: Part,
    /// Bytes taken off the pipe so far, for the counters.
    pub bytes: u64,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader {
            stage: vec![0u8; STAGE_LEN].into_boxed_slice(),
            pos: 0,
            end: 0,
            fixed: [0; HEADER_LEN + 8 * MAX_WORDS],
            fixed_filled: 0,
            words: Vec::new(),
            tail: Vec::new(),
            spare: Vec::new(),
            part: Part::Fixed,
            bytes: 0,
        }
    }
}

/// Reads once, retrying on EINTR. `Ok(None)` means "would block".
fn read_once(r: &mut impl Read, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

impl FrameReader {
    fn mid_frame(&self) -> bool {
        self.fixed_filled > 0 || matches!(self.part, Part::Tail { .. })
    }

    /// Makes progress on the current frame. `Ok(Some)` is a whole frame, `Ok(None)` means
    /// the reader would block.
    pub fn poll(&mut self, r: &mut impl Read) -> Result<Option<Frame>, ReadError> {
        loop {
            match self.part {
                Part::Fixed => {
                    let want = if self.fixed_filled < HEADER_LEN {
                        HEADER_LEN
                    } else {
                        let kind = Kind::from_u32(u32::from_le_bytes(
                            self.fixed[4..8].try_into().expect("4 bytes"),
                        ))
                        .expect("kind checked with the header");
                        HEADER_LEN + 8 * kind.words()
                    };
                    if self.fixed_filled < want {
                        if self.pos == self.end {
                            self.pos = 0;
                            self.end = 0;
                            match read_once(r, &mut self.stage)? {
                                None => return Ok(None),
                                Some(0) => {
                                    return Err(ReadError::Closed {
                                        mid_frame: self.mid_frame(),
                                    })
                                }
                                Some(n) => {
                                    self.end = n;
                                    self.bytes += n as u64;
                                }
                            }
                        }
                        let n = (want - self.fixed_filled).min(self.end - self.pos);
                        self.fixed[self.fixed_filled..self.fixed_filled + n]
                            .copy_from_slice(&self.stage[self.pos..self.pos + n]);
                        self.fixed_filled += n;
                        self.pos += n;
                        if self.fixed_filled == HEADER_LEN {
                            self.check_header()?;
                        }
                        continue;
                    }
                    // Header and words are in: decode them and start the tail.
                    let kind = Kind::from_u32(u32::from_le_bytes(
                        self.fixed[4..8].try_into().expect("4 bytes"),
                    ))
                    .expect("kind checked with the header");
                    let body = u64::from_le_bytes(self.fixed[8..16].try_into().expect("8 bytes"));
                    self.words = (0..kind.words())
                        .map(|i| {
                            let at = HEADER_LEN + 8 * i;
                            u64::from_le_bytes(self.fixed[at..at + 8].try_into().expect("8 bytes"))
                        })
                        .collect();
                    let len = (body - 8 * kind.words() as u64) as usize;
                    self.tail = if len >= RECYCLE_MIN && self.spare.len() >= len {
                        // Memory that is already mapped and initialised: no page faults.
                        let mut buf = std::mem::take(&mut self.spare);
                        buf.truncate(len);
                        buf
                    } else if len as u64 <= EAGER_ALLOC {
                        vec![0u8; len]
                    } else {
                        Vec::new()
                    };
                    self.part = Part::Tail {
                        kind,
                        len,
                        filled: 0,
                    };
                }
                Part::Tail { kind, len, filled } => {
                    if filled == len {
                        self.part = Part::Fixed;
                        self.fixed_filled = 0;
                        return Ok(Some(Frame {
                            kind,
                            words: std::mem::take(&mut self.words),
                            tail: std::mem::take(&mut self.tail),
                        }));
                    }
                    if self.tail.len() < len {
                        // Large tail: grow by up to 64 MiB as the bytes come.
                        let grow = (len - self.tail.len()).min(64 << 20);
                        self.tail.resize(self.tail.len() + grow, 0);
                    }
                    let room = self.tail.len() - filled;
                    let n = if self.pos < self.end {
                        // Bytes already staged: copy them first.
                        let n = room.min(self.end - self.pos);
                        self.tail[filled..filled + n]
                            .copy_from_slice(&self.stage[self.pos..self.pos + n]);
                        self.pos += n;
                        n
                    } else {
                        // Read straight into the tail: no staging copy for bulk bytes.
                        match read_once(r, &mut self.tail[filled..filled + room])? {
                            None => return Ok(None),
                            Some(0) => return Err(ReadError::Closed { mid_frame: true }),
                            Some(n) => {
                                self.bytes += n as u64;
                                n
                            }
                        }
                    };
                    self.part = Part::Tail {
                        kind,
                        len,
                        filled: filled + n,
                    };
                }
            }
        }
    }

    fn check_header(&self) -> Result<(), ReadError> {
        let magic = u32::from_le_bytes(self.fixed[0..4].try_into().expect("4 bytes"));
        if magic != MAGIC {
            return Err(ReadError::Garbage(format!(
                "bad frame magic {magic:#010x} (bytes {:02x?})",
                &self.fixed[..HEADER_LEN]
            )));
        }
        let raw_kind = u32::from_le_bytes(self.fixed[4..8].try_into().expect("4 bytes"));
        let kind = Kind::from_u32(raw_kind)
            .ok_or_else(|| ReadError::Garbage(format!("unknown frame kind {raw_kind}")))?;
        let body = u64::from_le_bytes(self.fixed[8..16].try_into().expect("8 bytes"));
        let min = 8 * kind.words() as u64;
        if body < min || body > MAX_BODY {
            return Err(ReadError::Garbage(format!(
                "{kind:?} frame with body length {body} (must be {min}..={MAX_BODY})"
            )));
        }
        Ok(())
    }

    /// True when bytes already read from the pipe wait in the staging buffer.
    pub fn has_staged(&self) -> bool {
        self.pos < self.end
    }

    /// Hands back a tail that is no longer needed, so the next large tail reuses its memory
    /// instead of faulting in fresh pages (the worker's 16 MiB inputs, task after task).
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if buf.len() >= RECYCLE_MIN && buf.len() > self.spare.len() {
            self.spare = buf;
        }
    }

    /// Reads a whole frame from a blocking reader (the worker's stdin).
    pub fn read(&mut self, r: &mut impl Read) -> Result<Frame, ReadError> {
        self.poll(r)?.ok_or_else(|| {
            ReadError::Io(io::Error::new(
                io::ErrorKind::WouldBlock,
                "FrameReader::read needs a blocking reader",
            ))
        })
    }
}

/// Writes from `head` then `data` once, without blocking forever on a non-blocking pipe.
/// Returns the bytes written (`Ok(0)` only when both are empty); `WouldBlock` is an error.
///
/// With `zero_copy`, bulk data goes through `vmsplice(2)`: the pipe takes references to our
/// pages instead of copying them, which roughly halves the CPU cost of a transfer. The caller
/// must then leave those bytes untouched until the reader has consumed them: the pool keeps a
/// task's input alive and unchanged until the worker has replied, and the worker keeps its
/// last payload until the parent sends the next frame.
pub fn write_some(
    fd: BorrowedFd<'_>,
    head: &[u8],
    data: &[u8],
    zero_copy: &mut bool,
    nonblocking: bool,
) -> io::Result<usize> {
    if head.is_empty() && data.is_empty() {
        return Ok(0);
    }
    loop {
        let n = if head.is_empty() && *zero_copy && data.len() >= ZERO_COPY_MIN {
            let iov = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
            let flags = if nonblocking {
                libc::SPLICE_F_NONBLOCK
            } else {
                0
            };
            // SAFETY: the iovec points into `data`, which outlives the call; the caller keeps
            // the bytes unchanged until the reader has consumed them (see above).
            let n = unsafe { libc::vmsplice(fd.as_raw_fd(), &iov, 1, flags) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::ENOSYS | libc::EBADF)
                ) {
                    // Not a pipe (stdout redirected to a file) or no vmsplice: plain writes.
                    *zero_copy = false;
                    continue;
                }
                Err(e)
            } else {
                Ok(n as usize)
            }
        } else {
            let iov = [
                libc::iovec {
                    iov_base: head.as_ptr() as *mut libc::c_void,
                    iov_len: head.len(),
                },
                libc::iovec {
                    iov_base: data.as_ptr() as *mut libc::c_void,
                    iov_len: if *zero_copy && data.len() >= ZERO_COPY_MIN {
                        0
                    } else {
                        data.len()
                    },
                },
            ];
            // SAFETY: both iovecs point into live slices for the duration of the call.
            let n = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), 2) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        };
        match n {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Below this, a copy is cheaper than pinning pages.
const ZERO_COPY_MIN: usize = 64 * 1024;

/// Writes a whole frame (head then tail) to a blocking descriptor.
pub fn write_all(
    fd: BorrowedFd<'_>,
    head: &[u8],
    data: &[u8],
    zero_copy: &mut bool,
) -> io::Result<()> {
    let (mut h, mut d) = (0, 0);
    while h < head.len() || d < data.len() {
        let n = write_some(fd, &head[h..], &data[d..], zero_copy, false)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "pipe took no bytes",
            ));
        }
        let from_head = n.min(head.len() - h);
        h += from_head;
        d += n - from_head;
    }
    Ok(())
}

/// Grows a pipe's buffer (Linux `F_SETPIPE_SZ`): fewer wake-ups per megabyte moved.
/// Best effort: an unprivileged user past `pipe-user-pages-soft` keeps the default.
pub fn grow_pipe(fd: BorrowedFd<'_>, bytes: usize) {
    // SAFETY: fcntl on a descriptor we borrow; failure leaves the pipe as it was.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, bytes as libc::c_int) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Task` frame's words for an input that travels in the tail.
    fn task(index: u64, lane: u64) -> Vec<u64> {
        vec![index, lane, 0, 0, 0, 0]
    }

    fn frame_bytes(kind: Kind, words: &[u64], tail: &[u8]) -> Vec<u8> {
        let mut out = head(kind, words, tail.len());
        out.extend_from_slice(tail);
        out
    }

    /// A reader that hands out at most `step` bytes per call, and says "would block"
    /// between calls, like a slow non-blocking pipe.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
        block_next: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.block_next {
                self.block_next = false;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.block_next = true;
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn frames_round_trip_through_any_split() {
        let tail: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let done: Vec<u64> = (0..Kind::Done.words() as u64).collect();
        let failed: Vec<u64> = (0..Kind::Failed.words() as u64).collect();
        let mut bytes = frame_bytes(Kind::Task, &task(3, 1), &tail);
        bytes.extend(frame_bytes(Kind::Done, &done, b""));
        bytes.extend(frame_bytes(Kind::Failed, &failed, b"boom"));
        for step in [1, 7, 16, 4096, 1 << 20] {
            let mut r = Trickle {
                data: bytes.clone(),
                at: 0,
                step,
                block_next: false,
            };
            let mut reader = FrameReader::default();
            let mut frames = Vec::new();
            loop {
                match reader.poll(&mut r) {
                    Ok(Some(f)) => frames.push(f),
                    Ok(None) => continue,
                    Err(ReadError::Closed { mid_frame: false }) => break,
                    Err(e) => panic!("step {step}: {e}"),
                }
            }
            assert_eq!(frames.len(), 3, "step {step}");
            assert_eq!(frames[0].kind, Kind::Task);
            assert_eq!(frames[0].words, task(3, 1));
            assert_eq!(frames[0].tail, tail);
            assert_eq!(frames[1].words, done);
            assert!(frames[1].tail.is_empty());
            assert_eq!(frames[2].tail, b"boom");
            assert_eq!(reader.bytes, bytes.len() as u64);
        }
    }

    #[test]
    fn recycled_buffers_carry_no_stale_bytes() {
        let big = vec![7u8; 200_000];
        let small: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        let mut bytes = frame_bytes(Kind::Task, &task(0, 0), &big);
        bytes.extend(frame_bytes(Kind::Task, &task(1, 0), &small));
        bytes.extend(frame_bytes(Kind::Task, &task(2, 0), b"tiny"));
        let mut r = &bytes[..];
        let mut reader = FrameReader::default();
        let first = reader.read(&mut r).unwrap();
        assert_eq!(first.tail, big);
        let ptr = first.tail.as_ptr();
        reader.recycle(first.tail);
        let second = reader.read(&mut r).unwrap();
        assert_eq!(second.tail.as_ptr(), ptr, "the buffer was reused");
        assert_eq!(second.tail, small);
        reader.recycle(second.tail);
        assert_eq!(reader.read(&mut r).unwrap().tail, b"tiny");
    }

    #[test]
    fn garbage_is_refused_not_allocated() {
        let mut reader = FrameReader::default();
        let err = reader
            .read(&mut &b"hello, this is not a frame at all"[..])
            .unwrap_err();
        assert!(
            matches!(&err, ReadError::Garbage(m) if m.contains("magic")),
            "{err}"
        );

        // Right magic, absurd length: refused before any allocation.
        let mut bad = MAGIC.to_le_bytes().to_vec();
        bad.extend_from_slice(&(Kind::Done as u32).to_le_bytes());
        bad.extend_from_slice(&u64::MAX.to_le_bytes());
        let err = FrameReader::default().read(&mut &bad[..]).unwrap_err();
        assert!(
            matches!(&err, ReadError::Garbage(m) if m.contains("length")),
            "{err}"
        );

        // Unknown kind.
        let mut bad = MAGIC.to_le_bytes().to_vec();
        bad.extend_from_slice(&77u32.to_le_bytes());
        bad.extend_from_slice(&0u64.to_le_bytes());
        let err = FrameReader::default().read(&mut &bad[..]).unwrap_err();
        assert!(
            matches!(&err, ReadError::Garbage(m) if m.contains("kind 77")),
            "{err}"
        );
    }

    #[test]
    fn truncated_frame_is_reported_as_mid_frame_close() {
        let done: Vec<u64> = (1..=Kind::Done.words() as u64).collect();
        let bytes = frame_bytes(Kind::Done, &done, b"payload");
        for cut in [3, HEADER_LEN, HEADER_LEN + 9, bytes.len() - 1] {
            let err = FrameReader::default().read(&mut &bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, ReadError::Closed { mid_frame: true }),
                "cut {cut}: {err}"
            );
        }
        let err = FrameReader::default().read(&mut &b""[..]).unwrap_err();
        assert!(matches!(err, ReadError::Closed { mid_frame: false }));
    }

    #[test]
    fn write_all_through_a_pipe_with_and_without_zero_copy() {
        for zero_copy in [false, true] {
            let mut fds = [0; 2];
            // SAFETY: pipe writes two descriptors we then own.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            use std::os::fd::{AsFd, FromRawFd, OwnedFd};
            // SAFETY: fresh descriptors from pipe(2), owned once each.
            let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            let tail: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
            let head = head(Kind::Task, &task(9, 0), tail.len());
            let reader = std::thread::spawn(move || {
                let mut file = std::fs::File::from(rd);
                FrameReader::default().read(&mut file).unwrap()
            });
            let mut zc = zero_copy;
            write_all(wr.as_fd(), &head, &tail, &mut zc).unwrap();
            let frame = reader.join().unwrap();
            assert_eq!(frame.words, task(9, 0));
            assert!(frame.tail == tail, "zero_copy {zero_copy}");
        }
    }
}
