//! Fault suite: nothing hangs, nothing leaks, every error is clear.
//! Tests here run one at a time (they compare process-wide snapshots).

mod common;

use common::{exe, LeakCheck};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn parbench(leaks: &LeakCheck, args: &[&str]) -> Command {
    let mut cmd = Command::new(exe());
    cmd.args(args)
        .env("TMPDIR", leaks.tmpdir())
        .stdin(Stdio::null());
    cmd
}

/// Waits for a child with a deadline; a hang is a test failure, never a stuck CI.
fn wait_with_deadline(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("parbench did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn full_disk_names_the_file_and_removes_the_temp_dir() {
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    let mut cmd = parbench(
        &leaks,
        &[
            "run",
            "-w",
            "io",
            "-e",
            "serial,threads",
            "-n",
            "2",
            "--tasks",
            "3",
            "--size",
            "200000",
            "-r",
            "1",
            "-q",
        ],
    );
    // SAFETY: setrlimit is async-signal-safe and only affects the child.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 100_000,
                rlim_max: 100_000,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed batch exits 1: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("task-0.txt"), "names the file: {stderr}");
    assert!(
        stderr.contains("File too large") || stderr.contains("too large"),
        "says why: {stderr}"
    );
    assert!(
        stderr.contains("3 of 3 tasks failed"),
        "reports every failed task: {stderr}"
    );
    leaks.assert_clean("full disk");
}

fn interrupt_run(executors: &str, whole_group: bool) {
    let leaks = LeakCheck::start();
    let mut cmd = parbench(
        &leaks,
        &[
            "run", "-w", "io,cpu", "-e", executors, "-n", "2", "--tasks", "4", "--size", "2000000",
            "-r", "10000", "-q",
        ],
    );
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn");
    // Let it get into the sweep: the io temp dir exists while io runs.
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::entries(leaks.tmpdir()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id() as i32;
    // A terminal's Ctrl-C reaches the whole process group, workers included.
    let target = if whole_group { -pid } else { pid };
    // SAFETY: sending a signal to our own child (group).
    assert_eq!(unsafe { libc::kill(target, libc::SIGINT) }, 0);
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "Ctrl-C exits 130: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    leaks.assert_clean(&format!("ctrl-c during {executors}"));
}

#[test]
fn ctrl_c_exits_130_and_leaves_nothing_behind() {
    let _guard = one_at_a_time();
    let executors = parbench::executor::names().join(",");
    interrupt_run(&executors, false);
    interrupt_run(&executors, true);
}

#[test]
fn io_temp_dir_is_private_and_removed_with_the_workload() {
    use std::os::unix::fs::PermissionsExt;
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    let w = parbench::workload::open_with("io", |p| {
        p.tasks = 2;
        p.size = 1000;
    })
    .unwrap();
    let dir = std::path::PathBuf::from(w.params().endpoint.clone().unwrap());
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "temporary directory is private");
    let job = parbench::executor::Job::new(w).unwrap();
    let mut exec =
        parbench::executor::start("pool", &parbench::executor::ExecOptions::new(2)).unwrap();
    exec.run(&job).unwrap().checksum().unwrap();
    assert!(dir.join("task-1.txt").exists());
    drop(exec);
    drop(job);
    assert!(!dir.exists(), "removed with the workload");
    leaks.assert_clean("io workload");
}
