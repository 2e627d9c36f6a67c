//! `api`: N HTTP GET requests (`/item/{index}`) to a local mock server that answers after a
//! fixed latency. The body, the JSON fixture repeated to `size` bytes, is read and checksummed.
//!
//! Two servers, chosen by [`Params::server`]:
//! - mockito ([`mock`]): a new TCP connection per request, as the seed's `urlopen` did;
//! - a small keep-alive HTTP/1.1 server of our own ([`keepalive`]), one thread on epoll, for
//!   connection reuse at high concurrency and a latency counted from the kernel's receive time
//!   of the request. It counts the connections it accepts.
//!
//! Two clients ([`client`]), one of each per opened workload (so one per process): ureq for
//! the blocking executors, hyper-util's legacy client for the async executor, built on first
//! use so blocking executors never pay for it. Both time out after [`Params::timeout_ms`].

use super::{inputs_by_index, Fault, Params, ServerKind, Workload, WorkloadInfo};
use crate::error::{Error, Result, TaskError, UsageError};
use crate::measure::{checksum_bytes, TaskInput, TaskOutput};
use crate::task::Ctx;
use crate::workload::BoxFuture;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub mod client;
pub mod keepalive;
pub mod mock;

/// Registry entry.
pub const INFO: WorkloadInfo = WorkloadInfo {
    name: "api",
    about: "HTTP GETs to a local mock server with a fixed latency (seed: 16 downloads)",
    hidden: false,
    defaults,
    quick,
    open,
    demand,
};

/// A request holds a client socket, and a connection in the server; the body is in both.
/// mockito answers each request on a thread of its own and closes the connection, so each
/// request is a new connection from a new local port; the keep-alive server runs one thread,
/// and its connections are reused.
fn demand(p: &Params) -> Result<crate::workload::Demand, UsageError> {
    check(p)?;
    let mockito = u64::from(p.server == ServerKind::Mockito);
    Ok(crate::workload::Demand {
        fds_per_task: 1,
        server_fds_per_task: 1,
        server_threads: 1,
        server_threads_per_task: mockito,
        threads_per_task: 0,
        input_bytes: p.tasks as u64 * task_path(p.tasks).len() as u64,
        bytes_per_task: 2 * p.size,
        ports_per_task: mockito,
    })
}

/// The fixture body the server returns (about 1 KiB of JSON).
pub const FIXTURE_BODY: &[u8] = include_bytes!("../../../fixtures/api_body.json");

/// Largest response body (`--size`) accepted: the body is held in memory by the server and by
/// every in-flight request, and an "API call" of more than this measures bulk transfer instead.
pub const MAX_BODY_BYTES: u64 = 64 << 20;

/// Largest latency accepted, in milliseconds: above this a batch is a wait, not a benchmark.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// Longest client timeout (`--timeout-ms`): one hour.
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;

fn defaults() -> Params {
    Params {
        tasks: 16,
        size: FIXTURE_BODY.len() as u64,
        latency_ms: 20,
        ..Params::default()
    }
}

/// The response body for `size` bytes: the fixture repeated and cut to length.
pub fn body_of_size(size: u64) -> Vec<u8> {
    FIXTURE_BODY
        .iter()
        .copied()
        .cycle()
        .take(size as usize)
        .collect()
}

/// The path task `index` requests.
pub fn task_path(index: usize) -> String {
    format!("/item/{index}")
}

/// The task index in a request path, if it is a task path.
pub fn parse_task_path(path: &str) -> Option<usize> {
    let digits = path.strip_prefix("/item/")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What the server sends for one task, after the latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// 200 with the whole body.
    Body,
    /// 500 with a short text body.
    Status500,
    /// 200 announcing the whole body, then half of it, then the connection is closed.
    CloseMidBody,
}

impl Reply {
    /// The reply for task `index` under the injected faults. `Fault::Panic` is the executor's
    /// business (the task panics before any request), so the server answers normally.
    pub fn for_task(params: &Params, index: usize) -> Reply {
        match params.fault_for(index) {
            Some(Fault::Status500) => Reply::Status500,
            Some(Fault::CloseMidBody) => Reply::CloseMidBody,
            Some(Fault::Panic) | None => Reply::Body,
        }
    }
}

