//! The verdict as one self-contained HTML page: inline CSS and SVG, no script, no font or
//! anything else fetched, so it opens offline from a CI artifact.

use super::analysis::{times, Outcome, Verdict, WorkloadVerdict};
use super::chart::speedup_svg;
use crate::plot::esc;
use std::collections::BTreeMap;
use std::fmt::Write as _;

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

/// The page for `verdict`. `prefix` leads from the page to the Criterion directory;
/// `timelines` are SVG documents per workload.
pub(crate) fn page(
    verdict: &Verdict,
    prefix: &str,
    timelines: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>parbench verdict</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    let _ = write!(
        out,
        "<h1>Which executor wins, and at how many workers</h1>\n<p class=\"v-meta\">parbench verdict from Criterion's results in <code>{}</code>",
        esc(&verdict.root.display().to_string())
    );
    if let Some(p) = &verdict.provenance.profile {
        let _ = write!(out, " &middot; profile: <b>{}</b>", esc(p));
    }
    if let Some(c) = verdict.provenance.cores {
        let _ = write!(out, " &middot; host: {c} cores");
    }
    let _ = writeln!(
        out,
        " &middot; {}</p>",
        link(prefix, verdict, "report/index.html", "Criterion's report")
    );
    for m in &verdict.provenance.mixed {
        let _ = writeln!(
            out,
            "<div class=\"v-warn\"><b>Warning:</b> {}</div>",
            esc(m)
        );
    }
    for n in verdict.notes().iter().skip(verdict.provenance.mixed.len()) {
        let _ = writeln!(out, "<div class=\"v-note\">{}</div>", esc(n));
    }
    out.push_str("<section class=\"v-summary\">\n<ul>\n");
    for w in &verdict.workloads {
        let _ = writeln!(
            out,
            "<li><a href=\"#{0}\">{0}</a>{1}</li>",
            esc(&w.workload),
            esc(w.sentence.strip_prefix(&w.workload).unwrap_or(&w.sentence))
        );
    }
    out.push_str("</ul>\n");
    out.push_str(
        "<p class=\"v-how\"><b>How to read.</b> Speedup = time(serial/1) / time(executor/W), a \
         ratio of the medians of Criterion's samples, with its 95% bootstrap interval. At each \
         worker count the executor with the highest median <b>wins</b> only if its interval \
         clears every other's; when intervals overlap the page says <b>tie</b> and names them \
         all (dark green: the winner; light green: tied). The <b>ceiling</b> is time(ceiling/1) / time(ceiling/W): spinners doing the cpu \
         batch's work on min(W, cores) threads, the speedup a perfect executor could reach on \
         what this host delivered.</p>\n</section>\n",
    );
    for w in &verdict.workloads {
        workload_section(&mut out, verdict, w, prefix, timelines.get(&w.workload));
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// A link into the Criterion directory when the file exists, else the plain label.
fn link(prefix: &str, verdict: &Verdict, rel: &str, label: &str) -> String {
    if verdict.root.join(rel).is_file() {
        format!("<a href=\"{}{}\">{}</a>", esc(prefix), esc(rel), esc(label))
    } else {
        esc(label)
    }
}

fn report(dir: &str) -> String {
    format!("{dir}/report/index.html")
}

fn ms(ns: f64) -> String {
    let v = ns / 1e6;
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 1.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.3} ms")
    }
}

fn workload_section(
    out: &mut String,
    verdict: &Verdict,
    w: &WorkloadVerdict,
    prefix: &str,
    timeline: Option<&String>,
) {
    let name = &w.workload;
    let group_link = link(
        prefix,
        verdict,
        &report(name),
        "Criterion's summary of this group",
    );
    let _ = writeln!(
        out,
        "<section id=\"{0}\">\n<h2>{0} {1}</h2>\n<p class=\"v-sentence\">{2}</p>",
        esc(name),
        if group_link.starts_with("<a") {
            group_link
        } else {
            String::new()
        },
        esc(&w.sentence)
    );
    out.push_str("<div class=\"v-row\">\n");
    if !w.cells.is_empty() && w.serial.is_some() {
        out.push_str(&speedup_svg(w, &verdict.ceiling));
        out.push('\n');
    }
    table(out, verdict, w, prefix);
    out.push_str("</div>\n");
    if let Some(svg) = timeline {
        let what = match w.pick() {
            Some((e, n)) => format!("serial against {e} x{n}"),
            None => "serial against the best executor".into(),
        };
        let _ = writeln!(
            out,
            "<figure class=\"v-timeline\">{svg}<figcaption>One batch of {} (one bar per task, one lane per worker), run by <code>cargo bench</code> after the group was measured.</figcaption></figure>",
            esc(&what)
        );
    }
    out.push_str("</section>\n");
}

