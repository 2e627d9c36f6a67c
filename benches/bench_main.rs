//! parbench's Criterion suite: every workload x every executor x every worker count, the
//! host ceiling and the overhead groups; then the verdict page.
//!
//! Groups and ids (`cargo bench --bench bench_main -- --list` prints them all):
//! - `api`, `io`, `cpu`, `dot`: `<workload>/<executor>/<workers>`, e.g. `cpu/rayon/2`. Every
//!   executor of the registry at every worker count; `serial` once, at 1. The py-* join when
//!   an interpreter is there (`PARBENCH_PYTHON`, else `python3`), `py-serial` once, at 1, and
//!   each py-* point is paired with py-serial instead of serial; what cannot run here is
//!   named in one line on stderr (no interpreter, py-interpreters before 3.14, dot without
//!   numpy). Each benchmark is
//!   measured by the engine in blocked, paired rounds ([`parbench::engine::paired`]): every
//!   batch Criterion times sits beside a serial batch and a probe of the host's ceiling, and
//!   every 3 rounds the pool is replaced by a fresh, warmed-up one. One Criterion sample is
//!   one round, so Criterion's time is the executor's own batch. The rounds are saved beside
//!   Criterion's result, in `<workload>/<executor>/<W>/new/parbench.json` (the sidecar,
//!   schema in `docs/verdict.md`).
//! - `kernel`: `kernel/dgemm/<K>`, the dot kernel alone on K inner threads (K = 1, 2, 4),
//!   with 2 n^3 FLOP per iteration as its element throughput: Criterion prints "Gelem/s",
//!   where an element is one FLOP.
//! - `overhead_dispatch/<executor>/<W>` (64 empty tasks on a warm pool),
//!   `overhead_start_stop/<executor>/<W>` (start a pool, run W empty tasks, stop it) and
//!   `overhead_roundtrip/process/<bytes>` (0 B, 64 KiB, 16 MiB to a warm worker process and
//!   back; bytes/s for the two payloads).
//!
//! After the groups, `main` writes the verdict page, `<criterion dir>/parbench/index.html`
//! (see `docs/verdict.md`), from the sidecars, with `parbench report`'s code: per workload,
//! the winner or the tie and one sentence. It is written only when this run measured a
//! workload benchmark (not under `--test`, `--list` or a filter that skipped them), with a
//! timeline of one batch of serial and of the headline executor for each workload measured.
//!
//! Every batch is checked: a failed task, or a checksum different from its baseline's
//! (serial's, or py-serial's), stops the run with a panic naming the benchmark. Nothing wrong is ever timed silently.
//!
//! Knobs (environment variables; a bad value panics with a message naming the variable):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PARBENCH_PROFILE` | `default` | `quick` (or Criterion's `--quick`): 1/16 of the work per task, short sampling, no plots: for smoke runs and CI |
//! | `PARBENCH_WORKERS` | `1,2,4,8` | worker counts swept for every executor that scales |
//! | `PARBENCH_TASKS` | each workload's | tasks per batch in the workload groups |
//! | `PARBENCH_SIZE_API`, `_IO`, `_CPU`, `_DOT` | each workload's | per-task size: body bytes, file bytes, loop steps, matrix dimension |
//! | `PARBENCH_LATENCY_MS` | 20 (quick: 2) | api server latency per response |
//! | `PARBENCH_SERVER` | `mockito` | api mock server: `mockito` or `keepalive` |
//! | `PARBENCH_INNER_THREADS` | 1 | threads inside the dot kernel |
//! | `PARBENCH_THROUGHPUT` | 0 | `1`: report tasks/s (and bytes/s for io) in the workload and dispatch benches |
//! | `PARBENCH_SLOWDOWN` | 1 | cpu only: lengthen each task by this factor (to calibrate a regression gate) |
//! | `PARBENCH_PYTHON` | `python3` | the interpreter of the py-* benchmarks (the `parbench run` variable) |
//!
//! `PARBENCH_THROUGHPUT` is off by default because Criterion 0.8 plots a group's line chart
//! against the throughput value when one is set: with a constant task count the chart over
//! workers would disappear. The round-trip benches with a payload always report bytes/s.
//!
//! Profiles: both run `parbench run`'s task sizes (batches of tens of milliseconds).
//! `default` takes 30 paired rounds (10 blocks) per workload benchmark and 20 samples over
//! 1 s per overhead benchmark, 10 000 bootstrap resamples, with the HTML report. `quick` takes
//! 12 rounds (4 blocks), 10 samples over 200 ms for overhead, 5 000 resamples and no plots
//! (add `--plotting-backend plotters` to get them). Criterion warns "Unable to complete N
//! samples" for the workload groups: expected, each sample is one round. Criterion's own flags
//! (`--sample-size`, `--warm-up-time`, `--measurement-time`, `--nresamples`,
//! `--save-baseline`, `--baseline`, `--noplot`, `--test`, `--list`, filters) still apply and
//! win over the profile. The sidecars record the profile, and the page never judges results
//! of unlike profiles or settings together.
//!
//! Reports land in `target/criterion/` (or `$CRITERION_HOME`): `report/index.html` links to
//! each group's summary (`<group>/report/index.html`), whose line chart compares executors over
//! workers, and to each executor's own summary (`<group>/<executor>/report/`); each benchmark
//! has its page under `<group>/<executor>/<workers>/report/`. The overhead groups' summaries
//! compare executors over workers (`overhead_roundtrip` over payloads, violins only on a log
//! axis, since only two of its three payloads have a throughput).

