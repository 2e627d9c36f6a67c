//! The CLI: bad input gives one line on stderr and exit 2; a small sweep works end to end.

use assert_cmd::Command;

fn parbench() -> Command {
    Command::cargo_bin("parbench").expect("binary built")
}

/// Runs parbench with `args`, expects exit 2 and exactly one stderr line containing `needle`.
fn usage_error(args: &[&str], needle: &str) {
    let out = parbench().args(args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: exit 2, stderr: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: exactly one line: {stderr}"
    );
    assert!(stderr.contains(needle), "{args:?}: '{needle}' in: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{args:?}: {stderr}"
    );
}

const QUICK: &[&str] = &[
    "run",
    "-w",
    "cpu",
    "--tasks",
    "2",
    "--size",
    "1000",
    "-r",
    "1",
    "--budget-s",
    "0",
    "-q",
];

fn quick_with(extra: &[&str]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = QUICK.to_vec();
    for e in extra {
        v.push(Box::leak(e.to_string().into_boxed_str()));
    }
    v
}

#[test]
fn bad_worker_counts() {
    usage_error(&quick_with(&["-n", "0"]), "at least 1");
    usage_error(&quick_with(&["-n", "-1"]), "-1");
    usage_error(&quick_with(&["-n", "abc"]), "abc");
    usage_error(&quick_with(&["-n", "100000"]), "maximum");
}

#[test]
fn unknown_names_list_the_valid_ones() {
    usage_error(
        &quick_with(&["-e", "fibers"]),
        "valid: serial, threads, pool, rayon",
    );
    let out = parbench().args(["run", "-w", "gpu"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for name in ["api", "io", "cpu", "dot"] {
        assert!(stderr.contains(name), "{stderr}");
    }
    usage_error(
        &quick_with(&["-f", "yaml"]),
        "valid: table, json, csv, markdown, bmf",
    );
}

#[test]
fn bad_sizes_and_paths() {
    usage_error(&["run", "-w", "cpu", "--size", "-5"], "-5");
    usage_error(&["run", "-w", "io", "--size", "99999999999999"], "size");
    usage_error(&["run", "-w", "dot", "--size", "1000000"], "dimension");
    usage_error(&["run", "-w", "cpu", "--tasks", "0"], "tasks");
    usage_error(
        &quick_with(&["-o", "/nonexistent-dir/x.json"]),
        "does not exist",
    );
    usage_error(&quick_with(&["-r", "0"]), "repeat");
    usage_error(&["frobnicate"], "frobnicate");
    usage_error(&[], "subcommand");
}

#[test]
fn json_sweep_checks_checksums() {
    let out = parbench()
        .args([
            "run",
            "-w",
            "cpu,dot",
            "-e",
            "serial,threads,pool,rayon",
            "-n",
            "1,2",
            "--tasks",
            "3",
            "--size",
            "32",
            "-r",
            "6",
            "--budget-s",
            "0",
            "-f",
            "json",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert!(doc["machine"]["cores"].as_u64().unwrap() >= 1);
    let results = doc["results"].as_array().unwrap();
    // serial once + 3 executors x 2 worker counts, for 2 workloads.
    assert_eq!(results.len(), 2 * (1 + 3 * 2));
    for workload in ["cpu", "dot"] {
        let rows: Vec<_> = results
            .iter()
            .filter(|r| r["workload"] == workload)
            .collect();
        let serial = rows.iter().find(|r| r["executor"] == "serial").unwrap()["checksum"].clone();
        assert!(
            rows.iter().all(|r| r["checksum"] == serial),
            "{workload}: every checksum equals serial's"
        );
        for r in &rows {
            assert!(r["wall_s"]["median"].is_number());
            for key in ["speedup", "ceiling", "efficiency_vs_ceiling"] {
                let e = &r[key];
                let (m, lo, hi) = (
                    e["median"].as_f64().unwrap(),
                    e["lo"].as_f64().unwrap(),
                    e["hi"].as_f64().unwrap(),
                );
                assert!(lo <= m && m <= hi, "{key}: {e}");
            }
            // Serial is the baseline: measured in every round of the others.
            let rounds = r["rounds"].as_u64().unwrap();
            assert!(rounds >= 6, "{r}");
        }
    }
}

#[test]
fn every_format_renders() {
    for (format, probe) in [
        ("table", "speedup"),
        ("csv", "workload,executor"),
        ("markdown", "| workload"),
        ("bmf", "\"latency\""),
    ] {
        let out = parbench()
            .args(quick_with(&["-f", format]))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(probe),
            "{format}"
        );
    }
}
