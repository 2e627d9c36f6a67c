//! The per-batch counters in every result: page faults, context switches, each worker's idle
//! time, and what the process pool moved through pipes and through shared memory. Presence
//! and sanity only: the figures themselves are for `parbench run` on a quiet machine.

mod common;

use assert_cmd::Command;
use serde_json::Value;

fn sweep() -> Value {
    let out = Command::cargo_bin("parbench")
        .expect("binary built")
        .env("TMPDIR", common::suite_tmpdir())
        .args([
            "run",
            "-w",
            "cpu,dot",
            "-e",
            "threads,pool,process",
            "-n",
            "1,2",
            "--tasks",
            "3",
            "--size",
            "100",
            "-r",
            "3",
            "--budget-s",
            "0",
            "-f",
            "json",
            "-q",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn count(c: &Value, key: &str) -> u64 {
    c[key]
        .as_u64()
        .unwrap_or_else(|| panic!("counters.{key} is a count: {c}"))
}

#[test]
fn every_result_counts_faults_switches_and_idle_time() {
    let doc = sweep();
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 2 * (1 + 3 * 2));
    for r in results {
        let c = &r["counters"];
        let workers = r["workers"].as_u64().unwrap() as usize;
        for key in [
            "minor_faults",
            "major_faults",
            "voluntary_switches",
            "involuntary_switches",
        ] {
            count(c, key);
        }
        let idle = c["worker_idle_s"].as_array().expect("idle per worker");
        assert_eq!(idle.len(), workers, "{r}");
        let max_wall = r["wall_s"]["max"].as_f64().unwrap();
        for s in idle {
            let s = s.as_f64().unwrap();
            assert!(
                (0.0..=max_wall + 1e-9).contains(&s),
                "idle {s} of {max_wall}: {r}"
            );
        }
        if r["executor"] == "process" {
            // The pool waits for replies, and its workers for tasks: both block.
            assert!(count(c, "voluntary_switches") >= 1, "{c}");
            assert!(
                count(c, "child_minor_faults") <= count(c, "minor_faults"),
                "{c}"
            );
            assert!(c["child_cpu_s"].as_f64().unwrap() > 0.0, "{c}");
            let (sent, received) = (count(c, "bytes_sent"), count(c, "bytes_received"));
            let sent_shared = count(c, "bytes_sent_shared");
            let received_shared = count(c, "bytes_received_shared");
            if r["workload"] == "dot" {
                // Three tasks of two 100 x 100 f64 matrices in, one out: every input and
                // output through shared memory, only frames through the pipes.
                assert_eq!(sent_shared, 3 * 2 * 100 * 100 * 8, "{c}");
                assert_eq!(received_shared, 3 * 100 * 100 * 8, "{c}");
                assert!(sent < 3 * 1024 && received < 3 * 1024, "{c}");
            } else {
                // cpu's 8-byte inputs and empty outputs stay on the pipes.
                assert_eq!(sent_shared + received_shared, 0, "{c}");
                assert!(sent >= 3 * 8, "{c}");
            }
        } else {
            assert!(c["bytes_sent_shared"].is_null(), "{c}");
        }
    }
}
