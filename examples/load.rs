//! Load on the two mock API servers (issue 25): each server runs alone in a child process,
//! a tokio client drives it with a fixed number of requests and a fixed number in flight,
//! and the child is sampled from /proc while it serves. `ci/load.sh` runs it and saves the
//! report.
//!
//! ```sh
//! cargo run --release --example load -- [--requests 10000] [--in-flight 1024]
//!     [--latency-ms 20] [--server mockito|keepalive|both]
//! ```
//!
//! It prints one Markdown row per server: requests held at once (the peak of requests sent
//! and not yet answered), refused (connection refused or reset before an answer), failed
//! (any other error: timeouts, short bodies), the server's peak descriptors and threads and
//! its peak resident memory (VmHWM), and whether anything still listens on the server's port
//! after it stopped. Bounded: the count is fixed, every request times out, the whole drive
//! has a deadline, and everything binds 127.0.0.1.

use parbench::workload::api::keepalive::KeepaliveServer;
use parbench::workload::api::mock::MockServer;
use parbench::workload::api::{body_of_size, client, task_path};
use parbench::workload::{self, ServerKind};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A request that has no answer after this long fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The whole drive of one server gives up after this long.
const DRIVE_DEADLINE: Duration = Duration::from_secs(300);
/// How often the server's descriptors and threads are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);

