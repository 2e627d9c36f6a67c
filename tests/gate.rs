//! The paired gate as a user runs it: bad sides and bad input give one line and exit 2,
//! naming the side (and the benchmark); a benchmark on one side only is "missing", not an
//! error. Fake sides are small shell scripts that speak (or garble) the serve protocol.

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const EXE: &str = env!("CARGO_BIN_EXE_parbench");

/// A fake side: a shell script with this body, made executable.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The hello line of protocol `version`.
fn hello(version: u32) -> String {
    format!(r#"echo '{{"program":"parbench-serve","protocol":{version},"version":"fake"}}'"#)
}

/// A fake side of protocol 1 that lists `ids` (a JSON array) and runs `on_prepare` (shell)
/// when asked to prepare anything.
fn fake_side(dir: &Path, name: &str, ids: &str, on_prepare: &str) -> PathBuf {
    serving_side(dir, name, ids, on_prepare, "")
}

/// [`fake_side`] that also runs `on_turn` (shell) when asked for a turn.
fn serving_side(dir: &Path, name: &str, ids: &str, on_prepare: &str, on_turn: &str) -> PathBuf {
    let turn = if on_turn.is_empty() {
        String::new()
    } else {
        format!("\n    *turn*) {on_turn} ;;")
    };
    script(
        dir,
        name,
        &format!(
            r#"{}
while read line; do
  case "$line" in
    *list*) echo '{{"ids":{ids}}}' ;;
    *prepare*) {on_prepare} ;;{turn}
    *quit*) exit 0 ;;
  esac
done"#,
            hello(1)
        ),
    )
}

