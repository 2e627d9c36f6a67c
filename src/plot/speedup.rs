//! Speedup against the worker count: one line per executor, the ideal line, and a dashed
//! Amdahl fit per executor; one panel per workload.
//!
//! The fit uses the parallelism the machine can really give, `p = min(workers, cores)`, the
//! same bound as the ideal line. So the serial fraction `f` measures how far an executor
//! stays below the ideal: about 0 for processes on CPU work, about 1 under a GIL. Work that
//! waits instead of computing (api) is not bound by the cores: when a series' speedup beats
//! the core count by a clear margin, its fit uses `p = workers`, so `f` still tells how well
//! the waiting overlaps.

use super::{esc, executor_colour, nice_ticks, svg_open, tick_label, write_picture};
use crate::engine::analysis::{same_panel, series_fit, waits};
use crate::engine::stats::amdahl_speedup;
use crate::error::{Result, UsageError};
use crate::report::RunResult;
use std::fmt::Write as _;
use std::path::Path;

const PANEL_W: f64 = 560.0;
const PANEL_H: f64 = 310.0;
const PLOT_LEFT: f64 = 48.0;
const PLOT_W: f64 = 340.0;
const PLOT_TOP: f64 = 30.0;
const PLOT_H: f64 = 220.0;
const LEGEND_X: f64 = PLOT_LEFT + PLOT_W + 18.0;
const TOP: f64 = 34.0;

