//! Typed errors. The CLI edge adds context with `anyhow` and maps [`UsageError`] to exit code 2.

use thiserror::Error;

/// Bad input from the user: exit code 2, one line on stderr.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// Builds a usage error from anything printable.
    pub fn new(msg: impl Into<String>) -> Self {
        UsageError(msg.into())
    }
}

/// A task that did not produce an output. Serialisable so a worker process can send it back.
#[derive(Debug, Error, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[error("{message}")]
pub struct TaskError {
    /// Human-readable cause: the panic message, the HTTP status, the IO error.
    pub message: String,
}

impl TaskError {
    /// A task error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        TaskError {
            message: msg.into(),
        }
    }

    /// Turns a caught panic payload into a task error carrying the panic message.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let text = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "non-string panic payload".to_string()
        };
        TaskError::new(format!("panicked: {text}"))
    }
}

/// One failed task, named so that nothing is lost silently.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskFailure {
    /// Index of the task in its batch.
    pub task: usize,
    /// Worker that ran it (thread index, or process id for the process pool).
    pub worker: String,
    /// Why it failed.
    pub error: TaskError,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "task {} on worker {}: {}",
            self.task, self.worker, self.error
        )
    }
}

/// Why a batch, a pool or a workload could not do its job.
#[derive(Debug, Error)]
pub enum Error {
    /// The user asked for something that cannot be.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// One or more tasks failed; the others completed and are kept in the batch. The message
    /// names every failed task (up to [`NAMED_FAILURES`]) with the worker that ran it.
    #[error("{}", describe_failures(failures, *total))]
    TasksFailed {
        /// Every failed task, in task order.
        failures: Vec<TaskFailure>,
        /// Number of tasks in the batch.
        total: usize,
    },
    /// A result differs from the serial executor's.
    #[error("checksum mismatch for {config}: got {got:#018x}, serial gave {want:#018x}")]
    ChecksumMismatch {
        /// workload/executor/workers.
        config: String,
        /// This executor's checksum.
        got: u64,
        /// Serial's checksum.
        want: u64,
    },
    /// Setting up a workload (server, temporary directory, inputs) failed.
    #[error("workload {workload}: {message}")]
    Workload {
        /// Workload name.
        workload: String,
        /// Cause.
        message: String,
    },
    /// An executor could not start or lost its workers.
    #[error("executor {executor}: {message}")]
    Executor {
        /// Executor name.
        executor: String,
        /// Cause.
        message: String,
    },
    /// A worker process broke the framing protocol or closed its pipe.
    #[error("protocol error with worker {worker}: {message}")]
    Protocol {
        /// Worker process id.
        worker: String,
        /// What was wrong.
        message: String,
    },
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// An output (a file or stdout) could not be written after the work was done; the other
    /// outputs were still written. One line naming each failed output and its cause.
    #[error("{0}")]
    Output(String),
    /// The run was stopped by this signal (SIGINT, SIGTERM or SIGHUP) after cleaning up; the
    /// process exits 128 + the signal number.
    #[error("interrupted by {}", signal_name(*.0))]
    Interrupted(i32),
    /// A fork of the run (`--forks`) failed: its own one-line error and its exit status. The
    /// fork prints nothing; its parent says this.
    #[error("{message}")]
    Fork {
        /// The fork's error, one line.
        message: String,
        /// The fork's exit status.
        code: i32,
    },
    /// The run reached `--max-time` (seconds) and stopped starting blocks; what it measured
    /// was kept, marked partial.
    #[error("stopped at --max-time {0} s; the results are partial")]
    MaxTime(f64),
}

impl Error {
    /// Shorthand for a workload error.
    pub fn workload(workload: &str, message: impl std::fmt::Display) -> Self {
        Error::Workload {
            workload: workload.to_string(),
            message: message.to_string(),
        }
    }

    /// Shorthand for an executor error.
    pub fn executor(executor: &str, message: impl std::fmt::Display) -> Self {
        Error::Executor {
            executor: executor.to_string(),
            message: message.to_string(),
        }
    }