struct Options {
    requests: usize,
    in_flight: usize,
    latency_ms: u64,
    servers: Vec<ServerKind>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        requests: 10_000,
        in_flight: 1024,
        latency_ms: 20,
        servers: vec![ServerKind::Mockito, ServerKind::Keepalive],
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag}: a value is missing"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} {value}: not a count"))
        };
        match flag.as_str() {
            "--requests" => o.requests = number()?.clamp(1, 1_000_000) as usize,
            "--in-flight" => o.in_flight = number()?.clamp(1, 65_536) as usize,
            "--latency-ms" => o.latency_ms = number()?.min(10_000),
            "--server" => {
                o.servers = match value.as_str() {
                    "mockito" => vec![ServerKind::Mockito],
                    "keepalive" => vec![ServerKind::Keepalive],
                    "both" => o.servers,
                    _ => return Err(format!("--server {value}: mockito, keepalive or both")),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return serve(&args[1..]);
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("load: {e}");
            return ExitCode::from(2);
        }
    };
    // The client holds a socket per request in flight, and the server child inherits the
    // limit: raise the soft limit to the hard one.
    raise_nofile();
    println!(
        "| server | requests | in flight | held at once | ok | refused | failed | wall s | \
         connections accepted | server peak fds | server peak threads | server peak RSS | \
         listening after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut clean = true;
    for server in &options.servers {
        match drive(*server, &options) {
            Ok(row) => {
                clean &= row.ok == options.requests as u64 && !row.listening_after;
                row.print(&options);
            }
            Err(e) => {
                eprintln!("load: {}: {e}", name(*server));
                clean = false;
            }
        }
    }
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn name(server: ServerKind) -> &'static str {
    match server {
        ServerKind::Mockito => "mockito",
        ServerKind::Keepalive => "keepalive",
    }
}

fn raise_nofile() {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write one rlimit we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max.min(1 << 16);
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// The child: starts one server, prints its URL, serves until stdin closes, then prints how
/// many connections it accepted (keep-alive only) and exits.
fn serve(args: &[String]) -> ExitCode {
    let kind = match args.first().map(String::as_str) {
        Some("mockito") => ServerKind::Mockito,
        Some("keepalive") => ServerKind::Keepalive,
        _ => return ExitCode::from(2),
    };
    let Some(latency_ms) = args.get(1).and_then(|s| s.parse().ok()) else {
        return ExitCode::from(2);
    };
    let mut params = workload::defaults("api").expect("api is a workload");
    params.server = kind;
    params.latency_ms = latency_ms;
    let body: Arc<[u8]> = body_of_size(params.size).into();
    let served = match kind {
        ServerKind::Mockito => MockServer::start(&params, body).map(|s| (s.url(), None, Some(s))),
        ServerKind::Keepalive => {
            KeepaliveServer::start(&params, body).map(|s| (s.url(), Some(s), None))
        }
    };
    let (url, keepalive, _mockito) = match served {
        Ok(s) => s,
        Err(e) => {
            eprintln!("load serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{url}");
    let _ = std::io::stdout().flush();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    if let Some(k) = keepalive {
        let accepted = k.accepted();
        drop(k);
        println!("accepted {accepted}");
    }
    ExitCode::SUCCESS
}

/// What one server did under the load.
struct Row {
    server: ServerKind,
    held: u64,
    ok: u64,
    refused: u64,
    failed: u64,
    wall_s: f64,
    accepted: Option<u64>,
    peak_fds: u64,
    peak_threads: u64,
    peak_rss: u64,
    listening_after: bool,
    first_errors: Vec<String>,
}

impl Row {
    fn print(&self, o: &Options) {
        let accepted = self
            .accepted
            .map_or("- (one per request)".to_string(), |n| n.to_string());
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {accepted} | {} | {} | {:.1} MiB | {} |",
            name(self.server),
            o.requests,
            o.in_flight,
            self.held,
            self.ok,
            self.refused,
            self.failed,
            self.wall_s,
            self.peak_fds,
            self.peak_threads,
            self.peak_rss as f64 / (1 << 20) as f64,
            if self.listening_after {
                "YES"
            } else {
                "nothing"
            }
        );
        for e in &self.first_errors {
            println!("|  | first error: {} |", e.replace('|', "/"));
        }
    }
}

/// A child serving, killed and reaped whatever happens.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drive(kind: ServerKind, o: &Options) -> Result<Row, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .args(["serve", name(kind), &o.latency_ms.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let mut server = Server { child };
    let pid = server.child.id();
    let mut out = BufReader::new(server.child.stdout.take().expect("piped"));
    let mut url = String::new();
    out.read_line(&mut url).map_err(|e| e.to_string())?;
    let url = url.trim().to_string();
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or(format!("the server said '{url}', not a URL"))?;

    let stop = Arc::new(AtomicBool::new(false));
    let (peak_fds, peak_threads) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let sampler = {
        let (stop, fds, threads) = (stop.clone(), peak_fds.clone(), peak_threads.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
                    fds.fetch_max(dir.count() as u64, Ordering::Relaxed);
                }
                if let Some(n) = status_field(pid, "Threads:") {
                    threads.fetch_max(n, Ordering::Relaxed);
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        })
    };

    let began = Instant::now();
    let outcomes = requests(&url, o)?;
    let wall_s = began.elapsed().as_secs_f64();
    let peak_rss = status_field(pid, "VmHWM:").unwrap_or(0) * 1024;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();

    // Stop the server: close its stdin, read what it says last, reap it.
    drop(server.child.stdin.take());
    let mut last = String::new();
    let _ = out.read_to_string(&mut last);
    let accepted = last
        .lines()
        .find_map(|l| l.strip_prefix("accepted "))
        .and_then(|n| n.trim().parse().ok());
    let _ = server.child.wait();
    drop(server);

    let mut row = Row {
        server: kind,
        held: held_at_once(&outcomes),
        ok: 0,
        refused: 0,
        failed: 0,
        wall_s,
        accepted,
        peak_fds: peak_fds.load(Ordering::Relaxed),
        peak_threads: peak_threads.load(Ordering::Relaxed),
        peak_rss,
        listening_after: listening(port),
        first_errors: Vec::new(),
    };
    for out in &outcomes {
        match &out.error {
            None => row.ok += 1,
            Some(e) => {
                let refused = e.contains("Connection refused") || e.contains("reset by peer");
                if refused {
                    row.refused += 1;
                } else {
                    row.failed += 1;
                }
                if row.first_errors.len() < 3 {
                    row.first_errors.push(e.clone());
                }
            }
        }
    }
    Ok(row)
}

/// One request: when it was sent and answered (or failed), relative to the drive's start.
struct Outcome {
    start: Duration,
    stop: Duration,
    error: Option<String>,
}

/// `o.requests` GETs with at most `o.in_flight` outstanding, on a runtime of two threads
/// (the client must not be what limits the server).
fn requests(url: &str, o: &Options) -> Result<Vec<Outcome>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let client = Arc::new(client::Async::new(REQUEST_TIMEOUT));
    let permits = Arc::new(tokio::sync::Semaphore::new(o.in_flight));
    let origin = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..o.requests)
            .map(|i| {
                let (client, permits) = (client.clone(), permits.clone());
                let url = format!("{url}{}", task_path(i));
                tokio::spawn(async move {
                    let _permit = permits.acquire().await.expect("never closed");
                    let start = origin.elapsed();
                    let error = client.get(&url).await.err().map(|e| e.message);
                    Outcome {
                        start,
                        stop: origin.elapsed(),
                        error,
                    }
                })
            })
            .collect();
        let all = async {
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(t.await.map_err(|e| e.to_string())?);
            }
            Ok::<_, String>(out)
        };
        tokio::time::timeout(DRIVE_DEADLINE, all)
            .await
            .map_err(|_| format!("not done within {} s", DRIVE_DEADLINE.as_secs()))?
    })
}

/// The most requests outstanding at one moment.
fn held_at_once(outcomes: &[Outcome]) -> u64 {
    let mut edges: Vec<(Duration, i64)> = outcomes
        .iter()
        .flat_map(|o| [(o.start, 1), (o.stop, -1)])
        .collect();
    // At equal times, ends before starts: a request answered as another is sent.
    edges.sort();
    let (mut now, mut peak) = (0i64, 0i64);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    peak as u64
}

/// A numeric field of /proc/PID/status (kB fields in kB).
fn status_field(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// True when some socket on this machine listens on 127.0.0.1:`port` (/proc/net/tcp, state
/// 0A).
fn listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .map(|t| {
            t.lines().skip(1).any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(1) == Some(&want.as_str()) && f.get(3) == Some(&"0A")
            })
        })
        .unwrap_or(false)
}
