//! The parameter sweep every group shares: which executors at which worker counts, pools kept
//! warm outside the timed region, fixtures opened once per group, and batches that are checked
//! against their baseline's result (serial's, or py-serial's for the py-*) before their time
//! counts.

use super::config::{self, knobs};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use parbench::criterion::sidecar::{Meta, Sidecar};
use parbench::engine::paired::Paired;
use parbench::engine::{Bench, Prepared};
use parbench::executor::{self, ExecOptions, Executor, ExecutorInfo, EXECUTORS};
use parbench::measure::Batch;
use parbench::report::BenchId;
use parbench::workload::{self, Params};
use std::cell::{RefCell, RefMut};
use std::fmt::Display;
use std::time::{Duration, Instant};

/// One executor at one worker count: the function and parameter of a benchmark id.
#[derive(Clone, Copy)]
pub struct Point {
    /// The registry entry.
    pub executor: &'static ExecutorInfo,
    /// Worker count.
    pub workers: usize,
}

impl Point {
    /// Executor name, the function part of the id.
    pub fn name(&self) -> &'static str {
        self.executor.name
    }

    /// Starts a pool for this point. Callers keep this out of the timed region, except the
    /// overhead group's start/stop benchmark, whose subject it is.
    pub fn start(&self) -> Box<dyn Executor> {
        self.executor
            .launch(&options(self.workers))
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start executor {} with {} workers: {e}",
                    self.name(),
                    self.workers
                )
            })
    }
}

/// Every registered executor at every swept worker count (the py-* at their profile's,
/// [`config::Profile::family_workers`]); an executor that does not scale (serial, py-serial)
/// appears once, at 1 worker. New registry entries join the sweep by
/// themselves; [`workload_points`] leaves out those that cannot run a workload here.
pub fn points() -> Vec<Point> {
    EXECUTORS
        .iter()
        .flat_map(|executor| {
            let knobs = knobs();
            let workers = if !executor.scales {
                vec![1]
            } else if executor::family_of(executor.name).is_some() {
                knobs.profile.family_workers(&knobs.workers)
            } else {
                knobs.workers.clone()
            };
            workers
                .into_iter()
                .map(move |workers| Point { executor, workers })
        })
        .collect()
}

/// The points of the executors built into the binary (no py-*): the overhead groups time our
/// own pools on the noop task, which has no Python version.
pub fn native_points() -> Vec<Point> {
    points()
        .into_iter()
        .filter(|p| executor::family_of(p.name()).is_none())
        .collect()
}

/// The points of the executors that scale: the ones with a pool worth starting.
pub fn scaling_points() -> Vec<Point> {
    native_points()
        .into_iter()
        .filter(|p| p.executor.scales)
        .collect()
}

/// The points that can run `workload` here, by the registry's one check
/// ([`executor::unavailable`]): the py-* without an interpreter, py-interpreters before
/// Python 3.14, dot on the py-* without numpy are left out, each reason said in one line on
/// stderr, once per run.
pub fn workload_points(workload: &str) -> Vec<Point> {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut skipped: Vec<(String, Vec<&'static str>)> = Vec::new();
    let mut kept = Vec::new();
    for point in points() {
        match executor::unavailable(point.name(), Some(workload)) {
            None => kept.push(point),
            Some(why) => match skipped.iter_mut().find(|(w, _)| *w == why) {
                Some((_, names)) if names.contains(&point.name()) => {}
                Some((_, names)) => names.push(point.name()),
                None => skipped.push((why, vec![point.name()])),
            },
        }
    }
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    for (why, names) in skipped {
        let line = format!("parbench: not benchmarked: {}: {why}", names.join(", "));
        if !said.contains(&line) {
            eprintln!("{line}");
            said.push(line);
        }
    }
    kept
}

/// Options for `workers` workers. Process workers re-run this bench binary (its `main`
/// serves as a worker when started as one): so every batch, the baseline's, the in-process
/// executors' and the workers', runs the one copy of each hot loop this binary holds. The
/// parbench binary's copy of the cpu loop sits at another code alignment and ran it about
/// twice as fast here, which read as process x1 at 1.86x serial.
pub fn options(workers: usize) -> ExecOptions {
    let mut options = ExecOptions::new(workers);
    options.worker_exe = std::env::current_exe()
        .ok()
        .or_else(|| Some(env!("CARGO_BIN_EXE_parbench").into()));
    // Workers spread one per core, as `parbench run` places them by default.
    options.placement = parbench::system::Placement::spread();
    options
}

/// A workload opened on first use, with its baseline and reference checksum (the engine's
/// [`Bench`]), so that `--list` and filtered runs never start a server or generate inputs
/// for benchmarks they skip.
pub struct LazyFixture {
    workload: &'static str,
    params: Params,
    cell: RefCell<Option<Bench>>,
}

impl LazyFixture {
    /// A fixture for `workload` with these parameters, not opened yet.
    pub fn new(workload: &'static str, params: Params) -> Self {
        LazyFixture {
            workload,
            params,
            cell: RefCell::new(None),
        }
    }

    /// The hidden `noop` workload: `tasks` empty tasks carrying `size` bytes each.
    pub fn noop(tasks: usize, size: u64) -> Self {
        let mut params = workload::defaults("noop").unwrap_or_else(|e| panic!("{e}"));
        params.tasks = tasks;
        params.size = size;
        LazyFixture::new("noop", params)
    }

    /// Opens the workload and runs the baseline's reference batch, once; the bench is
    /// lent out one caller at a time.
    pub fn get(&self) -> RefMut<'_, Bench> {
        RefMut::map(self.cell.borrow_mut(), |cell| {
            cell.get_or_insert_with(|| {
                let name = self.workload;
                Bench::open(name, self.params.clone(), options(1))
                    .unwrap_or_else(|e| panic!("cannot open workload {name}: {e}"))
            })
        })
    }

    /// Criterion throughput of one batch: tasks, plus bytes where the workload moves bytes.
    pub fn throughput(&self) -> Throughput {
        let bench = self.get();
        let job = &bench.job;
        let tasks = job.len() as u64;
        match job.workload.bytes_per_task() {
            Some(bytes) => Throughput::ElementsAndBytes {
                elements: tasks,
                bytes: tasks * bytes,
            },
            None => Throughput::Elements(tasks),
        }
    }
}

