//! `parbench compare` on the hand-made Criterion directories in `fixtures/criterion/`
//! (written by `fixtures/criterion/make.py`): every verdict and every exit code.

use clap::Parser;
use parbench::compare::{self, CompareArgs, Comparison, Evidence, Statistic, Verdict};
use parbench::error::UsageError;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/criterion")
        .join(name)
}

fn names(prefix: &str, k: usize) -> Vec<String> {
    (1..=k).map(|i| format!("{prefix}_{i}")).collect()
}

/// The fixture `name` judged over the 5 pairs base_i / head_i at a 5% threshold.
fn five_pairs(
    name: &str,
    filter: Option<&str>,
    statistic: Statistic,
) -> Result<Comparison, UsageError> {
    compare::compare(
        &fixture(name),
        &names("base", 5),
        &names("head", 5),
        0.05,
        filter,
        statistic,
    )
}

fn gate(filter: Option<&str>) -> Result<Comparison, UsageError> {
    five_pairs("gate", filter, Statistic::Median)
}

fn verdict(cmp: &Comparison, id: &str) -> Verdict {
    cmp.rows
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no row {id} in {:?}", cmp.rows))
        .verdict
}

/// Parses a `parbench compare` command line (without the program and subcommand names).
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: CompareArgs,
}

/// Runs the command as the CLI would (output captured) and maps the result to the exit code.
fn exit_code(argv: &[&str]) -> (i32, String) {
    let cli = Cli::try_parse_from(std::iter::once("compare").chain(argv.iter().copied()))
        .expect("arguments parse");
    let mut out = Vec::new();
    match compare::command_to(cli.args, &mut out) {
        Ok(code) => (code, String::from_utf8(out).expect("UTF-8 output")),
        Err(e) => {
            assert!(
                e.downcast_ref::<UsageError>().is_some(),
                "not a usage error: {e:#}"
            );
            (2, e.to_string())
        }
    }
}

/// `parbench compare` on the fixture `name` with k pairs base_i / head_i, plus `extra`.
fn compare_cli(name: &str, k: usize, extra: &[&str]) -> (i32, String) {
    let dir = fixture(name);
    let (base, head) = (names("base", k).join(","), names("head", k).join(","));
    let mut argv = vec!["--criterion-dir", dir.to_str().unwrap()];
    argv.extend(["--base", &base, "--head", &head]);
    argv.extend(extra);
    exit_code(&argv)
}

#[test]
fn every_verdict_from_five_interleaved_pairs() {
    let cmp = gate(None).unwrap();
    assert_eq!(verdict(&cmp, "cpu/serial/1"), Verdict::Regressed);
    assert_eq!(verdict(&cmp, "cpu/rayon/2"), Verdict::Unchanged);
    // Median +9% but only 3 of 5 pairs slower: not consistent enough to fail the gate.
    assert_eq!(verdict(&cmp, "cpu/rayon/1"), Verdict::Unchanged);
    assert_eq!(verdict(&cmp, "dot/rayon/2"), Verdict::Improved);
    assert_eq!(verdict(&cmp, "overhead/added/1"), Verdict::Missing);
    assert_eq!(verdict(&cmp, "dot/serial/1"), Verdict::Missing);
    assert_eq!(cmp.exit_code(), 1);
    // `report/` and `new/` are not benchmarks; nothing else was picked up.
    assert_eq!(cmp.rows.len(), 7);
    let row = cmp.rows.iter().find(|r| r.id == "cpu/serial/1").unwrap();
    assert_eq!(row.ratios.len(), 5);
    assert!((row.median_ratio.unwrap() - 1.08).abs() < 1e-9);
    assert!((row.base_median_ns.unwrap() - 2.0e8).abs() < 1e-3);
    assert_eq!(
        row.evidence,
        Evidence::Pairs {
            pairs: 5,
            needed: 4
        }
    );
}

#[test]
fn ids_come_from_benchmark_json_not_the_directory() {
    let cmp = gate(Some("^overhead/start")).unwrap();
    assert_eq!(cmp.rows.len(), 1);
    assert_eq!(cmp.rows[0].id, "overhead/start/threads 2");
    assert_eq!(cmp.rows[0].verdict, Verdict::Unchanged);
}

#[test]
fn filter_selects_rows_and_sets_the_exit_code() {
    let cmp = gate(Some("^dot/")).unwrap();
    assert_eq!(cmp.rows.len(), 2);
    assert_eq!(cmp.exit_code(), 0);
    assert_eq!(gate(Some("^cpu/serial")).unwrap().exit_code(), 1);
}

