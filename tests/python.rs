//! The py-* executors against a real CPython: the same results as Rust's serial, dot checked
//! by numpy's row sums, and the failures: no interpreter, no numpy, a worker that dies,
//! hangs or writes garbage.
//!
//! The interpreter is `PARBENCH_PYTHON` (CI points it at a venv with numpy), else `python3`.
//! Without one, the tests that need it print why and pass; so do the numpy tests without
//! numpy.

mod common;

use common::{output_with_deadline, parbench_cmd, suite_tmpdir};
use parbench::executor::python::{self, FAULT_ENV};
use parbench::executor::{self, ExecOptions, Job};
use parbench::measure::Batch;
use parbench::workload::{self, Params};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The fault variable is process-wide: the tests of this file take turns.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    let guard = TURN.lock().unwrap_or_else(|p| p.into_inner());
    // Python workers inherit it: the leftovers test finds them by it.
    std::env::set_var("TMPDIR", suite_tmpdir());
    guard
}

/// The interpreter's description, or `None` after printing why the test is skipped.
fn python_here(needs_numpy: bool) -> Option<python::Interpreter> {
    match python::describe() {
        Err(e) => {
            println!("skipped: no Python interpreter: {e}");
            None
        }
        Ok(info) if needs_numpy && info.numpy.is_none() => {
            println!(
                "skipped: numpy does not import in {}: {}",
                info.executable,
                info.numpy_error.unwrap_or_default()
            );
            None
        }
        Ok(info) => Some(info),
    }
}

fn job(name: &str, tweak: impl FnOnce(&mut Params)) -> Job {
    Job::new(workload::open_with(name, tweak).unwrap()).unwrap()
}

fn small(name: &str) -> Job {
    job(name, |p| {
        p.tasks = 4;
        p.size = match name {
            "cpu" => 20_000,
            "io" => 100_000,
            "dot" => 40,
            _ => p.size,
        };
        p.latency_ms = 1;
    })
}

fn options(workers: usize) -> ExecOptions {
    let mut o = ExecOptions::new(workers);
    o.task_timeout = Duration::from_secs(60);
    o
}

fn run(executor: &str, workers: usize, job: &Job) -> Batch {
    let mut pool = executor::start(executor, &options(workers)).unwrap();
    pool.run(job).unwrap()
}

#[test]
fn py_batches_reproduce_rust_serial_on_cpu_io_and_api() {
    let _turn = turn();
    if python_here(false).is_none() {
        return;
    }
    for name in ["cpu", "io", "api"] {
        let job = small(name);
        let want = run("serial", 1, &job).checksum().unwrap();
        for (executor, workers) in [("py-serial", 1), ("py-threads", 2), ("py-processes", 2)] {
            let batch = run(executor, workers, &job);
            assert_eq!(
                batch.checksum().unwrap(),
                want,
                "{name}/{executor}: {:?}",
                batch.failures()
            );
            assert!(batch.wall_s > 0.0);
            assert!(batch.records.iter().all(|r| r.stop_s >= r.start_s));
            assert!(batch.records.iter().all(|r| r.worker < workers));
        }
    }
}

#[test]
fn py_processes_run_in_other_processes_and_py_threads_in_one() {
    let _turn = turn();
    if python_here(false).is_none() {
        return;
    }
    let job = small("cpu");
    let threads = run("py-threads", 2, &job);
    let pids: std::collections::BTreeSet<u32> = threads.records.iter().map(|r| r.pid).collect();
    assert_eq!(pids.len(), 1, "{pids:?}");
    let processes = run("py-processes", 2, &job);
    assert!(processes.records.iter().all(|r| !pids.contains(&r.pid)));
}

#[test]
fn dot_products_are_checked_by_their_row_sums() {
    let _turn = turn();
    if python_here(true).is_none() {
        return;
    }
    let job = small("dot");
    let reference = run("py-serial", 1, &job).checksum().unwrap();
    for (executor, workers) in [("py-threads", 2), ("py-processes", 2)] {
        assert_eq!(run(executor, workers, &job).checksum().unwrap(), reference);
    }
}

/// Runs two batches of `executor` with the fault `kind` set for task 1 (it fires once): the
/// first names task 1, the second succeeds on a replaced worker.
fn fault_then_recovery(kind: &str, executor: &str, timeout: Duration) -> String {
    let marker = tempfile::Builder::new()
        .prefix("parbench-fault-")
        .tempdir_in(suite_tmpdir())
        .unwrap();
    let marker_file = marker.path().join("fired");
    std::env::set_var(FAULT_ENV, format!("{kind}:1:{}", marker_file.display()));
    let job = small("cpu");
    let want = run("serial", 1, &job).checksum().unwrap();
    let mut o = options(2);
    o.task_timeout = timeout;
    let mut pool = executor::start(executor, &o).unwrap();
    let first = pool.run(&job);
    let second = pool.run(&job);
    std::env::remove_var(FAULT_ENV);
    let first = first.unwrap();
    let failures = first.failures();
    assert!(!failures.is_empty(), "{kind} in {executor}: nothing failed");
    let named = failures
        .iter()
        .find(|f| f.task == 1)
        .expect("task 1 failed");
    assert_eq!(
        second.unwrap().checksum().unwrap(),
        want,
        "{kind}: next batch"
    );
    named.error.message.clone()
}

