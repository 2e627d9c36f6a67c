//! The verdict page (issue #14): after `cargo bench`, one page that says, per workload, which
//! executor wins at how many workers, within its interval, beside the host's measured ceiling.
//!
//! `cargo bench` writes it to `<criterion dir>/parbench/index.html`; `parbench report` writes
//! the same page (or Markdown) from results already on disk. Everything comes from
//! Criterion's own files, `<group>/<function>/<param>/new/{benchmark,sample,estimates}.json`,
//! plus parbench's profile marker ([`profile`]) and timelines saved beside the page.

pub mod analysis;
mod chart;
mod github;
mod html;
mod markdown;
pub mod profile;

pub use analysis::{analyse, decide, Decision, Outcome, Verdict, WorkloadVerdict};
pub use profile::{Marker, Run};

use crate::error::{Error, UsageError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Group of the host-ceiling benchmarks, ids `ceiling/<W>`.
pub const CEILING_GROUP: &str = "ceiling";

/// Directory of parbench's own files inside the Criterion directory.
pub const PAGE_DIR: &str = "parbench";

/// The groups the page reads: the ceiling, then every workload of the registry.
pub fn groups() -> Vec<&'static str> {
    let mut groups = vec![CEILING_GROUP];
    groups.extend(crate::workload::names());
    groups
}

/// File name of the timeline saved for `workload` beside the page.
pub fn timeline_file(workload: &str) -> String {
    format!("timeline-{workload}.svg")
}

/// One benchmark's latest result (Criterion's `new` directory).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// Criterion's `full_id`, e.g. `cpu/rayon/2`.
    pub id: String,
    /// Group, e.g. `cpu`.
    pub group: String,
    /// Function, e.g. `rayon`; `None` for `ceiling/<W>`.
    pub function: Option<String>,
    /// Parameter, e.g. `2`.
    pub param: Option<String>,
    /// Directory relative to the Criterion directory, for links.
    pub dir: String,
    /// Time per iteration of each sample, ns: `times[i] / iters[i]`.
    pub times_ns: Vec<f64>,
    /// Criterion's median time per iteration, ns.
    pub median_ns: f64,
    /// Modification time of `sample.json`, ns since the Unix epoch.
    pub modified_ns: u64,
}

impl Measured {
    /// The worker count, when the parameter is one.
    pub fn workers(&self) -> Option<usize> {
        self.param.as_deref()?.trim().parse().ok()
    }
}

/// Everything read from one Criterion directory.
#[derive(Debug, Clone)]
pub struct Results {
    /// The Criterion directory.
    pub root: PathBuf,
    /// Every result of [`groups`], sorted by id.
    pub benches: Vec<Measured>,
    /// The profile marker, when `cargo bench` wrote one.
    pub marker: Option<Marker>,
}

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    full_id: String,
    directory_name: String,
}

#[derive(Deserialize)]
struct SampleJson {
    iters: Vec<f64>,
    times: Vec<f64>,
}

#[derive(Deserialize)]
struct PointEstimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct EstimatesJson {
    median: PointEstimate,
}

/// Reads and parses a JSON file; a corrupt one is a one-line error naming it.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(file: &Path) -> Result<T, UsageError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError::new(format!("{}: {e}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| UsageError::new(format!("{}: corrupt JSON: {e}", file.display())))
}

/// Loads every result of [`groups`] under `root`. A missing directory, one without any
/// result, or a corrupt or incomplete file is an error naming it (exit 2).
pub fn load(root: &Path) -> Result<Results, UsageError> {
    if !root.is_dir() {
        return Err(UsageError::new(format!(
            "criterion directory {}: not found (run `cargo bench` first, or pass --criterion-dir)",
            root.display()
        )));
    }
    let mut dirs = Vec::new();
    for group in groups() {
        let dir = root.join(group);
        if dir.is_dir() {
            walk(&dir, 0, &mut dirs)?;
        }
    }
    if dirs.is_empty() {
        return Err(UsageError::new(format!(
            "no parbench results under {} (expected <workload>/<executor>/<workers>/new/sample.json; run `cargo bench`)",
            root.display()
        )));
    }
    let mut benches = dirs
        .iter()
        .map(|d| read_result(root, d))
        .collect::<Result<Vec<_>, _>>()?;
    benches.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Results {
        root: root.to_path_buf(),
        benches,
        marker: Marker::read(root)?,
    })
}

/// Collects benchmark directories (those with a `new` child) below a group directory.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), UsageError> {
    if dir.join("new").is_dir() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    // <group>/<function>/<param> is as deep as Criterion goes.
    if depth >= 3 {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| UsageError::new(format!("{}: {e}", dir.display())))?;
    let mut children: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != "report")
        .map(|e| e.path())
        .collect();
    children.sort();
    for child in children {
        walk(&child, depth + 1, out)?;
    }
    Ok(())
}