/// Panics unless every task succeeded and the batch reproduces the reference: a failed or
/// wrong batch must stop the run, never be timed as if it were a result.
pub fn check(bench: &Bench, batch: &Batch, what: &dyn Display) {
    if let Err(e) = bench.check(batch, &what.to_string()) {
        panic!("{what}: {e}");
    }
}

/// Runs `iters` batches on a warm pool; only the `run` calls are timed, the checks are not.
pub fn time_batches(
    prepared: &mut Prepared,
    bench: &Bench,
    iters: u64,
    what: &dyn Display,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        let batch = prepared.pool().run(&bench.job);
        total += started.elapsed();
        let batch = batch.unwrap_or_else(|e| panic!("{what}: {e}"));
        check(bench, &batch, what);
    }
    total
}

/// Benchmarks batches of `fixture` on a pool of `point`, started and warmed up by the engine
/// before the first sample and stopped after the last one. The id is
/// `<group_name>/<function>/<parameter>`.
pub fn bench_warm(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &str,
    function: String,
    parameter: u64,
    point: Point,
    fixture: &LazyFixture,
) {
    let mut pool: Option<Prepared> = None;
    let what = format!("{group_name}/{function}/{parameter}");
    let id = BenchmarkId::new(function, parameter);
    group.bench_with_input(id, &point, |b, point| {
        let bench = fixture.get();
        let prepared = pool.get_or_insert_with(|| {
            bench
                .prepare(point.name(), point.workers)
                .unwrap_or_else(|e| panic!("{what}: cannot start the pool: {e}"))
        });
        b.iter_custom(|iters| time_batches(prepared, &bench, iters, &what));
    });
}

/// Workload benchmarks that ran in this process (a filter may skip every one of a group).
static MEASURED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many workload benchmarks have run so far.
pub fn measured_count() -> usize {
    MEASURED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Benchmarks `point` on `fixture` through the engine's blocked, paired rounds: every batch
/// Criterion times sits beside a serial batch and a probe of the ceiling, and every
/// [`parbench::engine::rounds::BLOCK_ROUNDS`] rounds the pool is replaced by a fresh one
/// ([`Paired`]). A py-* point is paired with py-serial on its family's tasks instead of
/// serial: the engine picks the baseline ([`parbench::executor::baseline_of`]). Criterion receives the executor's own batch times; the rounds go to the
/// benchmark's sidecar (`new/parbench.json`) once Criterion has written its result, when
/// this run measures (not under `--test` or `--list`).
pub fn bench_paired(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &'static str,
    point: Point,
    fixture: &LazyFixture,
) {
    let id = BenchId {
        workload: group_name.to_string(),
        executor: point.name().to_string(),
        workers: point.workers,
    };
    let what = id.to_string();
    let mut paired = Paired::new(
        point.executor,
        point.workers,
        options(point.workers).placement,
    );
    let mut handed: Vec<u64> = Vec::new();
    let bid = BenchmarkId::new(point.name(), point.workers as u64);
    group.bench_with_input(bid, &point, |b, _| {
        let mut bench = fixture.get();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += paired
                    .next_batch(&mut bench)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            handed.push(total.as_nanos() as u64);
            total
        });
    });
    paired.stop();
    if paired.rounds().is_empty() {
        return;
    }
    MEASURED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if !crate::measuring() {
        return;
    }
    let bench = fixture.get();
    let workload = &bench.job.workload;
    let meta = Meta {
        id,
        profile: config::knobs().profile.name().to_string(),
        params: workload.params().clone(),
        waits: workload.waits(),
        host_cores: parbench::system::available_cores(),
        ideal_s: workload.ideal_s(point.workers),
        bytes_per_task: workload.bytes_per_task(),
        checksum: bench.reference_of(point.name()).unwrap_or_default(),
        run_started_ns: crate::run_started_ns(),
        commit: crate::commit(),
    };
    let side = Sidecar::new(meta, paired.rounds(), handed);
    if let Err(e) = parbench::criterion::write(&crate::criterion_dir(), &side) {
        eprintln!("parbench: {what}: rounds not saved: {e}");
    }
}

/// The parameters a workload group runs with: the workload's defaults sized by the
/// profile, then the `PARBENCH_*` overrides.
pub fn workload_params(name: &'static str) -> Params {
    let mut overrides = knobs().overrides.clone();
    overrides.size = config::size_for(name);
    overrides
        .params_for(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One workload group: every point of the sweep, ids `<workload>/<executor>/<workers>`, so
/// that the group summary draws time against workers per executor.
pub fn workload_group(c: &mut Criterion, name: &'static str) {
    let fixture = LazyFixture::new(name, workload_params(name));
    let mut group = c.benchmark_group(name);
    config::apply(&mut group, knobs().profile.work());
    // An iteration is a whole batch: linear sampling would need far more of them.
    group.sampling_mode(SamplingMode::Flat);
    // Linear axes (Criterion's default): its log axis draws no tick labels when the data
    // spans less than a decade, as batch times over 1-8 workers usually do.
    if knobs().throughput {
        group.throughput(fixture.throughput());
    }
    for point in workload_points(name) {
        bench_paired(&mut group, name, point, &fixture);
    }
    group.finish();
}
