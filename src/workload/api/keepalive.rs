//! A small HTTP/1.1 keep-alive server of our own, on one thread, for connection reuse at high
//! concurrency and for a latency that is the one asked for.
//!
//! mockito closes every connection and accepts on one thread, which models the seed's
//! `urlopen`, but real clients reuse connections, and at 64 in-flight requests mockito's
//! thread becomes part of what is measured. This server keeps connections open and counts the
//! TCP connections it accepts, so a batch can show that a pooled client opened at most one
//! connection per worker.
//!
//! Same replies as the mockito server: `GET /item/{index}` answers after the latency with the
//! body, or with an injected fault; any other method on a task path is a 405, any other path
//! a 404, both at once. Pipelined requests are answered in order; `Connection: close` (and
//! HTTP/1.0 without `Connection: keep-alive`) closes the connection after its reply; a
//! malformed request, or a head over [`MAX_HEAD`], gets a 400 and the connection is closed.
//!
//! **What the latency means.** The mock models a remote API that answers L after the request
//! reached it. "Reached" is the kernel's receive time of the bytes that completed the request's
//! head (`SO_TIMESTAMPNS`, read with `recvmsg`; the time of the read when the kernel gave no
//! time stamp), so the server's own wake-up on a request does not add to the latency.
//!
//! **One thread does everything.** It sleeps in `epoll_pwait2` (nanosecond timeout, timer
//! slack 1 ns) until [`SPIN_AHEAD`] before the earliest deadline, then waits awake, polling
//! epoll with a zero timeout so that new requests still get their time stamps, and writes
//! every due reply itself. An earlier version (hyper on a tokio runtime, plus an alarm
//! thread) paid a cross-thread wake-up for each request and each reply on top of the
//! client's, and an idle vCPU of this VM takes tens of microseconds to wake (see
//! shared/NOTES.md). Waiting awake costs under 1% of a core at one wave of replies per 20 ms.
//! Where `epoll_pwait2` is missing (Linux before 5.11) the thread sleeps in `epoll_wait`,
//! whole milliseconds rounded down, and waits awake for the rest.

use super::{parse_task_path, Reply, INFO, STATUS_500_BODY};
use crate::error::{Error, Result};
use crate::workload::Params;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long before a deadline the server stops sleeping and waits awake: longer than an idle
/// vCPU's wake-up here, short enough that it costs under 1% of a core at one wave of replies
/// per 20 ms.
pub const SPIN_AHEAD: Duration = Duration::from_micros(150);

/// Longest request head accepted (request line and headers); longer ones get a 400.
pub const MAX_HEAD: usize = 16 << 10;

/// Most headers in a request head.
const MAX_HEADERS: usize = 64;

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 << 10;

/// Replies queued on one connection (pipelined requests) before the server stops reading it
/// until some are sent.
const MAX_QUEUED: usize = 64;

/// How long accepting pauses after the OS refused a connection (out of descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(1);

/// Most epoll events taken per wait.
const EVENTS: usize = 256;

/// epoll tokens of the listener and of the stop event; connections count up from `FIRST_CONN`.
const LISTENER: u64 = 0;
const STOP: u64 = 1;
const FIRST_CONN: u64 = 2;