fn read_result(root: &Path, dir: &Path) -> Result<Measured, UsageError> {
    let new = dir.join("new");
    let file = |name: &str| -> Result<PathBuf, UsageError> {
        let f = new.join(name);
        if f.is_file() {
            Ok(f)
        } else {
            Err(UsageError::new(format!(
                "{}: missing (Criterion writes it beside the other files of a result)",
                f.display()
            )))
        }
    };
    let (bench_file, sample_file, estimates_file) = (
        file("benchmark.json")?,
        file("sample.json")?,
        file("estimates.json")?,
    );
    let bench: BenchmarkJson = parse(&bench_file)?;
    let sample: SampleJson = parse(&sample_file)?;
    let estimates: EstimatesJson = parse(&estimates_file)?;
    if sample.iters.is_empty() || sample.iters.len() != sample.times.len() {
        return Err(UsageError::new(format!(
            "{}: iters and times must be non-empty and of equal length",
            sample_file.display()
        )));
    }
    let times_ns: Vec<f64> = sample
        .times
        .iter()
        .zip(&sample.iters)
        .map(|(t, n)| t / n)
        .collect();
    if times_ns.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
        return Err(UsageError::new(format!(
            "{}: a time per iteration is not a positive number",
            sample_file.display()
        )));
    }
    let median_ns = estimates.median.point_estimate;
    if !(median_ns.is_finite() && median_ns > 0.0) {
        return Err(UsageError::new(format!(
            "{}: median is {median_ns}, not a positive time",
            estimates_file.display()
        )));
    }
    let modified_ns = std::fs::metadata(&sample_file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let dir_name = if bench.directory_name.is_empty() {
        rel.to_string_lossy().into_owned()
    } else {
        bench.directory_name
    };
    Ok(Measured {
        id: bench.full_id,
        group: bench.group_id,
        function: bench.function_id,
        param: bench.value_str,
        dir: dir_name,
        times_ns,
        median_ns,
        modified_ns,
    })
}

/// True when a result of one of `groups` under `root` was written at or after `since_ns`:
/// the run wrote something, so its marker entry and the page are worth keeping.
pub fn written_since(root: &Path, groups: &[&str], since_ns: u64) -> bool {
    let mut dirs = Vec::new();
    for g in groups {
        let dir = root.join(g);
        if dir.is_dir() && walk(&dir, 0, &mut dirs).is_err() {
            return false;
        }
    }
    // File systems stamp with a coarse clock, a few ms behind the precise one.
    let since = since_ns.saturating_sub(50_000_000);
    dirs.iter().any(|d| {
        std::fs::metadata(d.join("new").join("sample.json"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|t| t.as_nanos() as u64 >= since)
    })
}

/// Output of a page: HTML (the default) or Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFormat {
    /// A self-contained HTML page: inline CSS and SVG, no script, nothing fetched.
    Html,
    /// GitHub-flavoured Markdown, for a pull request or a CI job summary.
    Markdown,
}

impl PageFormat {
    /// The format a file name asks for: `.html`/`.htm` or `.md`/`.markdown`.
    pub fn for_output(path: &Path) -> Result<PageFormat, UsageError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("html") | Some("htm") => Ok(PageFormat::Html),
            Some("md") | Some("markdown") => Ok(PageFormat::Markdown),
            _ => Err(UsageError::new(format!(
                "{}: unknown page format; use a .html or .md file name",
                path.display()
            ))),
        }
    }
}

/// The default page: `<criterion dir>/parbench/index.html`.
pub fn default_page(root: &Path) -> PathBuf {
    root.join(PAGE_DIR).join("index.html")
}

/// Renders the verdict as a page meant to be saved at `page`. Links into Criterion's
/// reports are relative to the page's directory; timelines saved beside the results are
/// embedded.
pub fn render(verdict: &Verdict, format: PageFormat, page: &Path) -> String {
    match format {
        PageFormat::Markdown => markdown::page(verdict),
        PageFormat::Html => {
            let prefix = link_prefix(page, &verdict.root);
            let mut timelines = BTreeMap::new();
            for w in &verdict.workloads {
                let file = verdict.root.join(PAGE_DIR).join(timeline_file(&w.workload));
                if let Ok(svg) = std::fs::read_to_string(&file) {
                    if svg.trim_start().starts_with("<svg") {
                        timelines.insert(w.workload.clone(), svg);
                    }
                }
            }
            html::page(verdict, &prefix, &timelines)
        }
    }
}