#[test]
fn disjoint_base_and_head_compare_nothing_and_are_an_error() {
    // Every benchmark is on one side only: the gate would pass without comparing anything.
    let err = compare::compare(
        &fixture("missing-only"),
        &names("base", 2),
        &names("head", 2),
        0.05,
        None,
        Statistic::Median,
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("nothing to compare"), "{err}");
    assert!(err.contains("1 only in base, 1 only in head"), "{err}");
    // A filter that keeps only an added benchmark, among others that were compared, is legal.
    let added = gate(Some("added")).unwrap();
    assert!(added.rows.iter().all(|r| r.verdict == Verdict::Missing));
    assert_eq!(added.exit_code(), 0);
}

#[test]
fn single_pair_falls_back_to_criterion_interval_and_says_it_is_weak() {
    let dir = fixture("single");
    let one = |s: &str| vec![s.to_string()];
    let cmp = compare::compare(
        &dir,
        &one("base"),
        &one("new"),
        0.05,
        None,
        Statistic::Median,
    )
    .unwrap();
    let row = |id: &str| cmp.rows.iter().find(|r| r.id == id).unwrap();
    assert_eq!(row("cpu/serial/1").verdict, Verdict::Regressed);
    assert!(matches!(
        row("cpu/serial/1").evidence,
        Evidence::SinglePairInterval { .. }
    ));
    assert_eq!(row("cpu/rayon/2").verdict, Verdict::Unchanged);
    assert_eq!(row("dot/rayon/2").verdict, Verdict::Improved);
    assert_eq!(row("dot/rayon/2").evidence, Evidence::SinglePair);
    // A change/ from another comparison does not match this pair and is ignored.
    assert_eq!(row("dot/serial/1").evidence, Evidence::SinglePair);
    assert_eq!(row("dot/serial/1").verdict, Verdict::Unchanged);
    for r in &cmp.rows {
        assert!(
            r.note.as_deref().unwrap_or("").contains("weak evidence"),
            "{r:?}"
        );
    }
    assert!(cmp.to_markdown().contains("weak evidence"));
}

#[test]
fn exit_codes_through_the_command() {
    let run = |extra: &[&str]| compare_cli("gate", 5, extra);
    assert_eq!(run(&[]).0, 1, "a regression fails the gate");
    assert_eq!(run(&["--filter", "^dot/"]).0, 0, "improved + missing pass");
    assert_eq!(run(&["--format", "json", "--filter", "rayon"]).0, 0);
    let (code, md) = run(&["--format", "markdown"]);
    assert_eq!(code, 1);
    assert!(md.starts_with("### parbench compare: FAIL"), "{md}");
    // A threshold above the +8% median lets the regression through.
    assert_eq!(run(&["--threshold", "10%"]).0, 0);
    let (code, msg) = run(&["--filter", "(unclosed"]);
    assert_eq!(code, 2);
    assert!(msg.contains("--filter"), "{msg}");
    let (code, msg) = run(&["--threshold", "-3"]);
    assert_eq!(code, 2);
    assert!(msg.contains("--threshold"), "{msg}");
    let (code, msg) = run(&["--filter", "^nothing-matches$"]);
    assert_eq!(code, 2);
    assert!(msg.contains("matches"), "{msg}");
}

#[test]
fn unequal_pair_counts_are_a_usage_error() {
    let dir = fixture("gate");
    let (code, msg) = exit_code(&[
        "--criterion-dir",
        dir.to_str().unwrap(),
        "--base",
        "base_1,base_2",
        "--head",
        "head_1",
    ]);
    assert_eq!(code, 2);
    assert!(msg.contains("same number"), "{msg}");
}

#[test]
fn a_baseline_missing_everywhere_is_named() {
    let err = compare::compare(
        &fixture("gate"),
        &["base_1".into(), "base_9".into()],
        &["head_1".into(), "head_2".into()],
        0.05,
        None,
        Statistic::Median,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("baseline base_9 is missing"),
        "{err}"
    );
}

#[test]
fn corrupt_json_names_the_file() {
    let err = five_pairs("corrupt", None, Statistic::Median).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("head_3/estimates.json"), "{msg}");
    assert!(msg.contains("corrupt JSON"), "{msg}");
}

#[test]
fn empty_or_absent_directories_are_errors() {
    let empty = tempfile::tempdir().unwrap();
    // Criterion's report folder alone holds no benchmark.
    std::fs::create_dir_all(empty.path().join("report")).unwrap();
    let err = compare::compare(
        empty.path(),
        &names("base", 1),
        &names("head", 1),
        0.05,
        None,
        Statistic::Median,
    )
    .unwrap_err();
    assert!(err.to_string().contains("no Criterion benchmarks"), "{err}");
    let absent = empty.path().join("absent");
    let (code, msg) = exit_code(&[
        "--criterion-dir",
        absent.to_str().unwrap(),
        "--base",
        "a",
        "--head",
        "b",
    ]);
    assert_eq!(code, 2);
    assert!(msg.contains("absent"), "{msg}");
}

