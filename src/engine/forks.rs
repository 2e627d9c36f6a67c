//! Forks: one run measured in several fresh parbench processes, one after another, and their
//! rounds merged, so that the intervals include what lasts as long as a process.
//!
//! Blocks spread over a run cancel what lasts a block or a few seconds of the host. They
//! cannot show what lasts the whole process: measured here (docs/method.md), ten back-to-back
//! cpu runs' eff/ceil at 2 workers moved from run to run by a standard deviation of 0.011-0.013
//! for pool, rayon and process, where the windows inside each run agreed to 0.002-0.004, so
//! one run's interval routinely excluded the next run's answer. As JMH runs every benchmark in
//! several fresh JVMs and pyperf in 20 worker processes, `parbench run` runs its sweep in
//! `--forks` child processes of itself (new address layout, allocator, pools, and a later
//! stretch of the host), each with its share of the rounds and of the budget, and the
//! intervals resample whole forks ([`Rounds::push_at`] with the fork's index).
//!
//! A child is the same command line with [`ENV`] set: it measures quietly and writes its
//! report, every round's samples included, to a file its parent names; the parent merges the
//! reports with the engine's own estimators.

use super::rounds::{Policy, Rounds, StoredRound};
use super::sweep::{host_note, SweepConfig, SHORT_SHARE};
use crate::error::{Error, Result, UsageError};
use crate::report::{Machine, Report, RoundSamples, RunResult, Spread};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Forks of `parbench run` unless `--forks` says otherwise.
pub const DEFAULT_FORKS: usize = 5;
use crate::validate::MAX_FORKS;
/// The environment variable that makes a `parbench run` a fork of its parent:
/// `INDEX/FORKS/SECONDS_LEFT/PATH` (SECONDS_LEFT of `--max-time`, `-` for none).
pub const ENV: &str = "PARBENCH_FORK";

/// True in a fork of a parent run: it prints nothing of its own, its parent speaks for it.
pub fn is_fork() -> bool {
    std::env::var_os(ENV).is_some()
}

/// What a fork was told by its parent.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    /// This fork's index, 0-based.
    pub index: usize,
    /// Forks in the run.
    pub forks: usize,
    /// What is left of the run's `--max-time` for this fork.
    pub left: Option<Duration>,
    /// Where to write the report.
    pub out: PathBuf,
}

impl Child {
    /// The fork this process is, if its parent made it one; an error for a malformed value
    /// (only parbench sets it).
    pub fn from_env() -> Result<Option<Child>, UsageError> {
        match std::env::var_os(ENV) {
            None => Ok(None),
            Some(v) => Child::parse(&v.to_string_lossy()).map(Some),
        }
    }

    fn parse(value: &str) -> Result<Child, UsageError> {
        let bad = || UsageError::new(format!("{ENV}={value:?} is not INDEX/FORKS/LEFT/PATH"));
        let mut parts = value.splitn(4, '/');
        let mut next = || parts.next().ok_or_else(bad);
        let index: usize = next()?.parse().map_err(|_| bad())?;
        let forks: usize = next()?.parse().map_err(|_| bad())?;
        let left = match next()? {
            "-" => None,
            s => Some(
                s.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(bad)?,
            ),
        };
        // The rest is the path, which may hold '/'.
        let out = PathBuf::from(format!("/{}", next()?));
        if index >= forks || forks > MAX_FORKS {
            return Err(bad());
        }
        Ok(Child {
            index,
            forks,
            left,
            out,
        })
    }

    fn value(&self) -> String {
        let left = self
            .left
            .map_or("-".to_string(), |d| format!("{}", d.as_secs_f64()));
        // PATH is absolute: its leading '/' is the separator.
        format!("{}/{}/{left}{}", self.index, self.forks, self.out.display())
    }

