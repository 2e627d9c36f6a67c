//! The CLI: bad input gives one line on stderr and exit 2; a small sweep works end to end;
//! outputs are checked before the work, written atomically and announced; stdout errors and
//! absurd counts end in one line, never a panic.

mod common;

use assert_cmd::Command;
use std::path::Path;

fn parbench() -> Command {
    let mut cmd = Command::cargo_bin("parbench").expect("binary built");
    cmd.env("TMPDIR", common::suite_tmpdir());
    cmd
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
        "valid: table, json, csv, markdown, bmf, github-benchmark",
    );
    usage_error(
        &["report", "--criterion-dir", "/nonexistent", "-f", "yaml"],
        "unknown format 'yaml'; valid: html, markdown, table, json, csv, bmf, github-benchmark",
    );
}

#[test]
fn bad_sizes_and_paths() {
    usage_error(&["run", "-w", "cpu", "--size", "-5"], "-5");
    usage_error(&["run", "-w", "io", "--size", "99999999999999"], "size");
    usage_error(&["run", "-w", "dot", "--size", "1000000"], "dimension");
    usage_error(&["run", "-w", "cpu", "--tasks", "0"], "tasks");
    usage_error(
        &["run", "-w", "cpu", "--forks", "0"],
        "--forks 0 must be 1..=20",
    );
    usage_error(
        &["run", "-w", "cpu", "--forks", "21"],
        "--forks 21 must be 1..=20",
    );
    usage_error(
        &quick_with(&["-o", "/nonexistent-dir/x.json"]),
        "does not exist",
    );
    usage_error(&quick_with(&["-r", "0"]), "repeat");
    usage_error(&["frobnicate"], "frobnicate");
    usage_error(&[], "subcommand");
}

/// Runs parbench with `args`, which must succeed and print one JSON document.
fn json_of<I, S>(args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = parbench().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

#[test]
fn no_pin_leaves_the_workers_to_the_os() {
    let doc = json_of(quick_with(&[
        "-e", "pool", "-n", "2", "--no-pin", "-f", "json",
    ]));
    assert!(doc["machine"]["placement"].is_null());
    let pool = &doc["results"][1];
    assert_eq!(pool["executor"], "pool");
    assert!(pool["rounds"].as_u64().unwrap() >= 1);
}

#[test]
fn json_sweep_checks_checksums() {
    let doc = json_of([
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
    ]);
    let cores = doc["machine"]["cores"].as_u64().unwrap();
    assert!(cores >= 1);
    // Workers are spread one per core by default (where there is more than one).
    let placement = &doc["machine"]["placement"];
    if cores > 1 {
        assert_eq!(
            placement.as_array().unwrap().len() as u64,
            cores,
            "{placement}"
        );
    } else {
        assert!(placement.is_null(), "{placement}");
    }
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
        ("github-benchmark", "\"unit\": \"ms\""),
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

/// A sweep that would take many minutes: if a check came after the work, the test would hit
/// its deadline instead of seeing exit 2 at once.
const LONG: &[&str] = &[
    "run",
    "-w",
    "cpu",
    "-e",
    "serial",
    "-n",
    "1",
    "--tasks",
    "100",
    "--size",
    "100000000000",
    "-r",
    "1",
    "--budget-s",
    "0",
    "-q",
];

/// Runs `args` (with a deadline: a check after the work would run the whole sweep) and
/// expects exit 2 and one stderr line containing every needle.
fn refused_up_front(args: &[&str], needles: &[&str]) {
    let out = common::output_with_deadline(
        common::parbench_cmd(args),
        std::time::Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{args:?}: '{needle}' in {stderr}");
    }
}

fn with(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn every_output_path_is_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let p = |path: &Path| path.to_str().unwrap().to_string();
    let missing = p(&d.join("missing/out.json"));
    let under_file = p(&file.join("c.svg"));
    let dir_s = p(d);
    let file_s = p(&file);
    let nested = p(&d.join("missing/deeper"));
    let same = p(&d.join("same.svg"));
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["-o", &missing], vec!["-o ", "does not exist"]),
        (vec!["-o", &dir_s], vec!["-o ", "is a directory"]),
        (
            vec!["-o", "/proc/parbench.json"],
            vec!["-o ", "cannot write in"],
        ),
        (
            vec!["--chart", &under_file],
            vec!["--chart ", "is not a directory"],
        ),
        (
            vec!["--chart", &dir_s],
            vec!["--chart ", "unknown picture format"],
        ),
        (
            vec!["--timeline", &file_s],
            vec!["--timeline ", "not a directory"],
        ),
        (
            vec!["--timeline", &nested],
            vec!["--timeline ", "does not exist"],
        ),
        (vec!["-o", &same, "--chart", &same], vec!["both name"]),
    ];
    for (extra, needles) in cases {
        refused_up_front(&strs(&with(LONG, &extra)), &needles);
    }
    // The same checks guard `timeline` and `chart`.
    let timeline = [
        "timeline",
        "--workload",
        "cpu",
        "--executor",
        "serial",
        "--tasks",
        "100",
        "--size",
        "100000000000",
        "-q",
        "-o",
    ];
    refused_up_front(
        &strs(&with(&timeline, &[&dir_s])),
        &["-o ", "unknown picture format"],
    );
    refused_up_front(
        &strs(&with(&timeline, &[&under_file])),
        &["-o ", "is not a directory"],
    );
    let report = p(&d.join("r.json"));
    std::fs::write(&report, "{}").unwrap();
    refused_up_front(&["chart", &report, "--timeline", &file_s], &["--timeline "]);
    let missing_svg = p(&d.join("missing/c.svg"));
    refused_up_front(&["chart", &report, "-o", &missing_svg], &["does not exist"]);
    assert_eq!(
        common::entries(d),
        ["a-file", "r.json"],
        "nothing was written"
    );
}