/// A running keep-alive server. Dropping it stops it: the listener and every connection are
/// closed before `drop` returns.
pub struct KeepaliveServer {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    /// An eventfd the server thread polls: writing to it stops the thread.
    stop: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl KeepaliveServer {
    /// Binds 127.0.0.1 on a free port and starts serving `body` for the task paths of `params`.
    pub fn start(params: &Params, body: Arc<[u8]>) -> Result<Self> {
        let fail = |what: &str, e: io::Error| {
            Error::workload(
                INFO.name,
                format!(
                    "keep-alive server: {what}: {}",
                    crate::output::os_error_text(&e)
                ),
            )
        };
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| super::port_error(&e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| fail("local address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| fail("non-blocking listener", e))?;
        // Accepted sockets inherit it; each is set again in case they do not.
        let _ = enable_timestamps(listener.as_raw_fd());
        // SAFETY: epoll_create1 has no memory arguments; a valid result is a new descriptor.
        let epoll = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
            .map_err(|e| fail("epoll", e))?;
        // SAFETY: as above.
        let stop = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })
            .map(|fd| Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }))
            .map_err(|e| fail("eventfd", e))?;
        epoll_ctl(
            &epoll,
            libc::EPOLL_CTL_ADD,
            listener.as_raw_fd(),
            IN,
            LISTENER,
        )
        .and_then(|()| epoll_ctl(&epoll, libc::EPOLL_CTL_ADD, stop.as_raw_fd(), IN, STOP))
        .map_err(|e| fail("epoll", e))?;
        let accepted = Arc::new(AtomicU64::new(0));
        let server = Server {
            epoll,
            listener,
            _stop: Arc::clone(&stop),
            accepted: Arc::clone(&accepted),
            routes: Routes {
                params: params.clone(),
                body,
                latency: Duration::from_millis(params.latency_ms),
            },
            conns: HashMap::new(),
            next_id: FIRST_CONN,
            deadlines: BinaryHeap::new(),
            accept_paused_until: None,
            pwait2: true,
            started: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("parbench-keepalive".into())
            .spawn(move || server.run())
            .map_err(|e| fail("cannot spawn its thread", e))?;
        Ok(KeepaliveServer {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        })
    }

    /// Base URL, `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted since the server started (monotonic).
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for KeepaliveServer {
    fn drop(&mut self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. It cannot fail short of the
        // counter overflowing, and the thread stops at the first event anyway.
        unsafe {
            libc::write(
                self.stop.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        if let Some(thread) = self.thread.take() {
            // The thread drops its listener and connections (closing them) as it returns.
            let _ = thread.join();
        }
    }
}

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const ERR_OR_HUP: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn epoll_ctl(
    epoll: &OwnedFd,
    op: libc::c_int,
    fd: RawFd,
    events: u32,
    token: u64,
) -> io::Result<()> {
    let mut event = libc::epoll_event { events, u64: token };
    // SAFETY: `event` lives across the call; the kernel copies it.
    cvt(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), op, fd, &mut event) }).map(drop)
}

/// Asks the kernel to stamp received data with its arrival time (`SCM_TIMESTAMPNS`).
fn enable_timestamps(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: passes a live c_int and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// The timeout argument of `epoll_pwait2`: the kernel's 64-bit timespec on every target.
#[repr(C)]
struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// Reads into `buf` with `recvmsg`; returns the bytes read and the kernel's receive time of
/// the last of them, when it gave one.
fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<SystemTime>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for a control message with a timespec, aligned as cmsghdr needs.
    let mut control = [0u64; 8];
    // SAFETY: an all-zero msghdr is valid (no name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` points at live buffers of the lengths given.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG_* walk stays inside `control`, as the kernel filled it (msg_controllen
    // was updated to the length written); the data is read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if let (Ok(s), Ok(ns)) = (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
                    stamp = UNIX_EPOCH.checked_add(Duration::new(s, ns));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

/// What every reply needs.
struct Routes {
    params: Params,
    body: Arc<[u8]>,
    latency: Duration,
}

/// A reply's body: a prefix of the shared task body, or a static text.
enum Payload {
    Shared(Arc<[u8]>, usize),
    Static(&'static [u8]),
}

impl Payload {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Shared(body, len) => &body[..*len],
            Payload::Static(text) => text,
        }
    }
}

/// A reply, as bytes to send.
struct Outgoing {
    head: Vec<u8>,
    payload: Payload,
    /// Bytes of head and payload already sent.
    sent: usize,
    /// Close the connection once it is sent.
    close: bool,
}

impl Outgoing {
    fn new(
        status: &str,
        content_type: &str,
        announced: usize,
        payload: Payload,
        close: bool,
        http10_keep: bool,
    ) -> Self {
        let connection = if close {
            "Connection: close\r\n"
        } else if http10_keep {
            "Connection: keep-alive\r\n"
        } else {
            ""
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {announced}\r\n{connection}\r\n"
        )
        .into_bytes();
        Outgoing {
            head,
            payload,
            sent: 0,
            close,
        }
    }

