//! `parbench report` and the verdict page on hand-made Criterion results
//! (`fixtures/criterion/verdict/`, written by its `make.py`). No timing is measured here:
//! every number comes from the fixtures.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/criterion/verdict")
        .join(case)
}

fn parbench() -> Command {
    let mut cmd = Command::cargo_bin("parbench").unwrap();
    cmd.env_remove("CRITERION_HOME")
        .env_remove("CARGO_TARGET_DIR");
    cmd
}

/// A private copy of a fixture, so tests may write pages and change file times.
fn copy(case: &str) -> tempfile::TempDir {
    fn walk(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    walk(&fixture(case), dir.path());
    dir
}

/// Runs `parbench report` with these arguments; returns (exit code, stdout, stderr).
fn report(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = parbench().arg("report").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn markdown_of(dir: &Path) -> (i32, String, String) {
    let md = dir.join("verdict.md");
    let (code, stdout, stderr) = report(&[
        "--criterion-dir".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        md.as_os_str(),
    ]);
    let text = std::fs::read_to_string(&md).unwrap_or_default();
    assert!(
        text.is_empty() || stdout.contains("page:"),
        "stdout names the page: {stdout}"
    );
    (code, text, stdout + &stderr)
}

#[test]
fn a_tie_is_named_as_a_tie_and_a_clear_winner_as_a_winner() {
    let dir = copy("complete");
    let (code, md, out) = markdown_of(dir.path());
    assert_eq!(code, 0, "{out}");
    // cpu: rayon (1.90x) and pool (1.87x) overlap: a tie, not a winner.
    assert!(
        md.contains("cpu: rayon and pool tie at 2 workers (1.87-1.90x, 97% of the ceiling)"),
        "{md}"
    );
    assert!(md.contains("gil does not scale (0.97x)"), "{md}");
    assert!(md.contains("tie: rayon, pool"), "{md}");
    // io: rayon's interval clears everyone's.
    assert!(md.contains("io: rayon wins at 2 workers (2.00x"), "{md}");
    assert!(md.contains("**2.00x"), "{md}");
    assert!(md.contains("Profile: **quick**"), "{md}");
    assert!(!md.contains("mixed profiles"), "{md}");
    assert!(!md.contains("missing"), "{md}");
    // The sentences are printed too.
    assert!(out.contains("io: rayon wins at 2 workers"), "{out}");
}

#[test]
fn the_default_page_is_html_under_the_criterion_dir_and_self_contained() {
    let dir = copy("complete");
    // The default directory comes from CRITERION_HOME, as Criterion's own does.
    let out = parbench()
        .env("CRITERION_HOME", dir.path())
        .arg("report")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(dir.path().join("parbench/index.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Works offline: nothing fetched, no script.
    for banned in ["<script", "http://", "https://", "@import", "<link"] {
        let allowed = banned == "http://"
            && page.matches(banned).count() == page.matches("http://www.w3.org/2000/svg").count();
        assert!(!page.contains(banned) || allowed, "page contains {banned}");
    }
    // One chart per workload, with error bars per executor.
    assert_eq!(page.matches("class=\"v-chart\"").count(), 2);
    // Links are relative, and only to Criterion pages that exist.
    assert!(
        page.contains("href=\"../cpu/report/index.html\""),
        "group link"
    );
    assert!(page.contains("href=\"../cpu/rayon/2/report/index.html\""));
    assert!(!page.contains("href=\"../io/report/index.html\""));
    assert!(page.contains("tie:<br>rayon, pool"));
}

#[test]
fn a_saved_timeline_is_embedded() {
    let dir = copy("complete");
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><title>cpu timeline marker</title></svg>";
    std::fs::write(dir.path().join("parbench/timeline-cpu.svg"), svg).unwrap();
    let (code, _, err) = report(&["--criterion-dir".as_ref(), dir.path().as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(dir.path().join("parbench/index.html")).unwrap();
    assert!(page.contains("cpu timeline marker"));
    assert!(page.contains("serial against rayon x2"));
}

#[test]
fn missing_results_are_listed() {
    let dir = copy("missing");
    let (code, md, out) = markdown_of(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        md.contains("cpu: no serial/1 result, so no speedup can be computed."),
        "{md}"
    );
    assert!(
        md.contains("missing 4 result(s): io/pool/2, cpu/serial/1, ceiling/1, ceiling/2"),
        "{md}"
    );
    // Without a ceiling the sentence has no share of it.
    assert!(md.contains("io: rayon wins at 2 workers (2.00x);"), "{md}");
}

#[test]
fn mixed_profiles_between_groups_are_flagged() {
    let dir = copy("mixed");
    let (code, md, out) = markdown_of(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        md.contains(
            "mixed profiles: ceiling and cpu ran quick; io ran default (PARBENCH_SIZE_IO=1000000)"
        ),
        "{md}"
    );
    assert!(
        !md.contains("Profile: **"),
        "no single profile is claimed: {md}"
    );
}

#[test]
fn a_result_older_than_its_groups_run_is_flagged() {
    let dir = copy("complete");
    // Move the marker's cpu run to now: results written before it are from another run.
    let marker = dir.path().join("parbench/profile.json");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let text = std::fs::read_to_string(&marker).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["groups"]["cpu"][0]["started_ns"] = (now - 60_000_000_000).into();
    std::fs::write(&marker, json.to_string()).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    let sample = dir.path().join("cpu/gil/2/new/sample.json");
    std::fs::File::options()
        .write(true)
        .open(&sample)
        .unwrap()
        .set_modified(old)
        .unwrap();
    // The other cpu files were copied just now, inside the run.
    let (code, md, out) = markdown_of(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        md.contains("mixed profiles: 1 result(s) were not written by a run the marker records, so their profile is unknown (cpu/gil/2)"),
        "{md}"
    );
}

#[test]
fn without_a_marker_profiles_are_not_checked() {
    let dir = copy("complete");
    std::fs::remove_file(dir.path().join("parbench/profile.json")).unwrap();
    let (code, md, out) = markdown_of(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(md.contains("profiles not checked"), "{md}");
}

#[test]
fn a_corrupt_file_is_one_line_naming_it_and_exit_2() {
    let (code, stdout, stderr) = report(&[
        "--criterion-dir".as_ref(),
        fixture("corrupt").as_os_str(),
        "-o".as_ref(),
        std::env::temp_dir().join("parbench-never.md").as_os_str(),
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cpu/pool/2/new/sample.json: corrupt JSON"),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_marker_is_named_too() {
    let dir = copy("complete");
    std::fs::write(dir.path().join("parbench/profile.json"), "{\"groups\": 3").unwrap();
    let (code, _, stderr) = report(&["--criterion-dir".as_ref(), dir.path().as_os_str()]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("parbench/profile.json: corrupt JSON"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let missing = std::env::temp_dir().join("parbench-no-such-criterion-dir");
    let (code, _, stderr) = report(&["--criterion-dir".as_ref(), missing.as_os_str()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not found"), "{stderr}");
    let empty = tempfile::tempdir().unwrap();
    let (code, _, stderr) = report(&["--criterion-dir".as_ref(), empty.path().as_os_str()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no parbench results"), "{stderr}");
    let (code, _, stderr) = report(&[
        "--criterion-dir".as_ref(),
        fixture("complete").as_os_str(),
        "-o".as_ref(),
        "page.png".as_ref(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("use a .html or .md"), "{stderr}");
}