#[test]
fn every_file_written_is_announced_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let json = d.join("r.json");
    let chart = d.join("c.svg");
    let tl = d.join("tl");
    let run = |quiet: bool| {
        let mut args: Vec<&str> = vec![
            "run",
            "-w",
            "cpu",
            "-e",
            "serial,threads",
            "-n",
            "1",
            "--tasks",
            "2",
            "--size",
            "10",
            "-r",
            "1",
            "--budget-s",
            "0",
            "-f",
            "json",
        ];
        if quiet {
            args.push("-q");
        }
        parbench()
            .args(args)
            .arg("-o")
            .arg(&json)
            .arg("--chart")
            .arg(&chart)
            .arg("--timeline")
            .arg(&tl)
            .output()
            .unwrap()
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut announced: Vec<&str> = stderr
        .lines()
        .map(|l| {
            l.strip_prefix("parbench: wrote ")
                .expect("only 'wrote' lines")
        })
        .collect();
    announced.sort_unstable();
    let mut expected: Vec<String> = [
        json.clone(),
        chart.clone(),
        tl.join("cpu-serial-x1.svg"),
        tl.join("cpu-threads-x1.svg"),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    expected.sort_unstable();
    assert_eq!(announced, expected);
    assert!(out.stdout.is_empty(), "the export went to -o");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("whole JSON");
    assert_eq!(doc["results"].as_array().unwrap().len(), 2);

    let out = run(true);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "-q: {out:?}");
    // chart: the same, and -q silences it too.
    let redrawn = d.join("again.svg");
    let out = parbench()
        .arg("chart")
        .arg(&json)
        .arg("-o")
        .arg(&redrawn)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("parbench: wrote {}\n", redrawn.display())
    );
    let out = parbench()
        .arg("chart")
        .arg(&json)
        .arg("-o")
        .arg(&redrawn)
        .arg("-q")
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    let names = common::entries(d);
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp")),
        "no temporary file left: {names:?}"
    );
}

#[test]
fn one_bad_output_does_not_lose_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let json = d.join("r.json");
    let chart = d.join("c.svg");
    let tl = d.join("tl");
    // The timeline directory passes the up-front check, but two of its files cannot be
    // written: directories stand where they go. The export, the chart and the third
    // timeline must still be written, and the one cause named once.
    for blocked in ["cpu-serial-x1.svg", "cpu-threads-x1.svg"] {
        std::fs::create_dir_all(tl.join(blocked)).unwrap();
    }
    let out = parbench()
        .args([
            "run",
            "-w",
            "cpu",
            "-e",
            "serial,threads,pool",
            "-n",
            "1",
            "--tasks",
            "2",
            "--size",
            "10",
            "-r",
            "1",
            "--budget-s",
            "0",
            "-f",
            "json",
            "-q",
        ])
        .arg("-o")
        .arg(&json)
        .arg("--chart")
        .arg(&chart)
        .arg("--timeline")
        .arg(&tl)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot write 2 outputs (3 written)"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("Is a directory").count(),
        1,
        "once: {stderr}"
    );
    assert!(stderr.contains("cpu-serial-x1.svg") && stderr.contains("cpu-threads-x1.svg"));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("the export is whole");
    assert_eq!(doc["results"].as_array().unwrap().len(), 3);
    assert!(std::fs::read_to_string(&chart).unwrap().contains("</svg>"));
    assert!(tl.join("cpu-pool-x1.svg").is_file());
}