/// The text body of an injected 500.
pub const STATUS_500_BODY: &[u8] = b"injected fault: status 500";

/// The error for a local port that cannot be had: "no free local port" when the port range
/// is exhausted, else the OS error itself (out of file descriptors, no loopback).
pub fn port_error(e: &std::io::Error) -> Error {
    use std::io::ErrorKind;
    let text = crate::output::os_error_text(e);
    let message = match e.kind() {
        ErrorKind::AddrInUse | ErrorKind::AddrNotAvailable => format!("no free local port: {text}"),
        _ => format!("cannot open a local port on 127.0.0.1: {text}"),
    };
    Error::workload(INFO.name, message)
}

/// Binds and closes a port on 127.0.0.1, for servers that cannot report a failed bind
/// themselves (mockito panics instead).
pub fn probe_local_port() -> Result<()> {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .map(drop)
        .map_err(|e| port_error(&e))
}

/// Checks the parameters that would otherwise exhaust memory, wait for minutes or time out
/// every request at once.
fn check(params: &Params) -> Result<(), UsageError> {
    if params.size > MAX_BODY_BYTES {
        return Err(UsageError::new(format!(
            "api: --size {} bytes is more than the maximum body of {MAX_BODY_BYTES} bytes",
            params.size
        )));
    }
    if params.latency_ms > MAX_LATENCY_MS {
        return Err(UsageError::new(format!(
            "api: latency {} ms is more than the maximum of {MAX_LATENCY_MS} ms",
            params.latency_ms
        )));
    }
    if !(1..=MAX_TIMEOUT_MS).contains(&params.timeout_ms) {
        return Err(UsageError::new(format!(
            "api: the client timeout {} ms must be 1..={MAX_TIMEOUT_MS} ms",
            params.timeout_ms
        )));
    }
    Ok(())
}

/// The server a workload owns; dropping it stops the server (or returns mockito's to its pool).
enum Server {
    Mockito(mock::MockServer),
    Keepalive(keepalive::KeepaliveServer),
}

fn open(mut params: Params) -> Result<Arc<dyn Workload>> {
    check(&params)?;
    let server = match params.endpoint {
        Some(_) => None,
        None => {
            let body: Arc<[u8]> = body_of_size(params.size).into();
            Some(match params.server {
                ServerKind::Mockito => Server::Mockito(mock::MockServer::start(&params, body)?),
                ServerKind::Keepalive => {
                    Server::Keepalive(keepalive::KeepaliveServer::start(&params, body)?)
                }
            })
        }
    };
    let base = match &server {
        Some(Server::Mockito(s)) => s.url(),
        Some(Server::Keepalive(s)) => s.url(),
        None => params.endpoint.clone().unwrap_or_default(),
    };
    let base = base.trim_end_matches('/').to_string();
    check_base(&base)?;
    params.endpoint = Some(base.clone());
    let timeout = Duration::from_millis(params.timeout_ms);
    Ok(Arc::new(Api {
        params,
        base,
        timeout,
        blocking: client::Blocking::new(timeout),
        async_client: OnceLock::new(),
        server,
    }))
}

/// An endpoint must be a plain `http://host:port` base URL, or every task would fail the same
/// obscure way.
fn check_base(base: &str) -> Result<()> {
    let uri: hyper::Uri = base
        .parse()
        .map_err(|e| Error::workload(INFO.name, format!("bad endpoint '{base}': {e}")))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() || uri.path() != "/" {
        return Err(Error::workload(
            INFO.name,
            format!("bad endpoint '{base}': expected http://host:port"),
        ));
    }
    Ok(())
}

/// The api workload: its server (when this process owns one) and its two clients.
pub struct Api {
    params: Params,
    base: String,
    timeout: Duration,
    blocking: client::Blocking,
    async_client: OnceLock<client::Async>,
    // Last, so the clients close their idle connections before the server goes.
    server: Option<Server>,
}

impl Api {
    fn url(&self, input: &TaskInput) -> Result<String, TaskError> {
        let path = std::str::from_utf8(&input.data)
            .map_err(|e| TaskError::new(format!("task {}: bad request path: {e}", input.index)))?;
        Ok(format!("{}{}", self.base, path))
    }
}