/// Runs `parbench gate` and returns (exit code, stdout, stderr).
fn gate(base: &Path, head: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(EXE)
        .args(["gate", "--base"])
        .arg(base)
        .arg("--head")
        .arg(head)
        .args(extra)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit 2 and a last stderr line that contains every needle, with no panic text.
fn assert_error(result: (Option<i32>, String, String), needles: &[&str]) {
    let (code, _, stderr) = result;
    assert_eq!(code, Some(2), "exit 2: {stderr}");
    let last = stderr.lines().last().unwrap_or("");
    for n in needles {
        assert!(last.contains(n), "'{n}' in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_program_that_is_not_a_parbench_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let silent = script(dir.path(), "silent", "exit 0");
    let chatty = script(dir.path(), "chatty", "echo hello world; cat >/dev/null");
    let me = Path::new(EXE);
    assert_error(gate(&silent, me, &[]), &["base", "not a parbench"]);
    assert_error(gate(me, &chatty, &[]), &["head", "not a parbench"]);
    assert_error(
        gate(&dir.path().join("nothing"), me, &[]),
        &["--base", "no such file"],
    );
}

#[test]
fn a_protocol_version_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let future = script(
        dir.path(),
        "future",
        &format!("{}\ncat >/dev/null", hello(999)),
    );
    assert_error(
        gate(Path::new(EXE), &future, &[]),
        &["head", "protocol 999"],
    );
}

#[test]
fn a_side_that_crashes_mid_gate_is_named_with_the_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    // Lists one benchmark, then dies when asked to prepare it.
    let crashing = fake_side(
        dir.path(),
        "crashing",
        r#"["overhead_dispatch/serial/1"]"#,
        "exit 3",
    );
    assert_error(
        gate(
            Path::new(EXE),
            &crashing,
            &["--filter", "^overhead_dispatch/serial/1$"],
        ),
        &["head", "overhead_dispatch/serial/1"],
    );
}

#[test]
fn a_benchmark_on_one_side_only_is_missing_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = fake_side(dir.path(), "empty", "[]", "exit 3");
    let (code, stdout, stderr) = gate(
        Path::new(EXE),
        &empty,
        &["--filter", "^cpu/serial/1$", "--format", "markdown"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("missing on head"), "{stdout}");
    assert!(stdout.contains("PASS"), "{stdout}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let me = Path::new(EXE);
    assert_error(
        gate(me, me, &["--filter", "^no-such-benchmark$"]),
        &["matches no benchmark"],
    );
    assert_error(gate(me, me, &["--filter", "("]), &["--filter"]);
    assert_error(gate(me, me, &["--threshold", "0"]), &["--threshold"]);
    assert_error(gate(me, me, &["--budget-s", "0"]), &["budget"]);
    assert_error(gate(me, me, &["--format", "yaml"]), &["format"]);
}

#[test]
fn an_a_a_gate_runs_end_to_end() {
    // Two processes of this build on one cheap benchmark. The verdict depends on the
    // machine, so only its shape is checked: exit 0 or 1, one row, a ratio and pairs.
    let me = Path::new(EXE);
    let (code, stdout, stderr) = gate(
        me,
        me,
        &[
            "--filter",
            "^overhead_dispatch/serial/1$",
            "--budget-s",
            "0.5",
            "--format",
            "json",
        ],
    );
    assert!(matches!(code, Some(0) | Some(1)), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["id"], "overhead_dispatch/serial/1");
    assert!(row["pairs"].as_u64().unwrap() >= 1);
    let ratio = &row["ratio"];
    assert!(ratio["lo"].as_f64().unwrap() <= ratio["hi"].as_f64().unwrap());
    assert!(doc["summary"].as_str().unwrap().contains("Runner noise"));
}

/// A fake side that lists `cpu/rayon/2` and answers every turn of one batch with `first_ns`
/// after the first prepare and with `later_ns` after any later one, counting prepares across
/// its processes (the gate confirms a regression with new processes).
fn timed_side(dir: &Path, name: &str, first_ns: u64, later_ns: u64) -> PathBuf {
    let count = dir.join(format!("{name}.prepares")).display().to_string();
    serving_side(
        dir,
        name,
        r#"["cpu/rayon/2"]"#,
        &format!(
            r#"echo x >> '{count}'; n=$(wc -l < '{count}'); echo '{{"prepared":{{"warmup_ns":1}}}}'"#
        ),
        &format!(
            r#"if [ "$n" -le 1 ]; then echo '{{"turn":[{first_ns}]}}'; else echo '{{"turn":[{later_ns}]}}'; fi"#
        ),
    )
}

/// Gates `head` against `base` as JSON: (exit code, verdict, blocks, pairs) of its one row.
fn one_verdict(base: &Path, head: &Path) -> (Option<i32>, String, u64, u64) {
    let (code, stdout, stderr) = gate(base, head, &["--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
    let row = &doc["rows"][0];
    let verdict = row["verdict"].as_str().unwrap_or_default().to_string();
    let count = |key: &str| row[key].as_u64().unwrap_or(0);
    (code, verdict, count("blocks"), count("pairs"))
}

#[test]
fn a_regression_or_improvement_stands_only_when_a_fresh_block_confirms_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = timed_side(dir.path(), "base", 15_000_000, 15_000_000);
    // (name, ns in the first block, ns in the later one, exit code, verdict): each decided at
    // the first look (30 pairs) and put to a second block of 30 pairs from new processes.
    let cases = [
        // 7% slower throughout: regressed, confirmed, exit 1.
        ("slower", 16_050_000, 16_050_000, 1, "regressed"),
        // 7% slower in the first block only (a host phase, a process's placement): not
        // confirmed, reported as inconclusive, and the gate passes.
        ("once", 16_050_000, 15_000_000, 0, "inconclusive"),
        // The mirror images: improved, confirmed the same way; or not confirmed.
        ("faster", 13_950_000, 13_950_000, 0, "improved"),
        ("faster_once", 13_950_000, 15_000_000, 0, "inconclusive"),
    ];
    for (name, first_ns, later_ns, code, verdict) in cases {
        let head = timed_side(dir.path(), name, first_ns, later_ns);
        assert_eq!(
            one_verdict(&base, &head),
            (Some(code), verdict.to_string(), 2, 60),
            "{name}"
        );
    }
    // The same in the table (a new fake: the prepares are counted per fake).
    let once_more = timed_side(dir.path(), "once_more", 16_050_000, 15_000_000);
    let (_, table, _) = gate(&base, &once_more, &[]);
    assert!(table.contains("inconclusive (not confirmed)"), "{table}");
}

#[test]
fn github_benchmark_lists_the_head_builds_times() {
    let dir = tempfile::tempdir().unwrap();
    let base = timed_side(dir.path(), "base", 15_000_000, 15_000_000);
    let head = timed_side(dir.path(), "head", 15_000_000, 15_000_000);
    let (code, stdout, stderr) = gate(&base, &head, &["--format", "github-benchmark"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
    let entries = doc.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{stdout}");
    let e = &entries[0];
    assert_eq!(e["name"], "cpu/rayon/2 [gate quick]");
    assert_eq!(e["unit"], "ms");
    assert_eq!(e["value"].as_f64(), Some(15.0), "{stdout}");
    assert!(
        e["extra"].as_str().unwrap().contains("verdict unchanged"),
        "{stdout}"
    );
}
