//! The seed's figure: one lane per worker, one bar per task from its start to its stop.
//!
//! Several executors stack as panels over one shared time axis, so "did the work overlap?"
//! and "which finished first?" are answered at a glance.

use super::{esc, ms, nice_ticks, svg_open, task_colour, tick_label, write_picture};
use crate::error::{Error, Result};
use crate::executor::MAX_WORKERS;
use crate::measure::{Batch, TaskRecord};
use crate::output::Writer;
use crate::report::RunResult;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One executor's batch, drawn as one panel of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Executor name.
    pub executor: String,
    /// Worker count: the number of lanes (more if a record names a higher worker).
    pub workers: usize,
    /// Wall time of the batch in seconds, marked by a dashed line.
    pub wall_s: f64,
    /// One record per task.
    pub records: Vec<TaskRecord>,
}

impl Panel {
    /// A panel from a batch that just ran.
    pub fn from_batch(executor: &str, workers: usize, batch: &Batch) -> Panel {
        Panel {
            executor: executor.to_string(),
            workers,
            wall_s: batch.wall_s,
            records: batch.records.clone(),
        }
    }

    /// A panel from a sweep's result: its records are those of the median repetition.
    pub fn from_result(result: &RunResult) -> Panel {
        Panel {
            executor: result.executor.clone(),
            workers: result.workers,
            wall_s: result.wall_s.median,
            records: result.records.clone(),
        }
    }

    /// Number of lanes: one per worker, even for a worker that ran nothing.
    pub fn lanes(&self) -> usize {
        self.lane_map().len()
    }

    /// Which worker each lane shows: workers 0..W (idle ones included, and up to the highest
    /// a record names), then any worker number beyond [`MAX_WORKERS`] that a record names.
    /// The picture costs one lane per entry, so a corrupt `workers` or `worker` can never
    /// make it larger than [`MAX_WORKERS`] lanes plus one per record.
    fn lane_map(&self) -> LaneMap {
        let named_below_cap = self
            .records
            .iter()
            .map(|r| r.worker)
            .filter(|&w| w < MAX_WORKERS)
            .map(|w| w + 1)
            .max()
            .unwrap_or(0);
        let dense = self.workers.min(MAX_WORKERS).max(named_below_cap).max(1);
        let mut sparse: Vec<usize> = self
            .records
            .iter()
            .map(|r| r.worker)
            .filter(|&w| w >= dense)
            .collect();
        sparse.sort_unstable();
        sparse.dedup();
        LaneMap { dense, sparse }
    }

    /// "threads x4", or just "serial" for the baseline executor.
    pub fn label(&self) -> String {
        if crate::executor::is_baseline(&self.executor) && self.workers <= 1 {
            self.executor.clone()
        } else {
            format!("{} x{}", self.executor, self.workers)
        }
    }

    /// Latest instant the panel needs on the time axis, in seconds.
    fn end_s(&self) -> f64 {
        self.records
            .iter()
            .map(|r| finite(r.stop_s))
            .fold(finite(self.wall_s), f64::max)
    }

    /// Sub-row of each record inside its lane. Tasks on one worker normally follow each
    /// other; when they overlap (an async worker interleaves many), they get stacked rows
    /// so no bar hides another. Returns the row per record and the rows per lane.
    fn rows(&self) -> (Vec<usize>, Vec<usize>) {
        let map = self.lane_map();
        let lanes = map.len();
        let mut order: Vec<usize> = (0..self.records.len()).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&self.records[a], &self.records[b]);
            finite(ra.start_s)
                .total_cmp(&finite(rb.start_s))
                .then(ra.task.cmp(&rb.task))
        });
        let mut row_ends: Vec<Vec<f64>> = vec![Vec::new(); lanes];
        let mut row_of = vec![0; self.records.len()];
        for i in order {
            let r = &self.records[i];
            let ends = &mut row_ends[map.lane(r.worker)];
            let (start, stop) = (finite(r.start_s), finite(r.stop_s).max(finite(r.start_s)));
            let row = match ends.iter().position(|&end| end <= start + 1e-9) {
                Some(row) => row,
                None => {
                    ends.push(f64::NEG_INFINITY);
                    ends.len() - 1
                }
            };
            ends[row] = stop;
            row_of[i] = row;
        }
        let per_lane = row_ends.iter().map(|e| e.len().max(1)).collect();
        (row_of, per_lane)
    }
}

/// Lanes of a panel: workers `0..dense` in order, then the `sparse` worker numbers.
struct LaneMap {
    dense: usize,
    sparse: Vec<usize>,
}