/// Draws the speedup chart of a sweep's results as an SVG document. `cores` bounds the
/// ideal line. A usage error when no result has a speedup (serial did not run).
pub fn speedup_svg(results: &[RunResult], cores: usize) -> Result<String, UsageError> {
    if !results
        .iter()
        .any(|r| r.speedup.is_some_and(|s| s.median.is_finite()))
    {
        return Err(UsageError::new(
            "the speedup chart needs speedups: run the serial executor in the same sweep",
        ));
    }
    let cores = cores.max(1);
    // Panels in order of first appearance.
    let mut panels: Vec<&RunResult> = Vec::new();
    for r in results {
        if !panels.iter().any(|p| same_panel(p, r)) {
            panels.push(r);
        }
    }
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols);
    let width = cols as f64 * PANEL_W;
    let height = TOP + rows as f64 * PANEL_H + 72.0;
    let title = format!("Speedup vs workers ({cores} cores)");

    let mut out = String::new();
    svg_open(&mut out, width, height, &title);
    let _ = writeln!(
        out,
        r#"<text class="title" x="{PLOT_LEFT}" y="{:.1}">{}</text>"#,
        TOP - 12.0,
        esc(&title)
    );
    for (i, first) in panels.iter().enumerate() {
        let ox = (i % cols) as f64 * PANEL_W;
        let oy = TOP + (i / cols) as f64 * PANEL_H;
        let members: Vec<&RunResult> = results.iter().filter(|r| same_panel(r, first)).collect();
        let shared_name = panels
            .iter()
            .filter(|p| p.workload == first.workload)
            .count()
            > 1;
        let name = if shared_name {
            format!(
                "{} · {} tasks · size {}{}",
                first.workload,
                first.tasks,
                first.size,
                if first.inner_threads > 1 {
                    format!(" · {} inner threads", first.inner_threads)
                } else {
                    String::new()
                }
            )
        } else {
            first.workload.clone()
        };
        draw_panel(&mut out, ox, oy, &name, &members, cores);
    }
    let notes = [
        "speedup = median over paired rounds of serial / executor, bars = 95% interval; workers on a log scale".to_string(),
        format!("grey: the ideal, min(workers, cores) with cores = {cores}; dotted: the ceiling the host delivered, measured in the same rounds"),
        "dashed: Amdahl fit 1 / (f + (1 - f) / p), f = serial fraction, p = min(workers, cores)"
            .into(),
        "(p = workers when an executor beats the core count: its work waits, not computes)".into(),
    ];
    for (k, note) in notes.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text class="note" x="{PLOT_LEFT}" y="{:.1}">{}</text>"#,
            TOP + rows as f64 * PANEL_H + 8.0 + 15.0 * k as f64,
            esc(note)
        );
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// One workload's panel at offset (`ox`, `oy`).
fn draw_panel(
    out: &mut String,
    ox: f64,
    oy: f64,
    name: &str,
    members: &[&RunResult],
    cores: usize,
) {
    let mut workers: Vec<usize> = members.iter().map(|r| r.workers.max(1)).collect();
    workers.sort_unstable();
    workers.dedup();
    let (wmin, wmax) = (workers[0] as f64, workers[workers.len() - 1] as f64);
    let (lmin, lmax) = if wmax > wmin {
        (wmin.log2(), wmax.log2())
    } else {
        (wmin.log2() - 1.0, wmin.log2() + 1.0)
    };
    let x0 = ox + PLOT_LEFT;
    let y0 = oy + PLOT_TOP + PLOT_H;
    let xof = |w: f64| x0 + (w.max(1.0).log2() - lmin) / (lmax - lmin) * PLOT_W;

    // Executors in order of first appearance, with their points and fits.
    let mut executors: Vec<&str> = Vec::new();
    for r in members {
        if !executors.contains(&r.executor.as_str()) {
            executors.push(&r.executor);
        }
    }
    let series: Vec<(&str, Vec<&RunResult>, Option<f64>, bool)> = executors
        .iter()
        .map(|e| {
            let mut pts: Vec<&RunResult> = members
                .iter()
                .copied()
                .filter(|r| r.executor == *e && r.speedup.is_some_and(|s| s.median.is_finite()))
                .collect();
            pts.sort_by_key(|r| r.workers);
            let points: Vec<(usize, f64)> = pts
                .iter()
                .map(|r| (r.workers, r.speedup.map_or(f64::NAN, |s| s.median)))
                .collect();
            (*e, pts, series_fit(&points, cores), waits(&points, cores))
        })
        .collect();

    // Curves are sampled on the log axis, with the knee at `cores` sampled exactly.
    let mut samples: Vec<f64> = (0..=64)
        .map(|k| 2f64.powf(wmin.log2() + (wmax.log2() - wmin.log2()) * k as f64 / 64.0))
        .collect();
    if (wmin..=wmax).contains(&(cores as f64)) {
        samples.push(cores as f64);
        samples.sort_by(f64::total_cmp);
    }
    let ideal = |w: f64| w.min(cores as f64);
    // The measured ceiling at each worker count: the median of the ceilings measured beside
    // each executor there (they all measured the same host), with the widest interval.
    let ceiling: Vec<(usize, f64, f64, f64)> = workers
        .iter()
        .filter_map(|&w| {
            let at: Vec<crate::engine::stats::Estimate> = members
                .iter()
                .filter(|r| r.workers == w && !crate::executor::is_baseline(&r.executor))
                .filter_map(|r| r.ceiling)
                .collect();
            if at.is_empty() {
                return None;
            }
            let m = crate::engine::stats::median(&at.iter().map(|e| e.median).collect::<Vec<_>>());
            let lo = at.iter().map(|e| e.lo).fold(f64::INFINITY, f64::min);
            let hi = at.iter().map(|e| e.hi).fold(f64::NEG_INFINITY, f64::max);
            Some((w, m, lo, hi))
        })
        .collect();
    let ymax = series
        .iter()
        .flat_map(|(_, pts, _, _)| pts.iter().filter_map(|r| r.speedup.map(|s| s.hi)))
        .chain(samples.iter().map(|&w| ideal(w)))
        .chain(ceiling.iter().map(|c| c.3))
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let ticks = nice_ticks(ymax * 1.05, 6);
    let ytop = *ticks.last().unwrap_or(&1.0);
    let yof = |s: f64| y0 - s.clamp(0.0, ytop) / ytop * PLOT_H;

    let _ = writeln!(
        out,
        r#"<g class="speedup-panel" data-workload="{}" data-y-max="{ytop}">"#,
        esc(&members[0].workload)
    );
    let _ = writeln!(
        out,
        r#"<text class="head" x="{x0:.1}" y="{:.1}">{}</text>"#,
        oy + 18.0,
        esc(name)
    );
    // Grid, axes, ticks.
    for t in &ticks {
        let y = yof(*t);
        let _ = writeln!(
            out,
            r#"<line class="grid" x1="{x0:.1}" y1="{y:.2}" x2="{:.1}" y2="{y:.2}"/><text class="axis ytick" data-value="{t}" x="{:.1}" y="{:.2}" text-anchor="end">{}</text>"#,
            x0 + PLOT_W,
            x0 - 5.0,
            y + 4.0,
            tick_label(*t)
        );
    }
    let mut last_label_x = f64::NEG_INFINITY;
    for &w in &workers {
        let x = xof(w as f64);
        let _ = writeln!(
            out,
            r#"<line class="grid" x1="{x:.2}" y1="{:.1}" x2="{x:.2}" y2="{y0:.1}"/>"#,
            y0 - PLOT_H
        );
        if x - last_label_x >= 24.0 {
            let _ = writeln!(
                out,
                r#"<text class="axis xtick" data-value="{w}" x="{x:.2}" y="{:.1}" text-anchor="middle">{w}</text>"#,
                y0 + 15.0
            );
            last_label_x = x;
        }
    }
    let _ = writeln!(
        out,
        r#"<rect class="frame" x="{x0:.1}" y="{:.1}" width="{PLOT_W}" height="{PLOT_H}"/>"#,
        y0 - PLOT_H
    );
    let _ = writeln!(
        out,
        r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">workers</text><text class="axis" transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">speedup vs serial</text>"#,
        x0 + PLOT_W / 2.0,
        y0 + 32.0,
        ox + 13.0,
        y0 - PLOT_H / 2.0
    );

    let path_of = |f: &dyn Fn(f64) -> f64| -> String {
        samples
            .iter()
            .map(|&w| format!("{:.2},{:.2}", xof(w), yof(f(w))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        out,
        r##"<polyline class="ideal" points="{}" fill="none" stroke="#999" stroke-width="2" data-tip="1"><title>ideal: min(workers, {cores})</title></polyline>"##,
        path_of(&ideal)
    );

    if !ceiling.is_empty() {
        let line = ceiling
            .iter()
            .map(|&(w, m, _, _)| format!("{:.2},{:.2}", xof(w as f64), yof(m)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            r##"<polyline class="ceiling" points="{line}" fill="none" stroke="#555" stroke-width="1.6" stroke-dasharray="2 3" data-tip="1"><title>measured ceiling: cores the host delivered</title></polyline>"##
        );
        for &(w, m, lo, hi) in &ceiling {
            let _ = writeln!(
                out,
                r##"<rect class="ceiling-point" data-workers="{w}" data-ceiling="{m:.4}" data-lo="{lo:.4}" data-hi="{hi:.4}" x="{:.2}" y="{:.2}" width="6" height="6" fill="#555" data-tip="1"><title>ceiling at {w} workers: {m:.2} cores ({lo:.2}-{hi:.2})</title></rect>"##,
                xof(w as f64) - 3.0,
                yof(m) - 3.0
            );
        }
    }

    // Points of different executors at one worker count are spread a few pixels apart, so
    // overlapping points and error bars stay visible.
    let dodge = |i: usize| (i as f64 - (series.len() as f64 - 1.0) / 2.0) * 3.0;
    let mut legend_y = oy + PLOT_TOP + 10.0;
    for (index, (executor, pts, fit, waiting)) in series.iter().enumerate() {
        let colour = executor_colour(executor);
        let dx = dodge(index);
        if let Some(f) = fit {
            let _ = writeln!(
                out,
                r#"<polyline class="amdahl" data-executor="{}" data-f="{f:.4}" points="{}" fill="none" stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 4" data-tip="1"><title>{}: Amdahl fit, serial fraction {f:.3}</title></polyline>"#,
                esc(executor),
                path_of(&|w| {
                    let p = if *waiting { w } else { w.min(cores as f64) };
                    amdahl_speedup(*f, p)
                }),
                esc(executor)
            );
        }
        if pts.len() > 1 {
            let line = pts
                .iter()
                .map(|r| {
                    format!(
                        "{:.2},{:.2}",
                        xof(r.workers as f64) + dx,
                        yof(r.speedup.map_or(0.0, |s| s.median))
                    )
                })
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(
                out,
                r#"<polyline class="series" data-executor="{}" points="{line}" fill="none" stroke="{colour}" stroke-width="2.2"/>"#,
                esc(executor)
            );
        }
        for r in pts {
            let e = r
                .speedup
                .unwrap_or(crate::engine::stats::Estimate::exact(0.0));
            let (s, x) = (e.median, xof(r.workers as f64) + dx);
            if e.hi > e.lo {
                let (ylo, yhi) = (yof(e.lo), yof(e.hi));
                let _ = writeln!(
                    out,
                    r#"<path class="errorbar" data-executor="{}" data-workers="{}" data-lo="{:.4}" data-hi="{:.4}" d="M{x:.2},{ylo:.2}V{yhi:.2}M{:.2},{ylo:.2}h5M{:.2},{yhi:.2}h5" stroke="{colour}" stroke-width="1.3" fill="none"/>"#,
                    esc(executor),
                    r.workers,
                    e.lo,
                    e.hi,
                    x - 2.5,
                    x - 2.5
                );
            }
            let _ = writeln!(
                out,
                r#"<circle class="point" data-executor="{}" data-workers="{}" data-speedup="{s:.4}" cx="{x:.2}" cy="{:.2}" r="3.5" fill="{colour}" stroke="white" stroke-width="0.8" data-tip="1"><title>{} x{}: speedup {s:.2} [{:.2}-{:.2}] (wall {:.4} s, {} rounds)</title></circle>"#,
                esc(executor),
                r.workers,
                yof(s),
                esc(executor),
                r.workers,
                e.lo,
                e.hi,
                r.wall_s.median,
                r.rounds
            );
        }
        // Legend entry: a line swatch (a dot for a one-point series such as serial), the
        // name and the fitted serial fraction.
        let label = match fit {
            Some(f) => format!("{executor}  f={f:.2}"),
            None => executor.to_string(),
        };
        let lx = ox + LEGEND_X;
        if pts.len() > 1 {
            let _ = writeln!(
                out,
                r#"<line x1="{lx:.1}" y1="{legend_y:.1}" x2="{:.1}" y2="{legend_y:.1}" stroke="{colour}" stroke-width="2.2"/>"#,
                lx + 20.0
            );
        } else {
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{legend_y:.1}" r="3.5" fill="{colour}"/>"#,
                lx + 10.0
            );
        }
        let _ = writeln!(
            out,
            r#"<text class="axis legend" x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 26.0,
            legend_y + 4.0,
            esc(&label)
        );
        legend_y += 17.0;
    }
    // The reference lines' legend entries: a line swatch in their own stroke, and a label.
    let lx = ox + LEGEND_X;
    let mut reference = |y: f64, stroke: &str, label: &str| {
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" {stroke}/><text class="axis legend" x="{:.1}" y="{:.1}">{label}</text>"#,
            lx + 20.0,
            lx + 26.0,
            y + 4.0
        );
    };
    reference(legend_y, r##"stroke="#999" stroke-width="2""##, "ideal");
    if !ceiling.is_empty() {
        legend_y += 17.0;
        reference(
            legend_y,
            r##"stroke="#555" stroke-width="1.6" stroke-dasharray="2 3""##,
            "measured ceiling",
        );
    }
    if series.iter().any(|(_, _, fit, _)| fit.is_some()) {
        reference(
            legend_y + 17.0,
            r##"stroke="#555" stroke-width="1.5" stroke-dasharray="6 4""##,
            "Amdahl fit",
        );
    }
    if series.iter().all(|(_, pts, _, _)| pts.is_empty()) {
        let _ = writeln!(
            out,
            r#"<text class="note" x="{:.1}" y="{:.1}" text-anchor="middle">no speedups: serial did not run for this workload</text>"#,
            x0 + PLOT_W / 2.0,
            y0 - PLOT_H / 2.0
        );
    }
    let _ = writeln!(out, "</g>");
}

/// Writes the speedup chart of `results` to `path` (`.svg`, or `.html` with tooltips),
/// atomically.
pub fn speedup_chart(results: &[RunResult], cores: usize, path: &Path) -> Result<()> {
    let svg = speedup_svg(results, cores)?;
    write_picture(path, "parbench speedup", &svg)
}

/// The speedup chart of `results` as the text of the file `path` names (SVG or HTML), for a
/// command that writes it with its other outputs (`parbench run --chart FILE`).
pub fn speedup_picture(
    results: &[RunResult],
    cores: usize,
    path: &Path,
) -> Result<String, UsageError> {
    super::picture_text(path, "parbench speedup", speedup_svg(results, cores)?)
}
