//! The profile marker, `<criterion dir>/parbench/profile.json`: which profile and knobs wrote
//! each group's results.
//!
//! Criterion's files do not say how big a task was, so a page that mixed a quick-profile cpu
//! group with a default-profile io group (or a cpu group re-run with another size) would
//! compare unlike things without a word. `cargo bench` records one entry per group run
//! (started before the group, finished after it, dropped again if the group wrote nothing),
//! and each result is attributed to the run whose window holds its file's modification time.

use crate::error::{Error, UsageError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// File name of the marker inside [`super::PAGE_DIR`].
pub const MARKER_FILE: &str = "profile.json";

/// Runs kept per group: enough to attribute the results of several filtered runs.
const KEEP: usize = 16;

/// Tolerance on file times: file systems stamp with a coarse clock (a few ms behind).
const SLACK_NS: u64 = 1_000_000_000;

/// Knobs that change which benchmarks run or how they are reported, not what one measures:
/// results that differ only in these are comparable.
const NOT_WORK: &[&str] = &["PARBENCH_WORKERS", "PARBENCH_THROUGHPUT"];

/// One run of one group by `cargo bench`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// `default` or `quick`.
    pub profile: String,
    /// Every `PARBENCH_*` variable that was set (the profile aside), as given.
    #[serde(default)]
    pub knobs: BTreeMap<String, String>,
    /// Worker counts swept.
    #[serde(default)]
    pub workers: Vec<usize>,
    /// Cores the host offered.
    #[serde(default)]
    pub cores: usize,
    /// When the group started, in ns since the Unix epoch.
    pub started_ns: u64,
    /// When it finished; `None` when the run stopped inside the group (a panic).
    #[serde(default)]
    pub finished_ns: Option<u64>,
}

impl Run {
    /// True when results of the two runs measured the same work on the same host size.
    pub fn same_work(&self, other: &Run) -> bool {
        self.profile == other.profile && self.cores == other.cores && work(self) == work(other)
    }

    /// "quick" or "default (PARBENCH_SIZE_CPU=1000)": the profile and the knobs that matter.
    pub fn describe(&self) -> String {
        match self.series_tags().split_first() {
            Some((profile, [])) => profile.clone(),
            Some((profile, knobs)) => format!("{profile} ({})", knobs.join(", ")),
            None => String::new(),
        }
    }

    /// What names a series of this run's results: the profile, then each knob that changes
    /// the work as `NAME=value`.
    pub fn series_tags(&self) -> Vec<String> {
        let mut tags = vec![self.profile.clone()];
        tags.extend(work(self).into_iter().map(|(k, v)| format!("{k}={v}")));
        tags
    }
}

/// The knobs of a run that change the work, in name order.
fn work(run: &Run) -> Vec<(&String, &String)> {
    run.knobs
        .iter()
        .filter(|(k, _)| !NOT_WORK.contains(&k.as_str()))
        .collect()
}

/// The marker file: each group's recent runs, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// Group name to its runs.
    pub groups: BTreeMap<String, Vec<Run>>,
}

/// Path of the marker under a Criterion directory.
pub fn marker_path(root: &Path) -> PathBuf {
    root.join(super::PAGE_DIR).join(MARKER_FILE)
}

/// Now, in ns since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Marker {
    /// The marker under `root`; `None` when there is none. A corrupt file is an error naming it.
    pub fn read(root: &Path) -> Result<Option<Marker>, UsageError> {
        let path = marker_path(root);
        if !path.exists() {
            return Ok(None);
        }
        super::parse(&path).map(Some)
    }

    /// Writes the marker under `root` (through a temporary file, so a reader never sees half).
    pub fn write(&self, root: &Path) -> Result<(), Error> {
        let path = marker_path(root);
        let dir = path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    /// The run of `group` that wrote a result modified at `modified_ns`: the latest one
    /// started before it, provided it had not finished long before. `None`: the result came
    /// from a run this marker does not know (an older parbench, another revision, a crash).
    pub fn attribute(&self, group: &str, modified_ns: u64) -> Option<&Run> {
        let run = self
            .groups
            .get(group)?
            .iter()
            .filter(|r| r.started_ns <= modified_ns.saturating_add(SLACK_NS))
            .max_by_key(|r| r.started_ns)?;
        match run.finished_ns {
            Some(f) if modified_ns > f.saturating_add(SLACK_NS) => None,
            _ => Some(run),
        }
    }

    /// The latest run recorded for `group`.
    pub fn latest(&self, group: &str) -> Option<&Run> {
        self.groups.get(group)?.iter().max_by_key(|r| r.started_ns)
    }
}