use benchmarks::sweep;
use criterion::Criterion;
use parbench::commands::report::{default_page, timeline_file, write_page, PAGE_DIR};
use parbench::engine::Bench;
use parbench::plot::{timeline_svg, Panel};
use parbench::verdict::page::PageFormat;
use parbench::workload;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod benchmarks;

/// Every group, in run order.
const GROUPS: &[(&str, fn())] = &[
    ("api", benchmarks::api::benches),
    ("io", benchmarks::io::benches),
    ("cpu", benchmarks::cpu::benches),
    ("dot", benchmarks::dot::benches),
    ("kernel", benchmarks::kernel::benches),
    ("overhead", benchmarks::overhead::benches),
];

/// When this run began, ns since the Unix epoch: recorded in every sidecar.
pub fn run_started_ns() -> u64 {
    static STARTED: OnceLock<u64> = OnceLock::new();
    *STARTED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    })
}

/// The git commit of the working tree, when there is one.
pub fn commit() -> Option<String> {
    static COMMIT: OnceLock<Option<String>> = OnceLock::new();
    COMMIT
        .get_or_init(parbench::engine::sweep::git_commit)
        .clone()
}

/// What `criterion_main!` does (each group, then Criterion's final summary), then the page
/// when a workload benchmark was measured.
fn main() {
    parbench::system::steady_allocator();
    // The process executor's workers are this binary too (see `sweep::options`).
    if std::env::args().nth(1).as_deref() == Some("worker")
        && std::env::var_os(parbench::executor::process::PARENT_ENV).is_some()
    {
        std::process::exit(parbench::executor::process::worker_main());
    }
    let root = criterion_dir();
    run_started_ns();
    let mut measured = Vec::new();
    for (name, group) in GROUPS {
        let before = sweep::measured_count();
        group();
        if sweep::measured_count() > before {
            measured.push(*name);
        }
    }
    Criterion::default().configure_from_args().final_summary();
    if measuring() && !measured.is_empty() {
        if let Err(e) = write_verdict(&root, &measured) {
            eprintln!("parbench: verdict page not written: {e}");
        }
    }
}

/// True when Criterion measures and saves results: not `--list`, `--test` (or `cargo test
/// --benches`, which passes no `--bench`) or `--profile-time`.
pub fn measuring() -> bool {
    static MEASURING: OnceLock<bool> = OnceLock::new();
    *MEASURING.get_or_init(|| {
        let bench = std::env::args().any(|a| a == "--bench");
        bench
            && !["--list", "--test", "--profile-time"]
                .iter()
                .any(|f| benchmarks::config::flag_given(f))
    })
}

/// Criterion's output directory, found as Criterion finds it: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the target directory holding this executable (the
/// one with cargo's `CACHEDIR.TAG`), else `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if env("CRITERION_HOME").is_some() || env("CARGO_TARGET_DIR").is_some() {
        return parbench::criterion::default_dir();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(|d| d.join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Draws a timeline for each workload measured in this run, writes the page and prints its
/// sentences.
fn write_verdict(root: &Path, measured: &[&str]) -> Result<(), String> {
    let judged = parbench::criterion::read(root)
        .map_err(|e| e.to_string())?
        .judged();
    let verdicts = parbench::verdict::analyse(&judged.report.results);
    let dir = root.join(PAGE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for v in verdicts
        .iter()
        .filter(|v| measured.contains(&v.workload.as_str()))
    {
        let Some((executor, workers)) = v.pick() else {
            continue;
        };
        let file = dir.join(timeline_file(&v.workload));
        match draw_timeline(&v.workload, &executor, workers) {
            Ok(svg) => {
                if let Err(e) = parbench::output::write_atomic(&file, svg.as_bytes()) {
                    eprintln!("parbench: cannot write {}: {e}", file.display());
                }
            }
            Err(e) => eprintln!("parbench: no timeline for {}: {e}", v.workload),
        }
    }
    let page = default_page(root);
    let lines = write_page(root, &page, PageFormat::Html).map_err(|e| e.to_string())?;
    println!("\nparbench verdict:");
    for line in lines {
        println!("  {line}");
    }
    println!("page: {}", page.display());
    Ok(())
}

/// One batch of the baseline `executor` is paired with (serial, or py-serial for the py-*)
/// and one of `executor` x `workers` (each on a warm pool), drawn as a timeline. The engine
/// checks both against the baseline's reference checksum.
fn draw_timeline(workload: &str, executor: &str, workers: usize) -> Result<String, String> {
    let name = workload::names()
        .into_iter()
        .find(|n| *n == workload)
        .ok_or_else(|| format!("unknown workload {workload}"))?;
    let mut bench = Bench::open(name, sweep::workload_params(name), sweep::options(1))
        .map_err(|e| e.to_string())?;
    let base = parbench::executor::baseline_of(executor).name;
    let baseline = bench
        .run_baseline_of(executor)
        .map_err(|e| e.to_string())?
        .batch;
    let mut pool = bench
        .prepare(executor, workers)
        .map_err(|e| e.to_string())?;
    let other = bench.run(&mut pool).map_err(|e| e.to_string())?.batch;
    Ok(timeline_svg(
        &format!("{workload}: one batch, {base} against {executor} x{workers}"),
        &[
            Panel::from_batch(base, 1, &baseline),
            Panel::from_batch(executor, workers, &other),
        ],
    ))
}
