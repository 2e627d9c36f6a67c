//! Leak checks shared by the fault suite: worker processes, temporary directories and
//! listening sockets before and after a run.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The parbench binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_parbench")
}

/// The TMPDIR every parbench the suite starts gets: a directory of this build's own, so the
/// final leak check (`tests/zz_leftovers.rs`) looks only at what this suite made, never at
/// the machine's /tmp, where other people's runs come and go.
pub fn suite_tmpdir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("suite-tmp");
    std::fs::create_dir_all(&dir).expect("suite temp dir");
    dir
}

/// `parbench ARGS` with TMPDIR set to [`suite_tmpdir`] and stdin closed.
pub fn parbench_cmd(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(exe());
    cmd.args(args)
        .env("TMPDIR", suite_tmpdir())
        .stdin(std::process::Stdio::null());
    cmd
}

/// Waits for a child with a deadline: a hang fails the test (after killing the child)
/// instead of stalling the suite. The deadline is a safety net, never a timing assertion.
pub fn wait_with_deadline(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("parbench did not exit within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs a command to completion with a deadline, collecting stdout and stderr.
pub fn output_with_deadline(
    mut cmd: std::process::Command,
    limit: std::time::Duration,
) -> std::process::Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn parbench");
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = wait_with_deadline(&mut child, limit);
    std::process::Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    }
}

/// Child processes of `pid`, from every thread's `children` list (the process pool spawns
/// its workers from a thread of its own).
pub fn children_of(pid: u32) -> BTreeSet<u32> {
    let mut found = BTreeSet::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return found;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            found.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    found
}

/// True while `pid` is a live (not zombie) process running this build's binary.
pub fn is_live_parbench(pid: u32) -> bool {
    let exe = std::fs::canonicalize(exe()).unwrap_or_else(|_| PathBuf::from(exe()));
    let same = std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe);
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true);
    same && !zombie
}

/// Pids of live (not zombie) processes running this build's `parbench worker`.
pub fn worker_pids() -> BTreeSet<u32> {
    let exe = std::fs::canonicalize(exe()).unwrap_or_else(|_| PathBuf::from(exe()));
    let mut pids: BTreeSet<u32> = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_worker = args.len() >= 2 && args[1] == b"worker";
        let same_exe = std::fs::read_link(entry.path().join("exe"))
            .map(|p| p == exe)
            .unwrap_or(false);
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
                    .unwrap_or(false)
            })
            .unwrap_or(false);
        if is_worker && same_exe && !zombie {
            pids.insert(pid);
        }
    }
    pids
}

/// Inodes of TCP sockets in LISTEN state owned by this process.
pub fn own_listening_sockets() -> BTreeSet<u64> {
    listening_sockets_of("self")
}

/// Inodes of TCP sockets in LISTEN state owned by process `pid` ("self" for this one).
pub fn listening_sockets_of(pid: &str) -> BTreeSet<u64> {
    let mut own: BTreeSet<u64> = BTreeSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy().to_string();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    if let Ok(i) = inode.parse() {
                        own.insert(i);
                    }
                }
            }
        }
    }
    let mut listening = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && cols[3] == "0A" {
                if let Ok(inode) = cols[9].parse::<u64>() {
                    if own.contains(&inode) {
                        listening.insert(inode);
                    }
                }
            }
        }
    }
    listening
}

/// Entries in a directory (the private TMPDIR a test gives parbench).
pub fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A snapshot of what could leak, taken before a run and compared after it.
#[derive(Debug)]
pub struct LeakCheck {
    workers: BTreeSet<u32>,
    sockets: BTreeSet<u64>,
    tmp: tempfile::TempDir,
}

impl LeakCheck {
    /// Snapshots now, with a fresh private directory to use as parbench's TMPDIR.
    pub fn start() -> Self {
        LeakCheck {
            workers: worker_pids(),
            sockets: own_listening_sockets(),
            tmp: tempfile::Builder::new()
                .prefix("leakcheck-")
                .tempdir_in(suite_tmpdir())
                .expect("tempdir"),
        }
    }

    /// The directory to pass as TMPDIR.
    pub fn tmpdir(&self) -> &Path {
        self.tmp.path()
    }

