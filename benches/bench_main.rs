//! parbench's Criterion suite: every workload x every executor x every worker count, plus the
//! overhead group.
//!
//! Groups and ids (`cargo bench --bench bench_main -- --list` prints them all):
//! - `api`, `io`, `cpu`, `dot`: `<workload>/<executor>/<workers>`, e.g. `cpu/rayon/2`. Every
//!   executor of the registry at every worker count; `serial` once, at 1. A pool is started
//!   before its first sample and reused, so the time is the batch on a warm pool. Each
//!   group's summary page draws mean time against workers, one line per executor (log axes).
//! - `overhead`: `dispatch/<executor>/<W>` (64 empty tasks on a warm pool),
//!   `start_stop/<executor>/<W>` (start a pool, run W empty tasks, stop it) and
//!   `roundtrip/process/<bytes>` (0 B, 64 KiB, 16 MiB to a warm worker process and back).
//! - `kernel`: `dgemm/<K>`, the dot kernel alone on K inner threads (K = 1, 2, 4), with
//!   2 n^3 FLOP per iteration as its throughput, so the report reads in FLOP/s.
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
//! workers would disappear. The round-trip benches always report bytes/s.
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
//! has its page under `<group>/<executor>/<workers>/report/`. The `overhead` summary shows
//! only violins (its parameters mix worker counts and bytes); its line charts are on the
//! per-function pages such as `overhead/dispatch_rayon/report/`.

use criterion::criterion_main;

mod benchmarks;

criterion_main! {
    benchmarks::api::benches,
    benchmarks::io::benches,
    benchmarks::cpu::benches,
    benchmarks::dot::benches,
    benchmarks::kernel::benches,
    benchmarks::overhead::benches,
}
