//! The pictures read back: bars, lanes, axes and points checked against the records.

use parbench::commands::chart::{self, ChartArgs};
use parbench::commands::timeline::{self, TimelineArgs};
use parbench::engine::analysis::fill_serial_fractions;
use parbench::engine::stats::{amdahl_fit, Estimate};
use parbench::error::Error;
use parbench::measure::TaskRecord;
use parbench::plot::{
    self, speedup_chart, speedup_svg, timeline_svg, write_result_timeline, write_timeline, Panel,
};
use parbench::report::{RunResult, Spread};
use regex::Regex;
use std::collections::HashMap;

/// One SVG element: its tag and attributes.
#[derive(Debug)]
struct Element {
    attrs: HashMap<String, String>,
}

impl Element {
    fn get(&self, name: &str) -> &str {
        self.attrs
            .get(name)
            .unwrap_or_else(|| panic!("missing attribute {name}"))
    }

    fn num(&self, name: &str) -> f64 {
        self.get(name)
            .parse()
            .unwrap_or_else(|_| panic!("attribute {name} is not a number"))
    }
}

/// Every `<tag ... class="class" ...>` opening tag in document order.
fn elements(svg: &str, tag: &str, class: &str) -> Vec<Element> {
    let open = Regex::new(&format!(r"<{tag}\s([^>]*)>")).unwrap();
    let attr = Regex::new(r#"([\w:-]+)="([^"]*)""#).unwrap();
    open.captures_iter(svg)
        .map(|c| Element {
            attrs: attr
                .captures_iter(&c[1])
                .map(|a| (a[1].to_string(), a[2].to_string()))
                .collect(),
        })
        .filter(|e| {
            e.attrs
                .get("class")
                .is_some_and(|c| c.split_whitespace().any(|w| w == class))
        })
        .collect()
}

/// The text of each `<text class="label" ...>` with its attributes.
fn labels(svg: &str) -> Vec<(Element, String)> {
    let re = Regex::new(r#"<text class="label"([^>]*)>([^<]*)</text>"#).unwrap();
    let attr = Regex::new(r#"([\w:-]+)="([^"]*)""#).unwrap();
    re.captures_iter(svg)
        .map(|c| {
            let attrs = attr
                .captures_iter(&c[1])
                .map(|a| (a[1].to_string(), a[2].to_string()))
                .collect();
            (Element { attrs }, c[2].to_string())
        })
        .collect()
}

fn record(task: usize, worker: usize, start_s: f64, stop_s: f64, ok: bool) -> TaskRecord {
    TaskRecord {
        task,
        worker,
        pid: 4242,
        start_s,
        stop_s,
        ok,
    }
}

/// A deterministic, irregular batch: `tasks` tasks dealt to `workers` lanes, each task's
/// duration varying by a factor of 4, some tasks failed.
fn synthetic(executor: &str, tasks: usize, workers: usize, failed: &[usize]) -> Panel {
    let mut free = vec![0.0f64; workers];
    let mut records = Vec::new();
    for task in 0..tasks {
        let worker = (0..workers)
            .min_by(|&a, &b| free[a].total_cmp(&free[b]))
            .unwrap();
        let duration = 0.004 + 0.012 * ((task * 7919) % 13) as f64 / 12.0;
        let start = free[worker] + 0.0002;
        free[worker] = start + duration;
        records.push(record(
            task,
            worker,
            start,
            start + duration,
            !failed.contains(&task),
        ));
    }
    let wall = free.iter().cloned().fold(0.0, f64::max) + 0.0005;
    Panel {
        executor: executor.into(),
        workers,
        wall_s: wall,
        records,
    }
}

/// Maps milliseconds to pixels using the drawn ticks, and checks the ticks are linear.
fn time_axis(svg: &str) -> (f64, f64, f64) {
    let ticks = elements(svg, "line", "tick");
    assert!(ticks.len() >= 3, "a time axis needs ticks");
    let first = &ticks[0];
    let last = &ticks[ticks.len() - 1];
    assert_eq!(
        first.num("data-ms"),
        0.0,
        "the axis starts at the batch origin"
    );
    let (x0, ms_max) = (first.num("x1"), last.num("data-ms"));
    let px_per_ms = (last.num("x1") - x0) / ms_max;
    for t in &ticks {
        let want = x0 + t.num("data-ms") * px_per_ms;
        assert!((t.num("x1") - want).abs() < 0.05, "ticks are evenly spaced");
    }
    (x0, px_per_ms, ms_max)
}

#[test]
fn timeline_bars_lanes_and_axis_match_the_records() {
    let panels = vec![
        synthetic("serial", 64, 1, &[]),
        synthetic("threads", 64, 16, &[5, 40]),
        synthetic("pool", 64, 16, &[]),
    ];
    let svg = timeline_svg("cpu: 64 tasks", &panels);

    // Panels, lanes per panel.
    let drawn_panels = elements(&svg, "g", "panel");
    assert_eq!(drawn_panels.len(), 3);
    for (g, p) in drawn_panels.iter().zip(&panels) {
        assert_eq!(g.get("data-executor"), p.executor);
        assert_eq!(g.num("data-lanes") as usize, p.workers);
    }
    let lanes = elements(&svg, "rect", "lane");
    assert_eq!(lanes.len(), 1 + 16 + 16);

    // One bar per record, carrying the record, placed on the shared axis.
    let (x0, px_per_ms, ms_max) = time_axis(&svg);
    let max_stop_ms = panels
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.stop_s * 1e3))
        .fold(0.0, f64::max);
    assert!(ms_max >= max_stop_ms, "the axis covers every task");
    assert!(
        ms_max < 2.0 * max_stop_ms,
        "the axis is not padded absurdly"
    );
    let bars = elements(&svg, "rect", "bar");
    let all: Vec<&TaskRecord> = panels.iter().flat_map(|p| &p.records).collect();
    assert_eq!(bars.len(), all.len());
    for (bar, r) in bars.iter().zip(&all) {
        assert_eq!(bar.num("data-task") as usize, r.task);
        assert_eq!(bar.num("data-worker") as usize, r.worker);
        assert_eq!(bar.get("data-ok"), r.ok.to_string());
        let x = x0 + r.start_s * 1e3 * px_per_ms;
        let w = (r.stop_s - r.start_s) * 1e3 * px_per_ms;
        assert!(
            (bar.num("x") - x).abs() < 0.02,
            "bar {} starts at its start",
            r.task
        );
        assert!((bar.num("width") - w.max(1.0)).abs() < 0.02);
    }
    // Bars sit inside their own lane, in their own panel's lanes.
    let mut lane_base = 0;
    let mut bar_index = 0;
    for p in &panels {
        for r in &p.records {
            let lane = &lanes[lane_base + r.worker];
            let bar = &bars[bar_index];
            assert!(bar.num("y") >= lane.num("y"));
            assert!(bar.num("y") + bar.num("height") <= lane.num("y") + lane.num("height") + 1e-6);
            bar_index += 1;
        }
        lane_base += p.workers;
    }
    // Same task, same colour, in every panel.
    let colour_of_5: Vec<&str> = bars
        .iter()
        .filter(|b| b.get("data-task") == "5")
        .map(|b| b.get("fill"))
        .collect();
    assert_eq!(colour_of_5.len(), 3);
    assert!(colour_of_5.windows(2).all(|w| w[0] == w[1]));
    // Failed tasks are marked.
    assert_eq!(elements(&svg, "rect", "failed").len(), 2);
    assert!(svg.contains("2 failed"));
}

#[test]
fn timeline_labels_name_their_task_and_never_overlap() {
    let panels = vec![
        synthetic("serial", 64, 1, &[]),
        synthetic("threads", 64, 16, &[]),
    ];
    let svg = timeline_svg("labels", &panels);
    let labels = labels(&svg);
    assert!(labels.len() > 64, "most bars are labelled");
    // Boxes from the font size with a generous digit width (DejaVu Sans digits: 0.64 em).
    let boxes: Vec<(f64, f64, f64, f64)> = labels
        .iter()
        .map(|(e, text)| {
            assert_eq!(e.get("data-task"), text, "a label shows its task index");
            let fs = e.num("font-size");
            let w = text.len() as f64 * 0.64 * fs;
            let x = match e.get("text-anchor") {
                "middle" => e.num("x") - w / 2.0,
                _ => e.num("x"),
            };
            (x, e.num("y") - 0.75 * fs, w, fs)
        })
        .collect();
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let apart =
                a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "labels overlap: {a:?} {b:?}");
        }
    }
}

