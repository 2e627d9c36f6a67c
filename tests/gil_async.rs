//! The `gil` and `async` executors: same outputs as serial on every workload, forced switches
//! counted, panicking tasks named. No timing is asserted: these run on slow, shared machines.

use parbench::executor::{self, ExecOptions, Job};
use parbench::measure::Batch;
use parbench::workload::{self, Fault, Params, WORKLOADS};
use std::time::Duration;

const EXECUTORS: [&str; 2] = ["gil", "async"];

/// Small sizes: every workload, including hidden ones, in well under a second.
fn small(name: &str, params: &mut Params) {
    params.tasks = 5;
    match name {
        "api" => params.latency_ms = 1,
        "io" => params.size = 10_000,
        "cpu" => params.size = 50_000,
        "dot" => params.size = 24,
        _ => params.size = 16,
    }
}

fn run(executor: &str, workers: usize, job: &Job) -> Batch {
    let mut pool = executor::start(executor, &ExecOptions::new(workers)).unwrap();
    pool.run(job).unwrap()
}

#[test]
fn outputs_equal_serial_on_every_workload() {
    for info in WORKLOADS {
        let workload = workload::open_with(info.name, |p| small(info.name, p)).unwrap();
        let job = Job::new(workload).unwrap();
        let serial = run("serial", 1, &job);
        serial.failures_as_error().unwrap();
        for executor in EXECUTORS {
            for workers in [1, 3] {
                let batch = run(executor, workers, &job);
                assert_eq!(
                    batch.results, serial.results,
                    "{}/{executor}/{workers}",
                    info.name
                );
                assert!(batch.records.iter().all(|r| r.worker < workers && r.ok));
            }
        }
    }
}

#[test]
fn dot_with_inner_threads_equals_serial_under_both() {
    let job = |inner| {
        let w = workload::open_with("dot", |p| {
            small("dot", p);
            p.size = 40;
            p.inner_threads = inner;
        })
        .unwrap();
        Job::new(w).unwrap()
    };
    let want = run("serial", 1, &job(1)).results;
    for executor in EXECUTORS {
        assert_eq!(run(executor, 2, &job(3)).results, want, "{executor}");
    }
}

#[test]
fn pools_are_reusable_across_batches() {
    let workload = workload::open_with("cpu", |p| small("cpu", p)).unwrap();
    let job = Job::new(workload).unwrap();
    for executor in EXECUTORS {
        let mut pool = executor::start(executor, &ExecOptions::new(2)).unwrap();
        let first = pool.run(&job).unwrap().checksum().unwrap();
        let second = pool.run(&job).unwrap().checksum().unwrap();
        assert_eq!(first, second, "{executor}");
    }
}

#[test]
fn gil_counts_forced_switches_on_cpu_with_two_workers() {
    // Tasks that outlast a 0.2 ms interval many times over, in debug and release builds.
    let workload = workload::open_with("cpu", |p| {
        p.tasks = 4;
        p.size = 4_000_000;
    })
    .unwrap();
    let job = Job::new(workload).unwrap();
    let options = ExecOptions {
        switch_interval: Duration::from_micros(200),
        ..ExecOptions::new(2)
    };
    let mut gil = executor::start("gil", &options).unwrap();
    let batch = gil.run(&job).unwrap();
    batch.failures_as_error().unwrap();
    let switches = batch.counters.forced_switches.unwrap();
    assert!(switches > 0, "no forced switch in a 2-worker cpu batch");
    // Counted per batch, not cumulatively: an io batch releases the lock instead.
    let io = Job::new(workload::open_with("io", |p| small("io", p)).unwrap()).unwrap();
    let batch = gil.run(&io).unwrap();
    assert!(batch.counters.forced_switches.unwrap() < switches);
}

#[test]
fn only_gil_reports_a_switch_counter() {
    let job = Job::new(workload::open_with("cpu", |p| small("cpu", p)).unwrap()).unwrap();
    assert_eq!(run("async", 2, &job).counters.forced_switches, None);
    assert_eq!(run("gil", 1, &job).counters.forced_switches, Some(0));
}

#[test]
fn panicking_task_is_named_and_the_others_complete() {
    for name in ["cpu", "api"] {
        let workload = workload::open_with(name, |p| {
            small(name, p);
            p.faults = vec![(2, Fault::Panic)];
        })
        .unwrap();
        let job = Job::new(workload).unwrap();
        for executor in EXECUTORS {
            let batch = run(executor, 2, &job);
            let failures = batch.failures();
            assert_eq!(failures.len(), 1, "{name}/{executor}");
            assert_eq!(failures[0].task, 2);
            assert!(
                failures[0]
                    .error
                    .message
                    .contains("injected panic in task 2"),
                "{}",
                failures[0]
            );
            assert!(!batch.records[2].ok);
            let message = batch.failures_as_error().unwrap_err().to_string();
            assert!(message.contains("task 2"), "{message}");
            assert_eq!(batch.results.iter().filter(|r| r.is_ok()).count(), 4);
        }
    }
}

#[test]
fn unknown_and_zero_interval_are_errors() {
    let options = ExecOptions {
        switch_interval: Duration::ZERO,
        ..ExecOptions::new(2)
    };
    assert!(executor::start("gil", &options).is_err());
    assert!(executor::names().contains(&"gil"));
    assert!(executor::names().contains(&"async"));
}
