//! `parbench report` and the verdict page on hand-made Criterion directories with parbench's
//! sidecars (`common::criterion_fixture`). No timing is measured here: every number comes
//! from the fixtures' synthetic paired rounds.

mod common;

use assert_cmd::Command;
use common::criterion_fixture::{full_run, write};
use parbench::criterion::{self, Status};
use parbench::report::{BenchId, Report};
use std::path::Path;

fn parbench() -> Command {
    let mut cmd = Command::cargo_bin("parbench").unwrap();
    cmd.env_remove("CRITERION_HOME")
        .env_remove("CARGO_TARGET_DIR");
    cmd
}

/// Runs `parbench report --criterion-dir DIR` with these arguments; (exit code, stdout,
/// stderr).
fn report(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = parbench()
        .arg("report")
        .arg("--criterion-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status_of(dir: &Path, id: &str) -> Status {
    let id: BenchId = id.parse().unwrap();
    criterion::read(dir)
        .unwrap()
        .found
        .into_iter()
        .find(|f| f.id == id)
        .unwrap()
        .status
}

#[test]
fn a_full_run_gives_the_tie_and_the_page() {
    let dir = tempfile::tempdir().unwrap();
    full_run(dir.path(), "cpu");
    let (code, stdout, stderr) = report(dir.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("cpu: pool and threads tie at 2 workers"),
        "{stdout}"
    );
    assert!(
        stdout.contains("of the measured ceiling of 1.95x"),
        "{stdout}"
    );
    assert!(
        stdout.contains("gil (best 1.00x) does not scale"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(dir.path().join("parbench/index.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("pool and threads tie at 2 workers"));
    assert!(page.contains("<svg"), "the speedup chart is inline");
    assert!(!page.contains("<script") && !page.contains("src=\"http"));
    let md = dir.path().join("v.md");
    let (code, ..) = report(dir.path(), &["-o", md.to_str().unwrap()]);
    assert_eq!(code, 0);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| workload |"), "{md}");
}

#[test]
fn a_quick_rerun_of_one_benchmark_after_a_full_run_is_named_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    full_run(dir.path(), "cpu");
    let (_, before, _) = report(dir.path(), &["-o", "/dev/null", "-f", "markdown"]);
    // `PARBENCH_PROFILE=quick cargo bench -- '^cpu/serial'`, and a quick threads/2 too.
    write(dir.path(), "cpu/serial/1", "quick", 0.2, 1.0, true);
    write(dir.path(), "cpu/threads/2", "quick", 0.12, 1.95, true);
    let (code, after, _) = report(dir.path(), &["-o", "/dev/null", "-f", "markdown"]);
    assert_eq!(code, 0);
    assert!(
        after.contains("cpu/serial/1 (quick profile)")
            && after.contains("cpu/threads/2 (quick profile)"),
        "{after}"
    );
    // No sentence is made from the quick results: threads/2 is left out, pool wins alone
    // against gil, and nothing reads 0.12x.
    assert!(!after.contains("0.12"), "{after}");
    assert!(after.contains("cpu: pool wins at 2 workers"), "{after}");
    assert!(before.contains("pool and threads tie"), "{before}");
    let (_, json, _) = report(dir.path(), &["-f", "json"]);
    let report: Report = serde_json::from_str(&json).unwrap();
    assert!(report
        .results
        .iter()
        .all(|r| !(r.executor == "threads" && r.workers == 2)));
}

#[test]
fn results_without_rounds_stale_or_corrupt_are_named_and_never_crash() {
    let dir = tempfile::tempdir().unwrap();
    full_run(dir.path(), "cpu");
    // A plain Criterion result (an older parbench, a saved baseline).
    write(dir.path(), "cpu/rayon/2", "default", 1.9, 1.95, false);
    // A later plain Criterion run over a benchmark that had rounds: its sample changed.
    let sample = dir.path().join("cpu/pool/1/new/sample.json");
    std::fs::write(&sample, r#"{"iters":[1.0],"times":[12345.0]}"#).unwrap();
    // A corrupt sidecar and one of another version.
    let corrupt = dir.path().join("cpu/gil/1/new/parbench.json");
    std::fs::write(&corrupt, "{ not json").unwrap();
    let other = dir.path().join("cpu/threads/1/new/parbench.json");
    let text = std::fs::read_to_string(&other).unwrap();
    std::fs::write(&other, text.replace("\"version\":1", "\"version\":99")).unwrap();
    let (code, stdout, stderr) = report(dir.path(), &["-o", "/dev/null", "-f", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("no parbench rounds") && stdout.contains("cpu/rayon/2"),
        "{stdout}"
    );
    assert!(stdout.contains("cpu/pool/1: not judged: stale"), "{stdout}");
    assert!(
        stdout.contains("cpu/gil/1: not judged") && stdout.contains("corrupt JSON"),
        "{stdout}"
    );
    assert!(stdout.contains("sidecar version 99"), "{stdout}");
    assert!(
        stdout.contains("cpu: pool and threads tie at 2 workers"),
        "{stdout}"
    );
}

#[test]
fn the_sidecar_reader_takes_a_good_file_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cpu/threads/2", "default", 1.9, 1.95, true);
    let Status::Rounds(side) = status_of(dir.path(), "cpu/threads/2") else {
        panic!("a good sidecar is read");
    };
    assert_eq!(side.rounds.len(), 30);
    let row = side.to_result().unwrap();
    let e = row.efficiency_vs_ceiling.unwrap();
    assert!((e.median - 1.9 / 1.95).abs() < 0.01, "{e:?}");
    assert_eq!(row.blocks, 10);
    let id: BenchId = "cpu/threads/2".parse().unwrap();
    let file = dir.path().join("cpu/threads/2/new/parbench.json");
    let good = std::fs::read_to_string(&file).unwrap();
    // Missing.
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(
        status_of(dir.path(), "cpu/threads/2"),
        Status::NoSidecar
    ));
    assert!(criterion::read_sidecar(&file, &id).is_err());
    // Corrupt: bad JSON, and good JSON with a negative time.
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let err = criterion::read_sidecar(&file, &id).unwrap_err();
    assert!(err.contains("corrupt JSON"), "{err}");
    std::fs::write(
        &file,
        good.replacen("\"baseline_s\":0.02", "\"baseline_s\":-1", 1),
    )
    .unwrap();
    let err = criterion::read_sidecar(&file, &id).unwrap_err();
    assert!(err.contains("not positive"), "{err}");
    // Another version, and a sidecar under another benchmark's directory.
    std::fs::write(&file, good.replace("\"version\":1", "\"version\":2")).unwrap();
    let err = criterion::read_sidecar(&file, &id).unwrap_err();
    assert!(err.contains("sidecar version 2"), "{err}");
    std::fs::write(&file, &good).unwrap();
    let other: BenchId = "cpu/pool/2".parse().unwrap();
    assert!(criterion::read_sidecar(&file, &other)
        .unwrap_err()
        .contains("sidecar of cpu/threads/2"));
    assert!(criterion::read_sidecar(&file, &id).is_ok());
}

#[test]
fn report_json_is_runs_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    full_run(dir.path(), "cpu");
    let (code, json, stderr) = report(dir.path(), &["-f", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let from_report: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(from_report.results.len(), 7);
    let out = parbench()
        .args([
            "run",
            "-w",
            "cpu",
            "-e",
            "serial,threads",
            "-n",
            "2",
            "--repeat",
            "3",
        ])
        .args([
            "--budget-s",
            "0",
            "--tasks",
            "2",
            "--size",
            "20000",
            "-q",
            "-f",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_run: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_run.results.len(), 2);
    // The same code reads both, and the verdict reads both the same way.
    for r in [&from_report, &from_run] {
        assert!(!parbench::verdict::analyse(&r.results).is_empty());
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = report(&dir.path().join("nope"), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not found"), "{stderr}");
    let (code, _, stderr) = report(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no parbench results"), "{stderr}");
    let (code, _, stderr) = report(dir.path(), &["-f", "yaml"]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn run_prints_the_verdict_sentences_under_its_table() {
    let out = parbench()
        .args([
            "run",
            "-w",
            "cpu",
            "-e",
            "serial,threads,pool",
            "-n",
            "2",
            "--repeat",
            "3",
        ])
        .args(["--budget-s", "0", "--tasks", "2", "--size", "20000", "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("verdict: cpu: "))
        .collect();
    assert_eq!(verdict.len(), 1, "{stdout}");
    // One sentence per workload, about the worker count it names (or that nothing gains).
    assert!(
        verdict[0].contains("at 2 workers") || verdict[0].contains("no executor gains"),
        "{stdout}"
    );
}

#[test]
fn py_benchmarks_are_judged_with_the_rest_against_their_own_rounds() {
    let dir = tempfile::tempdir().unwrap();
    full_run(dir.path(), "cpu");
    // The suite's py-* sidecars: the run's params, rounds paired with py-serial.
    write(dir.path(), "cpu/py-serial/1", "default", 1.0, 1.0, true);
    write(dir.path(), "cpu/py-threads/2", "default", 0.98, 1.95, true);
    write(
        dir.path(),
        "cpu/py-processes/2",
        "default",
        1.75,
        1.95,
        true,
    );
    let judged = criterion::read(dir.path()).unwrap().judged();
    assert!(judged.notes.is_empty(), "{:?}", judged.notes);
    let rows: Vec<String> = judged
        .report
        .results
        .iter()
        .map(|r| format!("{}/{}", r.executor, r.workers))
        .collect();
    // Registry order: the Rust executors, then the py-*.
    assert_eq!(
        rows[rows.len() - 3..],
        ["py-serial/1", "py-threads/2", "py-processes/2"],
        "{rows:?}"
    );
    let row = |e: &str| {
        judged
            .report
            .results
            .iter()
            .find(|r| r.executor == e && r.workers == 2)
            .unwrap()
    };
    let size = parbench::workload::defaults("cpu").unwrap().size;
    let py = row("py-processes");
    assert_eq!(py.size, size / parbench::executor::python::CPU_DIVISOR);
    assert_eq!(row("threads").size, size);
    assert!((py.speedup.unwrap().median - 1.75).abs() < 0.03, "{py:?}");
}