#[test]
fn overlapping_tasks_on_one_worker_stay_in_one_lane() {
    // An async worker interleaves tasks: they stack in sub-rows of the same lane.
    let records = (0..6)
        .map(|t| record(t, t % 2, 0.001 * t as f64, 0.02, true))
        .collect();
    let panel = Panel {
        executor: "async".into(),
        workers: 2,
        wall_s: 0.02,
        records,
    };
    let svg = timeline_svg("async", &[panel]);
    assert_eq!(elements(&svg, "rect", "lane").len(), 2);
    let bars = elements(&svg, "rect", "bar");
    for (i, a) in bars.iter().enumerate() {
        for b in &bars[i + 1..] {
            let same_y = (a.num("y") - b.num("y")).abs() < 1e-6;
            assert!(!same_y || a.get("data-worker") != b.get("data-worker"));
        }
    }
}

#[test]
fn html_and_svg_files_and_bad_paths() {
    let dir = tempfile::tempdir().unwrap();
    let panels = [synthetic("threads", 8, 4, &[])];
    let svg_path = dir.path().join("t.svg");
    write_timeline(&svg_path, "t", &panels).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<title>task 0 · worker 0"));

    let html_path = dir.path().join("t.html");
    write_timeline(&html_path, "t", &panels).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg") && html.contains("<script>") && html.contains("mousemove"));
    assert_eq!(elements(&html, "rect", "bar").len(), 8);

    for bad in [dir.path().join("t.png"), dir.path().join("missing/t.svg")] {
        match write_timeline(&bad, "t", &panels) {
            Err(Error::Usage(_)) => {}
            other => panic!("{}: expected a usage error, got {other:?}", bad.display()),
        }
        assert!(!bad.exists());
    }
}

