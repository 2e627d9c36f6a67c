//! Every executor gives serial's outputs on every workload, in task order, with sane records.

use parbench::executor::{self, ExecOptions, Job};
use parbench::measure::{Batch, TaskOutput};
use parbench::workload::{self, Params};

fn small(name: &str, p: &mut Params) {
    match name {
        "cpu" => {
            p.tasks = 5;
            p.size = 20_000;
        }
        "io" => {
            p.tasks = 5;
            p.size = 10_000;
        }
        "dot" => {
            p.tasks = 3;
            p.size = 24;
        }
        "api" => {
            p.tasks = 6;
            p.latency_ms = 1;
        }
        _ => p.tasks = 4,
    }
}

fn options(workers: usize) -> ExecOptions {
    let mut o = ExecOptions::new(workers);
    o.worker_exe = Some(env!("CARGO_BIN_EXE_parbench").into());
    o
}

fn outputs(batch: &Batch) -> Vec<TaskOutput> {
    batch
        .results
        .iter()
        .enumerate()
        .map(|(i, r)| r.clone().unwrap_or_else(|e| panic!("task {i} failed: {e}")))
        .collect()
}

fn check_records(batch: &Batch, tasks: usize, workers: usize, label: &str) {
    assert_eq!(batch.records.len(), tasks, "{label}: one record per task");
    for (i, r) in batch.records.iter().enumerate() {
        assert_eq!(r.task, i, "{label}: records in task order");
        assert!(r.ok, "{label}: task {i} ok");
        assert!(
            r.start_s >= 0.0 && r.start_s <= r.stop_s,
            "{label}: task {i} start {} <= stop {}",
            r.start_s,
            r.stop_s
        );
        assert!(
            r.stop_s <= batch.wall_s + 1e-6,
            "{label}: task {i} stops before the batch ends"
        );
        assert!(
            r.worker < workers,
            "{label}: worker {} < {workers}",
            r.worker
        );
    }
}

#[test]
fn every_executor_matches_serial_on_every_workload() {
    for name in workload::names() {
        let w = workload::open_with(name, |p| small(name, p)).unwrap();
        let job = Job::new(w).unwrap();
        let mut serial = executor::start("serial", &options(1)).unwrap();
        let reference = serial.run(&job).unwrap();
        check_records(&reference, job.len(), 1, &format!("{name}/serial"));
        let want = outputs(&reference);
        // The py-* run the Python tasks: tests/python.rs checks them against serial.
        let native = executor::EXECUTORS
            .iter()
            .filter(|e| executor::family_of(e.name).is_none());
        for info in native {
            for workers in [1, 2, 3] {
                let label = format!("{name}/{}/{workers}", info.name);
                let mut exec = executor::start(info.name, &options(workers))
                    .unwrap_or_else(|e| panic!("{label}: {e}"));
                // Twice: pools are reused across batches.
                for _ in 0..2 {
                    let batch = exec.run(&job).unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert_eq!(outputs(&batch), want, "{label}: outputs equal serial's");
                    assert_eq!(
                        batch.checksum().unwrap(),
                        reference.checksum().unwrap(),
                        "{label}"
                    );
                    check_records(&batch, job.len(), exec.workers(), &label);
                }
            }
        }
    }
}

#[test]
fn a_panicking_task_is_reported_by_every_executor_and_the_rest_are_kept() {
    use parbench::workload::Fault;
    // Every executor that can run here: the py-* too, when there is an interpreter.
    let runnable = executor::EXECUTORS
        .iter()
        .filter(|e| executor::unavailable(e.name, Some("cpu")).is_none());
    for info in runnable {
        let w = workload::open_with("cpu", |p| {
            small("cpu", p);
            p.faults = vec![(2, Fault::Panic)];
        })
        .unwrap();
        let job = Job::new(w).unwrap();
        let mut exec = executor::start(info.name, &options(2)).unwrap();
        let batch = exec
            .run(&job)
            .unwrap_or_else(|e| panic!("{}: {e}", info.name));
        let failures = batch.failures();
        assert_eq!(
            failures.len(),
            1,
            "{}: exactly the injected task fails",
            info.name
        );
        assert_eq!(failures[0].task, 2);
        assert!(
            failures[0]
                .error
                .message
                .contains("injected panic in task 2"),
            "{}: {}",
            info.name,
            failures[0].error
        );
        let err = batch.checksum().unwrap_err().to_string();
        assert!(
            err.contains("task 2"),
            "{}: error names the task: {err}",
            info.name
        );
        let ok = batch.results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, job.len() - 1, "{}: the other tasks are kept", info.name);
    }
}

#[test]
fn worker_counts_are_checked() {
    assert!(executor::start("threads", &options(0)).is_err());
    assert!(executor::start("threads", &options(executor::MAX_WORKERS + 1)).is_err());
    let err = executor::start("nope", &options(1))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("serial") && err.contains("rayon"),
        "lists valid names: {err}"
    );
}
