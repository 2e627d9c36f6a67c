//! The mockito server: one connection per request (mockito answers `connection: close`), the
//! model of the seed's `urlopen`.
//!
//! The latency is a sleep inside `with_chunked_body`, which mockito runs on a thread of its
//! own per response, so concurrent requests wait in parallel. A `*_from_request` callback would
//! run under mockito's state lock and serialise every request (see the shared NOTES).

use super::{task_path, Reply, INFO, STATUS_500_BODY};
use crate::error::{Error, Result, TaskError};
use crate::workload::Params;
use mockito::{Matcher, ServerGuard};
use std::sync::Arc;
use std::time::Duration;

/// How long a close-mid-body reply waits between its half body and the abort, so mockito's
/// connection task flushes the half before the error tears the connection down. Without it the
/// client could see the connection close before the headers, which is a different fault.
const MID_BODY_PAUSE: Duration = Duration::from_millis(5);

/// A mockito server from mockito's pool, bound to 127.0.0.1 on a free port, with one mock for
/// every task path and one per faulty path. Dropping it returns the server to mockito's pool,
/// which removes the mocks: mockito cannot stop a server, so a pooled one is reused by the
/// next workload instead of a new thread and socket leaking per workload.
pub struct MockServer {
    server: ServerGuard,
}

impl MockServer {
    /// Takes a server from the pool and installs the mocks for `params`.
    pub fn start(params: &Params, body: Arc<[u8]>) -> Result<Self> {
        // mockito's constructor runs its own runtime with `block_on`, which panics inside an
        // async context; a short-lived plain thread makes opening safe from anywhere.
        let mut server =
            std::thread::scope(|s| s.spawn(mockito::Server::new).join()).map_err(|panic| {
                Error::workload(
                    INFO.name,
                    format!(
                        "cannot start the mockito server: {}",
                        TaskError::from_panic(panic.as_ref())
                    ),
                )
            })?;
        let latency = Duration::from_millis(params.latency_ms);
        // mockito answers with the first matching mock still short of its expected hits, else
        // the last one created. `expect_at_least(0)` means the catch-all is never "short", so
        // the per-path fault mocks created after it always win for their paths. The catch-all
        // matches any path: mockito compiles a `Matcher::Regex` on every request, under its
        // state lock, which would put a regex compilation into every measured request.
        let all = Arc::clone(&body);
        server
            .mock("GET", Matcher::Any)
            .expect_at_least(0)
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_chunked_body(move |w| {
                pause(latency);
                w.write_all(&all)
            })
            .create();
        let mut faulty: Vec<usize> = params.faults.iter().map(|(i, _)| *i).collect();
        faulty.sort_unstable();
        faulty.dedup();
        for index in faulty {
            let path = task_path(index);
            let mock = match Reply::for_task(params, index) {
                Reply::Body => continue,
                Reply::Status500 => server
                    .mock("GET", path.as_str())
                    .with_status(500)
                    .with_header("content-type", "text/plain")
                    .with_chunked_body(move |w| {
                        pause(latency);
                        w.write_all(STATUS_500_BODY)
                    }),
                Reply::CloseMidBody => {
                    let body = Arc::clone(&body);
                    server
                        .mock("GET", path.as_str())
                        .with_status(200)
                        .with_header("content-type", "application/json")
                        .with_chunked_body(move |w| {
                            pause(latency);
                            w.write_all(&body[..body.len() / 2])?;
                            std::thread::sleep(MID_BODY_PAUSE);
                            Err(std::io::Error::other("injected fault: close mid-body"))
                        })
                }
            };
            mock.create();
        }
        Ok(MockServer { server })
    }

    /// Base URL, `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        self.server.url()
    }
}

fn pause(latency: Duration) {
    if !latency.is_zero() {
        std::thread::sleep(latency);
    }
}