    /// The parent's policy, for one fork of `forks`: its share of the minimum (whole blocks)
    /// and of the budget, and a target wider by sqrt(forks), since the merged interval
    /// counts the rounds of every fork. A fork's own rounds need not span windows of the
    /// host: the forks are the clusters.
    pub fn policy(&self, parent: Policy) -> Policy {
        let blocks = parent.min_blocks().div_ceil(self.forks).max(1);
        Policy {
            min_rounds: (blocks * super::rounds::BLOCK_ROUNDS).min(parent.min_rounds.max(1)),
            target_half_width: parent.target_half_width * (self.forks as f64).sqrt(),
            budget: parent.budget.div_f64(self.forks as f64),
            min_windows: 1,
        }
    }

    /// Where the fork's error goes, for its parent to say.
    fn error_path(&self) -> PathBuf {
        self.out.with_extension("err")
    }

    /// Hands the fork's error to its parent: its exit status `code` and its one-line `text`
    /// (the fork itself prints nothing).
    pub fn fail(&self, code: i32, text: &str) {
        let text = format!("{code}\n{text}");
        // Without the file the parent still names the fork and its status.
        let _ = crate::output::write_atomic(&self.error_path(), text.as_bytes());
    }

    /// What [`Child::fail`] handed over, if anything.
    fn failure(&self) -> Option<Error> {
        let text = std::fs::read_to_string(self.error_path()).ok()?;
        let (code, message) = text.split_once('\n')?;
        Some(Error::Fork {
            message: message.to_string(),
            code: code.parse().ok()?,
        })
    }

    /// Writes the fork's report, whole or partial, for the parent to read.
    pub fn write(&self, report: &Report) -> Result<()> {
        let json = serde_json::to_vec(report).map_err(|e| Error::Output(e.to_string()))?;
        crate::output::write_atomic(&self.out, &json).map_err(|source| Error::Io {
            path: self.out.display().to_string(),
            source,
        })
    }
}

/// What the forks measured, merged, and why they stopped early, if they did.
pub struct Forked {
    /// The merged report.
    pub report: Report,
    /// What stopped the run early.
    pub stopped: Option<Error>,
}

/// Runs `forks` children of this process, one after another, each the same command line
/// (`args`, without the program) as a fork, and merges their reports. `on_fork(i)` is
/// called as fork i starts. A fork that fails or is stopped ends the run: the forks that
/// wrote a report are still merged, marked partial.
pub fn run(
    cfg: &SweepConfig,
    args: &[std::ffi::OsString],
    forks: usize,
    on_fork: &mut dyn FnMut(usize),
) -> Forked {
    let (cores, max_time) = (cfg.cores, cfg.max_time);
    // Described here only if no fork wrote a report: each fork describes it (the python
    // interpreter's probe included) on its own.
    let machine = || super::sweep::machine(cfg);
    let started = Instant::now();
    let mut reports: Vec<(usize, f64, Report)> = Vec::new();
    let mut stopped = None;
    let dir = match tempfile::Builder::new().prefix("parbench-forks").tempdir() {
        Ok(d) => d,
        Err(source) => {
            return Forked {
                report: merge(Vec::new(), machine, cores),
                stopped: Some(Error::Io {
                    path: std::env::temp_dir().display().to_string(),
                    source,
                }),
            }
        }
    };
    // Removed by the stop watcher too, should this process have to exit without cleanup.
    let _temp = crate::interrupt::register_temp(dir.path());
    for index in 0..forks {
        if let Err(e) = crate::interrupt::check() {
            stopped = Some(e);
            break;
        }
        let left = max_time.map(|m| m.saturating_sub(started.elapsed()));
        if left.is_some_and(|l| l.is_zero()) {
            stopped = max_time.map(|m| Error::MaxTime(m.as_secs_f64()));
            break;
        }
        on_fork(index);
        let child = Child {
            index,
            forks,
            left,
            out: dir.path().join(format!("fork-{index}.json")),
        };
        let offset_s = started.elapsed().as_secs_f64();
        let status = spawn(args, &child);
        if let Some(report) = read(&child.out) {
            reports.push((index, offset_s, report));
        }
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                stopped = Some(match (crate::interrupt::signal(), child.failure()) {
                    (Some(sig), _) => Error::Interrupted(sig),
                    (None, Some(failure)) => failure,
                    (None, None) => Error::Executor {
                        executor: format!("fork {} of {forks}", index + 1),
                        message: format!("ended with {s}"),
                    },
                });
                break;
            }
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
        if reports.last().is_some_and(|r| r.2.partial) {
            // A fork stops early only at --max-time once its parent lets it finish.
            stopped = max_time.map(|m| Error::MaxTime(m.as_secs_f64()));
            break;
        }
    }
    let mut report = merge(reports, machine, cores);
    report.partial |= stopped.is_some();
    Forked { report, stopped }
}