    fn text(status: &str, text: &'static [u8], close: bool, http10_keep: bool) -> Self {
        Outgoing::new(
            status,
            "text/plain",
            text.len(),
            Payload::Static(text),
            close,
            http10_keep,
        )
    }

    /// Sends as much as the socket takes; `Ok(true)` once all of it is sent.
    fn send(&mut self, fd: RawFd) -> io::Result<bool> {
        loop {
            let head = &self.head[self.sent.min(self.head.len())..];
            let body = self.payload.bytes();
            let body = &body[self.sent.saturating_sub(self.head.len()).min(body.len())..];
            if head.is_empty() && body.is_empty() {
                return Ok(true);
            }
            let mut iov = [
                libc::iovec {
                    iov_base: head.as_ptr() as *mut libc::c_void,
                    iov_len: head.len(),
                },
                libc::iovec {
                    iov_base: body.as_ptr() as *mut libc::c_void,
                    iov_len: body.len(),
                },
            ];
            // SAFETY: an all-zero msghdr is valid; the iovecs point at live slices that the
            // kernel only reads.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = iov.as_mut_ptr();
            msg.msg_iovlen = iov.len() as _;
            // SAFETY: as above. MSG_NOSIGNAL: a client gone is an EPIPE, not a SIGPIPE.
            let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    ErrorKind::WouldBlock => return Ok(false),
                    ErrorKind::Interrupted => continue,
                    _ => return Err(e),
                }
            }
            self.sent += n as usize;
        }
    }
}

/// A reply waiting for its deadline.
struct Queued {
    due: Instant,
    reply: Outgoing,
}

/// What the server needs of one parsed request head.
struct Head {
    /// Bytes of the head.
    len: usize,
    get: bool,
    path: Option<String>,
    close: bool,
    http10_keep: bool,
    body_len: u64,
    chunked: bool,
}

/// Parses the request head at the start of `buf`: `Ok(None)` while it is incomplete,
/// `Err(())` if it is malformed.
fn parse_head(buf: &[u8]) -> std::result::Result<Option<Head>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let http11 = req.version == Some(1);
    let (mut close_token, mut keep_token, mut body_len, mut chunked) = (false, false, 0, false);
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            let value = std::str::from_utf8(h.value).map_err(drop)?;
            for token in value.split(',').map(str::trim) {
                close_token |= token.eq_ignore_ascii_case("close");
                keep_token |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            body_len = std::str::from_utf8(h.value)
                .map_err(drop)?
                .trim()
                .parse()
                .map_err(drop)?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        }
    }
    // The path of the target, without a query; an absolute form names its path too.
    let target = req.path.ok_or(())?;
    let path = target
        .parse::<hyper::Uri>()
        .ok()
        .map(|u| u.path().to_string());
    Ok(Some(Head {
        len,
        get: req.method == Some("GET"),
        path,
        close: close_token || (!http11 && !keep_token),
        http10_keep: !http11 && keep_token && !close_token,
        body_len,
        chunked,
    }))
}

/// One client connection.
struct Conn {
    stream: TcpStream,
    /// Bytes read and not parsed yet.
    inbuf: Vec<u8>,
    /// Bytes of a request body still to be skipped.
    skip: u64,
    /// Replies in request order, the reply being sent first.
    queue: VecDeque<Queued>,
    /// The reply being sent, partly sent.
    out: Option<Outgoing>,
    /// The last send stopped on a full socket buffer: wait for EPOLLOUT.
    blocked: bool,
    /// The client closed its side: read no more.
    eof: bool,
    /// A queued reply closes the connection: parse no more.
    closing: bool,
    /// When the bytes read last reached this host.
    arrived: Instant,
    /// A moment when the receive queue was empty: no byte read later arrived before it. It
    /// bounds the arrival time derived from the wall clock (which can step).
    drained_at: Instant,
    /// The events registered with epoll.
    interest: u32,
}

impl Conn {
    fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    fn wants(&self) -> u32 {
        let mut events = 0;
        if !self.eof && !self.closing && self.queue.len() < MAX_QUEUED {
            events |= IN;
        }
        if self.blocked {
            events |= OUT;
        }
        events
    }