#[test]
fn outputs_carry_every_row_field() {
    let cmp = gate(None).unwrap();
    let table = cmp.to_table();
    assert!(table.contains("cpu/serial/1"));
    assert!(table.contains("regressed"));
    assert!(table.contains("1.080"), "{table}");
    let md = cmp.to_markdown();
    assert!(md.contains("FAIL: 1 benchmark(s) regressed"), "{md}");
    assert!(md.contains("| `cpu/serial/1` |"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&cmp.to_json()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    let first = &rows[0];
    for key in [
        "id",
        "base_median_ns",
        "head_median_ns",
        "ratios",
        "median_ratio",
        "verdict",
    ] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
    let missing = rows.iter().find(|r| r["id"] == "overhead/added/1").unwrap();
    assert_eq!(missing["verdict"], "missing");
    assert!(missing["base_median_ns"].is_null());
}

/// The real binary: exit codes, stdout for the result, one line on stderr for errors.
mod cli {
    use super::fixture;
    use assert_cmd::Command;

    fn parbench() -> Command {
        let mut cmd = Command::cargo_bin("parbench").unwrap();
        cmd.env_remove("CRITERION_HOME")
            .env_remove("CARGO_TARGET_DIR");
        cmd
    }

    const PAIRS: [&str; 4] = [
        "--base",
        "base_1,base_2,base_3,base_4,base_5",
        "--head",
        "head_1,head_2,head_3,head_4,head_5",
    ];

    #[test]
    fn regression_exits_1_and_clean_exits_0() {
        let out = parbench()
            .arg("compare")
            .arg("--criterion-dir")
            .arg(fixture("gate"))
            .args(PAIRS)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("cpu/serial/1"), "{stdout}");
        assert!(stdout.contains("regressed"), "{stdout}");
        // The default directory comes from CRITERION_HOME.
        let out = parbench()
            .env("CRITERION_HOME", fixture("gate"))
            .args(["compare", "--filter", "^dot/", "--format", "markdown"])
            .args(PAIRS)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("PASS: no regression"));
    }

    fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    #[test]
    fn default_dir_is_the_target_dir_criterion_and_missing_only_is_refused() {
        let target = tempfile::tempdir().unwrap();
        copy_tree(&fixture("missing-only"), &target.path().join("criterion"));
        let out = parbench()
            .env("CARGO_TARGET_DIR", target.path())
            .args([
                "compare",
                "--base",
                "base_1,base_2",
                "--head",
                "head_1,head_2",
            ])
            .args(["--format", "json"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("nothing to compare"), "{stderr}");
        // It looked where CARGO_TARGET_DIR points.
        let dir = target.path().join("criterion");
        assert!(stderr.contains(dir.to_str().unwrap()), "{stderr}");
        assert!(out.stdout.is_empty(), "no PASS table: {out:?}");
    }

    #[test]
    fn data_errors_exit_2_with_one_line_naming_the_file() {
        let out = parbench()
            .arg("compare")
            .arg("--criterion-dir")
            .arg(fixture("corrupt"))
            .args(PAIRS)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("head_3/estimates.json"), "{stderr}");
        let out = parbench()
            .arg("compare")
            .arg("--criterion-dir")
            .arg(fixture("gate"))
            .args(["--base", "base_1,nope", "--head", "head_1,head_2"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("baseline nope is missing"));
    }
}

#[test]
fn min_statistic_sees_through_bursts_that_move_the_median() {
    let judge = |statistic| five_pairs("samples", None, statistic).unwrap();
    let median = judge(Statistic::Median);
    assert_eq!(verdict(&median, "cpu/serial/1"), Verdict::Regressed);
    assert_eq!(verdict(&median, "cpu/rayon/2"), Verdict::Unchanged);
    let min = judge(Statistic::Min);
    assert_eq!(min.statistic, Statistic::Min);
    assert_eq!(verdict(&min, "cpu/serial/1"), Verdict::Unchanged);
    assert_eq!(verdict(&min, "cpu/rayon/2"), Verdict::Regressed);
    let rayon = min.rows.iter().find(|r| r.id == "cpu/rayon/2").unwrap();
    for r in &rayon.ratios {
        assert!((r.unwrap() - 1.08).abs() < 1e-9, "{:?}", rayon.ratios);
    }
    assert!((rayon.base_median_ns.unwrap() - 1.0e7).abs() < 1e-3);
    let (code, text) = compare_cli("samples", 5, &["--statistic", "min"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("per baseline: fastest sample"), "{text}");
}

#[test]
fn min_statistic_without_sample_json_names_the_file() {
    let (code, text) = compare_cli("no-samples", 2, &["--statistic", "min"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("sample.json"), "{text}");
    // The median needs only estimates.json.
    let (code, text) = compare_cli("no-samples", 2, &[]);
    assert_eq!(code, 0, "{text}");
}