fn result(workload: &str, executor: &str, workers: usize, wall: f64, serial: f64) -> RunResult {
    let spread = Spread {
        median: wall,
        min: wall,
        max: wall,
    };
    RunResult {
        speedup: Some(Estimate::exact(serial / wall)),
        rounds: 1,
        blocks: 1,
        ideal_s: None,
        wall_over_ideal: None,
        cpu_s: wall,
        utilisation: 0.5,
        checksum: 1,
        records: synthetic(executor, 8, workers, &[]).records,
        ..RunResult::new(workload, executor, workers, (8, 1000), spread)
    }
}

/// A sweep on a 2-core machine: processes scale to the cores, threads do not, api waits.
fn sweep() -> Vec<RunResult> {
    let mut out = vec![result("cpu", "serial", 1, 1.0, 1.0)];
    for w in [1, 2, 4, 8] {
        out.push(result("cpu", "threads", w, 1.0 + 0.01 * w as f64, 1.0));
        out.push(result("cpu", "pool", w, 1.0 / w.min(2) as f64 * 1.05, 1.0));
    }
    out.push(result("api", "serial", 1, 0.64, 0.64));
    for w in [1, 2, 4, 8] {
        out.push(result("api", "threads", w, 0.64 / w as f64 + 0.003, 0.64));
    }
    out
}

