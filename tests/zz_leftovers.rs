//! The last check of the suite (cargo runs test binaries in name order, so `zz_` comes last):
//! after every other test, nothing the suite started is left behind: no parbench process,
//! no `parbench-*` temporary entry, no listening socket.
//!
//! Only what this suite could have made is looked at, so unrelated activity on a shared
//! machine cannot fail it: processes running this build's own binary that started after the
//! suite did (the `cargo test` that runs us), and entries of the suite's own TMPDIR
//! ([`common::suite_tmpdir`], under this build's target directory) made after that moment.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Clock ticks per second of `/proc/*/stat` start times.
fn hz() -> u64 {
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

/// Field 22 of `/proc/PID/stat`: when the process started, in ticks since boot.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Boot time, in seconds since the epoch.
fn boot_time() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ").map(|v| v.trim().parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

/// When the suite started: the start of the process that runs this test binary (`cargo
/// test`), in ticks since boot. Falls back to this process's own start.
fn suite_start_ticks() -> u64 {
    let me = std::process::id();
    parent_of(me)
        .and_then(start_ticks)
        .or_else(|| start_ticks(me))
        .unwrap_or(0)
}

/// Live processes running this build's parbench that started during the suite.
fn leftover_processes(since_ticks: u64) -> BTreeSet<u32> {
    let mut found = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid != std::process::id()
            && common::is_live_parbench(pid)
            && start_ticks(pid).is_some_and(|t| t >= since_ticks)
        {
            found.insert(pid);
        }
    }
    found
}

/// Live Python workers (marked with `PARBENCH_PY_WORKER`) that some parbench of this suite
/// started (their TMPDIR is the suite's) since the suite began: pool processes included.
fn leftover_python_workers(since_ticks: u64) -> BTreeSet<u32> {
    let tmpdir = format!("TMPDIR={}", common::suite_tmpdir().display());
    let mut found = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<String> = environ
            .split(|b| *b == 0)
            .map(|v| String::from_utf8_lossy(v).to_string())
            .collect();
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie
            && vars.iter().any(|v| v.starts_with("PARBENCH_PY_WORKER="))
            && vars.contains(&tmpdir)
            && start_ticks(pid).is_some_and(|t| t >= since_ticks)
        {
            found.insert(pid);
        }
    }
    found
}

/// Inodes of the sockets a process holds.
fn socket_inodes(pid: u32) -> BTreeSet<u64> {
    let mut inodes = BTreeSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy().to_string();
                if let Some(i) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    if let Ok(i) = i.parse() {
                        inodes.insert(i);
                    }
                }
            }
        }
    }
    inodes
}

/// Inodes of every TCP socket in LISTEN state.
fn listening_inodes() -> BTreeSet<u64> {
    let mut listening = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && cols[3] == "0A" {
                if let Ok(inode) = cols[9].parse::<u64>() {
                    listening.insert(inode);
                }
            }
        }
    }
    listening
}

/// `parbench-*` entries under `dir` (three levels deep: a leak-check directory holds the
/// TMPDIR of one run) changed after `since` seconds since the epoch.
fn leftover_entries(dir: &Path, since: u64, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        let changed = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(u64::MAX, |d| d.as_secs());
        if name.starts_with("parbench-") && changed + 1 >= since {
            out.push(path.clone());
        }
        if depth > 0 && path.is_dir() {
            leftover_entries(&path, since, depth - 1, out);
        }
    }
}

#[test]
fn nothing_is_left_behind_after_the_suite() {
    let since_ticks = suite_start_ticks();
    let since_epoch = boot_time() + since_ticks / hz();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    assert!(since_epoch <= now + 1, "the suite started in the past");

    // Workers exit on their own once their pool's parent is gone; give them a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let processes = loop {
        let mut left = leftover_processes(since_ticks);
        left.extend(leftover_python_workers(since_ticks));
        if left.is_empty() || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let listening = listening_inodes();
    let sockets: Vec<(u32, u64)> = processes
        .iter()
        .flat_map(|&pid| {
            socket_inodes(pid)
                .into_iter()
                .filter(|i| listening.contains(i))
                .map(move |i| (pid, i))
        })
        .collect();
    let mut entries = Vec::new();
    leftover_entries(&common::suite_tmpdir(), since_epoch, 3, &mut entries);

    let describe = |pid: &u32| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        format!("{pid} ({})", cmdline.trim())
    };
    assert!(
        processes.is_empty(),
        "parbench processes left running: {:?}",
        processes.iter().map(describe).collect::<Vec<_>>()
    );
    assert!(
        sockets.is_empty(),
        "listening sockets left open (pid, inode): {sockets:?}"
    );
    assert!(
        entries.is_empty(),
        "temporary entries left in {}: {entries:?}",
        common::suite_tmpdir().display()
    );
}
