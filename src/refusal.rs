//! What the operating system refused while a run went on, recorded where it happened (a
//! failed task, a server's accept), so that the run's error can name the limit instead of the
//! symptom a client saw. It sits below the workloads and the measuring code that report
//! refusals; [`crate::limits`], which plans a run against the limits before it starts, reads
//! what is recorded here.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A resource limit; `u64::MAX` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// The limit in force, which a process may raise up to `hard`.
    pub soft: u64,
    /// The ceiling.
    pub hard: u64,
}

impl Rlimit {
    /// No limit.
    pub const UNLIMITED: Rlimit = Rlimit {
        soft: u64::MAX,
        hard: u64::MAX,
    };

    pub(crate) fn read(resource: libc::__rlimit_resource_t) -> Rlimit {
        let mut r = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: getrlimit writes one rlimit we own.
        unsafe { libc::getrlimit(resource, &mut r) };
        let value = |v: libc::rlim_t| {
            if v == libc::RLIM_INFINITY {
                u64::MAX
            } else {
                v
            }
        };
        Rlimit {
            soft: value(r.rlim_cur),
            hard: value(r.rlim_max),
        }
    }
}

/// Descriptors open in this process.
pub fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// A round figure above `need` to suggest: the next power of two.
pub(crate) fn suggest(need: u64) -> u64 {
    need.checked_next_power_of_two().unwrap_or(need)
}

/// Causes found while the run went on: the OS refusing something, seen where it happened.
static REFUSALS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// When a failed task last sampled the descriptors: sampling costs a directory read, so it
/// happens at most every [`SAMPLE_EVERY`].
static LAST_SAMPLE: Mutex<Option<Instant>> = Mutex::new(None);
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// Descriptors within this many of the limit count as exhausted: the one that failed may
/// have been closed again by the time a task reports.
const NEAR_LIMIT: u64 = 8;

fn note(cause: String) {
    let mut refusals = REFUSALS.lock().unwrap_or_else(|p| p.into_inner());
    if !refusals.contains(&cause) {
        refusals.push(cause);
    }
}

/// Records that the OS refused `what` with `error`, when the error is one of exhaustion
/// (descriptors, memory, buffers, ports); other errors are not a limit and are ignored.
pub fn note_refusal(what: &str, error: &std::io::Error) {
    if let Some(limit) = error.raw_os_error().and_then(limit_of_errno) {
        note(format!(
            "{limit}: {what} failed: {}",
            crate::output::os_error_text(error)
        ));
    }
}

/// A task failed: if this process is at its descriptor limit, that is the likely cause (a
/// server that cannot accept or answer shows its clients only an EOF). Cheap enough for the
/// failure path: one directory read, at most every [`SAMPLE_EVERY`].
pub fn watch_failure() {
    {
        let mut last = LAST_SAMPLE.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < SAMPLE_EVERY) {
            return;
        }
        *last = Some(Instant::now());
    }
    let limit = Rlimit::read(libc::RLIMIT_NOFILE).soft;
    if let Some(open) = open_fds() {
        if let Some(cause) = fds_exhausted(open, limit) {
            note(cause);
        }
    }
}

fn fds_exhausted(open: u64, limit: u64) -> Option<String> {
    (open.saturating_add(NEAR_LIMIT) >= limit).then(|| {
        format!(
            "out of file descriptors: this process had {open} open of its limit of {limit} \
             (ulimit -n) when tasks failed; raise it (`ulimit -n {}`) or use fewer workers",
            suggest(limit.saturating_mul(2))
        )
    })
}

/// The limit an errno means, for the errors that are exhaustion rather than a fault.
fn limit_of_errno(errno: i32) -> Option<&'static str> {
    match errno {
        libc::EMFILE => Some("out of file descriptors (ulimit -n)"),
        libc::ENFILE => Some("out of file descriptors system-wide (fs.file-max)"),
        libc::EADDRNOTAVAIL => Some("out of local ports (net.ipv4.ip_local_port_range)"),
        libc::ENOMEM => Some("out of memory"),
        libc::ENOBUFS => Some("out of socket buffers"),
        _ => None,
    }
}

/// The exhaustion an error's text reports through an OS error code ("... (os error 24)"),
/// as a worker process's task error or an executor's start error carries it.
fn limit_in_text(text: &str) -> Option<&'static str> {
    text.match_indices("(os error ").find_map(|(at, m)| {
        let digits: String = text[at + m.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok().and_then(limit_of_errno)
    })
}

/// The limit behind an error with this text, if one was found: the refusals recorded during
/// the run, else an exhaustion errno in the text itself.
pub fn cause(text: &str) -> Option<String> {
    let recorded = REFUSALS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .join("; ");
    if recorded.is_empty() {
        limit_in_text(text).map(str::to_string)
    } else {
        Some(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion_is_told_from_other_errors() {
        assert!(fds_exhausted(100, 1024).is_none());
        let cause = fds_exhausted(250, 256).unwrap();
        assert!(
            cause.contains("had 250 open of its limit of 256 (ulimit -n)"),
            "{cause}"
        );
        assert_eq!(
            limit_in_text("GET /item/3: connect: Cannot assign requested address (os error 99)"),
            Some("out of local ports (net.ipv4.ip_local_port_range)")
        );
        assert_eq!(
            limit_in_text("worker: Too many open files (os error 24)"),
            Some("out of file descriptors (ulimit -n)")
        );
        assert_eq!(limit_in_text("status 500 (os error 2"), None);
    }
}
