//! dot's optional run-time BLAS: a library that cannot be used is refused before any work,
//! in one line with exit 2, and an unset or empty variable keeps matrixmultiply.

mod common;

use assert_cmd::Command;

fn dot_run(blas: &str) -> std::process::Output {
    Command::cargo_bin("parbench")
        .expect("binary built")
        .env("TMPDIR", common::suite_tmpdir())
        .env("PARBENCH_BLAS", blas)
        .args([
            "run",
            "-w",
            "dot",
            "-e",
            "serial",
            "-n",
            "1",
            "--tasks",
            "1",
            "--size",
            "8",
            "-r",
            "1",
            "--budget-s",
            "0",
            "-q",
        ])
        .output()
        .expect("runs")
}

#[test]
fn an_unusable_blas_is_one_line_and_exit_2() {
    // A missing file, and a library that exports no dgemm (the C library itself).
    for (blas, needle) in [
        ("/nonexistent/libopenblas.so", "No such file"),
        ("libc.so.6", "exports no cblas_dgemm"),
    ] {
        let out = dot_run(blas);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{blas}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{blas}: {stderr}");
        assert!(
            stderr.contains("PARBENCH_BLAS") && stderr.contains(needle),
            "{blas}: {stderr}"
        );
    }
}

#[test]
fn an_empty_variable_keeps_the_built_in_kernel() {
    let out = dot_run("");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
