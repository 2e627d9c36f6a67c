//! Reading Criterion's saved baselines from disk.
//!
//! Criterion 0.8 writes `<dir>/<bench dir>/<baseline>/{estimates,benchmark,sample}.json`, where
//! `<bench dir>` is `<group>/<function>/<param>` with characters unsafe for file names replaced.
//! The true id is `full_id` in `benchmark.json`, so that is what rows are named by. Any directory
//! holding an `estimates.json` is a baseline directory (`new`, `base`, `head_3`, ...); its parent
//! is a benchmark directory.

use crate::error::UsageError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Which number of a saved baseline stands for it.
///
/// `median` is Criterion's median time per iteration (`estimates.json`), the spec's default.
/// `min` is the fastest sample's time per iteration (`sample.json`): on a host that slows a
/// vCPU by bursts (another tenant on the SMT sibling), the median of a short pass can fall
/// inside one burst, while a pass of a few seconds nearly always holds some undisturbed
/// samples, and CPU-bound code cannot run faster than undisturbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Statistic {
    /// Criterion's `median.point_estimate`.
    #[default]
    Median,
    /// The fastest sample: `min(times[i] / iters[i])` from `sample.json`.
    Min,
}

impl Statistic {
    /// Lower-case name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Median => "median",
            Statistic::Min => "min",
        }
    }

    /// What one baseline's number is, in words for the reports.
    pub fn describe(self) -> &'static str {
        match self {
            Statistic::Median => "Criterion's median",
            Statistic::Min => "fastest sample",
        }
    }
}

/// One benchmark found on disk, with the chosen statistic of the requested baselines.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Criterion's `full_id`, or the directory path relative to the root when it is unknown.
    pub id: String,
    /// The benchmark directory (parent of the baseline directories).
    pub dir: PathBuf,
    /// Time per iteration (ns) for each base baseline, in the order given.
    pub base: Vec<Option<f64>>,
    /// Time per iteration (ns) for each head baseline, in the order given.
    pub head: Vec<Option<f64>>,
    /// Criterion's last relative change of the median, from `change/estimates.json` (read
    /// only for the median statistic, which that interval is about).
    pub change: Option<ChangeInterval>,
}

/// Criterion's estimate of the relative change of the median (0.05 = 5% slower) and its
/// bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ChangeInterval {
    /// Point estimate of the relative change.
    pub point: f64,
    /// Lower bound of the interval.
    pub lower: f64,
    /// Upper bound of the interval.
    pub upper: f64,
    /// Confidence level of the interval (0.95 by default).
    pub level: f64,
}

#[derive(Deserialize)]
struct Interval {
    confidence_level: f64,
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Deserialize)]
struct SampleJson {
    iters: Vec<f64>,
    times: Vec<f64>,
}

#[derive(Deserialize)]
struct BenchmarkJson {
    full_id: Option<String>,
}

/// Names Criterion uses for directories that are not benchmarks.
const NOT_BENCHMARKS: [&str; 3] = ["report", "change", "new"];

/// Walks `root` and returns every benchmark directory with the `statistic` of each baseline
/// of `base` and `head`.
///
/// Errors (all exit 2) name the offending file: a missing or unreadable root, a directory
/// with no Criterion data at all, or corrupt JSON.
pub fn load(
    root: &Path,
    base: &[String],
    head: &[String],
    statistic: Statistic,
) -> Result<Vec<Found>, UsageError> {
    let meta = std::fs::metadata(root).map_err(|e| {
        UsageError::new(format!(
            "criterion directory {}: {e} (run the benches first, or pass --criterion-dir)",
            root.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(UsageError::new(format!(
            "criterion directory {} is not a directory",
            root.display()
        )));
    }
    let mut dirs = Vec::new();
    walk(root, &mut dirs)?;
    if dirs.is_empty() {
        return Err(UsageError::new(format!(
            "no Criterion benchmarks under {} (no */<baseline>/estimates.json found)",
            root.display()
        )));
    }
    dirs.sort();
    let mut found = Vec::with_capacity(dirs.len());
    for dir in dirs {
        found.push(read_benchmark(root, &dir, base, head, statistic)?);
    }
    Ok(found)
}

/// Collects benchmark directories: those with at least one child holding `estimates.json`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), UsageError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| UsageError::new(format!("reading {}: {e}", dir.display())))?;
    let mut is_benchmark = false;
    let mut children = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| UsageError::new(format!("reading {}: {e}", dir.display())))?;
        let path = entry.path();
        // Symbolic links are not followed: Criterion makes none, and a loop would never end.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if path.join("estimates.json").is_file() {
            // A baseline directory: its parent is a benchmark; never descend into it.
            is_benchmark = true;
        } else if !NOT_BENCHMARKS.iter().any(|n| entry.file_name() == *n) {
            children.push(path);
        }
    }
    if is_benchmark {
        out.push(dir.to_path_buf());
    }
    for child in children {
        walk(&child, out)?;
    }
    Ok(())
}