    /// Shorthand for an IO error on a path.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// How many failed tasks an error message names before it says "and N more": enough to see
/// a pattern, few enough to stay one readable line.
pub const NAMED_FAILURES: usize = 10;

/// Joins the first [`NAMED_FAILURES`] items with "; " and says how many more there are, so a
/// list of failures stays one line whatever its length.
pub fn list_capped<T: std::fmt::Display>(items: &[T]) -> String {
    let mut text = items
        .iter()
        .take(NAMED_FAILURES)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > NAMED_FAILURES {
        text.push_str(&format!("; and {} more", items.len() - NAMED_FAILURES));
    }
    text
}

/// "3999 of 4000 tasks failed: GET .../item/0: ... (first: task 0 on worker 0 (pid 42))":
/// see [`summarise_failures`].
pub fn describe_failures(failures: &[TaskFailure], total: usize) -> String {
    format!(
        "{} of {total} tasks failed: {}",
        failures.len(),
        summarise_failures(failures)
    )
}

/// The failures as one line: tasks whose errors are the same once the task's own specifics
/// (its index, worker and pid, [`SPECIFICS`]) are taken out form one group, shown with the
/// first task's error, the group's size and that first task; a group of one is named as
/// before ("task 3 on worker 1 (pid 42): ..."). Up to [`NAMED_FAILURES`] groups, in the order
/// of their first task, then how many more. A thousand tasks failing the same way is one
/// cause, and the line stays short enough to read it.
pub fn summarise_failures(failures: &[TaskFailure]) -> String {
    let mut groups: Vec<(String, &TaskFailure, usize)> = Vec::new();
    for f in failures {
        let key = without_specifics(&f.error.message);
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, n)) => *n += 1,
            None => groups.push((key, f, 1)),
        }
    }
    let all_one = groups.len() == 1;
    let mut parts: Vec<String> = groups
        .iter()
        .take(NAMED_FAILURES)
        .map(|&(_, first, n)| {
            let origin = format!("task {} on worker {}", first.task, first.worker);
            match n {
                1 => format!("{origin}: {}", first.error),
                _ if all_one => format!("{} (first: {origin})", first.error),
                _ => format!("{n} tasks: {} (first: {origin})", first.error),
            }
        })
        .collect();
    if groups.len() > NAMED_FAILURES {
        let rest = &groups[NAMED_FAILURES..];
        parts.push(format!(
            "and {} more distinct errors in {} tasks",
            rest.len(),
            rest.iter().map(|(_, _, n)| n).sum::<usize>()
        ));
    }
    parts.join("; ")
}

/// Where an error message names its own task, worker or pid: the number right after each of
/// these is a specific of that task, not part of its cause ("task 3", io's "task-3.txt",
/// api's "/item/3", "worker 1", "pid 42").
pub const SPECIFICS: [&str; 5] = ["task ", "task-", "/item/", "worker ", "pid "];

/// `message` with the number after each of [`SPECIFICS`] replaced by `#`.
fn without_specifics(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let next_is_digit = chars.peek().is_some_and(char::is_ascii_digit);
        if next_is_digit && SPECIFICS.iter().any(|m| out.ends_with(m)) {
            out.push('#');
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        }
    }
    out
}

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// "SIGINT", "SIGTERM", "SIGHUP", or "signal N".
pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGKILL => "SIGKILL".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(task: usize) -> TaskFailure {
        failing(task, "boom")
    }

    fn failing(task: usize, message: &str) -> TaskFailure {
        TaskFailure {
            task,
            worker: format!("{} (pid {})", task % 2, 100 + task % 2),
            error: TaskError::new(message),
        }
    }

    #[test]
    fn a_failed_task_alone_is_named_with_its_worker() {
        let text = Error::TasksFailed {
            failures: vec![failure(1)],
            total: 2,
        }
        .to_string();
        assert_eq!(
            text,
            "1 of 2 tasks failed: task 1 on worker 1 (pid 101): boom"
        );
    }

    #[test]
    fn identical_errors_are_one_group_with_their_count_and_first_task() {
        // Issue 25: 3999 clients saw the same EOF; each message names its own task.
        let mut failures: Vec<TaskFailure> = (0..3999)
            .map(|t| {
                failing(
                    t,
                    &format!("api/async/512: GET http://127.0.0.1:4000/item/{t}: unexpected EOF"),
                )
            })
            .collect();
        let text = describe_failures(&failures, 4000);
        assert_eq!(
            text,
            "3999 of 4000 tasks failed: api/async/512: GET http://127.0.0.1:4000/item/0: \
             unexpected EOF (first: task 0 on worker 0 (pid 100))"
        );
        // A different cause is a group of its own, named after the first.
        failures.insert(
            0,
            failing(
                7,
                "worker 1 (pid 101) was killed by signal 9 while running task 7",
            ),
        );
        let text = describe_failures(&failures, 4000);
        assert_eq!(
            text,
            "4000 of 4000 tasks failed: task 7 on worker 1 (pid 101): worker 1 (pid 101) was \
             killed by signal 9 while running task 7; 3999 tasks: api/async/512: GET \
             http://127.0.0.1:4000/item/0: unexpected EOF (first: task 0 on worker 0 (pid 100))"
        );
        // Numbers that are not the task's own keep errors apart: status codes, ports.
        let two = [failing(0, "status 500"), failing(1, "status 503")];
        assert!(describe_failures(&two, 2).contains("task 1 on worker 1 (pid 101): status 503"));
    }

    #[test]
    fn distinct_errors_are_listed_up_to_the_cap() {
        let many: Vec<TaskFailure> = (0..25)
            .map(|t| failing(t, &format!("cause {}", t % 13)))
            .collect();
        let text = Error::TasksFailed {
            failures: many,
            total: 30,
        }
        .to_string();
        assert!(
            text.starts_with("25 of 30 tasks failed: 2 tasks: cause 0 (first: task 0 on worker 0"),
            "{text}"
        );
        assert!(
            text.contains("2 tasks: cause 9 (first: task 9 on worker 1 (pid 101))"),
            "{text}"
        );
        assert!(!text.contains("cause 10"), "{text}");
        assert!(
            text.ends_with("; and 3 more distinct errors in 5 tasks"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);
    }
}