impl LaneMap {
    fn len(&self) -> usize {
        self.dense + self.sparse.len()
    }

    /// The lane of a worker that the panel has (every record's worker has one).
    fn lane(&self, worker: usize) -> usize {
        if worker < self.dense {
            worker
        } else {
            self.dense + self.sparse.binary_search(&worker).unwrap_or(0)
        }
    }

    /// The worker a lane shows.
    fn worker(&self, lane: usize) -> usize {
        if lane < self.dense {
            lane
        } else {
            self.sparse[lane - self.dense]
        }
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x.max(0.0)
    } else {
        0.0
    }
}

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 28.0;
const TOP: f64 = 34.0;
const PANEL_HEAD: f64 = 22.0;
const PANEL_GAP: f64 = 12.0;
/// Rough advance width of a digit, as a fraction of the font size (DejaVu Sans: 0.64).
const DIGIT_EM: f64 = 0.66;

/// The scales every panel shares.
struct Frame {
    /// Height of one row of bars, in px.
    row_h: f64,
    /// Width of the plotting area, in px.
    plot_w: f64,
    /// The time axis ends here, in ms.
    axis_ms: f64,
}

impl Frame {
    /// x in px of an instant `s` seconds after the origin.
    fn px(&self, s: f64) -> f64 {
        LEFT + finite(s) * 1e3 / self.axis_ms * self.plot_w
    }
}