#[test]
fn absurd_counts_are_usage_errors_not_aborts() {
    let base = ["run", "-w", "cpu", "-e", "serial", "-n", "1", "-q"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Used to abort on Vec::with_capacity(200000000).
        (
            vec!["--repeat", "200000000", "--tasks", "1", "--size", "10"],
            "repeat 200000000 must be 1..=10000",
        ),
        (
            vec!["--repeat", "10001", "--tasks", "1", "--size", "10"],
            "repeat",
        ),
        (
            vec!["--tasks", "100001", "--size", "10"],
            "tasks 100001 must be 1..=100000",
        ),
        (
            vec!["--tasks", "1", "--size", "0"],
            "cpu size 0 must be 1..=",
        ),
        (
            vec!["--tasks", "1", "--size", "100000000001"],
            "cpu size 100000000001 must be 1..=",
        ),
        (vec!["--task-timeout-s", "0"], "task timeout 0 s"),
        (vec!["--task-timeout-s", "86401"], "task timeout 86401 s"),
        (vec!["--task-timeout-s", "NaN"], "task timeout"),
        (vec!["--task-timeout-s", "inf"], "task timeout"),
    ];
    for (extra, needle) in cases {
        refused_up_front(&strs(&with(&base, &extra)), &[needle]);
    }
    let other: Vec<(Vec<&str>, &str)> = vec![
        // Used to abort allocating 100 TB of noop inputs.
        (
            vec![
                "run",
                "-w",
                "noop",
                "-e",
                "serial",
                "--tasks",
                "2",
                "--size",
                "100000000000000",
            ],
            "noop size",
        ),
        (
            vec![
                "run",
                "-w",
                "noop",
                "-e",
                "serial",
                "--tasks",
                "100",
                "--size",
                "1000000000",
            ],
            "exceed",
        ),
        (
            vec!["run", "-w", "api", "-e", "serial", "--timeout-ms", "0"],
            "client timeout 0 ms",
        ),
        (
            vec![
                "run",
                "-w",
                "api",
                "-e",
                "serial",
                "--timeout-ms",
                "3600001",
            ],
            "client timeout",
        ),
        (
            vec!["run", "-w", "dot", "-e", "serial", "--size", "0"],
            "dimension 0",
        ),
        (
            vec!["run", "-w", "io", "-e", "serial", "--size", "0"],
            "io size 0",
        ),
        (
            vec![
                "timeline",
                "--workload",
                "cpu",
                "--executor",
                "threads",
                "--workers",
                "1025",
                "-o",
                "x.svg",
            ],
            "maximum of 1024",
        ),
        (
            vec![
                "timeline",
                "--workload",
                "cpu",
                "--executor",
                "process",
                "--task-timeout-s",
                "0.0001",
                "-o",
                "x.svg",
            ],
            "task timeout",
        ),
    ];
    for (args, needle) in other {
        refused_up_front(&args, &[needle]);
    }
}