#[test]
fn speedup_chart_points_lines_and_fits_match_the_results() {
    let results = sweep();
    let cores = 2;
    let svg = speedup_svg(&results, cores).unwrap();
    let panels = elements(&svg, "g", "speedup-panel");
    assert_eq!(panels.len(), 2, "one panel per workload");
    assert_eq!(panels[0].get("data-workload"), "cpu");

    let points = elements(&svg, "circle", "point");
    assert_eq!(
        points.len(),
        results.len(),
        "one point per result with a speedup"
    );
    for r in &results {
        let p = points
            .iter()
            .find(|p| {
                p.get("data-executor") == r.executor
                    && p.num("data-workers") as usize == r.workers
                    && (p.num("data-speedup") - r.speedup.unwrap().median).abs() < 1e-3
            })
            .unwrap_or_else(|| panic!("no point for {} x{}", r.executor, r.workers));
        assert!(p.get("fill") == plot::executor_colour(&r.executor));
    }

    // One line per executor with more than one point, per panel: cpu threads + pool + api threads.
    assert_eq!(elements(&svg, "polyline", "series").len(), 3);
    assert_eq!(elements(&svg, "polyline", "ideal").len(), 2);
    let fits = elements(&svg, "polyline", "amdahl");
    assert_eq!(
        fits.len(),
        3,
        "serial has no fit: it has no point with p > 1"
    );
    let pool_points: Vec<(usize, f64)> = results
        .iter()
        .filter(|r| r.workload == "cpu" && r.executor == "pool")
        .map(|r| (r.workers.min(cores), r.speedup.unwrap().median))
        .collect();
    let pool_fit = fits
        .iter()
        .find(|f| f.get("data-executor") == "pool")
        .unwrap();
    assert!((pool_fit.num("data-f") - amdahl_fit(&pool_points).unwrap()).abs() < 1e-4);
    let threads_fit = fits
        .iter()
        .find(|f| f.get("data-executor") == "threads")
        .unwrap();
    assert!(
        threads_fit.num("data-f") > 0.9,
        "threads do not scale on cpu"
    );
    assert!(pool_fit.num("data-f") < 0.1, "processes do");
}

