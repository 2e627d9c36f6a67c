//! parbench's Criterion suite: every workload x every executor x every worker count, the
//! host ceiling and the overhead groups; then the verdict page.
//!
//! Groups and ids (`cargo bench --bench bench_main -- --list` prints them all):
//! - `ceiling`: `ceiling/<W>`, min(W, cores) pre-started spinners sharing one cpu batch's
//!   work; time(ceiling/1) / time(ceiling/W) is what this host delivered at W.
//! - `api`, `io`, `cpu`, `dot`: `<workload>/<executor>/<workers>`, e.g. `cpu/rayon/2`. Every
//!   executor of the registry at every worker count; `serial` once, at 1. A pool is started
//!   before its first sample and reused, so the time is the batch on a warm pool. Each
//!   group's summary page draws mean time against workers, one line per executor (linear
//!   axes: Criterion's log axis loses its tick labels on data within a decade).
//! - `kernel`: `kernel/dgemm/<K>`, the dot kernel alone on K inner threads (K = 1, 2, 4),
//!   with 2 n^3 FLOP per iteration as its element throughput: Criterion prints "Gelem/s",
//!   where an element is one FLOP.
//! - `overhead_dispatch/<executor>/<W>` (64 empty tasks on a warm pool),
//!   `overhead_start_stop/<executor>/<W>` (start a pool, run W empty tasks, stop it) and
//!   `overhead_roundtrip/process/<bytes>` (0 B, 64 KiB, 16 MiB to a warm worker process and
//!   back; bytes/s for the two payloads).
//!
//! After the groups, `main` writes the verdict page, `<criterion dir>/parbench/index.html`
//! (see `docs/verdict.md`): per workload, the winner or the tie at each worker count from
//! Criterion's samples, beside the ceiling. It is written only when this run measured a
//! ceiling or workload benchmark (not under `--test`, `--list` or a filter that skipped
//! them), with a timeline of one batch of serial and of the headline executor for each
//! workload measured. Each run also records its profile and knobs per group in
//! `parbench/profile.json`, so the page can say when results come from mixed profiles.
//!
//! Every batch is checked: a failed task, or a checksum different from the serial batch's,
//! stops the run with a panic naming the benchmark. Nothing wrong is ever timed silently.
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
//!
//! `PARBENCH_THROUGHPUT` is off by default because Criterion 0.8 plots a group's line chart
//! against the throughput value when one is set: with a constant task count the chart over
//! workers would disappear. The round-trip benches with a payload always report bytes/s.
//!
//! Profiles: `default` takes 10 flat samples (at least one batch each) after a 0.2 s warm-up,
//! over about 2 s, per workload benchmark, and 20 samples over 1 s per overhead benchmark,
//! 10 000 bootstrap resamples, with the HTML report. `quick` takes 10 samples over 300 ms
//! (200 ms for overhead), 5 000 resamples and no plots (add `--plotting-backend plotters` to get
//! them). Criterion warns "Unable to complete 10 samples" for batches longer than a tenth of
//! the measurement time: expected, each sample is then one batch. Criterion's
//! own flags (`--sample-size`, `--warm-up-time`, `--measurement-time`, `--nresamples`,
//! `--save-baseline`, `--baseline`, `--noplot`, `--test`, `--list`, filters) still apply and win
//! over the profile. Quick-profile results measure smaller tasks: never compare them with a
//! default-profile baseline.
//!
//! Reports land in `target/criterion/` (or `$CRITERION_HOME`): `report/index.html` links to
//! each group's summary (`<group>/report/index.html`), whose line chart compares executors over
//! workers, and to each executor's own summary (`<group>/<executor>/report/`); each benchmark
//! has its page under `<group>/<executor>/<workers>/report/`. The overhead groups' summaries
//! compare executors over workers (`overhead_roundtrip` over payloads, violins only on a log
//! axis, since only two of its three payloads have a throughput).

use benchmarks::{config, sweep};
use criterion::Criterion;
use parbench::engine::Bench;
use parbench::plot::{timeline_svg, Panel};
use parbench::verdict::{self, profile, PageFormat};
use parbench::workload;
use std::path::{Path, PathBuf};

mod benchmarks;

