//! `parbench gate --base BIN --head BIN`: the paired regression gate. Both builds run as
//! `parbench serve` side by side; for each benchmark both are prepared warm, then they take
//! short turns of k batches, one side at a time, in a random order per pair, and each pair
//! gives one ratio head/base. [`decision`] turns the ratios into a verdict.

use crate::engine::stats::{median, SplitMix};
use crate::error::UsageError;
use crate::serve::{Reply, Request, MAX_TURN_BATCHES};
use regex::Regex;
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub mod decision;
pub mod render;
pub mod side;

use decision::{Rule, Verdict};
use side::{Side, SideError};

/// The benchmarks gated by default (20): cpu and dot (serial, and every executor at 2
/// workers), the start/stop overhead of the thread executors at 2 workers, and their dispatch
/// overhead at 2 workers for threads and pool, at 1 for rayon. Rayon's dispatch at 2 workers
/// (64 empty tasks, about 35 us a batch) moved by up to 15% from one A/A gate to the next
/// here, fresh processes or not: no 3% gate can hold on it. The executors are named: the
/// py-* were never calibrated here (their cpu batch, about 55 ms, is several of the gate's
/// 15 ms turns, and py-interpreters cannot run before Python 3.14), so `--filter` adds them.
pub const DEFAULT_FILTER: &str = r"^(cpu|dot)/(serial/1|(threads|pool|rayon|process|gil|async)/2)$|^overhead_start_stop/(threads|pool|rayon)/2$|^overhead_dispatch/((threads|pool)/2|rayon/1)$";

/// A turn aims at this long: short enough that both sides of a pair see the same host.
pub const TURN_TARGET: Duration = Duration::from_millis(15);

/// Arguments of `parbench gate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// The base build: a parbench binary.
    #[arg(long)]
    pub base: PathBuf,
    /// The head build: a parbench binary.
    #[arg(long)]
    pub head: PathBuf,
    /// Regex over benchmark ids (`cpu/rayon/2`, `overhead_dispatch/pool/2`, ...).
    #[arg(long, default_value = DEFAULT_FILTER)]
    pub filter: String,
    /// Smallest slowdown that fails the gate, in percent (0.1..=100).
    #[arg(long, default_value_t = 3.0)]
    pub threshold: f64,
    /// Time budget per benchmark in seconds, preparing excluded (0.1..=3600); measuring stops
    /// earlier once the verdict is clear.
    #[arg(long, default_value_t = 10.0)]
    pub budget_s: f64,
    /// Output format: table, markdown, json or github-benchmark (the head build's times, for
    /// github-action-benchmark).
    #[arg(long, short = 'f', default_value = "table")]
    pub format: String,
    /// Seconds a side may take to answer one request before it is killed (1..=86400).
    #[arg(long, default_value_t = 60.0)]
    pub timeout_s: f64,
    /// Calibration only: the head side does this factor more work on cpu and dot, with the
    /// same results (`PARBENCH_SLOWDOWN`).
    #[arg(long, hide = true)]
    pub head_slowdown: Option<f64>,
}

/// One gated benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Benchmark id.
    pub id: String,
    /// Median base time per batch, in ms (None when missing).
    pub base_ms: Option<f64>,
    /// Median head time per batch, in ms.
    pub head_ms: Option<f64>,
    /// Median ratio head/base with its 95% interval.
    pub ratio: Option<crate::engine::stats::Estimate>,
    /// Half the interquartile range of the pair ratios, relative: the runner's noise.
    pub spread: Option<f64>,
    /// Pairs measured.
    pub pairs: usize,
    /// Blocks of pairs: 2 when a regressed or improved verdict was put to a second block.
    pub blocks: usize,
    /// Batches per turn.
    pub k: usize,
    /// The verdict.
    pub verdict: Verdict,
    /// Which side lacks it, for missing rows.
    pub missing_on: Option<&'static str>,
}

/// The whole gate's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Threshold, percent.
    pub threshold_pct: f64,
    /// One row per benchmark.
    pub rows: Vec<Row>,
    /// Seconds the gate took.
    pub wall_s: f64,
}

impl Outcome {
    /// True when some benchmark regressed.
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Regressed)
    }
}

/// Errors of the gate: usage (exit 2) or a side that failed (exit 2, naming it).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Bad arguments.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// A side failed.
    #[error(transparent)]
    Side(#[from] SideError),
}