/// Where a bar is drawn.
#[derive(Clone, Copy)]
struct BarBox {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// Draws the panels, stacked over one shared time axis in milliseconds from each batch's
/// origin, as an SVG document.
pub fn timeline_svg(title: &str, panels: &[Panel]) -> String {
    let layouts: Vec<(Vec<usize>, Vec<usize>)> = panels.iter().map(Panel::rows).collect();
    let total_rows: usize = layouts.iter().map(|(_, l)| l.iter().sum::<usize>()).sum();
    let end_ms = panels.iter().map(Panel::end_s).fold(0.0, f64::max) * 1e3;
    let ticks = nice_ticks(end_ms, 10);
    let frame = Frame {
        row_h: (900.0 / total_rows.max(1) as f64).clamp(3.0, 18.0).floor(),
        plot_w: WIDTH - LEFT - RIGHT,
        axis_ms: *ticks.last().unwrap_or(&1.0),
    };

    let plot_top = TOP + 8.0;
    let panels_h: f64 = layouts
        .iter()
        .map(|(_, l)| PANEL_HEAD + l.iter().sum::<usize>() as f64 * frame.row_h + PANEL_GAP)
        .sum();
    let axis_y = plot_top + panels_h;
    let any_failed = panels.iter().any(|p| p.records.iter().any(|r| !r.ok));
    let height = axis_y + 80.0 + if any_failed { 24.0 } else { 0.0 };

    let mut body = String::new();
    // Grid first, so bars and labels draw over it.
    for t in &ticks {
        let x = LEFT + t / frame.axis_ms * frame.plot_w;
        let _ = writeln!(
            body,
            r#"<line class="grid" x1="{x:.2}" y1="{plot_top:.1}" x2="{x:.2}" y2="{axis_y:.1}"/>"#
        );
    }
    let mut y = plot_top;
    let mut omitted = 0;
    for (panel, (row_of, rows_per_lane)) in panels.iter().zip(&layouts) {
        let (h, missing) = draw_panel(&mut body, &frame, panel, row_of, rows_per_lane, y);
        y += h;
        omitted += missing;
    }
    draw_axis(&mut body, &frame, &ticks, axis_y);
    draw_notes(&mut body, axis_y, omitted, any_failed);

    let mut out = String::new();
    svg_open(&mut out, WIDTH, height, title);
    let _ = writeln!(
        out,
        r##"<defs><pattern id="failed-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#c00000" stroke-width="2.5"/></pattern></defs>"##
    );
    let _ = writeln!(
        out,
        r#"<text class="title" x="{LEFT}" y="{:.1}">{}</text>"#,
        TOP - 12.0,
        esc(title)
    );
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

/// One panel at `top`: head line, lanes, bars, labels, wall line. Returns its height and
/// the number of task labels that did not fit.
fn draw_panel(
    out: &mut String,
    frame: &Frame,
    panel: &Panel,
    row_of: &[usize],
    rows_per_lane: &[usize],
    top: f64,
) -> (f64, usize) {
    let row_h = frame.row_h;
    let failed = panel.records.iter().filter(|r| !r.ok).count();
    let lanes_h = rows_per_lane.iter().sum::<usize>() as f64 * row_h;
    let _ = writeln!(
        out,
        r#"<g class="panel" data-executor="{}" data-workers="{}" data-lanes="{}" data-wall-ms="{:.3}">"#,
        esc(&panel.executor),
        panel.workers,
        panel.lanes(),
        panel.wall_s * 1e3
    );
    let mut head = format!(
        "{} · wall {} · {} tasks",
        panel.label(),
        ms(panel.wall_s),
        panel.records.len()
    );
    if failed > 0 {
        let _ = write!(head, " · {failed} failed");
    }
    let _ = writeln!(
        out,
        r#"<text class="head" x="{LEFT}" y="{:.1}">{}</text>"#,
        top + 15.0,
        esc(&head)
    );
    let lanes_top = top + PANEL_HEAD;

    // Lanes: alternate stripes, a label every few lanes when they are thin.
    let map = panel.lane_map();
    let mut lane_y = Vec::with_capacity(rows_per_lane.len());
    let mut ly = lanes_top;
    let lane_font = 11.0f64.min(row_h - 2.0);
    let label_every = if lane_font >= 7.0 {
        1
    } else {
        (11.0 / row_h).ceil() as usize
    };
    for (lane, rows) in rows_per_lane.iter().enumerate() {
        let worker = map.worker(lane);
        let h = *rows as f64 * row_h;
        let fill = if lane % 2 == 0 { "#f6f6f6" } else { "#ffffff" };
        let _ = writeln!(
            out,
            r#"<rect class="lane" data-worker="{worker}" x="{LEFT}" y="{ly:.2}" width="{:.2}" height="{h:.2}" fill="{fill}"/>"#,
            frame.plot_w
        );
        if lane % label_every == 0 {
            let fs = lane_font.max(7.0);
            let _ = writeln!(
                out,
                r#"<text class="axis" x="{:.1}" y="{:.2}" text-anchor="end" font-size="{fs:.0}">w{worker}</text>"#,
                LEFT - 6.0,
                ly + h / 2.0 + fs * 0.35
            );
        }
        lane_y.push(ly);
        ly += h;
    }
    let _ = writeln!(
        out,
        r#"<rect class="frame" x="{LEFT}" y="{lanes_top:.2}" width="{:.2}" height="{lanes_h:.2}"/>"#,
        frame.plot_w
    );

    let boxes: Vec<BarBox> = panel
        .records
        .iter()
        .zip(row_of)
        .map(|(r, row)| {
            let x = frame.px(r.start_s);
            let pad = if row_h >= 8.0 { 1.5 } else { 0.5 };
            BarBox {
                x,
                y: lane_y[map.lane(r.worker)] + *row as f64 * row_h + pad,
                w: (frame.px(r.stop_s) - x).max(1.0),
                h: row_h - 2.0 * pad,
            }
        })
        .collect();
    draw_bars(out, &panel.records, &boxes);
    let omitted = draw_labels(out, frame, &panel.records, row_of, &boxes);

    let wx = frame.px(panel.wall_s);
    let _ = writeln!(
        out,
        r##"<line class="wall" x1="{wx:.2}" y1="{:.2}" x2="{wx:.2}" y2="{:.2}" stroke="#222" stroke-width="1.2" stroke-dasharray="5 3"><title>{} wall {}</title></line>"##,
        lanes_top - 3.0,
        lanes_top + lanes_h + 3.0,
        esc(&panel.label()),
        ms(panel.wall_s)
    );
    let _ = writeln!(out, "</g>");
    (PANEL_HEAD + lanes_h + PANEL_GAP, omitted)
}

/// One bar per record, carrying the record as data attributes and a tooltip; failed tasks
/// get a hatched red overlay.
fn draw_bars(out: &mut String, records: &[TaskRecord], boxes: &[BarBox]) {
    for (r, b) in records.iter().zip(boxes) {
        let status = if r.ok { "" } else { " · FAILED" };
        let tip = format!(
            "task {} · worker {} (pid {}) · start {} · stop {} · {}{}",
            r.task,
            r.worker,
            r.pid,
            ms(r.start_s),
            ms(r.stop_s),
            ms(r.duration_s()),
            status
        );
        let _ = writeln!(
            out,
            r##"<rect class="bar" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}" stroke="#00000059" stroke-width="0.5" data-task="{}" data-worker="{}" data-pid="{}" data-start-ms="{:.3}" data-stop-ms="{:.3}" data-ok="{}"><title>{}</title></rect>"##,
            b.x,
            b.y,
            b.w,
            b.h,
            task_colour(r.task),
            r.task,
            r.worker,
            r.pid,
            r.start_s * 1e3,
            r.stop_s * 1e3,
            r.ok,
            esc(&tip)
        );
        if !r.ok {
            let _ = writeln!(
                out,
                r##"<rect class="failed" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="url(#failed-hatch)" stroke="#c00000" stroke-width="1.5" pointer-events="none"/>"##,
                b.x, b.y, b.w, b.h
            );
        }
    }
}

/// Task labels: inside the bar when it fits, else just after it when the gap to the next bar
/// in the same row allows, else one size smaller, else left to the tooltip. Returns how many
/// were left out.
fn draw_labels(
    out: &mut String,
    frame: &Frame,
    records: &[TaskRecord],
    row_of: &[usize],
    boxes: &[BarBox],
) -> usize {
    // Where the next bar in the same row starts (or the plot ends).
    let mut next_x = vec![LEFT + frame.plot_w; records.len()];
    let mut by_row: Vec<usize> = (0..records.len()).collect();
    let row_key = |i: usize| (records[i].worker, row_of[i]);
    by_row.sort_by(|&a, &b| {
        row_key(a)
            .cmp(&row_key(b))
            .then(boxes[a].x.total_cmp(&boxes[b].x))
    });
    for pair in by_row.windows(2) {
        if row_key(pair[0]) == row_key(pair[1]) {
            next_x[pair[0]] = boxes[pair[1]].x;
        }
    }

    let base_font = 11.0f64.min(frame.row_h - 5.0);
    let mut omitted = 0;
    for (i, (r, b)) in records.iter().zip(boxes).enumerate() {
        let text = r.task.to_string();
        let mut placed = None;
        let mut fs = base_font;
        while fs >= 7.0 && placed.is_none() {
            let tw = text.len() as f64 * DIGIT_EM * fs;
            if b.w >= tw + 4.0 {
                placed = Some((b.x + b.w / 2.0, "middle", fs));
            } else if next_x[i] - (b.x + b.w) >= tw + 5.0 {
                placed = Some((b.x + b.w + 2.0, "start", fs));
            }
            fs -= 1.0;
        }
        match placed {
            Some((tx, anchor, fs)) => {
                let _ = writeln!(
                    out,
                    r#"<text class="label" data-task="{}" x="{tx:.2}" y="{:.2}" font-size="{fs:.0}" text-anchor="{anchor}" pointer-events="none">{text}</text>"#,
                    r.task,
                    b.y + b.h / 2.0 + fs * 0.36
                );
            }
            None => omitted += 1,
        }
    }
    omitted
}

/// The shared time axis at `axis_y`: ticks in ms and the caption.
fn draw_axis(out: &mut String, frame: &Frame, ticks: &[f64], axis_y: f64) {
    let _ = writeln!(
        out,
        r##"<g class="time-axis" data-max-ms="{}"><line x1="{LEFT}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="#333"/>"##,
        frame.axis_ms,
        LEFT + frame.plot_w
    );
    for t in ticks {
        let x = LEFT + t / frame.axis_ms * frame.plot_w;
        let _ = writeln!(
            out,
            r##"<line class="tick" data-ms="{t}" x1="{x:.2}" y1="{axis_y:.1}" x2="{x:.2}" y2="{:.1}" stroke="#333"/><text class="axis" x="{x:.2}" y="{:.1}" text-anchor="middle">{}</text>"##,
            axis_y + 5.0,
            axis_y + 17.0,
            tick_label(*t)
        );
    }
    let _ = writeln!(
        out,
        r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">time since the batch started (ms)</text></g>"#,
        LEFT + frame.plot_w / 2.0,
        axis_y + 33.0
    );
}

/// How to read the picture, under the axis.
fn draw_notes(out: &mut String, axis_y: f64, omitted: usize, any_failed: bool) {
    let mut second =
        "The number is the task index; the same colour is the same task in every panel."
            .to_string();
    if omitted > 0 {
        let _ = write!(second, " {omitted} labels did not fit: hover a bar.");
    }
    let lines = [
        "One lane per worker, one bar per task from its start to its stop; the dashed line is the batch's wall time.",
        second.as_str(),
    ];
    for (k, line) in lines.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text class="note" x="{LEFT}" y="{:.1}">{}</text>"#,
            axis_y + 54.0 + 16.0 * k as f64,
            esc(line)
        );
    }
    if any_failed {
        let y = axis_y + 90.0;
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{:.1}" width="26" height="12" fill="#ffffff" stroke="#c00000" stroke-width="1.5"/><rect x="{LEFT}" y="{:.1}" width="26" height="12" fill="url(#failed-hatch)"/><text class="note" x="{:.1}" y="{y:.1}">failed task (it stays in the batch; hover for its worker)</text>"##,
            y - 10.0,
            y - 10.0,
            LEFT + 32.0
        );
    }
}