    /// One read; the arrival time of what it read.
    fn read(&mut self, chunk: &mut [u8]) -> io::Result<()> {
        let before = Instant::now();
        match recv_stamped(self.fd(), chunk) {
            Ok((0, _)) => self.eof = true,
            Ok((n, stamp)) => {
                // Wall clock first: the age is then measured to a later instant, and the
                // arrival time comes out late rather than early.
                let wall = SystemTime::now();
                let now = Instant::now();
                let age = stamp
                    .and_then(|s| wall.duration_since(s).ok())
                    .unwrap_or_default();
                self.arrived = now.checked_sub(age).unwrap_or(now).max(self.drained_at);
                if n < chunk.len() {
                    self.drained_at = before;
                }
                self.inbuf.extend_from_slice(&chunk[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Parses the complete requests read so far into queued replies; returns how many, with
    /// the deadline of each in `deadlines`.
    fn parse(&mut self, routes: &Routes, id: u64, deadlines: &mut Deadlines) -> usize {
        let mut queued = 0;
        while !self.closing && self.queue.len() < MAX_QUEUED {
            if self.skip > 0 {
                let n = (self.skip.min(self.inbuf.len() as u64)) as usize;
                self.inbuf.drain(..n);
                self.skip -= n as u64;
                if self.skip > 0 {
                    break;
                }
            }
            if self.inbuf.is_empty() {
                break;
            }
            let head = match parse_head(&self.inbuf) {
                Ok(Some(head)) if head.len <= MAX_HEAD => Some(head),
                Ok(None) if self.inbuf.len() <= MAX_HEAD => break,
                Ok(_) | Err(()) => None,
            };
            let (due, reply) = match head {
                Some(head) => {
                    self.inbuf.drain(..head.len);
                    self.skip = head.body_len;
                    // A chunked request body cannot be skipped simply: answer, then close.
                    let close = head.close || head.chunked;
                    self.reply(routes, &head, close)
                }
                None => (
                    self.arrived,
                    Outgoing::text("400 Bad Request", b"bad request", true, false),
                ),
            };
            if reply.close {
                self.closing = true;
                self.inbuf.clear();
            }
            if due > self.arrived {
                deadlines.push(Reverse((due, id)));
            }
            self.queue.push_back(Queued { due, reply });
            queued += 1;
        }
        queued
    }

    /// The reply to a request head, and when it is due.
    fn reply(&self, routes: &Routes, head: &Head, close: bool) -> (Instant, Outgoing) {
        let keep = head.http10_keep;
        let index = match head.path.as_deref().and_then(parse_task_path) {
            Some(index) if head.get => index,
            Some(_) => {
                return (
                    self.arrived,
                    Outgoing::text("405 Method Not Allowed", b"GET only", close, keep),
                )
            }
            None => {
                return (
                    self.arrived,
                    Outgoing::text("404 Not Found", b"no such path", close, keep),
                )
            }
        };
        let body = &routes.body;
        let reply = match Reply::for_task(&routes.params, index) {
            Reply::Body => Outgoing::new(
                "200 OK",
                "application/json",
                body.len(),
                Payload::Shared(Arc::clone(body), body.len()),
                close,
                keep,
            ),
            Reply::Status500 => {
                Outgoing::text("500 Internal Server Error", STATUS_500_BODY, close, keep)
            }
            // The whole length announced (at least one byte), half of it sent, then closed.
            Reply::CloseMidBody => Outgoing::new(
                "200 OK",
                "application/json",
                body.len().max(1),
                Payload::Shared(Arc::clone(body), body.len() / 2),
                true,
                false,
            ),
        };
        (self.arrived + routes.latency, reply)
    }

    /// Sends the replies that are due, in order; `Ok(false)` when the connection is done.
    fn flush(&mut self) -> io::Result<bool> {
        loop {
            if self.out.is_none() {
                match self.queue.front() {
                    Some(q) if q.due <= Instant::now() => {
                        self.out = self.queue.pop_front().map(|q| q.reply);
                    }
                    _ => return Ok(true),
                }
            }
            let Some(out) = self.out.as_mut() else {
                return Ok(true);
            };
            let done = out.send(self.stream.as_raw_fd())?;
            self.blocked = !done;
            if !done {
                return Ok(true);
            }
            let close = out.close;
            self.out = None;
            if close {
                let _ = self.stream.shutdown(Shutdown::Write);
                return Ok(false);
            }
        }
    }

    /// Sends what is due and parses what was read, until neither moves; `Ok(false)` when the
    /// connection is done.
    fn progress(
        &mut self,
        routes: &Routes,
        id: u64,
        deadlines: &mut Deadlines,
    ) -> io::Result<bool> {
        loop {
            if !self.flush()? {
                return Ok(false);
            }
            if self.parse(routes, id, deadlines) == 0 {
                break;
            }
        }
        // The client has closed its side and every request it sent is answered.
        Ok(!(self.eof && self.queue.is_empty() && self.out.is_none()))
    }
}

/// Deadlines of queued replies, earliest first, with their connection's id. A connection
/// gone or a reply already sent leaves a stale entry, which is skipped.
type Deadlines = BinaryHeap<Reverse<(Instant, u64)>>;

/// The server thread's state.
struct Server {
    epoll: OwnedFd,
    listener: TcpListener,
    _stop: Arc<OwnedFd>,
    accepted: Arc<AtomicU64>,
    routes: Routes,
    conns: HashMap<u64, Conn>,
    next_id: u64,
    deadlines: Deadlines,
    /// Accepting is paused (the listener out of epoll's interest) until then.
    accept_paused_until: Option<Instant>,
    /// `epoll_pwait2` is there (Linux 5.11 and later).
    pwait2: bool,
    started: Instant,
}

impl Server {
    fn run(mut self) {
        // SAFETY: prctl(PR_SET_TIMERSLACK) changes only this thread's timer slack.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            let now = Instant::now();
            while let Some(&Reverse((due, id))) = self.deadlines.peek() {
                if due > now {
                    break;
                }
                self.deadlines.pop();
                self.service(id, 0, &mut chunk);
            }
            if self.accept_paused_until.is_some_and(|t| t <= now) {
                self.accept_paused_until = None;
                let fd = self.listener.as_raw_fd();
                let _ = epoll_ctl(&self.epoll, libc::EPOLL_CTL_MOD, fd, IN, LISTENER);
            }
            let n = match self.wait(&mut events, self.timeout(now)) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // Cannot happen with a valid epoll descriptor; stop rather than spin.
                Err(_) => return,
            };
            for event in &events[..n] {
                let (flags, token) = (event.events, event.u64);
                match token {
                    STOP => return,
                    LISTENER => self.accept_all(),
                    id => self.service(id, flags, &mut chunk),
                }
            }
        }
    }

    /// How long to sleep: until [`SPIN_AHEAD`] before the earliest deadline (zero inside that
    /// window), or until accepting resumes; `None` for no limit.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        let reply = self.deadlines.peek().map(|Reverse((due, _))| {
            due.saturating_duration_since(now)
                .saturating_sub(SPIN_AHEAD)
        });
        let accept = self
            .accept_paused_until
            .map(|t| t.saturating_duration_since(now));
        match (reply, accept) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn wait(
        &mut self,
        events: &mut [libc::epoll_event],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let epfd = self.epoll.as_raw_fd();
        let max = events.len() as libc::c_int;
        if self.pwait2 {
            let ts = timeout.map(|d| KernelTimespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
                tv_nsec: i64::from(d.subsec_nanos()),
            });
            let ts_ptr = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const KernelTimespec);
            // SAFETY: `events` and `ts` outlive the call; no signal mask is passed.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    epfd,
                    events.as_mut_ptr(),
                    max,
                    ts_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOSYS) {
                return Err(e);
            }
            self.pwait2 = false;
        }
        // Whole milliseconds, rounded down: an early wake-up waits awake for the rest.
        let ms = timeout.map_or(-1, |d| d.as_millis().min(i32::MAX as u128) as libc::c_int);
        // SAFETY: `events` outlives the call.
        cvt(unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), max, ms) }).map(|n| n as usize)
    }

    fn accept_all(&mut self) {
        loop {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) => match e.kind() {
                    ErrorKind::WouldBlock => return,
                    ErrorKind::Interrupted | ErrorKind::ConnectionAborted => continue,
                    _ => {
                        // Out of file descriptors, say: record it, so that the run's error
                        // names it rather than the clients' symptom, stop accepting for a
                        // moment rather than spin, and keep serving.
                        crate::refusal::note_refusal("the keep-alive server's accept", &e);
                        let fd = self.listener.as_raw_fd();
                        let _ = epoll_ctl(&self.epoll, libc::EPOLL_CTL_MOD, fd, 0, LISTENER);
                        self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
                        return;
                    }
                },
            };
            self.accepted.fetch_add(1, Ordering::Relaxed);
            let id = self.next_id;
            let setup = stream
                .set_nonblocking(true)
                // Replies are small writes; Nagle would hold them for the client's delayed ACK.
                .and_then(|()| stream.set_nodelay(true))
                .and_then(|()| {
                    epoll_ctl(&self.epoll, libc::EPOLL_CTL_ADD, stream.as_raw_fd(), IN, id)
                });
            if let Err(e) = setup {
                crate::refusal::note_refusal("the keep-alive server's accept", &e);
                continue;
            }
            let _ = enable_timestamps(stream.as_raw_fd());
            self.next_id += 1;
            self.conns.insert(
                id,
                Conn {
                    stream,
                    inbuf: Vec::new(),
                    skip: 0,
                    queue: VecDeque::new(),
                    out: None,
                    blocked: false,
                    eof: false,
                    closing: false,
                    arrived: self.started,
                    // Bytes queued before the accept arrived after the server started.
                    drained_at: self.started,
                    interest: IN,
                },
            );
        }
    }

    /// Reads, answers and updates connection `id` after epoll reported `flags` (0 when a
    /// deadline came); closes it when it is done or failed.
    fn service(&mut self, id: u64, flags: u32, chunk: &mut [u8]) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let keep = if flags & ERR_OR_HUP != 0 {
            // Reset or gone both ways: nobody is left to read a reply.
            Ok(false)
        } else {
            let read = if flags & IN != 0 && conn.wants() & IN != 0 {
                conn.read(chunk)
            } else {
                Ok(())
            };
            read.and_then(|()| conn.progress(&self.routes, id, &mut self.deadlines))
        };
        // A client that went away is not an error: its connection is just closed.
        if !matches!(keep, Ok(true)) {
            // Closing the descriptor removes it from epoll.
            self.conns.remove(&id);
            return;
        }
        let wants = conn.wants();
        if wants != conn.interest
            && epoll_ctl(&self.epoll, libc::EPOLL_CTL_MOD, conn.fd(), wants, id).is_ok()
        {
            conn.interest = wants;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Fault;
    use std::io::{BufRead, BufReader, Read, Write};

    fn server(latency_ms: u64, size: usize, faults: Vec<(usize, Fault)>) -> KeepaliveServer {
        let params = Params {
            tasks: 8,
            latency_ms,
            faults,
            ..Params::default()
        };
        KeepaliveServer::start(&params, super::super::body_of_size(size as u64).into()).unwrap()
    }

    fn connect(s: &KeepaliveServer) -> BufReader<TcpStream> {
        let stream = TcpStream::connect(s.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        BufReader::new(stream)
    }

    fn send(conn: &mut BufReader<TcpStream>, bytes: &[u8]) {
        conn.get_mut().write_all(bytes).unwrap();
    }

    /// Reads one response: status code, lower-cased headers, body (as announced, or as much as
    /// came before the connection closed).
    fn response(conn: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut line = String::new();
        conn.read_line(&mut line).unwrap();
        let status = line
            .split(' ')
            .nth(1)
            .unwrap_or_else(|| panic!("status line {line:?}"))
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            conn.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        let len: usize = header(&headers, "content-length").parse().unwrap();
        let mut body = Vec::new();
        conn.by_ref()
            .take(len as u64)
            .read_to_end(&mut body)
            .unwrap();
        (status, headers, body)
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The server closed the connection: EOF (or a reset) and nothing more to read.
    fn closed(conn: &mut BufReader<TcpStream>) -> bool {
        let mut rest = Vec::new();
        match conn.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }

    const GET: &[u8] = b"GET /item/0 HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn the_kernel_stamps_the_bytes_read() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        enable_timestamps(listener.as_raw_fd()).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        enable_timestamps(server.as_raw_fd()).unwrap();
        let mut chunk = [0u8; 64];
        // The kernel may start stamping a moment after the first socket asks for it.
        for _ in 0..200 {
            let sent = SystemTime::now();
            client.write_all(b"x").unwrap();
            std::thread::sleep(Duration::from_millis(2));
            let (n, stamp) = recv_stamped(server.as_raw_fd(), &mut chunk).unwrap();
            assert_eq!(n, 1);
            if let Some(stamp) = stamp {
                assert!(stamp <= SystemTime::now());
                // Wall clocks can step, so this is only a sanity check of the decoding.
                assert!(
                    stamp + Duration::from_secs(60) > sent,
                    "{stamp:?} vs {sent:?}"
                );
                return;
            }
        }
        panic!("no SCM_TIMESTAMPNS in 200 reads");
    }

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        let s = server(2, 100, vec![(5, Fault::Status500)]);
        let mut c = connect(&s);
        send(
            &mut c,
            b"GET /item/2 HTTP/1.1\r\n\r\nGET /item/5 HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nGET /item/3?x=1 HTTP/1.1\r\n\r\n",
        );
        let body = super::super::body_of_size(100);
        let (status, headers, got) = response(&mut c);
        assert_eq!((status, got.as_slice()), (200, body.as_slice()));
        assert_eq!(header(&headers, "content-type"), "application/json");
        let (status, _, got) = response(&mut c);
        assert_eq!((status, got.as_slice()), (500, STATUS_500_BODY));
        let (status, _, got) = response(&mut c);
        assert_eq!((status, got.as_slice()), (404, &b"no such path"[..]));
        assert_eq!(response(&mut c).0, 200);
        // Still open: one more request on the same connection.
        send(&mut c, GET);
        assert_eq!(response(&mut c).0, 200);
        assert_eq!(s.accepted(), 1);
    }

    #[test]
    fn a_head_split_across_writes_is_answered() {
        let s = server(0, 10, vec![]);
        let mut c = connect(&s);
        send(&mut c, b"GET /item/1 HT");
        std::thread::sleep(Duration::from_millis(5));
        send(&mut c, b"TP/1.1\r\nHost: x\r\n");
        std::thread::sleep(Duration::from_millis(5));
        send(&mut c, b"\r\n");
        assert_eq!(response(&mut c).0, 200);
    }

    #[test]
    fn connection_close_and_http10_are_honoured() {
        let s = server(1, 10, vec![]);
        for (request, stays_open) in [
            (
                &b"GET /item/0 HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
                false,
            ),
            (
                b"GET /item/0 HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n",
                false,
            ),
            (b"GET /item/0 HTTP/1.0\r\n\r\n", false),
            (
                b"GET /item/0 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                true,
            ),
            (b"GET /item/0 HTTP/1.1\r\n\r\n", true),
        ] {
            let mut c = connect(&s);
            send(&mut c, request);
            let (status, headers, _) = response(&mut c);
            assert_eq!(status, 200);
            let what = String::from_utf8_lossy(request).into_owned();
            if stays_open {
                assert_ne!(header(&headers, "connection"), "close", "{what}");
                send(&mut c, request);
                assert_eq!(response(&mut c).0, 200, "{what}");
            } else {
                assert_eq!(header(&headers, "connection"), "close", "{what}");
                assert!(closed(&mut c), "{what}");
            }
        }
    }

    #[test]
    fn a_body_larger_than_the_socket_buffer_arrives_whole() {
        let size = 24 << 20;
        let s = server(1, size, vec![]);
        let mut c = connect(&s);
        // Two pipelined, and read late, so that the server's writes stop on a full buffer.
        send(
            &mut c,
            b"GET /item/0 HTTP/1.1\r\n\r\nGET /item/1 HTTP/1.1\r\n\r\n",
        );
        std::thread::sleep(Duration::from_millis(50));
        let want = super::super::body_of_size(size as u64);
        for _ in 0..2 {
            let (status, _, body) = response(&mut c);
            assert_eq!(status, 200);
            assert!(body == want, "body of {} bytes differs", body.len());
        }
    }

    #[test]
    fn malformed_or_oversized_requests_get_400_and_a_close() {
        let s = server(1, 10, vec![]);
        let mut huge = b"GET /item/0 HTTP/1.1\r\nX-Long: ".to_vec();
        huge.resize(MAX_HEAD + 100, b'a');
        for request in [
            &b"NONSENSE\r\n\r\n"[..],
            b"GET /item/0 HTTP/9\r\n\r\n",
            b"GET /item/0 HTTP/1.1\r\nContent-Length: many\r\n\r\n",
            &huge,
        ] {
            let mut c = connect(&s);
            send(&mut c, request);
            let (status, headers, _) = response(&mut c);
            let what = String::from_utf8_lossy(&request[..request.len().min(40)]).into_owned();
            assert_eq!(status, 400, "{what}");
            assert_eq!(header(&headers, "connection"), "close", "{what}");
            assert!(closed(&mut c), "{what}");
        }
    }

    #[test]
    fn unknown_paths_are_404_and_other_methods_405() {
        let s = server(1, 10, vec![]);
        let mut c = connect(&s);
        send(&mut c, b"GET /items/1 HTTP/1.1\r\n\r\n");
        let (status, _, body) = response(&mut c);
        assert_eq!((status, body.as_slice()), (404, &b"no such path"[..]));
        // A body of its own, skipped: the next request on the connection is read right.
        send(
            &mut c,
            b"POST /item/1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        );
        let (status, _, body) = response(&mut c);
        assert_eq!((status, body.as_slice()), (405, &b"GET only"[..]));
        send(&mut c, b"DELETE /item/1 HTTP/1.1\r\n\r\n");
        assert_eq!(response(&mut c).0, 405);
        send(&mut c, GET);
        assert_eq!(response(&mut c).0, 200);
    }

    #[test]
    fn a_reply_never_comes_before_its_latency() {
        let latency = Duration::from_millis(15);
        let s = server(15, 10, vec![]);
        // Requests sent at staggered times on several connections, so that deadlines
        // interleave across connections.
        let handles: Vec<_> = (0..4u64)
            .map(|i| {
                let addr = s.addr();
                std::thread::spawn(move || {
                    let stream = TcpStream::connect(addr).unwrap();
                    let mut c = BufReader::new(stream);
                    for round in 0..3 {
                        std::thread::sleep(Duration::from_millis(i * 3 + round));
                        let sent = Instant::now();
                        send(&mut c, GET);
                        assert_eq!(response(&mut c).0, 200);
                        let took = sent.elapsed();
                        assert!(took >= latency, "answered after {took:?}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }

    #[test]
    fn faults_cut_the_body_or_answer_500() {
        let s = server(
            1,
            100,
            vec![(1, Fault::CloseMidBody), (2, Fault::Status500)],
        );
        let mut c = connect(&s);
        send(&mut c, b"GET /item/2 HTTP/1.1\r\n\r\n");
        let (status, _, body) = response(&mut c);
        assert_eq!((status, body.as_slice()), (500, STATUS_500_BODY));
        send(&mut c, b"GET /item/1 HTTP/1.1\r\n\r\n");
        let (status, _, body) = response(&mut c);
        assert_eq!(status, 200);
        assert_eq!(
            body,
            &super::super::body_of_size(100)[..50],
            "half, then closed"
        );
        assert!(closed(&mut c));
    }

    #[test]
    fn dropping_the_server_closes_its_connections() {
        let s = server(3_600_000, 10, vec![]);
        let mut idle = connect(&s);
        send(&mut idle, b"GET /nope HTTP/1.1\r\n\r\n");
        assert_eq!(response(&mut idle).0, 404);
        // A reply an hour away: dropping the server must not wait for it.
        let mut waiting = connect(&s);
        send(&mut waiting, GET);
        let addr = s.addr();
        drop(s);
        assert!(closed(&mut idle));
        assert!(closed(&mut waiting));
        assert!(TcpStream::connect(addr).is_err());
    }
}
