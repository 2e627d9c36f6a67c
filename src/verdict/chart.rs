//! A small inline SVG of one workload: speedup against workers, one line per executor with
//! its 95% interval as an error bar, the host ceiling as a grey band, serial at 1.
//!
//! Linear speedup axis with labelled ticks on both axes; workers sit at log2 positions, so
//! 1, 2, 4, 8 are evenly spaced as the sweep doubles them.

use super::analysis::{times, WorkloadVerdict};
use crate::engine::stats::Estimate;
use crate::plot::{esc, executor_colour, nice_ticks, tick_label};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const W: f64 = 560.0;
const H: f64 = 300.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 104.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

/// The chart of `v`, with `ceiling` where measured.
pub(crate) fn speedup_svg(v: &WorkloadVerdict, ceiling: &BTreeMap<usize, Estimate>) -> String {
    let mut xs: Vec<usize> = v.workers.clone();
    xs.extend(ceiling.keys().filter(|w| v.workers.contains(w)));
    xs.sort_unstable();
    xs.dedup();
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let (lo2, hi2) = match (xs.first(), xs.last()) {
        (Some(&a), Some(&b)) => ((a as f64).log2(), (b as f64).log2()),
        _ => (0.0, 0.0),
    };
    let x = |w: usize| -> f64 {
        if hi2 > lo2 {
            LEFT + 14.0 + ((w as f64).log2() - lo2) / (hi2 - lo2) * (plot_w - 28.0)
        } else {
            LEFT + plot_w / 2.0
        }
    };
    let mut top = 1.0f64;
    for c in v.cells.values() {
        if c.speedup.hi.is_finite() {
            top = top.max(c.speedup.hi);
        }
    }
    for w in &xs {
        if let Some(c) = ceiling.get(w).filter(|c| c.hi.is_finite()) {
            top = top.max(c.hi);
        }
    }
    let ticks = nice_ticks(top * 1.05, 5);
    let y_end = *ticks.last().unwrap_or(&1.0);
    let y = |s: f64| TOP + plot_h - s.clamp(0.0, y_end) / y_end * plot_h;

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="v-chart" width="{W:.0}" height="{H:.0}" viewBox="0 0 {W:.0} {H:.0}" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="11" role="img" aria-label="{} speedup against workers">"#,
        esc(&v.workload)
    );
    // Grid and y ticks.
    for &t in &ticks {
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#e6e6e6"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
            LEFT + plot_w,
            y(t),
            y(t),
            LEFT - 6.0,
            y(t) + 4.0,
            tick_label(t)
        );
    }
    // x ticks.
    for &w in &xs {
        let _ = write!(
            out,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="#999"/><text x="{0:.1}" y="{3:.1}" text-anchor="middle" fill="#333">{4}</text>"##,
            x(w),
            TOP + plot_h,
            TOP + plot_h + 4.0,
            TOP + plot_h + 16.0,
            w
        );
    }
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#999"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">workers</text><text transform="translate(12,{:.1}) rotate(-90)" text-anchor="middle" fill="#333">speedup vs serial</text>"##,
        LEFT + plot_w / 2.0,
        H - 6.0,
        TOP + plot_h / 2.0
    );
    // Ceiling band and line.
    let ceil: Vec<(usize, Estimate)> = xs
        .iter()
        .filter_map(|w| Some((*w, *ceiling.get(w)?)))
        .filter(|(_, c)| c.median.is_finite())
        .collect();
    if ceil.len() > 1 {
        let upper: Vec<String> = ceil
            .iter()
            .map(|(w, c)| format!("{:.1},{:.1}", x(*w), y(c.hi)))
            .collect();
        let lower: Vec<String> = ceil
            .iter()
            .rev()
            .map(|(w, c)| format!("{:.1},{:.1}", x(*w), y(c.lo)))
            .collect();
        let line: Vec<String> = ceil
            .iter()
            .map(|(w, c)| format!("{:.1},{:.1}", x(*w), y(c.median)))
            .collect();
        let _ = write!(
            out,
            r##"<polygon points="{} {}" fill="#d9d9d9" fill-opacity="0.6"/><polyline points="{}" fill="none" stroke="#777" stroke-width="1.5" stroke-dasharray="5 3"><title>host ceiling: {}</title></polyline>"##,
            upper.join(" "),
            lower.join(" "),
            line.join(" "),
            ceil.iter()
                .map(|(w, c)| format!("{w}: {}", times(c.median)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // Serial.
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{:.1}" y1="{1:.1}" y2="{1:.1}" stroke="#222" stroke-dasharray="2 3"/>"##,
        LEFT + plot_w,
        y(1.0)
    );
    // Executors, spread a little sideways so error bars do not hide each other.
    let n = v.executors.len().max(1) as f64;
    for (i, e) in v.executors.iter().enumerate() {
        let colour = executor_colour(e);
        let dx = (i as f64 - (n - 1.0) / 2.0) * 3.0;
        let points: Vec<(usize, Estimate)> = v
            .workers
            .iter()
            .filter_map(|w| Some((*w, v.cells.get(&(e.clone(), *w))?.speedup)))
            .filter(|(_, s)| s.median.is_finite())
            .collect();
        if points.len() > 1 {
            let line: Vec<String> = points
                .iter()
                .map(|(w, s)| format!("{:.1},{:.1}", x(*w) + dx, y(s.median)))
                .collect();
            let _ = write!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.8"/>"#,
                line.join(" ")
            );
        }
        for (w, s) in &points {
            let cx = x(*w) + dx;
            let _ = write!(
                out,
                r#"<g><title>{} x{w}: {} (95% {:.2}-{:.2})</title><line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.2"/><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}"/><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}"/><circle cx="{cx:.1}" cy="{:.1}" r="3.2" fill="{colour}"/></g>"#,
                esc(e),
                times(s.median),
                s.lo,
                s.hi,
                y(s.lo),
                y(s.hi),
                cx - 3.0,
                cx + 3.0,
                y(s.lo),
                y(s.lo),
                cx - 3.0,
                cx + 3.0,
                y(s.hi),
                y(s.hi),
                y(s.median)
            );
        }
    }
    // Legend.
    let lx = LEFT + plot_w + 12.0;
    let mut ly = TOP + 8.0;
    for e in &v.executors {
        let _ = write!(
            out,
            r##"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2.5"/><text x="{:.1}" y="{:.1}" fill="#222">{}</text>"##,
            lx + 18.0,
            executor_colour(e),
            lx + 23.0,
            ly + 4.0,
            esc(e)
        );
        ly += 16.0;
    }
    if ceil.len() > 1 {
        let _ = write!(
            out,
            r##"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="#777" stroke-width="1.5" stroke-dasharray="5 3"/><text x="{:.1}" y="{:.1}" fill="#222">ceiling</text>"##,
            lx + 18.0,
            lx + 23.0,
            ly + 4.0
        );
        ly += 16.0;
    }
    let _ = write!(
        out,
        r##"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="#222" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" fill="#222">serial</text></svg>"##,
        lx + 18.0,
        lx + 23.0,
        ly + 4.0
    );
    out
}