fn table(out: &mut String, verdict: &Verdict, w: &WorkloadVerdict, prefix: &str) {
    out.push_str("<table class=\"v-table\">\n<tr><th class=\"v-name\">speedup at W workers</th>");
    for n in &w.workers {
        let _ = write!(out, "<th>{n}</th>");
    }
    out.push_str("</tr>\n");
    // Serial: the baseline, at 1.
    if let Some((dir, median)) = &w.serial {
        let _ = write!(
            out,
            "<tr><td class=\"v-name\">{} <span class=\"v-ci\">baseline, {} per batch</span></td>",
            link(prefix, verdict, &report(dir), "serial"),
            ms(*median)
        );
        for n in &w.workers {
            out.push_str(if *n == 1 {
                "<td>1.00x</td>"
            } else {
                "<td></td>"
            });
        }
        out.push_str("</tr>\n");
    }
    for e in &w.executors {
        let _ = write!(
            out,
            "<tr><td class=\"v-name\"><span class=\"v-swatch\" style=\"background:{}\"></span>{}</td>",
            crate::plot::executor_colour(e),
            link(prefix, verdict, &report(&format!("{}/{e}", w.workload)), e)
        );
        for n in &w.workers {
            let Some(cell) = w.cells.get(&(e.clone(), *n)) else {
                out.push_str("<td>&ndash;</td>");
                continue;
            };
            let decision = w
                .columns
                .iter()
                .find(|c| c.workers == *n)
                .and_then(|c| c.decision.as_ref());
            let class = match decision.map(|d| &d.outcome) {
                Some(Outcome::Winner(x)) if x == e => " class=\"v-win\"",
                Some(Outcome::Tie(xs)) if xs.contains(e) => " class=\"v-tie\"",
                _ => "",
            };
            let s = cell.speedup;
            let text = if s.median.is_finite() {
                format!(
                    "{}<span class=\"v-ci\">{:.2}-{:.2}</span>",
                    times(s.median),
                    s.lo,
                    s.hi
                )
            } else {
                "?".into()
            };
            let _ = write!(
                out,
                "<td{class} title=\"{} x{n}: median {} per batch\">{}</td>",
                esc(e),
                ms(cell.median_ns),
                link_html(prefix, verdict, &report(&cell.dir), &text)
            );
        }
        out.push_str("</tr>\n");
    }
    // Ceiling.
    out.push_str("<tr class=\"v-ceiling\"><td class=\"v-name\">host ceiling</td>");
    for n in &w.workers {
        match verdict.ceiling.get(n) {
            Some(c) => {
                let text = if c.lo == c.hi {
                    times(c.median)
                } else {
                    format!(
                        "{}<span class=\"v-ci\">{:.2}-{:.2}</span>",
                        times(c.median),
                        c.lo,
                        c.hi
                    )
                };
                let dir = verdict.ceiling_dirs.get(n).cloned().unwrap_or_default();
                let _ = write!(
                    out,
                    "<td>{}</td>",
                    link_html(prefix, verdict, &report(&dir), &text)
                );
            }
            None => out.push_str("<td>&ndash;</td>"),
        }
    }
    out.push_str("</tr>\n<tr class=\"v-decision\"><td class=\"v-name\">verdict</td>");
    for c in &w.columns {
        let text = match c.decision.as_ref().map(|d| &d.outcome) {
            Some(Outcome::Winner(e)) => esc(e),
            Some(Outcome::Tie(es)) => format!("tie:<br>{}", esc(&es.join(", "))),
            None => "&ndash;".into(),
        };
        let _ = write!(out, "<td>{text}</td>");
    }
    out.push_str("</tr>\n</table>\n");
}

/// Like [`link`], for a label that is already HTML.
fn link_html(prefix: &str, verdict: &Verdict, rel: &str, html: &str) -> String {
    if verdict.root.join(rel).is_file() {
        format!("<a href=\"{}{}\">{html}</a>", esc(prefix), esc(rel))
    } else {
        html.to_string()
    }
}
