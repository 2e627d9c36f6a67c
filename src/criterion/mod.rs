//! The one Criterion reader: every workload benchmark under a Criterion directory, with its
//! sidecar of paired rounds ([`sidecar`]) when it has one that belongs to Criterion's result.
//!
//! A benchmark is read from `<group>/<function>/<param>/new/`: Criterion's `sample.json`
//! and parbench's `parbench.json`. What cannot be judged (no sidecar, as for results of an
//! older parbench or a plain Criterion run; a sidecar from another run than Criterion's
//! sample; a corrupt file; another schema version) is kept with the reason, for the page to
//! name. Only a missing directory, or one without any workload benchmark, is an error.

pub mod sidecar;

use crate::error::UsageError;
use crate::report::BenchId;
use serde::Deserialize;
use sidecar::Sidecar;
use std::path::{Path, PathBuf};

/// One benchmark directory found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The benchmark, from its directory names.
    pub id: BenchId,
    /// Its directory relative to the Criterion directory, for links.
    pub dir: String,
    /// What was read.
    pub status: Status,
}

/// What a benchmark directory held.
#[derive(Debug, Clone)]
pub enum Status {
    /// A sidecar that belongs to Criterion's result.
    Rounds(Box<Sidecar>),
    /// Criterion's result only (an older parbench, a plain Criterion run).
    NoSidecar,
    /// A sidecar that cannot be used, and why (another run, another version, corrupt).
    Unusable(String),
}

/// Everything read from one Criterion directory.
#[derive(Debug, Clone)]
pub struct Results {
    /// The Criterion directory.
    pub root: PathBuf,
    /// Every workload benchmark found, sorted by id.
    pub found: Vec<Found>,
}

/// Criterion's directory for results, as Criterion finds it: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `target/criterion`.
pub fn default_dir() -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(home) = env("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = env("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from("target/criterion")
}

/// The directory of a benchmark's latest result: `<root>/<workload>/<executor>/<W>/new`.
pub fn result_dir(root: &Path, id: &BenchId) -> PathBuf {
    root.join(&id.workload)
        .join(&id.executor)
        .join(id.workers.to_string())
        .join("new")
}

/// Writes a sidecar into its benchmark's result directory, atomically.
pub fn write(root: &Path, side: &Sidecar) -> Result<PathBuf, crate::error::Error> {
    let id = side.bench_id()?;
    let dir = result_dir(root, &id);
    std::fs::create_dir_all(&dir).map_err(|e| crate::error::Error::io(&dir, e))?;
    let file = dir.join(sidecar::FILE);
    let text = serde_json::to_string(side).expect("a sidecar serialises");
    crate::output::write_atomic(&file, text.as_bytes())
        .map_err(|e| crate::error::Error::io(&file, e))?;
    Ok(file)
}

/// Reads every workload benchmark under `root`: `<workload>/<executor>/<W>/new/` for each
/// workload of the registry.
pub fn read(root: &Path) -> Result<Results, UsageError> {
    if !root.is_dir() {
        return Err(UsageError::new(format!(
            "criterion directory {}: not found (run `cargo bench` first, or pass --criterion-dir)",
            root.display()
        )));
    }
    let mut found = Vec::new();
    for workload in crate::workload::names() {
        for function in subdirs(&root.join(workload)) {
            for param in subdirs(&root.join(workload).join(&function)) {
                let Ok(workers) = param.parse::<usize>() else {
                    continue;
                };
                let id = BenchId {
                    workload: workload.to_string(),
                    executor: function.clone(),
                    workers,
                };
                let new = result_dir(root, &id);
                if !new.is_dir() {
                    continue;
                }
                found.push(Found {
                    dir: format!("{workload}/{function}/{param}"),
                    status: status(&new, &id),
                    id,
                });
            }
        }
    }
    if found.is_empty() {
        return Err(UsageError::new(format!(
            "no parbench results under {} (expected <workload>/<executor>/<workers>/new/; run `cargo bench`)",
            root.display()
        )));
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Results {
        root: root.to_path_buf(),
        found,
    })
}

/// Names of the directories in `dir` (none when it cannot be read), sorted, Criterion's
/// `report` left out.
fn subdirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != "report")
        .collect();
    names.sort();
    names
}

#[derive(Deserialize)]
struct SampleJson {
    times: Vec<f64>,
}

/// The status of one result directory.
fn status(new: &Path, id: &BenchId) -> Status {
    let file = new.join(sidecar::FILE);
    if !file.is_file() {
        return Status::NoSidecar;
    }
    match read_sidecar(&file, id).and_then(|s| belongs(new, &s).map(|()| s)) {
        Ok(s) => Status::Rounds(Box::new(s)),
        Err(why) => Status::Unusable(why),
    }
}