fn output(body: &[u8]) -> TaskOutput {
    TaskOutput {
        checksum: checksum_bytes(body),
        units: body.len() as u64,
        payload: Default::default(),
    }
}

impl Workload for Api {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn inputs(&self) -> Result<Vec<TaskInput>> {
        Ok(inputs_by_index(self.params.tasks, |index| {
            task_path(index).into_bytes()
        }))
    }

    fn run(&self, input: &TaskInput, ctx: &Ctx) -> Result<TaskOutput, TaskError> {
        let url = self.url(input)?;
        let body = ctx.release(|| self.blocking.get(&url))?;
        Ok(output(&body))
    }

    fn run_async<'a>(
        &'a self,
        input: &'a TaskInput,
        _worker: usize,
    ) -> BoxFuture<'a, Result<TaskOutput, TaskError>> {
        Box::pin(async move {
            let url = self.url(input)?;
            let client = self
                .async_client
                .get_or_init(|| client::Async::new(self.timeout));
            let body = client.get(&url).await?;
            Ok(output(&body))
        })
    }

    /// Waits: on the disk (io) or the network (api).
    fn waits(&self) -> bool {
        true
    }

    /// Only the keep-alive server counts its connections. mockito accepts connections inside
    /// its own server thread and exposes no count, so it reports `None`; so does a worker
    /// process that attached to its parent's server.
    fn ideal_s(&self, workers: usize) -> Option<f64> {
        Some(ideal_wait_s(&self.params, workers))
    }

    fn connections(&self) -> Option<u64> {
        match &self.server {
            Some(Server::Keepalive(s)) => Some(s.accepted()),
            Some(Server::Mockito(_)) | None => None,
        }
    }
}

/// ceil(tasks / workers) x latency: the wall time of a batch of waits with no overhead (api,
/// and the `sleep` floor beside it).
pub(crate) fn ideal_wait_s(p: &Params, workers: usize) -> f64 {
    p.tasks.div_ceil(workers.max(1)) as f64 * p.latency_ms as f64 / 1e3
}

/// The quick profile's shortest latency: below about 1 ms the VM's wake-ups dominate.
const QUICK_MIN_LATENCY_MS: u64 = 2;

/// Quick profile: the latency divided by [`crate::workload::QUICK_DIVISOR`], at least
/// [`QUICK_MIN_LATENCY_MS`].
pub(crate) fn quick(p: &mut Params) {
    p.latency_ms = (p.latency_ms / crate::workload::QUICK_DIVISOR).max(QUICK_MIN_LATENCY_MS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_paths_round_trip() {
        for i in [0, 7, 12345] {
            assert_eq!(parse_task_path(&task_path(i)), Some(i));
        }
        for bad in [
            "/item/",
            "/item/-1",
            "/item/1a",
            "/items/1",
            "/item/1/2",
            "",
        ] {
            assert_eq!(parse_task_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn body_is_the_fixture_cut_or_repeated_to_size() {
        assert_eq!(body_of_size(10), &FIXTURE_BODY[..10]);
        let long = body_of_size(FIXTURE_BODY.len() as u64 * 2 + 3);
        assert_eq!(&long[..FIXTURE_BODY.len()], FIXTURE_BODY);
        assert_eq!(
            &long[FIXTURE_BODY.len()..2 * FIXTURE_BODY.len()],
            FIXTURE_BODY
        );
        assert!(body_of_size(0).is_empty());
    }

    #[test]
    fn absurd_parameters_are_usage_errors() {
        let cases: [fn(&mut Params); 3] = [
            |p| p.size = MAX_BODY_BYTES + 1,
            |p| p.latency_ms = MAX_LATENCY_MS + 1,
            |p| p.timeout_ms = 0,
        ];
        for tweak in cases {
            let mut p = defaults();
            tweak(&mut p);
            assert!(check(&p).is_err(), "{p:?}");
        }
        assert!(check(&defaults()).is_ok());
    }

    #[test]
    fn bad_endpoints_are_refused() {
        for bad in [
            "",
            "127.0.0.1:80",
            "ftp://127.0.0.1:1",
            "http://127.0.0.1:1/x",
            "http://",
        ] {
            assert!(check_base(bad).is_err(), "{bad}");
        }
        assert!(check_base("http://127.0.0.1:8080").is_ok());
    }
}