/// Every group, in run order. The ceiling goes first, so a `cargo bench` that stops early
/// still leaves the page its reference.
const GROUPS: &[(&str, fn())] = &[
    ("ceiling", benchmarks::ceiling::benches),
    ("api", benchmarks::api::benches),
    ("io", benchmarks::io::benches),
    ("cpu", benchmarks::cpu::benches),
    ("dot", benchmarks::dot::benches),
    ("kernel", benchmarks::kernel::benches),
    ("overhead", benchmarks::overhead::benches),
];

/// What `criterion_main!` does (each group, then Criterion's final summary), with the
/// profile marker around the groups the page reads and the page at the end.
fn main() {
    parbench::system::steady_allocator();
    let measuring = measuring();
    let root = criterion_dir();
    let tracked = verdict::groups();
    let run_started = profile::now_ns();
    for (name, group) in GROUPS {
        let marked = measuring && tracked.contains(name);
        let started = profile::now_ns();
        if marked {
            if let Err(e) = profile::begin(&root, name, config::marker_run(started)) {
                eprintln!("parbench: cannot record the profile of {name}: {e}");
            }
        }
        group();
        if marked {
            let wrote = verdict::written_since(&root, &[name], started);
            if let Err(e) = profile::finish(&root, name, started, wrote) {
                eprintln!("parbench: cannot record the profile of {name}: {e}");
            }
        }
    }
    Criterion::default().configure_from_args().final_summary();
    if measuring && verdict::written_since(&root, &tracked, run_started) {
        if let Err(e) = write_verdict(&root, run_started) {
            eprintln!("parbench: verdict page not written: {e}");
        }
    }
}

/// True when Criterion measures and saves results: not `--list`, `--test` (or `cargo test
/// --benches`, which passes no `--bench`) or `--profile-time`.
fn measuring() -> bool {
    let bench = std::env::args().any(|a| a == "--bench");
    bench
        && !["--list", "--test", "--profile-time"]
            .iter()
            .any(|f| config::flag_given(f))
}

/// Criterion's output directory, found as Criterion finds it: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the target directory holding this executable (the
/// one with cargo's `CACHEDIR.TAG`), else `target/criterion`.
fn criterion_dir() -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(home) = env("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = env("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(|d| d.join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Reads the results, draws a timeline for each workload measured in this run, writes the
/// page and prints its sentences.
fn write_verdict(root: &Path, run_started: u64) -> Result<(), String> {
    let results = verdict::load(root).map_err(|e| e.to_string())?;
    let analysed = verdict::analyse(&results);
    for w in &analysed.workloads {
        if !verdict::written_since(root, &[w.workload.as_str()], run_started) {
            continue;
        }
        let Some((executor, workers)) = w.pick() else {
            continue;
        };
        let file = root
            .join(verdict::PAGE_DIR)
            .join(verdict::timeline_file(&w.workload));
        match draw_timeline(&w.workload, &executor, workers) {
            Ok(svg) => {
                if let Err(e) = std::fs::write(&file, svg) {
                    eprintln!("parbench: cannot write {}: {e}", file.display());
                }
            }
            Err(e) => eprintln!("parbench: no timeline for {}: {e}", w.workload),
        }
    }
    let page = verdict::default_page(root);
    verdict::write_page(&analysed, PageFormat::Html, &page).map_err(|e| e.to_string())?;
    println!("\nparbench verdict:");
    for line in analysed.summary_lines() {
        println!("  {line}");
    }
    println!("page: {}", page.display());
    Ok(())
}

/// One batch of serial and one of `executor` x `workers` (each on a warm pool), drawn as a
/// timeline. The engine checks both against the reference checksum.
fn draw_timeline(workload: &str, executor: &str, workers: usize) -> Result<String, String> {
    let name = workload::names()
        .into_iter()
        .find(|n| *n == workload)
        .ok_or_else(|| format!("unknown workload {workload}"))?;
    let mut bench = Bench::open(name, sweep::workload_params(name), sweep::options(1))
        .map_err(|e| e.to_string())?;
    let serial = bench.run_baseline().map_err(|e| e.to_string())?.batch;
    let mut pool = bench
        .prepare(executor, workers)
        .map_err(|e| e.to_string())?;
    let other = bench.run(&mut pool).map_err(|e| e.to_string())?.batch;
    Ok(timeline_svg(
        &format!("{workload}: one batch, serial against {executor} x{workers}"),
        &[
            Panel::from_batch("serial", 1, &serial),
            Panel::from_batch(executor, workers, &other),
        ],
    ))
}
