//! Pictures: task timelines (the seed's figure) and speedup charts, as SVG or HTML.
//!
//! The SVG is written directly rather than through plotters: every bar and point carries its
//! record as `data-*` attributes and a `<title>` tooltip, so a browser shows details on hover
//! and a test can read the picture back and check it against the records. The only layout is
//! fixed margins plus one rule for task labels (inside the bar, else beside it, else left to
//! the tooltip), so no text engine is needed.

use crate::error::{Error, Result, UsageError};
use std::fmt::Write as _;
use std::path::Path;

mod html;
pub mod speedup;
pub mod timeline;

pub use speedup::{speedup_chart, speedup_picture, speedup_svg};
pub use timeline::{
    result_timeline, timeline_file_name, timeline_svg, write_result_timeline, write_timeline,
    write_timelines, Panel,
};

/// How a picture is written, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A standalone SVG file; `<title>` elements give native tooltips.
    Svg,
    /// An HTML page embedding the SVG, with instant hover tooltips.
    Html,
}

impl Format {
    /// The format for `path` from its extension alone: `.svg`, `.html` or `.htm` (any case).
    /// Anything else is a usage error.
    pub fn of(path: &Path) -> Result<Format, UsageError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("html") | Some("htm") => Ok(Format::Html),
            _ => Err(UsageError::new(format!(
                "{}: unknown picture format; use a .svg or .html file name",
                path.display()
            ))),
        }
    }

    /// The format for `path`, which must also be writable ([`crate::output::check_file`]),
    /// so a long run fails before it starts rather than after.
    pub fn for_output(path: &Path) -> Result<Format, UsageError> {
        let format = Format::of(path)?;
        crate::output::check_file("output", path)?;
        Ok(format)
    }
}

/// Checks a picture output of option `flag` before any work: a known extension and a path
/// that can be written.
pub fn check_picture(flag: &str, path: &Path) -> Result<Format, UsageError> {
    let format = Format::of(path).map_err(|e| UsageError::new(format!("{flag} {e}")))?;
    crate::output::check_file(flag, path)?;
    Ok(format)
}

/// The text of a picture file: the SVG, or an HTML page around it for `.html` paths.
pub fn picture_text(path: &Path, title: &str, svg: String) -> Result<String, UsageError> {
    Ok(match Format::of(path)? {
        Format::Svg => svg,
        Format::Html => html::page(title, &svg),
    })
}

/// Writes an SVG picture to `path` atomically, wrapped in an HTML page when the extension
/// asks for it.
pub(crate) fn write_picture(path: &Path, title: &str, svg: &str) -> Result<()> {
    Format::for_output(path)?;
    let text = picture_text(path, title, svg.to_string())?;
    crate::output::write_atomic(path, text.as_bytes()).map_err(|e| Error::io(path, e))
}

/// Escapes text for SVG/HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Evenly spaced "nice" axis ticks (steps of 1, 2 or 5 x 10^k) from 0 up to at least `max`,
/// about `target` of them. Returns the tick values; the last one is the axis end.
pub(crate) fn nice_ticks(max: f64, target: usize) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / target.max(1) as f64;
    let exponent = raw.log10().floor() as i32;
    let magnitude = 10f64.powi(exponent);
    let mantissa = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|m| m * magnitude >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0);
    let step = mantissa * magnitude;
    let count = (max / step - 1e-9).ceil().max(1.0) as usize;
    // Dividing by an exact power of ten keeps 0.6 as 0.6, not 0.6000000000000001.
    let value = |i: usize| {
        let units = i as f64 * mantissa;
        if exponent < 0 {
            units / 10f64.powi(-exponent)
        } else {
            units * magnitude
        }
    };
    (0..=count).map(value).collect()
}

/// A tick label without trailing noise: "0", "250", "0.5", "12.5".
pub(crate) fn tick_label(value: f64) -> String {
    let s = format!("{value:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// The fill colour of task `index`: the same task has the same colour in every chart, and
/// neighbouring indices are far apart on the colour wheel (golden-angle hue steps).
pub fn task_colour(index: usize) -> String {
    let hue = (index as f64 * 137.507_764) % 360.0;
    let light = [66.0, 58.0, 76.0][index % 3];
    format!("hsl({hue:.1},62%,{light:.0}%)")
}

/// The line colour of an executor: fixed per name, so the same executor looks the same in
/// every chart. Registered executors take the palette in registry order.
pub fn executor_colour(name: &str) -> &'static str {
    // Colour-blind-safe (Okabe-Ito, with black for the baseline), one hue family per
    // executor so that neighbours in the registry never look alike.
    const PALETTE: [&str; 10] = [
        "#222222", "#e69f00", "#0072b2", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442",
        "#9c755f", "#bab0ac",
    ];
    let index = crate::executor::EXECUTORS
        .iter()
        .position(|e| e.name == name)
        .unwrap_or_else(|| {
            // Unknown names (results read from an older file): a stable hash of the name.
            name.bytes()
                .fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
        });
    PALETTE[index % PALETTE.len()]
}

/// Milliseconds with their unit, for titles and tooltips ([`crate::export::ms`]).
pub(crate) fn ms(seconds: f64) -> String {
    format!("{} ms", crate::export::ms(seconds))
}

/// The opening of an SVG document of this size, with the shared styles.
pub(crate) fn svg_open(out: &mut String, width: f64, height: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Verdana, Arial, sans-serif">
<title>{}</title>
<style>
.title {{ font-size: 15px; font-weight: bold; }}
.head {{ font-size: 12px; font-weight: bold; }}
.axis {{ font-size: 11px; fill: #333; }}
.note {{ font-size: 11px; fill: #555; }}
.grid {{ stroke: #e4e4e4; stroke-width: 1; }}
.frame {{ stroke: #999; stroke-width: 1; fill: none; }}
</style>
<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="white"/>
"#,
        esc(title)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_cover_the_range_with_nice_steps() {
        let t = nice_ticks(412.0, 8);
        assert_eq!(t[0], 0.0);
        assert!(*t.last().unwrap() >= 412.0);
        assert_eq!(t[1] - t[0], 100.0);
        assert!(t.len() <= 9);
        assert_eq!(nice_ticks(0.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let t = nice_ticks(2.0, 4);
        assert_eq!(t, vec![0.0, 0.5, 1.0, 1.5, 2.0]);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(250.0), "250");
        assert_eq!(tick_label(0.6000000000000001), "0.6");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn output_format_from_extension() {
        assert_eq!(Format::for_output(Path::new("t.svg")).unwrap(), Format::Svg);
        assert_eq!(
            Format::for_output(Path::new("T.HTML")).unwrap(),
            Format::Html
        );
        assert!(Format::for_output(Path::new("t.png")).is_err());
        assert!(Format::for_output(Path::new("t")).is_err());
        assert!(Format::for_output(Path::new("/no/such/dir/t.svg")).is_err());
    }

    #[test]
    fn colours_are_stable() {
        assert_eq!(task_colour(3), task_colour(3));
        assert_ne!(task_colour(3), task_colour(4));
        assert_eq!(executor_colour("threads"), executor_colour("threads"));
        assert_ne!(executor_colour("serial"), executor_colour("threads"));
    }
}