/// Writes the page, creating its directory when it is the default one under `root`.
pub fn write_page(verdict: &Verdict, format: PageFormat, page: &Path) -> Result<(), Error> {
    if let Some(dir) = page.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let text = render(verdict, format, page);
    std::fs::write(page, text).map_err(|e| Error::io(page, e))
}

/// The path from the page's directory to the Criterion directory, ending in `/`: `../` for
/// the default page; an absolute path when the two share nothing.
fn link_prefix(page: &Path, root: &Path) -> String {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        // Canonical where it exists, so `..` and symlinks do not confuse the walk.
        p.canonicalize().unwrap_or(p)
    };
    let from = abs(page.parent().unwrap_or(Path::new(".")));
    let to = abs(root);
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = String::new();
    for _ in from.components().skip(common) {
        out.push_str("../");
    }
    for c in to.components().skip(common) {
        out.push_str(&c.as_os_str().to_string_lossy());
        out.push('/');
    }
    out
}

/// Arguments of `parbench report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Criterion output directory [default: $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion,
    /// else target/criterion].
    #[arg(long, value_name = "DIR")]
    pub criterion_dir: Option<PathBuf>,
    /// Write the page here: `.html` for the page, `.md` for Markdown (a PR comment or
    /// `$GITHUB_STEP_SUMMARY`) [default: DIR/parbench/index.html; github-benchmark: stdout].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// html (the page), markdown, or github-benchmark (each result's time as
    /// github-action-benchmark's customSmallerIsBetter list) [default: from -o's extension,
    /// else html].
    #[arg(long, short = 'f', value_name = "FORMAT")]
    pub format: Option<String>,
}

/// The formats `parbench report --format` accepts.
const REPORT_FORMATS: &[&str] = &["html", "markdown", "github-benchmark"];

/// What `parbench report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportFormat {
    /// The verdict page.
    Page(PageFormat),
    /// github-action-benchmark's list.
    GithubBenchmark,
}

impl ReportFormat {
    /// `--format` when given; otherwise the page format of `-o`'s extension, or HTML.
    fn of(args: &ReportArgs) -> Result<ReportFormat, UsageError> {
        match (args.format.as_deref(), &args.output) {
            (Some("html"), _) => Ok(ReportFormat::Page(PageFormat::Html)),
            (Some("markdown"), _) => Ok(ReportFormat::Page(PageFormat::Markdown)),
            (Some("github-benchmark"), _) => Ok(ReportFormat::GithubBenchmark),
            (Some(other), _) => Err(crate::export::unknown_format(other, REPORT_FORMATS)),
            (None, Some(path)) => PageFormat::for_output(path).map(ReportFormat::Page),
            (None, None) => Ok(ReportFormat::Page(PageFormat::Html)),
        }
    }
}

/// `parbench report`: writes the page from results on disk and prints its sentences, or
/// writes github-action-benchmark's list.
pub fn command(args: ReportArgs) -> anyhow::Result<i32> {
    let root = args
        .criterion_dir
        .clone()
        .unwrap_or_else(crate::compare::default_dir);
    let format = ReportFormat::of(&args)?;
    if let Some(path) = &args.output {
        crate::output::check_file("-o", path)?;
    }
    let results = load(&root)?;
    let verdict = analyse(&results);
    let format = match format {
        ReportFormat::Page(format) => format,
        ReportFormat::GithubBenchmark => {
            let text =
                crate::export::github_benchmark::render(&github::entries(&results, &verdict));
            let mut out = crate::output::Writer::new(false);
            match &args.output {
                Some(path) => {
                    out.file("-o", path, text);
                }
                None => out.stdout(text),
            }
            out.finish()?;
            return Ok(0);
        }
    };
    let page = args.output.clone().unwrap_or_else(|| default_page(&root));
    write_page(&verdict, format, &page)?;
    let mut out = String::new();
    for line in verdict.summary_lines() {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!("page: {}\n", page.display()));
    print!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_format_from_extension() {
        let f = |p: &str| PageFormat::for_output(Path::new(p));
        assert_eq!(f("a.html").unwrap(), PageFormat::Html);
        assert_eq!(f("a.MD").unwrap(), PageFormat::Markdown);
        assert!(f("a.svg").is_err());
        assert!(f("a").is_err());
    }

    #[test]
    fn links_go_from_the_page_to_the_results() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("criterion");
        std::fs::create_dir_all(root.join(PAGE_DIR)).unwrap();
        assert_eq!(link_prefix(&default_page(&root), &root), "../");
        assert_eq!(link_prefix(&dir.path().join("v.html"), &root), "criterion/");
    }
}
