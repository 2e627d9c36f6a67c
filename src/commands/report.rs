//! `parbench report`: the verdict from `cargo bench`'s results on disk (its sidecars of
//! paired rounds), as the page (HTML or Markdown) or as any of `parbench run`'s formats
//! (`--format json` prints `run`'s JSON schema).

use crate::criterion;
use crate::error::{Error, UsageError};
use crate::verdict::page::{link_prefix, Page, PageFormat};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Directory of parbench's own files inside the Criterion directory.
pub const PAGE_DIR: &str = "parbench";

/// Arguments of `parbench report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Criterion output directory [default: $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion,
    /// else target/criterion].
    #[arg(long, value_name = "DIR")]
    pub criterion_dir: Option<PathBuf>,
    /// Write here [default: the page at DIR/parbench/index.html; other formats: stdout].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// html or markdown (the page), or one of `parbench run`'s formats: table, json, csv,
    /// bmf, github-benchmark [default: from -o's extension (.html, .md, .json, .csv), else
    /// html].
    #[arg(long, short = 'f', value_name = "FORMAT")]
    pub format: Option<String>,
}

/// What `parbench report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// The verdict page.
    Page(PageFormat),
    /// An export of the rows, by name.
    Export(&'static str),
}

/// The formats `--format` accepts.
fn formats() -> Vec<&'static str> {
    let mut all = vec!["html", "markdown"];
    all.extend(
        crate::export::formats()
            .into_iter()
            .filter(|f| *f != "markdown"),
    );
    all
}

impl Format {
    /// `--format` when given; otherwise what `-o`'s extension says, or HTML.
    fn of(args: &ReportArgs) -> Result<Format, UsageError> {
        let by_name = |name: &str| -> Result<Format, UsageError> {
            match name {
                "html" => Ok(Format::Page(PageFormat::Html)),
                "markdown" => Ok(Format::Page(PageFormat::Markdown)),
                other => formats()
                    .into_iter()
                    .find(|f| *f == other)
                    .map(Format::Export)
                    .ok_or_else(|| crate::export::unknown_format(other, &formats())),
            }
        };
        if let Some(name) = &args.format {
            return by_name(name);
        }
        let Some(path) = &args.output else {
            return Ok(Format::Page(PageFormat::Html));
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("html") | Some("htm") => by_name("html"),
            Some("md") | Some("markdown") => by_name("markdown"),
            Some("json") => by_name("json"),
            Some("csv") => by_name("csv"),
            _ => Err(UsageError::new(format!(
                "{}: unknown format for this extension; use .html, .md, .json or .csv, or pass --format",
                path.display()
            ))),
        }
    }
}

/// File name of the timeline saved for `workload` beside the page.
pub fn timeline_file(workload: &str) -> String {
    format!("timeline-{workload}.svg")
}

/// The default page: `<criterion dir>/parbench/index.html`.
pub fn default_page(root: &Path) -> PathBuf {
    root.join(PAGE_DIR).join("index.html")
}

/// Reads the results under `root`, writes the page at `page` (atomically, its directory
/// made when missing) and returns what to print: the sentences, then the notes.
pub fn write_page(root: &Path, page: &Path, format: PageFormat) -> Result<Vec<String>, Error> {
    let judged = criterion::read(root)?.judged();
    let verdicts = crate::verdict::analyse(&judged.report.results);
    let mut timelines = BTreeMap::new();
    for v in &verdicts {
        let file = root.join(PAGE_DIR).join(timeline_file(&v.workload));
        if let Ok(svg) = std::fs::read_to_string(&file) {
            if svg.trim_start().starts_with("<svg") {
                timelines.insert(v.workload.clone(), svg);
            }
        }
    }
    let text = Page {
        source: format!(
            "from the paired rounds of `cargo bench` in {}",
            root.display()
        ),
        report: &judged.report,
        verdicts: &verdicts,
        notes: &judged.notes,
        criterion_prefix: Some(link_prefix(page, root)),
        timelines,
    }
    .render(format);
    if let Some(dir) = page.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    crate::output::write_atomic(page, text.as_bytes()).map_err(|e| Error::io(page, e))?;
    let mut lines = crate::verdict::sentences(&verdicts);
    lines.extend(judged.notes);
    Ok(lines)
}

/// `parbench report`.
pub fn command(args: ReportArgs) -> anyhow::Result<i32> {
    let root = args
        .criterion_dir
        .clone()
        .unwrap_or_else(criterion::default_dir);
    let format = Format::of(&args)?;
    if let Some(path) = &args.output {
        crate::output::check_file("-o", path)?;
    }
    match format {
        Format::Page(format) => {
            let page = args.output.clone().unwrap_or_else(|| default_page(&root));
            let mut text = String::new();
            for line in write_page(&root, &page, format)? {
                text.push_str(&line);
                text.push('\n');
            }
            text.push_str(&format!("page: {}\n", page.display()));
            crate::output::write_stdout(text.as_bytes())?;
        }
        Format::Export(name) => {
            let judged = criterion::read(&root)?.judged();
            for note in &judged.notes {
                crate::output::say(&format!("parbench: note: {note}"));
            }
            let text = crate::export::find(name)?.render(&judged.report, &Default::default());
            let mut out = crate::output::Writer::new(false);
            match &args.output {
                Some(path) => {
                    out.file("-o", path, text);
                }
                None => out.stdout(text),
            }
            out.finish()?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_go_from_the_page_to_the_results() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("criterion");
        std::fs::create_dir_all(root.join(PAGE_DIR)).unwrap();
        assert_eq!(link_prefix(&default_page(&root), &root), "../");
        assert_eq!(link_prefix(&dir.path().join("v.html"), &root), "criterion/");
    }

    #[test]
    fn the_format_comes_from_the_flag_or_the_extension() {
        let args = |f: Option<&str>, o: Option<&str>| ReportArgs {
            criterion_dir: None,
            output: o.map(PathBuf::from),
            format: f.map(String::from),
        };
        assert_eq!(
            Format::of(&args(None, Some("a.MD"))).unwrap(),
            Format::Page(PageFormat::Markdown)
        );
        assert_eq!(
            Format::of(&args(None, Some("a.json"))).unwrap(),
            Format::Export("json")
        );
        assert_eq!(
            Format::of(&args(None, None)).unwrap(),
            Format::Page(PageFormat::Html)
        );
        assert!(Format::of(&args(Some("svg"), None)).is_err());
        assert!(Format::of(&args(None, Some("a.png"))).is_err());
    }
}