#[test]
fn a_killed_python_worker_names_its_task_and_is_replaced() {
    let _turn = turn();
    if python_here(false).is_none() {
        return;
    }
    let long = Duration::from_secs(60);
    let threads = fault_then_recovery("kill", "py-threads", long);
    assert!(threads.contains("task 1 was running"), "{threads}");
    assert!(threads.contains("SIGKILL"), "{threads}");
    // A pool process killed: concurrent.futures breaks the pool and says so; it is rebuilt.
    let processes = fault_then_recovery("kill", "py-processes", long);
    assert!(processes.contains("BrokenProcessPool"), "{processes}");
}

#[test]
fn a_hung_python_worker_is_killed_at_the_task_timeout() {
    let _turn = turn();
    if python_here(false).is_none() {
        return;
    }
    let message = fault_then_recovery("hang", "py-threads", Duration::from_secs(2));
    assert!(message.contains("sent nothing for 2.0 s"), "{message}");
}

#[test]
fn a_python_worker_writing_garbage_is_replaced() {
    let _turn = turn();
    if python_here(false).is_none() {
        return;
    }
    let message = fault_then_recovery("garbage", "py-serial", Duration::from_secs(60));
    assert!(message.contains("wrote garbage"), "{message}");
}

fn one_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).to_string();
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text}");
    text
}

#[test]
fn python_that_does_not_exist_is_a_usage_error() {
    let out = output_with_deadline(
        parbench_cmd(&["run", "-w", "cpu", "--python", "/no/such/file"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line(&out.stderr).contains("--python /no/such/file: no such file"));

    let mut cmd = parbench_cmd(&["run", "-w", "cpu", "-e", "py-threads"]);
    cmd.env(python::PYTHON_ENV, "/no/such/python");
    let out = output_with_deadline(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2));
    let line = one_line(&out.stderr);
    assert!(
        line.contains("py-threads is unavailable: no Python interpreter"),
        "{line}"
    );

    let mut cmd = parbench_cmd(&["list"]);
    cmd.env(python::PYTHON_ENV, "/no/such/python");
    let out = output_with_deadline(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&out.stdout);
    let py_serial = listed.lines().find(|l| l.contains("py-serial")).unwrap();
    assert!(
        py_serial.contains("[unavailable: no Python interpreter"),
        "{listed}"
    );
}

#[test]
fn without_numpy_dot_is_declined_and_the_rest_runs() {
    let _turn = turn();
    let Some(info) = python_here(false) else {
        return;
    };
    // A numpy that fails to import, first on the path: the interpreter has no numpy.
    let shadow = tempfile::Builder::new()
        .prefix("parbench-no-numpy-")
        .tempdir_in(suite_tmpdir())
        .unwrap();
    std::fs::create_dir(shadow.path().join("numpy")).unwrap();
    std::fs::write(
        shadow.path().join("numpy/__init__.py"),
        "raise ImportError('numpy hidden by the test')\n",
    )
    .unwrap();
    let mut cmd = parbench_cmd(&[
        "run",
        "-w",
        "cpu,dot",
        "-e",
        "py-serial",
        "-n",
        "1",
        "-r",
        "1",
        "--budget-s",
        "0",
        "-f",
        "json",
        "-q",
        "--tasks",
        "2",
    ]);
    cmd.env(python::PYTHON_ENV, &info.executable)
        .env("PYTHONPATH", shadow.path());
    let out = output_with_deadline(cmd, Duration::from_secs(300));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("py-serial declines dot: dot needs numpy") && stderr.contains("hidden"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["workload"].as_str().unwrap().to_string(),
                r["executor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        rows.contains(&("cpu".into(), "py-serial".into())),
        "{rows:?}"
    );
    assert!(rows.contains(&("dot".into(), "serial".into())), "{rows:?}");
    assert!(
        !rows.contains(&("dot".into(), "py-serial".into())),
        "{rows:?}"
    );
    assert!(report["machine"]["python"]["numpy"].is_null());
}

#[test]
fn a_sweep_pairs_py_executors_with_py_serial_and_reports_vs_native() {
    let _turn = turn();
    let Some(info) = python_here(false) else {
        return;
    };
    let workloads = if info.numpy.is_some() {
        "cpu,io,api,dot"
    } else {
        "cpu,io,api"
    };
    let mut cmd = parbench_cmd(&[
        "run",
        "-w",
        workloads,
        "-e",
        "serial,py-serial,py-threads,py-processes,gil",
        "-n",
        "2",
        "-r",
        "2",
        "--budget-s",
        "0",
        "-f",
        "json",
        "-q",
        "--tasks",
        "4",
    ]);
    cmd.env(python::PYTHON_ENV, &info.executable);
    let out = output_with_deadline(cmd, Duration::from_secs(600));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["machine"]["python"]["version"],
        info.version.as_str()
    );
    for w in workloads.split(',') {
        let row = |e: &str| {
            report["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["workload"] == w && r["executor"] == e)
                .unwrap_or_else(|| panic!("no {w}/{e} row"))
                .clone()
        };
        for e in ["py-serial", "py-threads", "py-processes"] {
            let r = row(e);
            assert!(r["vs_native"].as_f64().unwrap() > 0.0, "{w}/{e}: {r}");
            assert!(r["speedup"]["median"].as_f64().unwrap() > 0.0, "{w}/{e}");
        }
        assert!(row("gil")["vs_native"].is_null());
        assert_eq!(row("py-serial")["speedup"]["median"], 1.0);
    }
}