#[test]
fn speedup_points_sit_at_their_value_on_the_y_axis() {
    let results = sweep();
    let svg = speedup_svg(&results, 2).unwrap();
    // Per panel: the y ticks (value -> pixel) are linear; each point's cy matches them.
    let panel_chunks: Vec<&str> = svg.split(r#"<g class="speedup-panel""#).skip(1).collect();
    assert_eq!(panel_chunks.len(), 2);
    for chunk in panel_chunks {
        let ticks = elements(chunk, "text", "ytick");
        let (t0, tn) = (&ticks[0], &ticks[ticks.len() - 1]);
        // Tick labels sit 4 px below their line.
        let y_of = |v: f64| {
            let (y0, yn) = (t0.num("y") - 4.0, tn.num("y") - 4.0);
            y0 + (v - t0.num("data-value")) / (tn.num("data-value") - t0.num("data-value"))
                * (yn - y0)
        };
        let points = elements(chunk, "circle", "point");
        assert!(!points.is_empty());
        for p in points {
            let s = p.num("data-speedup");
            assert!(s <= tn.num("data-value"), "the y axis covers every point");
            assert!((p.num("cy") - y_of(s)).abs() < 0.05);
        }
    }
}

#[test]
fn speedup_chart_needs_speedups_and_a_good_path() {
    let mut results = sweep();
    for r in &mut results {
        r.speedup = None;
    }
    assert!(speedup_svg(&results, 2).is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.txt");
    assert!(matches!(
        speedup_chart(&sweep(), 2, &path),
        Err(Error::Usage(_))
    ));
    let path = dir.path().join("c.html");
    speedup_chart(&sweep(), 2, &path).unwrap();
    assert!(std::fs::read_to_string(path)
        .unwrap()
        .contains("class=\"point\""));
}

#[test]
fn serial_fractions_are_filled_per_workload_and_executor() {
    let mut results = sweep();
    fill_serial_fractions(&mut results, 2);
    for r in &results {
        match (r.workload.as_str(), r.executor.as_str()) {
            (_, "serial") => assert_eq!(r.serial_fraction, None),
            ("cpu", "threads") => assert!(r.serial_fraction.unwrap() > 0.9),
            ("cpu", "pool") => assert!(r.serial_fraction.unwrap() < 0.1),
            // api waits: its fit uses p = workers, and the 3 ms overhead shows as a small f.
            ("api", "threads") => {
                let f = r.serial_fraction.unwrap();
                assert!(f > 0.0 && f < 0.1, "{f}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn result_timeline_goes_into_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let r = result("cpu", "threads", 4, 0.5, 1.0);
    let path = write_result_timeline(&dir.path().join("timelines"), &r).unwrap();
    assert_eq!(path.file_name().unwrap(), "cpu-threads-x4.svg");
    let svg = std::fs::read_to_string(path).unwrap();
    assert_eq!(elements(&svg, "rect", "bar").len(), r.records.len());
    assert_eq!(elements(&svg, "rect", "lane").len(), 4);
}

#[test]
fn timeline_command_runs_one_batch_per_executor() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("t.svg");
    let parse = |extra: &[&str]| {
        #[derive(clap::Parser)]
        struct Cmd {
            #[command(flatten)]
            args: TimelineArgs,
        }
        let mut argv = vec![
            "timeline",
            "--workload",
            "cpu",
            "--executor",
            "threads,pool",
            "--size",
            "10000",
            "--compare",
            "--quiet",
        ];
        argv.extend_from_slice(extra);
        <Cmd as clap::Parser>::parse_from(argv).args
    };
    let out = output.to_str().unwrap();
    let args = parse(&["-o", out, "--workers", "3", "--tasks", "6"]);
    assert_eq!(timeline::command(args.clone()).unwrap(), 0);
    let svg = std::fs::read_to_string(&output).unwrap();
    let panels = elements(&svg, "g", "panel");
    let names: Vec<&str> = panels.iter().map(|p| p.get("data-executor")).collect();
    assert_eq!(
        names,
        ["serial", "threads", "pool"],
        "--compare adds the baseline"
    );
    assert_eq!(elements(&svg, "rect", "lane").len(), 1 + 3 + 3);
    assert_eq!(elements(&svg, "rect", "bar").len(), 3 * 6);

    let pdf = dir.path().join("t.pdf");
    let bad = parse(&["-o", pdf.to_str().unwrap(), "--workers", "3"]);
    assert!(matches!(timeline::command(bad), Err(Error::Usage(_))));
    let bad = parse(&["-o", out, "--workers", "0"]);
    assert!(matches!(timeline::command(bad), Err(Error::Usage(_))));
    let bad = parse(&["-o", out, "--tasks", "0"]);
    assert!(matches!(timeline::command(bad), Err(Error::Usage(_))));
}

#[test]
fn chart_command_redraws_from_a_json_report() {
    use parbench::report::{Machine, Report};
    let dir = tempfile::tempdir().unwrap();
    let report = Report {
        machine: Machine {
            cores: 2,
            ..Machine::default()
        },
        partial: false,
        results: sweep(),
    };
    let json = dir.path().join("r.json");
    std::fs::write(&json, serde_json::to_string(&report).unwrap()).unwrap();
    let chart = dir.path().join("c.svg");
    let timelines = dir.path().join("tl");
    let args = ChartArgs {
        report: json.clone(),
        output: Some(chart.clone()),
        timeline: Some(timelines.clone()),
        quiet: true,
    };
    assert_eq!(chart::command(args).unwrap(), 0);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert_eq!(
        elements(&svg, "circle", "point").len(),
        report.results.len()
    );
    assert_eq!(
        std::fs::read_dir(&timelines).unwrap().count(),
        report.results.len(),
        "one timeline per configuration"
    );

    let garbage = dir.path().join("bad.json");
    std::fs::write(&garbage, "{not json").unwrap();
    for input in [garbage, dir.path().join("missing.json")] {
        let args = ChartArgs {
            report: input,
            output: Some(chart.clone()),
            timeline: None,
            quiet: true,
        };
        assert!(matches!(chart::command(args), Err(Error::Usage(_))));
    }
    let nothing = ChartArgs {
        report: json,
        output: None,
        timeline: None,
        quiet: true,
    };
    assert!(matches!(chart::command(nothing), Err(Error::Usage(_))));
}

/// The binary, as a user runs it.
fn parbench() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("parbench").expect("binary built")
}

#[test]
fn timeline_binary_is_silent_in_pipes_and_rejects_bad_paths_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("t.svg");
    let out = parbench()
        .args([
            "timeline",
            "--workload",
            "cpu",
            "--executor",
            "serial,threads",
        ])
        .args(["--workers", "2", "--tasks", "4", "--size", "1000", "-o"])
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // stderr is a pipe here: no progress bar, only the one line naming the file written.
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("parbench: wrote {}\n", svg.display())
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(elements(&text, "g", "panel").len(), 2);

    for (output, needle) in [
        (dir.path().join("t.png"), "unknown picture format"),
        (dir.path().join("nowhere/t.svg"), "does not exist"),
    ] {
        let out = parbench()
            .args([
                "timeline",
                "--workload",
                "cpu",
                "--executor",
                "threads",
                "-o",
            ])
            .arg(&output)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }
    let out = parbench()
        .args(["chart", "no-such-report.json", "-o"])
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
