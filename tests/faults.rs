//! Fault suite: nothing hangs, nothing leaks, every error is clear.
//! Tests here run one at a time (they compare process-wide snapshots).

mod common;

use common::{exe, wait_with_deadline, LeakCheck};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

/// Sends `sig` to `target` (a pid, or a process group as -pgid), one of our own children.
fn signal(target: i32, sig: i32) {
    // SAFETY: signalling our own child (group).
    assert_eq!(unsafe { libc::kill(target, sig) }, 0);
}

/// Waits at most `limit` for `child` to exit; its status and everything it wrote to stderr.
fn finish(child: &mut Child, limit: Duration) -> (ExitStatus, String) {
    let status = wait_with_deadline(child, limit);
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

/// The report a stopped run wrote to `out`, which says it is partial.
fn partial_report(out: &std::path::Path) -> serde_json::Value {
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out).expect("out.json written")).unwrap();
    assert_eq!(doc["partial"], true, "{doc}");
    doc
}

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// `parbench ARGS` in the leak check's temporary directory. A `run` measures in this one
/// process (`--forks 1`): these tests look for its workers, sockets and temporary files by
/// its pid. The forks' own faults are tested with [`forked`].
fn parbench(leaks: &LeakCheck, args: &[&str]) -> Command {
    let mut cmd = Command::new(exe());
    match args.split_first() {
        Some((&"run", rest)) => cmd.args(["run", "--forks", "1"]).args(rest),
        _ => cmd.args(args),
    };
    cmd.env("TMPDIR", leaks.tmpdir()).stdin(Stdio::null());
    cmd
}

/// `parbench ARGS` in the leak check's temporary directory, a `run` in its default forks.
fn forked(leaks: &LeakCheck, args: &[&str]) -> Command {
    let mut cmd = Command::new(exe());
    cmd.args(args)
        .env("TMPDIR", leaks.tmpdir())
        .stdin(Stdio::null());
    cmd
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
            "--budget-s",
            "0",
            "-q",
        ],
    );
    limit_in_child(&mut cmd, libc::RLIMIT_FSIZE, 100_000);
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
            "run",
            "-w",
            "io,cpu",
            "-e",
            executors,
            "-n",
            "2",
            "--tasks",
            "4",
            "--size",
            "2000000",
            "-r",
            "10000",
            "--budget-s",
            "3600",
            "-q",
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
    signal(target, libc::SIGINT);
    let (status, stderr) = finish(&mut child, Duration::from_secs(20));
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

/// Sets a resource limit in the child only (between fork and exec).
fn limit_in_child(cmd: &mut Command, resource: libc::__rlimit_resource_t, value: u64) {
    limits_in_child(cmd, resource, value, value);
}