/// Writes a timeline of the panels to `path` (`.svg`, or `.html` with hover tooltips).
pub fn write_timeline(path: &Path, title: &str, panels: &[Panel]) -> Result<()> {
    write_picture(path, title, &timeline_svg(title, panels))
}

/// File name for one configuration's timeline: `cpu-threads-x4.svg`.
pub fn timeline_file_name(result: &RunResult, extension: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!(
        "{}-{}-x{}.{}",
        clean(&result.workload),
        clean(&result.executor),
        result.workers,
        clean(extension)
    )
}

/// One sweep configuration's timeline (its median repetition): the file it goes to in
/// `dir` and the picture's SVG text.
pub fn result_timeline(dir: &Path, result: &RunResult) -> (PathBuf, String) {
    let path = dir.join(timeline_file_name(result, "svg"));
    let panel = Panel::from_result(result);
    let title = format!(
        "{} · {} · wall {} (median repetition) · {} tasks",
        result.workload,
        panel.label(),
        ms(result.wall_s.median),
        result.tasks
    );
    (path, timeline_svg(&title, &[panel]))
}

/// Writes one sweep configuration's timeline into `dir` atomically, creating the directory
/// if needed, and returns the file written.
pub fn write_result_timeline(dir: &Path, result: &RunResult) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (path, svg) = result_timeline(dir, result);
    crate::output::write_atomic(&path, svg.as_bytes()).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// Writes every result's timeline into `dir` for option `flag` through `out`, which keeps