/// Records that `group` starts now with `run`'s settings. A corrupt marker is replaced.
pub fn begin(root: &Path, group: &str, run: Run) -> Result<(), Error> {
    let mut marker = Marker::read(root).ok().flatten().unwrap_or_default();
    let runs = marker.groups.entry(group.to_string()).or_default();
    runs.push(run);
    if runs.len() > KEEP {
        let extra = runs.len() - KEEP;
        runs.drain(..extra);
    }
    marker.write(root)
}

/// Closes the run of `group` started at `started_ns`: stamps its end, or removes it when it
/// wrote no result (a filter skipped the group), so it cannot claim older results.
pub fn finish(root: &Path, group: &str, started_ns: u64, wrote: bool) -> Result<(), Error> {
    let Some(mut marker) = Marker::read(root).ok().flatten() else {
        return Ok(());
    };
    if let Some(runs) = marker.groups.get_mut(group) {
        if wrote {
            for r in runs.iter_mut().filter(|r| r.started_ns == started_ns) {
                r.finished_ns = Some(now_ns());
            }
        } else {
            runs.retain(|r| r.started_ns != started_ns);
        }
        if runs.is_empty() {
            marker.groups.remove(group);
        }
    }
    marker.write(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(profile: &str, started: u64, finished: Option<u64>) -> Run {
        Run {
            profile: profile.into(),
            knobs: BTreeMap::new(),
            workers: vec![1, 2],
            cores: 2,
            started_ns: started,
            finished_ns: finished,
        }
    }

    #[test]
    fn results_belong_to_the_run_that_wrote_them() {
        let s = 1_000_000_000_000u64;
        let mut m = Marker::default();
        m.groups.insert(
            "cpu".into(),
            vec![
                run("default", s, Some(s + 10 * s)),
                run("quick", 20 * s, None),
            ],
        );
        assert_eq!(m.attribute("cpu", 5 * s).unwrap().profile, "default");
        assert_eq!(m.attribute("cpu", 25 * s).unwrap().profile, "quick");
        // Between the runs: written by something the marker does not know.
        assert!(m.attribute("cpu", 15 * s).is_none());
        // Before every run, or in another group.
        assert!(m.attribute("cpu", 1).is_none());
        assert!(m.attribute("io", 5 * s).is_none());
    }

    #[test]
    fn workers_and_throughput_do_not_change_the_work() {
        let a = run("quick", 0, None);
        let mut b = a.clone();
        b.knobs.insert("PARBENCH_WORKERS".into(), "2".into());
        assert!(a.same_work(&b));
        b.knobs.insert("PARBENCH_SIZE_CPU".into(), "1000".into());
        assert!(!a.same_work(&b));
        assert_eq!(b.describe(), "quick (PARBENCH_SIZE_CPU=1000)");
        assert!(!a.same_work(&run("default", 0, None)));
    }

    #[test]
    fn begin_and_finish_keep_only_runs_that_wrote() {
        let dir = tempfile::tempdir().unwrap();
        begin(dir.path(), "cpu", run("quick", 5, None)).unwrap();
        finish(dir.path(), "cpu", 5, true).unwrap();
        begin(dir.path(), "cpu", run("default", 9, None)).unwrap();
        finish(dir.path(), "cpu", 9, false).unwrap();
        let m = Marker::read(dir.path()).unwrap().unwrap();
        let runs = &m.groups["cpu"];
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].profile, "quick");
        assert!(runs[0].finished_ns.is_some());
    }
}