fn read_benchmark(
    root: &Path,
    dir: &Path,
    base: &[String],
    head: &[String],
    statistic: Statistic,
) -> Result<Found, UsageError> {
    // A baseline exists when Criterion wrote its estimates; the statistic may live beside them.
    let value = |name: &String| -> Result<Option<f64>, UsageError> {
        let baseline = dir.join(name);
        let estimates = baseline.join("estimates.json");
        if !estimates.is_file() {
            return Ok(None);
        }
        let (file, value) = match statistic {
            Statistic::Median => {
                let est: Estimates = parse(&estimates)?;
                (estimates, est.median.point_estimate)
            }
            Statistic::Min => {
                let file = baseline.join("sample.json");
                let value = fastest_sample(&file)?;
                (file, value)
            }
        };
        if !(value.is_finite() && value > 0.0) {
            return Err(UsageError::new(format!(
                "{}: {} time per iteration is {value}, not a positive time",
                file.display(),
                statistic.as_str()
            )));
        }
        Ok(Some(value))
    };
    let base_values = base.iter().map(value).collect::<Result<Vec<_>, _>>()?;
    let head_values = head.iter().map(value).collect::<Result<Vec<_>, _>>()?;
    let change = match statistic {
        Statistic::Median => read_change(dir)?,
        Statistic::Min => None,
    };
    Ok(Found {
        id: read_id(root, dir, base, head)?,
        dir: dir.to_path_buf(),
        base: base_values,
        head: head_values,
        change,
    })
}

/// The fastest sample's time per iteration in `sample.json`.
fn fastest_sample(file: &Path) -> Result<f64, UsageError> {
    let sample: SampleJson = parse(file)?;
    if sample.iters.len() != sample.times.len() || sample.iters.is_empty() {
        return Err(UsageError::new(format!(
            "{}: iters and times must be non-empty and of equal length",
            file.display()
        )));
    }
    sample
        .times
        .iter()
        .zip(&sample.iters)
        .map(|(t, n)| t / n)
        .filter(|x| x.is_finite())
        .min_by(f64::total_cmp)
        .ok_or_else(|| UsageError::new(format!("{}: no finite time per iteration", file.display())))
}

/// The id from the first `benchmark.json` found in the named baselines or `new`, else the path.
fn read_id(
    root: &Path,
    dir: &Path,
    base: &[String],
    head: &[String],
) -> Result<String, UsageError> {
    let candidates = base
        .iter()
        .chain(head)
        .map(String::as_str)
        .chain(std::iter::once("new"));
    for name in candidates {
        let file = dir.join(name).join("benchmark.json");
        if file.is_file() {
            let b: BenchmarkJson = parse(&file)?;
            if let Some(id) = b.full_id.filter(|s| !s.is_empty()) {
                return Ok(id);
            }
        }
    }
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/"))
}

fn read_change(dir: &Path) -> Result<Option<ChangeInterval>, UsageError> {
    let file = dir.join("change").join("estimates.json");
    if !file.is_file() {
        return Ok(None);
    }
    let est: Estimates = parse(&file)?;
    let m = est.median;
    let ci = m.confidence_interval;
    let all_finite = [
        m.point_estimate,
        ci.lower_bound,
        ci.upper_bound,
        ci.confidence_level,
    ]
    .iter()
    .all(|x| x.is_finite());
    if !all_finite || ci.lower_bound > ci.upper_bound {
        return Err(UsageError::new(format!(
            "{}: median change interval is not a finite [lower, upper]",
            file.display()
        )));
    }
    Ok(Some(ChangeInterval {
        point: m.point_estimate,
        lower: ci.lower_bound,
        upper: ci.upper_bound,
        level: ci.confidence_level,
    }))
}

fn parse<T: serde::de::DeserializeOwned>(file: &Path) -> Result<T, UsageError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError::new(format!("{}: {e}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| UsageError::new(format!("{}: corrupt JSON: {e}", file.display())))
}
