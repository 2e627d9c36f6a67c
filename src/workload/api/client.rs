//! The api workload's two HTTP clients. Both pool connections (so a keep-alive server sees at
//! most one connection per concurrent request), neither uses a proxy from the environment, and
//! both give up on a request, body included, after the workload's timeout.

use super::MAX_BODY_BYTES;
use crate::error::TaskError;
use crate::task::MAX_WORKERS;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Largest error body read (and dropped) to keep a connection reusable after a bad status.
const ERROR_BODY_LIMIT: u64 = 64 << 10;

/// An error and its causes on one line: the top-level errors of both clients are terse
/// ("client error (Connect)"); the cause ("Connection refused") is what a user needs.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// ureq's resolver for the blocking client: an IP address (the mock servers' 127.0.0.1) is
/// used as it is, any other host goes to ureq's default resolver.
///
/// ureq resolves the host on every request, pooled connection or not, and its default
/// resolver runs each lookup on a new thread whenever a timeout is set (so that the lookup
/// can be abandoned). A thread start and its wake-ups cost about 0.2 ms per request on this
/// VM, which the api tasks measured as latency. An IP address needs no lookup, so no thread.
/// (ureq's resolver API is outside its semver promise: a ureq upgrade may need this
/// adjusted.)
#[derive(Debug, Default)]
struct AddressFirst(DefaultResolver);

impl Resolver for AddressFirst {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let address = uri.authority().and_then(|authority| {
            let port = authority
                .port_u16()
                .or_else(|| (uri.scheme_str() == Some("http")).then_some(80))?;
            let host = authority.host();
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            host.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, port))
        });
        match address {
            Some(address) => {
                let mut addresses = self.empty();
                addresses.push(address);
                Ok(addresses)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The blocking client for thread executors: one ureq agent whose pool keeps an idle
/// connection per worker (ureq's default of 3 would force reconnects at W > 3), and that
/// starts no thread to look up an IP address ([`AddressFirst`]).
pub struct Blocking {
    agent: ureq::Agent,
}

impl Blocking {
    /// An agent whose calls time out after `timeout`, body read included.
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .proxy(None)
            .no_delay(true)
            .max_idle_connections(MAX_WORKERS)
            .max_idle_connections_per_host(MAX_WORKERS)
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build();
        let agent =
            ureq::Agent::with_parts(config, DefaultConnector::default(), AddressFirst::default());
        Blocking { agent }
    }

    /// GETs `url` and reads the whole body; any status but 200 is an error naming it.
    pub fn get(&self, url: &str) -> Result<Vec<u8>, TaskError> {
        let mut resp = self
            .agent
            .get(url)
            .call()
            .map_err(|e| TaskError::new(format!("GET {url}: {}", chain(&e))))?;
        if resp.status() != 200 {
            // Read the (short) error body so the connection goes back to the pool: a failed
            // request must not also cost a reconnect.
            let _ = resp
                .body_mut()
                .with_config()
                .limit(ERROR_BODY_LIMIT)
                .read_to_vec();
            return Err(TaskError::new(format!(
                "GET {url}: status {}",
                resp.status()
            )));
        }
        resp.body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| TaskError::new(format!("GET {url}: reading body: {}", chain(&e))))
    }
}

/// The async client for the tokio executor: hyper-util's legacy client on the hyper and tokio
/// already in the tree. Its connection tasks run on the runtime that makes the request.
pub struct Async {
    client: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

impl Async {
    /// A pooled client with Nagle off (small requests must not wait for ACKs) whose requests
    /// time out after `timeout`, body read included.
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(MAX_WORKERS)
            .build(connector);
        Async { client, timeout }
    }

    /// GETs `url` and reads the whole body; any status but 200 is an error naming it. Must be
    /// awaited inside a tokio runtime with its timer enabled.
    pub async fn get(&self, url: &str) -> Result<Bytes, TaskError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| TaskError::new(format!("GET {url}: bad url: {e}")))?;
        let request = async {
            let resp = self
                .client
                .get(uri)
                .await
                .map_err(|e| TaskError::new(format!("GET {url}: {}", chain(&e))))?;
            if resp.status() != hyper::StatusCode::OK {
                let status = resp.status();
                // As for the blocking client: drain it so the connection can be reused.
                let _ = http_body_util::Limited::new(resp.into_body(), ERROR_BODY_LIMIT as usize)
                    .collect()
                    .await;
                return Err(TaskError::new(format!("GET {url}: status {status}")));
            }
            let body = http_body_util::Limited::new(resp.into_body(), MAX_BODY_BYTES as usize);
            body.collect()
                .await
                .map(|collected| collected.to_bytes())
                .map_err(|e| TaskError::new(format!("GET {url}: reading body: {}", chain(&*e))))
        };
        match tokio::time::timeout(self.timeout, request).await {
            Ok(result) => result,
            Err(_) => Err(TaskError::new(format!(
                "GET {url}: timed out after {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let config = ureq::Agent::config_builder().build();
        let uri: ureq::http::Uri = url.parse().unwrap();
        AddressFirst::default()
            .resolve(&uri, &config, NextTimeout::default())
            .map(|addresses| addresses.iter().copied().collect())
    }

    #[test]
    fn ip_addresses_are_taken_as_they_are_and_names_still_resolve() {
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(resolve("http://127.0.0.1:8080/item/1").unwrap(), [v4]);
        let v4_default_port: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(resolve("http://127.0.0.1/x").unwrap(), [v4_default_port]);
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(resolve("http://[::1]:9/").unwrap(), [v6]);
        // A name goes to ureq's resolver; "localhost" resolves without a network.
        let local = resolve("http://localhost:8080/").unwrap();
        assert!(!local.is_empty() && local.iter().all(|a| a.ip().is_loopback()));
    }
}
