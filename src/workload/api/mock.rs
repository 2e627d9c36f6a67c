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
        // mockito panics when it cannot bind, and the panic says only "receiving on a closed
        // channel": bind a port ourselves first, so the real OS error is the message.
        super::probe_local_port()?;
        // mockito's constructor runs its own runtime with `block_on`, which panics inside an
        // async context; a short-lived plain thread makes opening safe from anywhere.
        let started = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("parbench-mockito-start".into())
                .spawn_scoped(s, mockito::Server::new)
                .map(|handle| handle.join())
        });
        let mut server = match started {
            Ok(Ok(server)) => server,
            Ok(Err(panic)) => {
                // Never the panic text: it is mockito's internals, not a cause.
                let detail = TaskError::from_panic(panic.as_ref()).message;
                return Err(Error::workload(
                    INFO.name,
                    format!(
                        "cannot start the mockito server: {}",
                        mockito_cause(&detail)
                    ),
                ));
            }
            Err(e) => {
                return Err(Error::workload(
                    INFO.name,
                    format!(
                        "cannot start the mockito server: no thread: {}",
                        crate::output::os_error_text(&e)
                    ),
                ))
            }
        };
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

/// A readable cause from the text of a panic inside mockito's constructor: the OS error when
/// it carries one (`message: "Too many open files"`), else a plain sentence.
fn mockito_cause(panic: &str) -> String {
    if let Some(at) = panic.find("message: \"") {
        let rest = &panic[at + 10..];
        if let Some(end) = rest.find('"') {
            return rest[..end].to_string();
        }
    }
    if panic.contains("runtime") {
        "it could not build its runtime (out of threads or file descriptors?)".into()
    } else {
        "it could not bind a local port".into()
    }
}

#[cfg(test)]
mod tests {
    use super::mockito_cause;

    #[test]
    fn panics_become_causes_without_panic_text() {
        let os = r#"panicked: called `Result::unwrap()` on an `Err` value: Os { code: 24, kind: Uncategorized, message: "Too many open files" }"#;
        assert_eq!(mockito_cause(os), "Too many open files");
        let other = "panicked: called `Result::unwrap()` on an `Err` value: Error { kind: ServerFailure, context: Some(\"receiving on a closed channel\") }";
        let cause = mockito_cause(other);
        assert!(
            !cause.contains("panicked") && !cause.contains("unwrap"),
            "{cause}"
        );
    }
}