fn check_args(args: &GateArgs) -> Result<(Rule, Regex), UsageError> {
    if !(0.1..=100.0).contains(&args.threshold) {
        return Err(UsageError::new(format!(
            "--threshold {} must be 0.1..=100 percent",
            args.threshold
        )));
    }
    if !(0.1..=3600.0).contains(&args.budget_s) {
        return Err(UsageError::new(format!(
            "--budget-s {} must be 0.1..=3600",
            args.budget_s
        )));
    }
    if !(1.0..=86_400.0).contains(&args.timeout_s) {
        return Err(UsageError::new(format!(
            "--timeout-s {} must be 1..=86400",
            args.timeout_s
        )));
    }
    if let Some(f) = args.head_slowdown {
        if !(1.0..=100.0).contains(&f) {
            return Err(UsageError::new(format!(
                "--head-slowdown {f} must be 1..=100"
            )));
        }
    }
    render::check_format(&args.format)?;
    for (flag, path) in [("--base", &args.base), ("--head", &args.head)] {
        if !path.is_file() {
            return Err(UsageError::new(format!(
                "{flag} {}: no such file",
                path.display()
            )));
        }
    }
    let filter = Regex::new(&args.filter).map_err(|e| {
        UsageError::new(
            format!("--filter: {e}")
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        )
    })?;
    Ok((
        Rule {
            threshold: args.threshold / 100.0,
            ..Rule::default()
        },
        filter,
    ))
}

/// Runs `parbench gate`: prints the verdicts and returns the exit code (0 pass, 1 a
/// regression).
pub fn command(args: GateArgs) -> anyhow::Result<i32> {
    let outcome = run(&args, &mut |line| eprintln!("{line}"))?;
    let text = render::render(&outcome, &args.format);
    crate::output::write_stdout(text.as_bytes())?;
    Ok(if outcome.failed() { 1 } else { 0 })
}

/// The gate itself; `progress` hears one line per benchmark.
pub fn run(args: &GateArgs, progress: &mut dyn FnMut(String)) -> Result<Outcome, GateError> {
    let (rule, filter) = check_args(args)?;
    let started = Instant::now();
    let timeout = Duration::from_secs_f64(args.timeout_s);
    let head_env: Vec<(String, String)> = args
        .head_slowdown
        .map(|f| vec![(crate::workload::SLOWDOWN_ENV.to_string(), f.to_string())])
        .unwrap_or_default();
    let base_env = vec![(crate::workload::SLOWDOWN_ENV.to_string(), "1".to_string())];
    let fresh = |name: &'static str| {
        if name == "base" {
            Side::start(name, &args.base, &base_env, timeout)
        } else {
            Side::start(name, &args.head, &head_env, timeout)
        }
    };
    let mut base = fresh("base")?;
    let mut head = fresh("head")?;
    let base_ids = list(&mut base, timeout)?;
    let head_ids = list(&mut head, timeout)?;
    let mut ids: Vec<String> = head_ids.clone();
    ids.extend(base_ids.iter().filter(|i| !head_ids.contains(i)).cloned());
    ids.retain(|id| filter.is_match(id));
    if ids.is_empty() {
        return Err(UsageError::new(format!(
            "--filter '{}' matches no benchmark of either side",
            args.filter
        ))
        .into());
    }
    let budget = Duration::from_secs_f64(args.budget_s);
    let mut rng = SplitMix::from_entropy();
    let mut rows = Vec::with_capacity(ids.len());
    for id in &ids {
        let on_base = base_ids.contains(id);
        let on_head = head_ids.contains(id);
        let row = if on_base && on_head {
            let mut g = Gating {
                id,
                base: &mut base,
                head: &mut head,
                rule: &rule,
                budget,
                timeout,
                fresh: &fresh,
            };
            gate_one(&mut g, &mut rng)?
        } else {
            Row {
                id: id.clone(),
                base_ms: None,
                head_ms: None,
                ratio: None,
                spread: None,
                pairs: 0,
                blocks: 0,
                k: 0,
                verdict: Verdict::Missing,
                missing_on: Some(if on_base { "head" } else { "base" }),
            }
        };
        progress(render::progress_line(&row));
        rows.push(row);
    }
    Ok(Outcome {
        threshold_pct: args.threshold,
        rows,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

fn list(side: &mut Side, timeout: Duration) -> Result<Vec<String>, SideError> {
    match side.ask(&Request::List, "list", timeout)? {
        Reply::Ids(ids) => Ok(ids),
        other => Err(SideError {
            side: side.name(),
            message: format!("list: unexpected reply {other:?}"),
        }),
    }
}

fn prepare(side: &mut Side, id: &str, timeout: Duration) -> Result<(), SideError> {
    match side.ask(&Request::Prepare { id: id.into() }, id, timeout)? {
        Reply::Prepared { .. } => Ok(()),
        other => Err(SideError {
            side: side.name(),
            message: format!("{id}: unexpected reply {other:?}"),
        }),
    }
}

/// One turn of `k` batches; the total nanoseconds.
fn turn(side: &mut Side, id: &str, k: usize, timeout: Duration) -> Result<u64, SideError> {
    match side.ask(&Request::Turn { k }, id, timeout)? {
        Reply::Turn(ns) if ns.len() == k => Ok(ns.iter().sum()),
        other => Err(SideError {
            side: side.name(),
            message: format!("{id}: unexpected reply to a turn of {k}: {other:?}"),
        }),
    }
}

/// The pairs of one benchmark: ratios head/base and each side's time per batch.
#[derive(Default)]
struct Pairs {
    ratios: Vec<f64>,
    base_ns: Vec<f64>,
    head_ns: Vec<f64>,
}

impl Pairs {
    fn extend(&mut self, other: Pairs) {
        self.ratios.extend(other.ratios);
        self.base_ns.extend(other.base_ns);
        self.head_ns.extend(other.head_ns);
    }
}

/// Where one benchmark's pairs come from: both sides, the rule and the limits.
struct Gating<'a> {
    id: &'a str,
    base: &'a mut Side,
    head: &'a mut Side,
    rule: &'a Rule,
    budget: Duration,
    timeout: Duration,
    /// Starts a new process of the named side.
    fresh: &'a dyn Fn(&'static str) -> Result<Side, SideError>,
}