/// Reads and checks one sidecar: its schema, version, id and rounds.
pub fn read_sidecar(file: &Path, id: &BenchId) -> Result<Sidecar, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: corrupt JSON: {e}", file.display()))?;
    let schema = value.get("schema").and_then(|v| v.as_str());
    let version = value.get("version").and_then(|v| v.as_u64());
    if schema != Some(sidecar::SCHEMA) {
        return Err(format!(
            "{}: not a parbench sidecar (schema {schema:?})",
            file.display()
        ));
    }
    if version != Some(sidecar::VERSION as u64) {
        return Err(format!(
            "{}: sidecar version {}, this parbench reads version {}; rerun `cargo bench`",
            file.display(),
            version.map_or("unknown".into(), |v| v.to_string()),
            sidecar::VERSION
        ));
    }
    let side: Sidecar = serde_json::from_value(value)
        .map_err(|e| format!("{}: corrupt sidecar: {e}", file.display()))?;
    if side.id != id.to_string() {
        return Err(format!(
            "{}: sidecar of {}, found under {id}",
            file.display(),
            side.id
        ));
    }
    let positive = |t: f64| t.is_finite() && t > 0.0;
    let bad_round = side
        .rounds
        .iter()
        .any(|r| !positive(r.baseline_s) || !positive(r.executor_s));
    let probes = side.rounds.iter().filter(|r| r.probe.is_some()).count();
    if side.rounds.is_empty() || bad_round || (probes != 0 && probes != side.rounds.len()) {
        return Err(format!(
            "{}: corrupt sidecar: no rounds, a time that is not positive, or rounds with and without a probe",
            file.display()
        ));
    }
    Ok(side)
}

/// `Ok` when every one of Criterion's samples in `new/sample.json` is a time this sidecar
/// handed to Criterion: the two come from one run. Otherwise why not (a later plain Criterion
/// run, a sidecar copied from elsewhere).
fn belongs(new: &Path, side: &Sidecar) -> Result<(), String> {
    let file = new.join("sample.json");
    let text = std::fs::read_to_string(&file).map_err(|_| {
        format!(
            "{}: missing, so its rounds cannot be matched to a Criterion result",
            file.display()
        )
    })?;
    let sample: SampleJson = serde_json::from_str(&text)
        .map_err(|e| format!("{}: corrupt JSON: {e}", file.display()))?;
    let mut handed: Vec<u64> = side.criterion_ns.clone();
    handed.sort_unstable();
    for t in &sample.times {
        let at = handed
            .iter()
            .position(|h| (*h as f64 - t).abs() < 1.0)
            .ok_or_else(|| {
                format!(
                    "stale: Criterion's sample in {} is from another run than {}",
                    file.display(),
                    sidecar::FILE
                )
            })?;
        handed.remove(at);
    }
    Ok(())
}

/// The results to judge, as the rows `parbench run` prints, and a note for every benchmark
/// left out (no sidecar, unusable, or from another profile or settings than the rest of its
/// workload).
#[derive(Debug, Clone)]
pub struct Judged {
    /// The rows, in the machine's report.
    pub report: crate::report::Report,
    /// One line per benchmark (or group of them) not judged, and why.
    pub notes: Vec<String>,
}

impl Results {
    /// Picks, per workload, the benchmarks that can be judged together: those with a usable
    /// sidecar whose profile, workload parameters and host match the most benchmarks of the
    /// workload (the newest run's on a tie). The rest are named, never judged: a quick rerun
    /// of one benchmark after a full run is set against nothing.
    pub fn judged(&self) -> Judged {
        let mut notes = Vec::new();
        let mut results = Vec::new();
        let mut cores = 0;
        let mut commit = None;
        let mut without = Vec::new();
        for workload in crate::workload::names() {
            let mine: Vec<&Found> = self
                .found
                .iter()
                .filter(|f| f.id.workload == workload)
                .collect();
            let mut keys: Vec<(String, usize, u64)> = Vec::new();
            for f in &mine {
                match &f.status {
                    Status::Rounds(s) => {
                        let key = s.comparable_key();
                        match keys.iter_mut().find(|k| k.0 == key) {
                            Some(k) => {
                                k.1 += 1;
                                k.2 = k.2.max(s.run_started_ns);
                            }
                            None => keys.push((key, 1, s.run_started_ns)),
                        }
                    }
                    Status::NoSidecar => without.push(f.id.to_string()),
                    Status::Unusable(why) => notes.push(format!("{}: not judged: {why}", f.id)),
                }
            }
            let Some((best, ..)) = keys.iter().max_by_key(|k| (k.1, k.2)).cloned() else {
                continue;
            };
            let mut other = Vec::new();
            for f in &mine {
                let Status::Rounds(s) = &f.status else {
                    continue;
                };
                if s.comparable_key() != best {
                    other.push(format!("{} ({} profile)", f.id, s.profile));
                    continue;
                }
                match s.to_result() {
                    Ok(r) => {
                        cores = s.host_cores;
                        commit = commit.or_else(|| s.commit.clone());
                        results.push(r);
                    }
                    Err(e) => notes.push(format!("{}: not judged: {e}", f.id)),
                }
            }
            if !other.is_empty() {
                notes.push(format!(
                    "{workload}: not judged with the rest (another profile or other settings than its other {} results): {}",
                    mine.len() - other.len(),
                    crate::error::list_capped(&other)
                ));
            }
        }
        if !without.is_empty() {
            notes.push(format!(
                "not judged, no parbench rounds beside Criterion's result (an older parbench, a plain Criterion run or a saved baseline): {}",
                crate::error::list_capped(&without)
            ));
        }
        // Registry order: workloads, then executors, then worker counts, as `run` prints them.
        let rank = |r: &crate::report::RunResult| {
            let w = crate::workload::names()
                .iter()
                .position(|n| *n == r.workload);
            let e = crate::executor::rank_of(&r.executor);
            (w, e, r.workers)
        };
        results.sort_by_key(rank);
        crate::engine::analysis::fill_serial_fractions(&mut results, cores.max(1));
        let machine = crate::report::Machine {
            cores,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            commit,
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        Judged {
            report: crate::report::Report {
                machine,
                results,
                partial: false,
            },
            notes,
        }
    }
}