/// going past a failed file and reports it with the command's other outputs. For
/// `parbench run --timeline DIR` and `parbench chart --timeline DIR`.
pub fn write_timelines(out: &mut Writer, flag: &str, dir: &Path, results: &[RunResult]) {
    if !out.dir(flag, dir) {
        return;
    }
    for result in results {
        let (path, svg) = result_timeline(dir, result);
        out.file(flag, &path, svg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(task: usize, worker: usize, start_s: f64, stop_s: f64) -> TaskRecord {
        TaskRecord {
            task,
            worker,
            pid: 1,
            start_s,
            stop_s,
            ok: true,
        }
    }

    #[test]
    fn lanes_cover_idle_workers_and_stray_records() {
        let mut p = Panel {
            executor: "threads".into(),
            workers: 4,
            wall_s: 1.0,
            records: vec![rec(0, 0, 0.0, 1.0)],
        };
        assert_eq!(p.lanes(), 4);
        p.records.push(rec(1, 5, 0.0, 1.0));
        assert_eq!(p.lanes(), 6);
    }

    #[test]
    fn absurd_worker_numbers_cost_one_lane_each_not_one_per_number() {
        let p = Panel {
            executor: "threads".into(),
            workers: 1_000_000,
            wall_s: 1.0,
            records: vec![
                rec(0, usize::MAX, 0.0, 1.0),
                rec(1, 1_000_000_000, 0.0, 1.0),
                rec(2, 1_000_000_000, 0.0, 1.0),
                rec(3, 2, 0.0, 1.0),
            ],
        };
        assert_eq!(p.lanes(), MAX_WORKERS + 2);
        let svg = timeline_svg("absurd", &[p]);
        assert!(svg.len() < 1 << 20, "{} bytes", svg.len());
        assert!(svg.contains(r#"data-worker="1000000000""#));
    }

    #[test]
    fn overlapping_tasks_on_one_worker_get_their_own_rows() {
        let p = Panel {
            executor: "async".into(),
            workers: 1,
            wall_s: 0.3,
            records: vec![
                rec(0, 0, 0.0, 0.2),
                rec(1, 0, 0.1, 0.3),
                rec(2, 0, 0.2, 0.3),
            ],
        };
        let (rows, per_lane) = p.rows();
        assert_eq!(rows, vec![0, 1, 0]);
        assert_eq!(per_lane, vec![2]);
    }

    #[test]
    fn serial_label_has_no_worker_count() {
        let p = Panel {
            executor: "serial".into(),
            workers: 1,
            wall_s: 0.0,
            records: vec![],
        };
        assert_eq!(p.label(), "serial");
        // An empty panel still draws a valid document.
        let svg = timeline_svg("empty", &[p]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
