//! `api`: N HTTP GET requests to a local mock server that answers after a fixed latency.
//! The body is read and checksummed.

use super::{Params, Workload, WorkloadInfo};
use crate::error::{Result, TaskError};
use crate::executor::Ctx;
use crate::measure::{checksum_bytes, TaskInput, TaskOutput};
use std::sync::Arc;
use std::time::Duration;

/// Registry entry.
pub const INFO: WorkloadInfo = WorkloadInfo {
    name: "api",
    about: "HTTP GETs to a local mock server with a fixed latency (seed: 16 downloads)",
    hidden: false,
    defaults,
    open,
};

/// The fixture body the server returns (about 1 KiB of JSON).
pub const FIXTURE_BODY: &[u8] = include_bytes!("../../fixtures/api_body.json");

fn defaults() -> Params {
    Params {
        tasks: 16,
        size: FIXTURE_BODY.len() as u64,
        latency_ms: 20,
        ..Params::default()
    }
}

fn open(mut params: Params) -> Result<Arc<dyn Workload>> {
    let (base, server) = match &params.endpoint {
        Some(url) => (url.clone(), None),
        None => {
            let mut server = mockito::Server::new_with_opts(mockito::ServerOpts {
                host: "127.0.0.1",
                port: 0,
                assert_on_drop: false,
            });
            let latency = Duration::from_millis(params.latency_ms);
            let body: Vec<u8> = FIXTURE_BODY
                .iter()
                .copied()
                .cycle()
                .take(params.size as usize)
                .collect();
            let mock = server
                .mock("GET", mockito::Matcher::Regex(r"^/item/\d+$".into()))
                .with_status(200)
                .with_header("content-type", "application/json")
                .with_chunked_body(move |w| {
                    std::thread::sleep(latency);
                    w.write_all(&body)
                })
                .create();
            (server.url(), Some((server, mock)))
        }
    };
    params.endpoint = Some(base.clone());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections(1024)
        .max_idle_connections_per_host(1024)
        .timeout_global(Some(Duration::from_millis(params.timeout_ms)))
        .http_status_as_error(false)
        .build()
        .into();
    Ok(Arc::new(Api {
        params,
        base,
        agent,
        _server: server,
    }))
}

/// The api workload: its server (when it owns one) and one shared client.
pub struct Api {
    params: Params,
    base: String,
    agent: ureq::Agent,
    _server: Option<(mockito::Server, mockito::Mock)>,
}

impl Workload for Api {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn inputs(&self) -> Result<Vec<TaskInput>> {
        Ok((0..self.params.tasks)
            .map(|index| TaskInput {
                index,
                data: format!("/item/{index}").into_bytes(),
            })
            .collect())
    }

    fn run(&self, input: &TaskInput, ctx: &Ctx) -> Result<TaskOutput, TaskError> {
        let path = std::str::from_utf8(&input.data).map_err(|e| TaskError::new(e.to_string()))?;
        let url = format!("{}{}", self.base, path);
        let body = ctx.release(|| -> Result<Vec<u8>, TaskError> {
            let mut resp = self
                .agent
                .get(&url)
                .call()
                .map_err(|e| TaskError::new(format!("GET {url}: {e}")))?;
            if resp.status() != 200 {
                return Err(TaskError::new(format!(
                    "GET {url}: status {}",
                    resp.status()
                )));
            }
            resp.body_mut()
                .read_to_vec()
                .map_err(|e| TaskError::new(format!("GET {url}: reading body: {e}")))
        })?;
        Ok(TaskOutput {
            checksum: checksum_bytes(&body),
            units: body.len() as u64,
            payload: Vec::new(),
        })
    }
}