/// Runs one fork to its end. A stop signal that reaches this process is passed on to the
/// fork (a `kill` names one process; Ctrl-C in a terminal reaches both), which writes what it
/// finished and exits; the fork also dies with this process (`PR_SET_PDEATHSIG`), so none is
/// left running.
fn spawn(args: &[std::ffi::OsString], child: &Child) -> Result<std::process::ExitStatus> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: "the parbench executable".into(),
        source,
    })?;
    let io = |source| Error::Io {
        path: exe.display().to_string(),
        source,
    };
    let mut command = std::process::Command::new(&exe);
    command
        .args(args)
        .env(ENV, child.value())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    // SAFETY: prctl and the signal calls in default_actions_in_child are async-signal-safe
    // and touch only the child's own state.
    unsafe {
        command.pre_exec(|| {
            crate::interrupt::default_actions_in_child();
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut running = command.spawn().map_err(io)?;
    loop {
        if let Some(status) = running.try_wait().map_err(io)? {
            return Ok(status);
        }
        if let Some(sig) = crate::interrupt::signal() {
            // SAFETY: signalling our own child, which has not been reaped (try_wait above).
            unsafe { libc::kill(running.id() as i32, sig) };
            return running.wait().map_err(io);
        }
        // Asleep until a stop signal or a tenth of a second: the fork's measurements share
        // the cores with this loop.
        match crate::interrupt::wake_fd() {
            Some(fd) => {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd we own.
                unsafe { libc::poll(&mut pfd, 1, 100) };
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A fork's report, if it wrote one that parses.
fn read(path: &Path) -> Option<Report> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One report from the forks' reports (`(index, start on the parent's clock, report)`): each
/// configuration's rounds from every fork that measured it, estimated again with the forks as
/// the clusters; the machine as the first fork saw it (`machine()` without one), with the host
/// note over every round.
pub fn merge(
    reports: Vec<(usize, f64, Report)>,
    machine: impl FnOnce() -> Machine,
    cores: usize,
) -> Report {
    let partial = reports.iter().any(|(_, _, r)| r.partial);
    let mut machine = reports
        .first()
        .map_or_else(machine, |(_, _, r)| r.machine.clone());
    let mut keys: Vec<(String, String, usize)> = Vec::new();
    for (_, _, r) in &reports {
        for x in &r.results {
            let key = (x.workload.clone(), x.executor.clone(), x.workers);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    // Every configuration's rows merged first: the ceilings of a workload's configurations
    // share one estimate of the baseline's work, from all their rounds.
    let mut merged: Vec<(RunResult, Option<Rounds>, usize)> = keys
        .iter()
        .map(|(workload, executor, workers)| {
            let parts: Vec<(usize, f64, &RunResult)> = reports
                .iter()
                .flat_map(|(i, at, r)| {
                    r.results
                        .iter()
                        .filter(|x| {
                            &x.workload == workload
                                && &x.executor == executor
                                && x.workers == *workers
                        })
                        .map(move |x| (*i, *at, x))
                })
                .collect();
            let (row, rounds) = merge_rows(&parts);
            (row, rounds, (*workers).min(cores).max(1))
        })
        .collect();
    let mut workloads: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
    workloads.dedup();
    for workload in &workloads {
        let mut measured: Vec<(&str, &mut Rounds)> = merged
            .iter_mut()
            .filter(|(row, _, _)| &row.workload == workload)
            .filter_map(|(row, rounds, _)| rounds.as_mut().map(|r| (row.executor.as_str(), r)))
            .collect();
        super::sweep::share_work(&mut measured);
    }
    let (mut short, mut counted, mut short_cores) = (0, 0, Vec::new());
    let mut results = Vec::with_capacity(merged.len());
    for (mut row, rounds, c) in merged {
        if let Some(rounds) = rounds {
            rounds.estimate_into(&mut row, c);
            if c > 1 {
                short += rounds.short_rounds(c, SHORT_SHARE);
                counted += rounds.len();
                if !short_cores.contains(&c) {
                    short_cores.push(c);
                }
            }
        }
        results.push(row);
    }
    machine.note = host_note(short, counted, &short_cores);
    crate::engine::analysis::fill_serial_fractions(&mut results, cores);
    Report {
        machine,
        results,
        partial,
    }
}

/// One configuration's rows from several forks, as one row, with its merged rounds (`None`
/// for a baseline's row, which has no rounds of its own); the estimates are filled in from
/// the rounds afterwards.
fn merge_rows(parts: &[(usize, f64, &RunResult)]) -> (RunResult, Option<Rounds>) {
    let with_samples: Vec<_> = parts.iter().filter(|p| p.2.samples.is_some()).collect();
    if with_samples.is_empty() {
        // A baseline's row: its batches are the paired rounds of the other rows.
        let mut row = parts[0].2.clone();
        let medians: Vec<f64> = parts.iter().map(|p| p.2.wall_s.median).collect();
        row.wall_s = Spread {
            median: crate::stats::median(&medians),
            min: parts
                .iter()
                .map(|p| p.2.wall_s.min)
                .fold(f64::INFINITY, f64::min),
            max: parts.iter().map(|p| p.2.wall_s.max).fold(0.0, f64::max),
        };
        row.rounds = parts.iter().map(|p| p.2.rounds).sum();
        return (row, None);
    }
    let mut rounds = Rounds::default();
    for (fork, offset_s, row) in &with_samples {
        let samples = row.samples.as_ref().expect("filtered above");
        extend(&mut rounds, samples, *fork, *offset_s);
    }
    let walls: Vec<f64> = rounds.batches.iter().map(|m| m.batch.wall_s).collect();
    let wall_s = Spread::of(&walls);
    // The fork whose own median is nearest the merged one stands for the counters and the
    // timeline, as the representative batch does within a run.
    let (_, _, base) = with_samples
        .iter()
        .min_by(|a, b| {
            let d = |r: &RunResult| (r.wall_s.median - wall_s.median).abs();
            d(a.2).total_cmp(&d(b.2))
        })
        .expect("at least one");
    let mut row = (*base).clone();
    let scale = wall_s.median / row.wall_s.median;
    row.bytes_per_s = row.bytes_per_s.map(|b| b / scale);
    row.vs_native = row.vs_native.map(|v| v * scale);
    row.wall_over_ideal = row.ideal_s.map(|i| wall_s.median / i);
    row.wall_s = wall_s;
    (row, Some(rounds))
}

/// Adds one fork's rounds to `rounds`: each round in process `fork`, at the fork's time
/// plus `offset_s` on the parent's clock.
fn extend(rounds: &mut Rounds, samples: &RoundSamples, fork: usize, offset_s: f64) {
    rounds.extend_stored((0..samples.wall_s.len()).map(|i| StoredRound {
        block: samples.block[i],
        process: fork,
        at_s: samples.at_s[i] + offset_s,
        baseline_s: samples.baseline_s[i],
        wall_s: samples.wall_s[i],
        cpu_s: 0.0,
        host: samples.hosts.get(i),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fork_reads_what_its_parent_wrote() {
        let child = Child {
            index: 2,
            forks: 5,
            left: Some(Duration::from_secs_f64(12.5)),
            out: PathBuf::from("/tmp/some dir/fork-2.json"),
        };
        assert_eq!(Child::parse(&child.value()).unwrap(), child);
        let open = Child {
            left: None,
            ..child.clone()
        };
        assert_eq!(Child::parse(&open.value()).unwrap(), open);
        for bad in [
            "",
            "1/5",
            "5/5/-/tmp/x",
            "a/5/-/tmp/x",
            "0/5/-1/tmp/x",
            "0/99/-/x",
        ] {
            assert!(Child::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_fork_gets_its_share_of_the_minimum_and_the_budget() {
        let child = Child {
            index: 0,
            forks: 5,
            left: None,
            out: PathBuf::from("/x"),
        };
        let parent = Policy::default();
        let p = child.policy(parent);
        assert_eq!(p.min_rounds, 2 * super::super::rounds::BLOCK_ROUNDS);
        assert_eq!(p.budget, parent.budget / 5);
        assert!((p.target_half_width - parent.target_half_width * 5f64.sqrt()).abs() < 1e-12);
        assert_eq!(p.min_windows, 1);
    }

    /// A fork's report: serial's row and threads/1 whose rounds read `speedup` (+-0.5%),
    /// in `blocks` blocks of 3 rounds.
    fn fork_report(speedup: f64, blocks: usize, partial: bool) -> Report {
        let n = blocks * 3;
        let baseline_s: Vec<f64> = vec![0.020; n];
        let wall_s: Vec<f64> = (0..n)
            .map(|i| 0.020 / speedup * (1.0 + 0.005 * ((i % 3) as f64 - 1.0)))
            .collect();
        let mut row = RunResult::new("cpu", "threads", 1, (8, 1000), Spread::of(&wall_s));
        row.speedup = Some(crate::stats::Estimate::exact(speedup));
        row.samples = Some(RoundSamples {
            block: (0..n).map(|i| i / 3).collect(),
            fork: vec![0; n],
            at_s: (0..n).map(|i| i as f64 * 0.1).collect(),
            baseline_s: baseline_s.clone(),
            wall_s,
            ceiling: vec![1.0; n],
            hosts: Vec::new(),
        });
        let serial = RunResult::new("cpu", "serial", 1, (8, 1000), Spread::of(&baseline_s));
        Report {
            machine: machine(),
            results: vec![serial, row],
            partial,
        }
    }

    fn machine() -> Machine {
        Machine {
            cores: 2,
            cpus: None,
            os: "linux x86_64".into(),
            commit: None,
            version: "test".into(),
            note: None,
            placement: None,
            python: None,
        }
    }

    #[test]
    fn merged_forks_are_the_clusters_and_their_disagreement_widens_the_interval() {
        let agree: Vec<_> = (0..5)
            .map(|i| (i, i as f64 * 10.0, fork_report(0.98, 2, false)))
            .collect();
        let merged = merge(agree, machine, 2);
        assert_eq!(merged.results.len(), 2);
        assert!(!merged.partial);
        let row = &merged.results[1];
        assert_eq!((row.rounds, row.blocks), (30, 10));
        let s = row.speedup.unwrap();
        assert!(
            (s.median - 0.98).abs() < 0.002 && s.hi - s.lo < 0.02,
            "{s:?}"
        );
        let samples = row.samples.as_ref().unwrap();
        assert_eq!(samples.fork.iter().max(), Some(&4));
        assert!(samples.at_s[29] >= 40.0, "on the parent's clock");

        // One process read 0.90 throughout: by window or block that would be a few draws
        // of many; as one fork of five it is a fifth of what the run knows.
        let one_off: Vec<_> = (0..5)
            .map(|i| {
                let s = if i == 2 { 0.90 } else { 0.98 };
                (i, i as f64 * 10.0, fork_report(s, 2, false))
            })
            .collect();
        let wide = merge(one_off, machine, 2).results[1].speedup.unwrap();
        assert!(wide.lo < 0.95 && wide.hi >= 0.98, "{wide:?}");
        assert!(wide.hi - wide.lo > 3.0 * (s.hi - s.lo), "{wide:?} vs {s:?}");
    }

    #[test]
    fn a_partial_fork_makes_a_partial_report_and_the_baseline_row_is_kept() {
        let reports = vec![
            (0, 0.0, fork_report(1.0, 2, false)),
            (1, 5.0, fork_report(1.0, 1, true)),
        ];
        let merged = merge(reports, machine, 2);
        assert!(merged.partial);
        assert_eq!(merged.results[0].executor, "serial");
        assert_eq!(merged.results[1].rounds, 9);
        assert!(merge(Vec::new(), machine, 2).results.is_empty());
    }
}
