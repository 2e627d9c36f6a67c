//! A small HTTP/1.1 keep-alive server on hyper, for connection reuse at high concurrency.
//!
//! mockito closes every connection and accepts on one thread, which models the seed's
//! `urlopen`, but real clients reuse connections, and at 64 in-flight requests mockito's
//! thread becomes part of what is measured. This server keeps connections open, runs on its
//! own multi-thread runtime, and counts the TCP connections it accepts, so a batch can show
//! that a pooled client opened at most one connection per worker.
//!
//! Same replies as the mockito server: `GET /item/{index}` answers after the latency with the
//! body, or with an injected fault. The latency is kept by one alarm thread (`alarm.rs`),
//! precise to the futex, instead of tokio's millisecond timer or a sleeping thread per reply.

use super::alarm::{Alarm, Sleeper};
use super::{parse_task_path, Reply, INFO, STATUS_500_BODY};
use crate::error::{Error, Result};
use crate::workload::Params;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// How long stopping the server waits for its runtime's threads.
const STOP_GRACE: Duration = Duration::from_millis(200);

/// A running keep-alive server. Dropping it stops it: the listener and every connection are
/// closed before `drop` returns.
pub struct KeepaliveServer {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    // Stopped after the server (fields drop after `Drop::drop`).
    _alarm: Alarm,
}

/// What every connection needs to answer.
struct Routes {
    params: Params,
    body: Bytes,
    latency: Duration,
    sleeper: Sleeper,
}

impl KeepaliveServer {
    /// Binds 127.0.0.1 on a free port and starts serving `body` for the task paths of `params`.
    pub fn start(params: &Params, body: Arc<[u8]>) -> Result<Self> {
        let fail = |what: &str, e: std::io::Error| {
            Error::workload(
                INFO.name,
                format!(
                    "keep-alive server: {what}: {}",
                    crate::output::os_error_text(&e)
                ),
            )
        };
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| super::port_error(&e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| fail("local address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| fail("non-blocking listener", e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
            )
            .thread_name("parbench-keepalive")
            .enable_all()
            .build()
            .map_err(|e| fail("cannot build its runtime", e))?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(|e| fail("listener", e))?
        };
        let alarm = Alarm::start().map_err(|e| fail("cannot spawn its alarm thread", e))?;
        let routes = Arc::new(Routes {
            params: params.clone(),
            body: Bytes::from(body.to_vec()),
            latency: Duration::from_millis(params.latency_ms),
            sleeper: alarm.sleeper(),
        });
        let accepted = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = oneshot::channel();
        let counter = Arc::clone(&accepted);
        let thread = std::thread::Builder::new()
            .name("parbench-keepalive-accept".into())
            .spawn(move || {
                runtime.block_on(serve(listener, routes, counter, stopped));
                // Drops every connection task, closing its socket.
                runtime.shutdown_timeout(STOP_GRACE);
            })
            .map_err(|e| fail("cannot spawn its thread", e))?;
        Ok(KeepaliveServer {
            addr,
            accepted,
            stop: Some(stop),
            thread: Some(thread),
            _alarm: alarm,
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
        // Dropping the sender wakes the accept loop even if it already stopped listening.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    routes: Arc<Routes>,
    accepted: Arc<AtomicU64>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            next = listener.accept() => match next {
                Ok((stream, _)) => stream,
                // Out of file descriptors or a connection reset before accept: back off
                // briefly rather than spin, and keep serving; an exhaustion is recorded, so
                // the run's error names it rather than the clients' symptom.
                Err(e) => {
                    crate::refusal::note_refusal("the keep-alive server's accept", &e);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
            },
        };
        accepted.fetch_add(1, Ordering::Relaxed);
        // Replies are small writes; Nagle would hold them for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let routes = Arc::clone(&routes);
        tokio::spawn(async move {
            let service = service_fn(move |req| respond(Arc::clone(&routes), req));
            // Errors here are a client going away or an injected mid-body close.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(
    routes: Arc<Routes>,
    req: Request<Incoming>,
) -> Result<Response<ReplyBody>, Infallible> {
    let index = match parse_task_path(req.uri().path()) {
        Some(index) if req.method() == Method::GET => index,
        Some(_) => return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, b"GET only")),
        None => return Ok(plain(StatusCode::NOT_FOUND, b"no such path")),
    };
    if !routes.latency.is_zero() {
        routes.sleeper.sleep(routes.latency).await;
    }
    Ok(match Reply::for_task(&routes.params, index) {
        Reply::Body => json(ReplyBody::whole(routes.body.clone())),
        Reply::Status500 => plain(StatusCode::INTERNAL_SERVER_ERROR, STATUS_500_BODY),
        Reply::CloseMidBody => json(ReplyBody::cut(routes.body.clone())),
    })
}

fn json(body: ReplyBody) -> Response<ReplyBody> {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn plain(status: StatusCode, text: &'static [u8]) -> Response<ReplyBody> {
    let mut resp = Response::new(ReplyBody::whole(Bytes::from_static(text)));
    *resp.status_mut() = status;
    resp
}

/// A response body that is either whole, or announces its whole length (at least one byte),
/// sends the first half, lets the connection flush it, and then fails, which makes hyper
/// close the connection in the middle of the body.
pub struct ReplyBody {
    data: Option<Bytes>,
    announced: u64,
    cut: Cut,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Whole body: end after the data.
    No,
    /// Cut: the half has not been flushed yet.
    Pending,
    /// Cut: the half has been flushed; fail now.
    Flushed,
}

impl ReplyBody {
    fn whole(data: Bytes) -> Self {
        ReplyBody {
            announced: data.len() as u64,
            data: Some(data),
            cut: Cut::No,
        }
    }

    fn cut(full: Bytes) -> Self {
        let announced = (full.len() as u64).max(1);
        ReplyBody {
            data: Some(full.slice(..full.len() / 2)),
            announced,
            cut: Cut::Pending,
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, Self::Error>>> {
        if let Some(data) = self.data.take() {
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
        }
        match self.cut {
            Cut::No => Poll::Ready(None),
            Cut::Pending => {
                // hyper flushes what it has buffered whenever the body is not ready, so one
                // `Pending` (with an immediate wake-up) puts the half on the wire first.
                self.cut = Cut::Flushed;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Cut::Flushed => Poll::Ready(Some(Err(std::io::Error::other(
                "injected fault: close mid-body",
            )))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.cut == Cut::No && self.data.as_ref().is_none_or(|d| d.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.announced)
    }
}
