//! Progress of a long sweep on stderr: "configuration i of n", a bar and an ETA.
//!
//! The bar draws only when stderr is a terminal and the user did not ask for quiet, so JSON
//! or CSV on stdout and logs piped from stderr stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A progress bar over the configurations of a sweep.
///
/// Call [`Progress::step`] when a configuration starts and [`Progress::finish`] at the end.
/// The bar's position counts *finished* configurations, so the ETA is based on completed
/// work, while the prefix names the one running now.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    total: u64,
    started: u64,
}

impl Progress {
    /// A bar over `total` configurations; hidden when `quiet` or when stderr is not a terminal.
    pub fn new(total: usize, quiet: bool) -> Self {
        let visible = !quiet && std::io::stderr().is_terminal();
        Self::with_visibility(total, visible)
    }

    /// A bar that draws on stderr when `visible`, whatever stderr is. For tests and for
    /// callers that decide visibility themselves.
    pub fn with_visibility(total: usize, visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let total = total as u64;
        let bar = ProgressBar::with_draw_target(Some(total), target);
        // The template is a constant; if indicatif ever rejected it, the default style is a
        // fine fallback rather than a reason to fail a sweep.
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:30.cyan/blue}] {elapsed_precise} ETA {eta} {wide_msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress {
            bar,
            total,
            started: 0,
        }
    }

    /// Marks the previous configuration done and the next one, described by `label`, started.
    pub fn step(&mut self, label: impl Into<String>) {
        let previous_done = self.started > 0 && self.bar.position() < self.total;
        self.started = (self.started + 1).min(self.total.max(1));
        // Label first, then the count: one redraw shows the new configuration and progress.
        self.bar.set_message(label.into());
        self.bar
            .set_prefix(format!("configuration {} of {}", self.started, self.total));
        if previous_done {
            self.bar.inc(1);
        }
    }

    /// A bar of time rather than steps, for a run whose length is its budget: its length is
    /// `planned` until [`Progress::plan`] says otherwise, and [`Progress::tick`] moves it to
    /// the time elapsed; it shows what is left and what the run is doing.
    pub fn timed(planned: Duration, quiet: bool) -> Self {
        let p = Progress::new(1, quiet);
        p.bar.set_length(millis(planned));
        if let Ok(style) = ProgressStyle::with_template(
            "[{bar:30.cyan/blue}] {elapsed_precise}, about {eta} left: {wide_msg}",
        ) {
            p.bar.set_style(style.progress_chars("=> "));
        }
        p
    }

    /// Sets a timed bar's length: the whole run is now expected to take `total`.
    pub fn plan(&self, total: Duration) {
        self.bar.set_length(millis(total).max(self.bar.position()));
    }

    /// Moves a timed bar to `elapsed` (never past its length).
    pub fn tick(&self, elapsed: Duration) {
        let len = self.bar.length().unwrap_or(0);
        self.bar.set_position(millis(elapsed).min(len));
    }

    /// Replaces the message of the running configuration (e.g. its round count).
    pub fn message(&self, label: impl Into<String>) {
        self.bar.set_message(label.into());
    }

    /// Marks the last configuration done and removes the bar from the terminal.
    pub fn finish(&mut self) {
        if self.started > 0 && self.bar.position() < self.total {
            self.bar.inc(1);
        }
        self.bar.finish_and_clear();
    }

    /// Runs `f` (which may print to stderr) with the bar out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// True when the bar draws nothing.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Configurations finished so far.
    pub fn finished(&self) -> u64 {
        self.bar.position()
    }

    /// Index (1-based) of the configuration running now; 0 before the first step.
    pub fn current(&self) -> u64 {
        self.started
    }
}

/// Whole milliseconds, for a timed bar's position.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An early return (an error mid-sweep) must not leave a half-drawn bar behind.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_is_hidden_and_counts_steps() {
        let mut p = Progress::new(3, true);
        assert!(p.is_hidden());
        assert_eq!(p.current(), 0);
        p.step("cpu serial x1");
        assert_eq!((p.current(), p.finished()), (1, 0));
        p.step("cpu threads x2");
        p.step("cpu threads x4");
        assert_eq!((p.current(), p.finished()), (3, 2));
        p.finish();
        assert_eq!(p.finished(), 3);
    }

    #[test]
    fn extra_steps_never_pass_the_total() {
        let mut p = Progress::with_visibility(1, false);
        p.step("a");
        p.step("b");
        p.finish();
        assert_eq!(p.current(), 1);
        assert_eq!(p.finished(), 1);
    }

    #[test]
    fn suspend_returns_the_closure_value() {
        let p = Progress::with_visibility(0, false);
        assert_eq!(p.suspend(|| 7), 7);
    }
}