/// Gates one benchmark. A regressed or improved verdict must be confirmed by a second block
/// of pairs, from new processes of both sides (new pools, new warm-up, new placement on the
/// cores), measured later: a host phase or a process's placement that favoured one side for a
/// whole block does not repeat on demand, a slower (or faster) build does. When the second
/// block does not say the same, the verdict is inconclusive: reported, not failed.
fn gate_one(g: &mut Gating, rng: &mut SplitMix) -> Result<Row, GateError> {
    let mut pairs = Pairs::default();
    let (mut verdict, k) = block(g, rng, &mut pairs)?;
    let mut blocks = 1;
    if matches!(verdict, Verdict::Regressed | Verdict::Improved) {
        // The old processes quit and are reaped as they are replaced.
        *g.base = (g.fresh)(g.base.name())?;
        *g.head = (g.fresh)(g.head.name())?;
        let mut again = Pairs::default();
        let (confirmed, _) = block(g, rng, &mut again)?;
        blocks = 2;
        if confirmed != verdict {
            verdict = Verdict::Inconclusive;
        }
        pairs.extend(again);
    }
    Ok(Row {
        id: g.id.to_string(),
        base_ms: Some(median(&pairs.base_ns) / 1e6),
        head_ms: Some(median(&pairs.head_ns) / 1e6),
        ratio: Some(Rule::estimate(&pairs.ratios)),
        spread: Some(half_iqr(&pairs.ratios)),
        pairs: pairs.ratios.len(),
        blocks,
        k,
        verdict,
        missing_on: None,
    })
}

/// One block: prepares both sides, sizes the turn, and takes pairs into `pairs` until the
/// rule's verdict is clear at a look or the budget is spent. Returns the verdict and k.
fn block(
    g: &mut Gating,
    rng: &mut SplitMix,
    pairs: &mut Pairs,
) -> Result<(Verdict, usize), GateError> {
    let (id, timeout) = (g.id, g.timeout);
    prepare(g.base, id, timeout)?;
    prepare(g.head, id, timeout)?;
    // One settling turn each, also sizing k: the slower side's batch sets it.
    let one = turn(g.base, id, 1, timeout)?.max(turn(g.head, id, 1, timeout)?);
    let k = ((TURN_TARGET.as_nanos() as f64 / one.max(1) as f64).round() as usize)
        .clamp(1, MAX_TURN_BATCHES);
    let started = Instant::now();
    let verdict = loop {
        let (b, h) = if rng.next_u64() & 1 == 0 {
            let b = turn(g.base, id, k, timeout)?;
            (b, turn(g.head, id, k, timeout)?)
        } else {
            let h = turn(g.head, id, k, timeout)?;
            (turn(g.base, id, k, timeout)?, h)
        };
        pairs.ratios.push(h as f64 / b.max(1) as f64);
        pairs.base_ns.push(b as f64 / k as f64);
        pairs.head_ns.push(h as f64 / k as f64);
        if let Some(v) = g.rule.early(&pairs.ratios) {
            break v;
        }
        if started.elapsed() >= g.budget || pairs.ratios.len() >= crate::engine::rounds::MAX_ROUNDS
        {
            break g.rule.last(&pairs.ratios);
        }
    };
    Ok((verdict, k))
}

/// Half the interquartile range of ratios around 1: how noisy one pair is.
pub fn half_iqr(ratios: &[f64]) -> f64 {
    if ratios.iter().filter(|r| r.is_finite()).count() < 4 {
        return f64::NAN;
    }
    let q = |p: f64| crate::stats::quantile(ratios, p);
    (q(0.75) - q(0.25)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_list_is_the_twenty_calibrated_benchmarks_without_the_py_family() {
        let filter = Regex::new(DEFAULT_FILTER).unwrap();
        let ids: Vec<String> = crate::serve::ids()
            .into_iter()
            .filter(|id| filter.is_match(id))
            .collect();
        assert_eq!(ids.len(), 20, "{ids:?}");
        assert!(ids.iter().all(|id| !id.contains("/py-")), "{ids:?}");
    }
}
