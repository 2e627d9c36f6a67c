//! Leak checks shared by the fault suite: worker processes, temporary directories and
//! listening sockets before and after a run.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The parbench binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_parbench")
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
    let mut own: BTreeSet<u64> = BTreeSet::new();
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
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
                .prefix("parbench-leakcheck-")
                .tempdir()
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