/// A real report from a tiny sweep, as JSON, for the chart tests to corrupt.
fn small_report() -> serde_json::Value {
    let out = parbench()
        .args([
            "run",
            "-w",
            "cpu",
            "-e",
            "serial,threads",
            "-n",
            "2",
            "--tasks",
            "4",
            "--size",
            "10",
            "-r",
            "1",
            "--budget-s",
            "0",
            "-f",
            "json",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn chart_refuses_reports_out_of_bounds_before_drawing() {
    let good = small_report();
    type Edit = fn(&mut serde_json::Value);
    let cases: Vec<(Edit, &str)> = vec![
        // Used to make a 24 GB timeline.
        (
            |r| r["results"][1]["records"][2]["worker"] = 1_000_000_000u64.into(),
            "results[1].records[2].worker: 1000000000 is not below workers 2",
        ),
        // Used to make a 130 MB SVG.
        (
            |r| r["results"][1]["workers"] = 1_000_000u64.into(),
            "results[1].workers: 1000000 must be 1..=1024",
        ),
        (
            |r| r["results"][0]["records"][0]["worker"] = u64::MAX.into(),
            "records[0].worker",
        ),
        (
            |r| r["results"][0]["workers"] = 0u64.into(),
            "results[0].workers: 0",
        ),
        (
            |r| r["results"][0]["records"][1]["start_s"] = (-1.0).into(),
            "records[1].start_s: -1",
        ),
        (
            |r| r["results"][0]["records"][1]["start_s"] = 1e9.into(),
            "is after stop_s",
        ),
        (
            |r| r["results"][0]["records"][3]["task"] = 99u64.into(),
            "records[3].task: 99 is not below tasks 4",
        ),
        (
            |r| r["results"][0]["tasks"] = 1_000_000u64.into(),
            "results[0].tasks",
        ),
        (
            |r| r["results"][0]["tasks"] = 2u64.into(),
            "4 records for 2 tasks",
        ),
        (
            |r| r["results"][1]["wall_s"]["median"] = (-2.0).into(),
            "results[1].wall_s.median",
        ),
        (
            |r| r["results"][1]["executor"] = "".into(),
            "results[1].executor",
        ),
        (
            |r| r["results"][1]["executor"] = "x".repeat(5000).into(),
            "results[1].executor",
        ),
        (|r| r["machine"]["cores"] = 0u64.into(), "machine.cores: 0"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (edit, needle) in cases {
        let mut report = good.clone();
        edit(&mut report);
        let file = d.join("bad.json");
        std::fs::write(&file, serde_json::to_vec(&report).unwrap()).unwrap();
        let out = parbench()
            .arg("chart")
            .arg(&file)
            .arg("-o")
            .arg(d.join("c.svg"))
            .arg("--timeline")
            .arg(d.join("tl"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{needle}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{needle}: {stderr}");
        assert!(stderr.contains(needle), "'{needle}' in {stderr}");
        assert!(stderr.contains("bad.json: "), "names the file: {stderr}");
        assert_eq!(common::entries(d), ["bad.json"], "{needle}: nothing drawn");
    }
    // The good report draws.
    let file = d.join("good.json");
    std::fs::write(&file, serde_json::to_vec(&good).unwrap()).unwrap();
    let out = parbench()
        .arg("chart")
        .arg(&file)
        .arg("--timeline")
        .arg(d.join("tl"))
        .arg("-q")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// A pipe whose reading end is already closed: any write to it fails with EPIPE.
fn closed_pipe() -> std::process::Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors that we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    std::process::Stdio::from(write)
}

fn dev_full() -> std::process::Stdio {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
        .into()
}

#[test]
fn a_full_stdout_is_one_line_and_a_closed_one_is_quiet() {
    let quick = [
        "run",
        "-w",
        "cpu",
        "-e",
        "serial",
        "-n",
        "1",
        "--tasks",
        "2",
        "--size",
        "10",
        "-r",
        "1",
        "--budget-s",
        "0",
        "-q",
        "-f",
        "json",
    ];
    let commands: [&[&str]; 5] = [
        &["list"],
        &["--help"],
        &["run", "--help"],
        &["--version"],
        &quick,
    ];
    for args in commands {
        let full = common::parbench_cmd(args)
            .stdout(dev_full())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&full.stderr);
        assert_eq!(
            full.status.code(),
            Some(1),
            "{args:?} > /dev/full: {stderr}"
        );
        assert_eq!(
            stderr, "parbench: error: cannot write to stdout: No space left on device\n",
            "{args:?}"
        );
        let closed = common::parbench_cmd(args)
            .stdout(closed_pipe())
            .output()
            .unwrap();
        assert_eq!(
            closed.status.code(),
            Some(0),
            "{args:?} | closed: {closed:?}"
        );
        assert!(closed.stderr.is_empty(), "{args:?} | closed: {closed:?}");
    }
    // The same through a shell pipeline.
    let script = format!(
        "'{}' list | head -c1; exit ${{PIPESTATUS[0]}}",
        common::exe()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"w");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn missing_and_empty_arguments_are_named() {
    usage_error(&["timeline", "--workload", "cpu"], "--output");
    usage_error(
        &[
            "timeline",
            "--workload",
            "cpu",
            "--executor",
            "threads,,pool",
            "-o",
            "x.svg",
        ],
        "empty name in list 'threads,,pool'",
    );
    usage_error(
        &[
            "timeline",
            "--workload",
            "cpu",
            "--executor",
            ",",
            "-o",
            "x.svg",
        ],
        "empty name",
    );
    usage_error(&["run", "-e", "threads,,pool"], "empty name");
}
