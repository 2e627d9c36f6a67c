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

/// The most tasks whose [start, stop) intervals overlap at one instant.
fn max_in_flight(batch: &Batch) -> usize {
    let mut events: Vec<(f64, i32)> = batch
        .records
        .iter()
        .flat_map(|r| [(r.start_s, 1), (r.stop_s, -1)])
        .collect();
    // At equal times, a stop comes before a start: touching intervals do not overlap.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, delta) in events {
        now += delta;
        most = most.max(now);
    }
    most as usize
}

#[test]
fn async_keeps_at_most_w_tasks_in_flight_one_per_lane() {
    let workload = workload::open_with("api", |p| {
        p.tasks = 12;
        p.latency_ms = 5;
    })
    .unwrap();
    let job = Job::new(workload).unwrap();
    let batch = run("async", 3, &job);
    batch.failures_as_error().unwrap();
    assert!(max_in_flight(&batch) <= 3);
    for lane in 0..3 {
        let mut tasks: Vec<_> = batch.records.iter().filter(|r| r.worker == lane).collect();
        tasks.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        assert!(
            tasks.windows(2).all(|w| w[0].stop_s <= w[1].start_s),
            "lane {lane}"
        );
    }
}

#[test]
fn gil_releases_the_lock_around_blocking_calls() {
    // Four requests that each wait 100 ms at the server: holding the lock through the call
    // would run them one after another; releasing it lets them overlap.
    let workload = workload::open_with("api", |p| {
        p.tasks = 4;
        p.latency_ms = 100;
    })
    .unwrap();
    let job = Job::new(workload).unwrap();
    let batch = run("gil", 4, &job);
    batch.failures_as_error().unwrap();
    assert!(max_in_flight(&batch) > 1);
}