/// Sets the soft and hard limits of `resource` in the child only.
fn limits_in_child(cmd: &mut Command, resource: libc::__rlimit_resource_t, soft: u64, hard: u64) {
    // SAFETY: setrlimit and fcntl are async-signal-safe and only affect the child.
    unsafe {
        cmd.pre_exec(move || {
            if resource == libc::RLIMIT_NOFILE {
                // Inherited descriptors (a jobserver, the harness's pipes) would shift the
                // numbers the limit bites at: let exec close them, so only 0, 1, 2 remain.
                for fd in 3..1024 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(resource, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Asserts one line on stderr that is an error and no panic, and returns it.
fn one_clean_line(what: &str, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).to_string();
    assert_eq!(text.lines().count(), 1, "{what}: one line: {text}");
    for noise in ["panicked", "unwrap", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!text.contains(noise), "{what}: no '{noise}': {text}");
    }
    text
}

#[test]
fn a_failed_write_keeps_the_previous_output_whole() {
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let previous = "{\"previous\": \"a good report from yesterday\"}\n";
    std::fs::write(&out, previous).unwrap();
    let out_arg = out.to_str().unwrap();
    // 300 task records make a JSON export of tens of kB; the file-size limit stops the write
    // at 4 kB, halfway. cpu writes no file of its own.
    let mut cmd = parbench(
        &leaks,
        &[
            "run", "-w", "cpu", "-e", "serial", "-n", "1", "--tasks", "300", "--size", "10", "-r",
            "1", "-q", "-f", "json", "-o", out_arg,
        ],
    );
    limit_in_child(&mut cmd, libc::RLIMIT_FSIZE, 4096);
    let result = cmd.output().expect("runs");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        previous,
        "the previous file is intact"
    );
    let names: Vec<String> = common::entries(dir.path());
    assert_eq!(names, ["report.json"], "no temporary file is left");
    let stderr = one_clean_line("full disk on -o", &result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("-o ") && stderr.contains("report.json"),
        "{stderr}"
    );
    assert!(stderr.contains("File too large"), "says why: {stderr}");
    leaks.assert_clean("failed -o write");
}

#[test]
fn failed_tasks_are_grouped_by_cause_and_name_the_first() {
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    // Every io task fails on a full disk, the same way but for its own file: one cause, with
    // the first task that met it and how many did.
    let mut cmd = parbench(
        &leaks,
        &[
            "run",
            "-w",
            "io",
            "-e",
            "serial",
            "-n",
            "1",
            "--tasks",
            "12",
            "--size",
            "200000",
            "-r",
            "1",
            "--budget-s",
            "0",
            "-q",
        ],
    );
    limit_in_child(&mut cmd, libc::RLIMIT_FSIZE, 100_000);
    let out = cmd.output().expect("runs");
    let stderr = one_clean_line("12 failed tasks", &out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("12 of 12 tasks failed: "), "{stderr}");
    assert!(
        stderr.contains("task-0.txt"),
        "the first's own error: {stderr}"
    );
    assert!(
        stderr.trim_end().ends_with("(first: task 0 on worker 0)"),
        "names the first task and its worker: {stderr}"
    );
    assert!(!stderr.contains("task-1.txt"), "not repeated: {stderr}");
    leaks.assert_clean("named failures");

    // The timeline command names them too, with the executor that ran them.
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("t.svg");
    let leaks = LeakCheck::start();
    let mut cmd = parbench(
        &leaks,
        &[
            "timeline",
            "--workload",
            "io",
            "--executor",
            "threads",
            "--workers",
            "2",
            "--tasks",
            "2",
            "--size",
            "200000",
            "-q",
            "-o",
        ],
    );
    cmd.arg(&svg);
    limit_in_child(&mut cmd, libc::RLIMIT_FSIZE, 100_000);
    let out = cmd.output().expect("runs");
    let stderr = one_clean_line("timeline failures", &out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 of 2 tasks failed (marked in"),
        "{stderr}"
    );
    assert!(
        stderr.contains(": threads x2: "),
        "names the executor: {stderr}"
    );
    assert!(stderr.contains("(first: task "), "{stderr}");
    assert!(svg.exists(), "the picture is written, failures marked");
    leaks.assert_clean("timeline failures");
}

/// Starts an io sweep on the process executor, waits until its temporary directory and
/// workers exist, sends `signals` (to the process group when `group`), and checks the exit
/// status (128 + one of `expect`: signals sent together may be delivered in any order) and
/// that nothing is left: no temporary directory, no worker process.
fn stop_with(signals: &[i32], group: bool, expect: &[i32]) {
    let leaks = LeakCheck::start();
    let mut cmd = parbench(
        &leaks,
        &[
            "run", "-w", "io", "-e", "process", "-n", "2", "--tasks", "4", "--size", "2000000",
            "-r", "10000", "-q",
        ],
    );
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut workers = std::collections::BTreeSet::new();
    while (common::entries(leaks.tmpdir()).is_empty() || workers.len() < 2)
        && Instant::now() < deadline
    {
        workers = common::children_of(pid);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !common::entries(leaks.tmpdir()).is_empty(),
        "the run started"
    );
    assert!(workers.len() >= 2, "workers started: {workers:?}");
    let target = if group { -(pid as i32) } else { pid as i32 };
    for &sig in signals {
        signal(target, sig);
    }
    let (status, stderr) = finish(&mut child, Duration::from_secs(30));
    let what = format!(
        "signals {signals:?} to the {}",
        if group { "group" } else { "parent" }
    );
    let code = status.code().unwrap_or(-1);
    assert!(
        expect.iter().any(|sig| code == 128 + sig),
        "{what}: exit 128 + signal, got {status:?}: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    assert!(stderr.contains("interrupted by SIG"), "{what}: {stderr}");
    for w in &workers {
        assert!(
            !common::is_live_parbench(*w),
            "{what}: worker {w} left running"
        );
    }
    leaks.assert_clean(&what);
}

#[test]
fn sigterm_and_sighup_clean_up_like_ctrl_c() {
    let _guard = one_at_a_time();
    stop_with(&[libc::SIGTERM], false, &[libc::SIGTERM]);
    stop_with(&[libc::SIGHUP], false, &[libc::SIGHUP]);
    // A whole-group signal (a closed terminal, `kill -- -PGID`) also kills the workers.
    stop_with(&[libc::SIGTERM], true, &[libc::SIGTERM]);
    stop_with(&[libc::SIGHUP], true, &[libc::SIGHUP]);
}

#[test]
fn a_second_ctrl_c_does_not_skip_cleanup() {
    let _guard = one_at_a_time();
    stop_with(&[libc::SIGINT, libc::SIGINT], false, &[libc::SIGINT]);
    stop_with(&[libc::SIGINT, libc::SIGINT], true, &[libc::SIGINT]);
    let all = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
    stop_with(&all, false, &all);
}

#[test]
fn a_stalled_worker_is_killed_after_the_task_timeout() {
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    // The worker that gets task 1 stops itself (SIGSTOP): without a timeout, no end.
    let mut cmd = parbench(
        &leaks,
        &[
            "run",
            "-w",
            "cpu",
            "-e",
            "process",
            "-n",
            "2",
            "--tasks",
            "4",
            "--size",
            "1000",
            "-r",
            "1",
            "--budget-s",
            "0",
            "-q",
            "--task-timeout-s",
            "1",
        ],
    );
    cmd.env(parbench::executor::process::FAULT_ENV, "stop:1");
    let out = common::output_with_deadline(cmd, Duration::from_secs(60));
    let stderr = one_clean_line("stalled worker", &out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("1 of 4 tasks failed"), "{stderr}");
    assert!(
        stderr.contains("task 1 timed out after 1 s in worker pid "),
        "{stderr}"
    );
    assert!(stderr.contains("(killed)"), "{stderr}");
    leaks.assert_clean("stalled worker");
}

/// Runs parbench with `args` under a limit set in the child only (`limit` sets it), and
/// expects exit 2 and one clean line naming `needles`, with nothing left behind: the limit
/// was found before any work.
fn refused_by_a_limit(args: &[&str], limit: impl Fn(&mut Command), needles: &[&str]) {
    refused_by_a_limit_of(std::path::Path::new(exe()), args, limit, needles);
}

/// As [`refused_by_a_limit`], running the parbench binary at `program`.
fn refused_by_a_limit_of(
    program: &std::path::Path,
    args: &[&str],
    limit: impl Fn(&mut Command),
    needles: &[&str],
) {
    let leaks = LeakCheck::start();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("TMPDIR", leaks.tmpdir())
        .stdin(Stdio::null());
    limit(&mut cmd);
    let out = common::output_with_deadline(cmd, Duration::from_secs(60));
    let what = format!("{args:?}");
    let stderr = one_clean_line(&what, &out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{what}: '{needle}' in {stderr}");
    }
    assert!(out.stdout.is_empty(), "{what}: no result");
    leaks.assert_clean(&what);
}

#[test]
fn too_few_descriptors_are_refused_before_any_work() {
    let _guard = one_at_a_time();
    // Issue 25: `ulimit -n 256` and 512 async workers against the api server.
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("t.svg").display().to_string();
    for command in ["run", "timeline"] {
        let mut args = vec![command, "-w", "api", "-e", "async", "-n", "512", "-q"];
        if command == "timeline" {
            args.extend(["-o", picture.as_str()]);
        }
        refused_by_a_limit(
            &args,
            |cmd| limit_in_child(cmd, libc::RLIMIT_NOFILE, 256),
            &[
                "file descriptors: api/async/512 needs about ",
                "for the tasks in flight",
                "for the server's connections",
                "the limit is 256 (ulimit -n)",
                "`ulimit -n 2048`",
            ],
        );
    }
    // Too few even for the server itself, either server; and the process pool's pipes.
    for server in ["mockito", "keepalive"] {
        for nofile in [5, 6] {
            refused_by_a_limit(
                &["run", "-w", "api", "-e", "serial", "--server", server, "-q"],
                |cmd| limit_in_child(cmd, libc::RLIMIT_NOFILE, nofile),
                &[&format!("the limit is {nofile} (ulimit -n)")],
            );
        }
    }
    refused_by_a_limit(
        &["run", "-w", "cpu", "-e", "process", "-n", "256", "-q"],
        |cmd| limit_in_child(cmd, libc::RLIMIT_NOFILE, 256),
        &["cpu/process/256 needs about ", "512 for the pool"],
    );
}

#[test]
fn a_soft_descriptor_limit_is_raised_when_the_hard_one_allows() {
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    // 48 descriptors cannot hold 32 clients and 32 server sockets, but the hard limit can.
    let args: Vec<&str> =
        "run -w api -e async -n 32 --tasks 64 --latency-ms 1 -r 1 --budget-s 0 -q"
            .split(' ')
            .collect();
    let mut cmd = parbench(&leaks, &args);
    limits_in_child(&mut cmd, libc::RLIMIT_NOFILE, 48, 4096);
    let out = common::output_with_deadline(cmd, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("api"),
        "a result"
    );
    leaks.assert_clean("raised soft limit");
}

/// Processes and threads this user (by real uid) runs now: what RLIMIT_NPROC counts.
fn user_tasks(uid: u32) -> u64 {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        };
        if field("Uid:").as_deref() == Some(&uid.to_string()) {
            n += field("Threads:").and_then(|t| t.parse().ok()).unwrap_or(0);
        }
    }
    n
}

#[test]
fn too_few_processes_and_threads_are_refused_before_any_work() {
    let _guard = one_at_a_time();
    // The kernel does not hold root to RLIMIT_NPROC, and parbench knows it: as root, the
    // child becomes `nobody` (uid 65534) to be held to the limit like any user.
    // SAFETY: getuid cannot fail.
    let root = unsafe { libc::getuid() } == 0;
    let uid = if root {
        65534
    } else {
        unsafe { libc::getuid() }
    };
    let room = user_tasks(uid) + 16;
    // `nobody` may not reach the build's own directory (a checkout under a private temporary
    // directory, as CI's is): it runs a copy from a directory anyone may read, from `/`.
    let shared = tempfile::Builder::new()
        .prefix("nproc-test-")
        .tempdir_in("/tmp")
        .unwrap();
    let program = shared.path().join("parbench");
    std::fs::copy(exe(), &program).unwrap();
    for path in [shared.path(), program.as_path()] {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    refused_by_a_limit_of(
        &program,
        &["run", "-w", "cpu", "-e", "process", "-n", "64", "-q"],
        |cmd| {
            cmd.current_dir("/");
            // SAFETY: setrlimit, setgroups, setgid and setuid are async-signal-safe and only
            // affect the child.
            unsafe {
                cmd.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: room,
                        rlim_max: room,
                    };
                    if libc::setrlimit(libc::RLIMIT_NPROC, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if root
                        && (libc::setgroups(0, std::ptr::null()) != 0
                            || libc::setgid(65534) != 0
                            || libc::setuid(65534) != 0)
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        },
        &[
            "processes and threads: cpu/process/64 starts about ",
            "64 workers",
            &format!("but the limit is {room} (ulimit -u)"),
        ],
    );
}

#[test]
fn inputs_beyond_the_address_space_are_refused_before_any_work() {
    let _guard = one_at_a_time();
    // 3 x 256 MiB of io text cannot be held under `ulimit -v` of 512 MiB.
    refused_by_a_limit(
        &[
            "run",
            "-w",
            "io",
            "-e",
            "threads",
            "-n",
            "2",
            "--tasks",
            "3",
            "--size",
            "268435456",
            "-q",
        ],
        |cmd| limit_in_child(cmd, libc::RLIMIT_AS, 512 << 20),
        &[
            "address space: io/threads/2 needs about ",
            "768.0 MiB of data",
            "but the limit is 512.0 MiB (ulimit -v)",
        ],
    );
}

/// True once `pid` catches `sig` (its handler is installed), from /proc/PID/status.
fn catches(pid: u32, sig: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

/// CPU time of `pid` so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = stat[stat.rfind(')')? + 2..].to_string();
            let f: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|x| x.parse().ok())
                .collect();
            Some(f.iter().sum())
        })
        .unwrap_or(0)
}

#[test]
fn a_stop_signal_ends_even_a_batch_that_cannot_be_cancelled() {
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    // Threads cannot be killed: a batch of minutes on the threads executor must still end
    // on SIGTERM, within the stop grace, not when the batch is done.
    let mut cmd = parbench(
        &leaks,
        &[
            "run",
            "-w",
            "cpu",
            "-e",
            "threads",
            "-n",
            "2",
            "--tasks",
            "2",
            "--size",
            "100000000000",
            "-r",
            "1",
            "--budget-s",
            "0",
            "-q",
        ],
    );
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    // In the batch: the handler is installed and the tasks are burning CPU.
    while !(catches(pid, libc::SIGTERM) && cpu_ticks(pid) >= 50) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(pid as i32, libc::SIGTERM);
    let (status, stderr) = finish(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    leaks.assert_clean("stuck batch");
}

#[test]
fn ctrl_c_keeps_the_finished_configurations_marked_partial() {
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.json");
    // cpu runs first and is quick; api then starts its mock server, which tells the test
    // (with no clock to race) that cpu's configurations are done and api's are not: its
    // reference batch alone waits 2 x 500 ms.
    let mut cmd = parbench(
        &leaks,
        &[
            "run",
            "-w",
            "cpu,api",
            "-e",
            "threads,pool",
            "-n",
            "1,2",
            "--tasks",
            "2",
            "--size",
            "1000",
            "--latency-ms",
            "500",
            "-r",
            "3",
            "--budget-s",
            "0",
            "-f",
            "json",
            "-q",
            "-o",
        ],
    );
    cmd.arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    while common::listening_sockets_of(&pid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !common::listening_sockets_of(&pid).is_empty(),
        "api started"
    );
    signal(child.id() as i32, libc::SIGINT);
    let (status, stderr) = finish(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{stderr}");
    let doc = partial_report(&out);
    let results = doc["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["workload"] == "cpu"), "{doc}");
    // serial, and threads and pool at 1 and 2 workers, each with its --repeat rounds.
    assert_eq!(results.len(), 5, "{doc}");
    for r in &results[1..] {
        assert!(r["rounds"].as_u64().unwrap() >= 3, "{r}");
    }
    leaks.assert_clean("ctrl-c with partial results");
}

#[test]
fn max_time_keeps_what_the_interleaved_blocks_measured() {
    // 10000 rounds cannot finish in 2 s (each configuration would need 3334 blocks), so
    // --max-time stops the run with every configuration part way to its minimum: what their
    // blocks measured is written, marked partial, and the run exits 0.
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.json");
    let output = parbench(
        &leaks,
        &[
            "run",
            "-w",
            "cpu",
            "-e",
            "threads",
            "-n",
            "1,2",
            "--tasks",
            "2",
            "--size",
            "100000",
            "-r",
            "10000",
            "--max-time",
            "2",
            "-f",
            "json",
            "-o",
        ],
    )
    .arg(&out)
    .output()
    .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let doc = partial_report(&out);
    let results = doc["results"].as_array().unwrap();
    let measured: Vec<_> = results
        .iter()
        .filter(|r| r["executor"] == "threads")
        .collect();
    assert!(!measured.is_empty(), "{doc}");
    for r in &measured {
        let rounds = r["rounds"].as_u64().unwrap();
        assert!((3..10_000).contains(&rounds), "{r}");
    }
    assert!(stderr.contains("short of their 10000 rounds"), "{stderr}");
    leaks.assert_clean("max-time with interleaved blocks");
}

#[test]
fn ctrl_c_between_forks_keeps_what_the_finished_forks_measured() {
    // Five forks of a cpu run whose every fork takes a while (10000 rounds would take
    // minutes): the first fork's report is read, Ctrl-C reaches the parent only (a `kill`
    // names one process), the parent passes it on to the running fork, merges what it has and
    // writes it, marked partial, exit 130, nothing left behind.
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.json");
    let mut child = forked(
        &leaks,
        &[
            "run",
            "-w",
            "cpu",
            "-e",
            "threads",
            "-n",
            "2",
            "--tasks",
            "2",
            "--size",
            "10000",
            "-r",
            "10000",
            "--budget-s",
            "0",
            "-f",
            "json",
            "-q",
            "-o",
        ],
    )
    .arg(&out)
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    // The first fork is running once the parent has a child process.
    let parent = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::children_of(parent).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let forks = common::children_of(parent);
    assert!(!forks.is_empty(), "a fork started");
    std::thread::sleep(Duration::from_millis(500));
    signal(parent as i32, libc::SIGINT);
    let (status, stderr) = finish(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{stderr}");
    // One error line for the run (the fork says nothing); the host note may come before it.
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(
        errors,
        ["parbench: error: interrupted by SIGINT"],
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let doc = partial_report(&out);
    // Whatever the fork finished before the signal (a loaded machine may not have finished
    // a block) is there, with its whole blocks.
    for r in doc["results"].as_array().unwrap() {
        if r["executor"] == "threads" {
            assert!(r["rounds"].as_u64().unwrap() >= 3, "{doc}");
        }
    }
    for pid in forks {
        assert!(!common::is_live_parbench(pid), "fork {pid} ended");
    }
    leaks.assert_clean("ctrl-c between forks");
}

#[test]
fn a_fork_that_fails_is_one_line_from_its_parent() {
    // Two forks (two blocks of minimum), each inheriting a file size limit too small for io's
    // files: the first fork's batch fails, and the run says so once, as a run in one process
    // would, exit 1.
    let _guard = one_at_a_time();
    let leaks = LeakCheck::start();
    let mut cmd = forked(
        &leaks,
        &[
            "run",
            "-w",
            "io",
            "-e",
            "threads",
            "-n",
            "2",
            "--tasks",
            "3",
            "--size",
            "200000",
            "-r",
            "6",
            "--forks",
            "2",
            "--budget-s",
            "0",
            "-q",
        ],
    );
    limit_in_child(&mut cmd, libc::RLIMIT_FSIZE, 100_000);
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let line = one_clean_line("failed fork", &out.stderr);
    assert!(line.contains("3 of 3 tasks failed"), "{line}");
    leaks.assert_clean("failed fork");
}
