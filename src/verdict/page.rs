//! The verdict page: the sentences, then per workload the speedup chart (drawn by
//! [`crate::plot`]), the results table (the exports' table model) and a timeline. HTML (one
//! self-contained file: inline CSS and SVG, no script, nothing fetched) or Markdown.

use super::WorkloadVerdict;
use crate::plot::esc;
use crate::report::Report;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Output of a page: HTML (the default) or Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFormat {
    /// A self-contained HTML page.
    Html,
    /// GitHub-flavoured Markdown, for a pull request or a CI job summary.
    Markdown,
}

/// What a page shows.
pub struct Page<'a> {
    /// Where the results came from, one line (a directory, a run).
    pub source: String,
    /// The judged results.
    pub report: &'a Report,
    /// The verdict of each workload.
    pub verdicts: &'a [WorkloadVerdict],
    /// What was found and not judged, one line each.
    pub notes: &'a [String],
    /// From the page to the Criterion directory, ending in `/`, for links to Criterion's
    /// reports; `None` for no links.
    pub criterion_prefix: Option<String>,
    /// A timeline SVG document per workload.
    pub timelines: BTreeMap<String, String>,
}

/// Classes are prefixed `v-`: the timelines embedded below carry their own global
/// `<style>` (`.axis`, `.grid`, ...), which must not restyle the page.
const STYLE: &str = r#"
body { font-family: DejaVu Sans, Verdana, Arial, sans-serif; margin: 20px 28px; color: #1b1b1b;
  max-width: 1320px; font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 26px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
h2 a, .v-links a { font-size: 12px; font-weight: normal; margin-left: 10px; }
a { color: #2456a6; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 2px; }
.v-meta { color: #555; margin: 0 0 10px; }
.v-warn { background: #fff1d6; border-left: 4px solid #e39b00; padding: 6px 10px; margin: 6px 0; }
.v-note { background: #eef3fa; border-left: 4px solid #7a9cc6; padding: 6px 10px; margin: 6px 0; }
.v-summary li { margin: 3px 0; font-size: 15px; }
.v-how { color: #444; font-size: 13px; }
.v-sentence { font-size: 15px; margin: 4px 0 10px; }
.v-row { display: flex; flex-wrap: wrap; gap: 22px; align-items: flex-start; }
table.v-table { border-collapse: collapse; font-size: 13px; max-width: 720px; }
.v-table th, .v-table td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; }
.v-table th { background: #f6f6f6; }
.v-table td.v-name, .v-table th.v-name { text-align: left; }
.v-table td.v-win { background: #d9f2d9; font-weight: bold; }
.v-table td.v-tie { background: #ecf8ec; }
.v-table tr.v-ceiling td { color: #555; background: #fafafa; }
.v-table tr.v-decision td { font-weight: bold; text-align: center; font-size: 12px; }
.v-table tr.v-decision td.v-name { font-size: 13px; }
.v-table a { color: inherit; text-decoration: none; }
.v-table a:hover { text-decoration: underline; }
.v-ci { display: block; color: #666; font-size: 11px; font-weight: normal; }
.v-swatch { display: inline-block; width: 10px; height: 10px; margin-right: 5px; border-radius: 2px; }
figure.v-timeline { margin: 14px 0 0; }
figure.v-timeline svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; }
"#;

impl Page<'_> {
    /// The page in `format`.
    pub fn render(&self, format: PageFormat) -> String {
        match format {
            PageFormat::Html => self.html(),
            PageFormat::Markdown => self.markdown(),
        }
    }

    fn rows_of(&self, workload: &str) -> Report {
        Report {
            machine: self.report.machine.clone(),
            results: self
                .report
                .results
                .iter()
                .filter(|r| r.workload == workload)
                .cloned()
                .collect(),
            partial: self.report.partial,
        }
    }

    fn markdown(&self) -> String {
        let mut out = String::from("# Which executor wins, and at how many workers\n\n");
        let _ = writeln!(out, "{}\n", self.source);
        for v in self.verdicts {
            let _ = writeln!(out, "- {}", v.sentence);
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in self.notes {
                let _ = writeln!(out, "> {n}");
            }
        }
        for v in self.verdicts {
            let _ = writeln!(out, "\n## {}\n\n{}\n", v.workload, v.sentence);
            let (headers, rows) =
                crate::export::human_rows(&self.rows_of(&v.workload), &Default::default());
            out.push_str(&crate::export::markdown_table(&headers, &rows));
        }
        out
    }

    fn html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>parbench verdict</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        );
        let _ = write!(
            out,
            "<h1>Which executor wins, and at how many workers</h1>\n<p class=\"v-meta\">{} &middot; host: {} cores",
            esc(&self.source),
            self.report.machine.cores
        );
        if let Some(prefix) = &self.criterion_prefix {
            let _ = write!(
                out,
                " &middot; <a href=\"{}report/index.html\">Criterion's report</a>",
                esc(prefix)
            );
        }
        out.push_str("</p>\n<ul class=\"v-summary\">\n");
        for v in self.verdicts {
            let _ = writeln!(out, "<li>{}</li>", esc(&v.sentence));
        }
        out.push_str("</ul>\n");
        for n in self.notes {
            let _ = writeln!(out, "<div class=\"v-warn\">{}</div>", esc(n));
        }
        out.push_str(HOW);
        for v in self.verdicts {
            self.section(&mut out, v);
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    fn section(&self, out: &mut String, v: &WorkloadVerdict) {
        let rows = self.rows_of(&v.workload);
        let _ = writeln!(
            out,
            "<h2>{}</h2>\n<p class=\"v-sentence\">{}</p>\n<div class=\"v-row\">",
            esc(&v.workload),
            esc(&v.sentence)
        );
        if let Ok(svg) = crate::plot::speedup_svg(&rows.results, rows.machine.cores) {
            let _ = writeln!(out, "<figure class=\"v-timeline\">{svg}</figure>");
        }
        out.push_str("</div>\n");
        let (headers, cells) = crate::export::human_rows(&rows, &Default::default());
        out.push_str("<table class=\"v-table\">\n<tr>");
        for h in &headers {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        if self.criterion_prefix.is_some() {
            out.push_str("<th>Criterion</th>");
        }
        out.push_str("</tr>\n");
        for (r, row) in rows.results.iter().zip(&cells) {
            let class = if v
                .pick()
                .is_some_and(|(e, w)| e == r.executor && w == r.workers)
            {
                " class=\"v-win\""
            } else {
                ""
            };
            out.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                let name = if i < 3 { " v-name" } else { "" };
                let _ = write!(out, "<td class=\"{name}\"{class}>{}</td>", esc(c));
            }
            if let Some(prefix) = &self.criterion_prefix {
                let _ = write!(
                    out,
                    "<td><a href=\"{}{}/report/index.html\">report</a></td>",
                    esc(prefix),
                    esc(&r.id().to_string())
                );
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        if let Some(svg) = self.timelines.get(&v.workload) {
            let _ = writeln!(
                out,
                "<figure class=\"v-timeline\">{svg}<figcaption>One batch of the baseline and of the headline executor (one bar per task, one lane per worker).</figcaption></figure>"
            );
        }
    }
}

/// How to read the page, once.
const HOW: &str = "<p class=\"v-how\">Every figure is a median over paired rounds (each executor batch beside a serial batch and a probe of the host's ceiling) with a 95% interval over blocks of fresh pools. A winner must be ahead of every other executor by more than 3% with intervals that clear; otherwise it is a tie. CPU-bound work is ranked by eff/ceil (the share of the measured ceiling); work that waits by its speedup against its own ideal.</p>\n";

/// The path from the page's directory to the Criterion directory, ending in `/`: `../` for
/// the default page; an absolute path when the two share nothing.
pub fn link_prefix(page: &Path, root: &Path) -> String {
    let abs = |p: &Path| -> std::path::PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
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