    /// Asserts that no worker process, temporary entry or listening socket was left behind.
    /// Workers get a short grace period to finish exiting after their pool is dropped.
    pub fn assert_clean(&self, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let leaked_workers = loop {
            let now: BTreeSet<u32> = worker_pids().difference(&self.workers).copied().collect();
            if now.is_empty() || std::time::Instant::now() > deadline {
                break now;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(
            leaked_workers.is_empty(),
            "{what}: leaked worker processes {leaked_workers:?}"
        );
        let left = entries(self.tmp.path());
        assert!(left.is_empty(), "{what}: left in TMPDIR: {left:?}");
        let sockets: BTreeSet<u64> = own_listening_sockets()
            .difference(&self.sockets)
            .copied()
            .collect();
        assert!(
            sockets.is_empty(),
            "{what}: leaked listening sockets {sockets:?}"
        );
    }
}

/// A Criterion result directory made by hand, as `cargo bench` leaves it: Criterion's
/// `sample.json` and `benchmark.json`, and parbench's sidecar of paired rounds.
pub mod criterion_fixture {
    use parbench::criterion::sidecar::{Meta, Sidecar};
    use parbench::engine::probe::{Core, Sample};
    use parbench::engine::rounds::{Host, Rounds};
    use parbench::engine::Measured;
    use parbench::measure::{Batch, Counters};
    use parbench::report::BenchId;
    use std::path::Path;

    /// 30 rounds in 10 blocks: the baseline takes `serial_s`, the executor `serial_s /
    /// speedup` (+-1% from round to round), and the probe finds c cores each at `ceiling / c`
    /// of the one-core rate (no probe at one worker).
    pub fn rounds(workers: usize, speedup: f64, ceiling: f64) -> Rounds {
        let c = workers.min(2);
        let mut r = Rounds::default();
        for i in 0..30 {
            if i % 3 == 0 {
                r.begin_block();
            }
            let jitter = 1.0 + 0.01 * ((i % 5) as f64 - 2.0) / 2.0;
            let serial_s = 0.020;
            let batch = Measured {
                batch: Batch {
                    results: Vec::new(),
                    records: Vec::new(),
                    wall_s: serial_s / speedup * jitter,
                    counters: Counters::default(),
                },
                cpu_s: serial_s,
            };
            let host = (c > 1).then(|| {
                Host::new(
                    Sample {
                        alone: 1.0,
                        many: vec![Core::at(ceiling / c as f64); c],
                    },
                    &[serial_s / 8.0; 8],
                )
            });
            r.push_at(0.0, serial_s, batch, host);
        }
        r
    }

    /// Writes one benchmark under `root`: `id` (`cpu/threads/2`), `profile`, the rounds of
    /// [`rounds`], with a sidecar unless `sidecar` is false.
    pub fn write(root: &Path, id: &str, profile: &str, speedup: f64, ceiling: f64, sidecar: bool) {
        let id: BenchId = id.parse().unwrap();
        let new = parbench::criterion::result_dir(root, &id);
        std::fs::create_dir_all(&new).unwrap();
        let rounds = rounds(id.workers, speedup, ceiling);
        let ns: Vec<u64> = rounds
            .batches
            .iter()
            .map(|m| (m.batch.wall_s * 1e9) as u64)
            .collect();
        let sample = serde_json::json!({
            "sampling_mode": "Flat",
            "iters": vec![1.0; ns.len() - 1],
            "times": ns[1..].iter().map(|n| *n as f64).collect::<Vec<f64>>(),
        });
        std::fs::write(new.join("sample.json"), sample.to_string()).unwrap();
        let bench = serde_json::json!({
            "group_id": id.workload, "function_id": id.executor,
            "value_str": id.workers.to_string(), "full_id": id.to_string(),
            "directory_name": id.to_string(), "title": id.to_string(),
        });
        std::fs::write(new.join("benchmark.json"), bench.to_string()).unwrap();
        if !sidecar {
            return;
        }
        let mut params = parbench::workload::defaults(&id.workload).unwrap();
        if profile == "quick" {
            params.size /= 16;
        }
        let meta = Meta {
            waits: matches!(id.workload.as_str(), "api" | "io"),
            id,
            profile: profile.to_string(),
            params,
            host_cores: 2,
            ideal_s: None,
            bytes_per_task: None,
            checksum: 7,
            run_started_ns: 1,
            commit: None,
        };
        parbench::criterion::write(root, &Sidecar::new(meta, &rounds, ns)).unwrap();
    }

    /// A full run of one workload: serial, and threads, pool and gil at 1 and 2 workers.
    pub fn full_run(root: &Path, workload: &str) {
        write(
            root,
            &format!("{workload}/serial/1"),
            "default",
            1.0,
            1.0,
            true,
        );
        for (e, s2) in [("threads", 1.90), ("pool", 1.91), ("gil", 1.0)] {
            write(
                root,
                &format!("{workload}/{e}/1"),
                "default",
                1.0,
                1.0,
                true,
            );
            write(
                root,
                &format!("{workload}/{e}/2"),
                "default",
                s2,
                1.95,
                true,
            );
        }
    }
}
