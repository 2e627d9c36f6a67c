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
    #[error("interrupted by {}", crate::interrupt::signal_name(*.0))]
    Interrupted(i32),
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

/// "2 of 8 tasks failed: task 0 on worker 1 (pid 42): ...; task 5 on worker 0 (pid 41): ...":
/// every failed task is named (up to [`NAMED_FAILURES`]), not only the first, so a pattern
/// (one bad worker, one bad input) shows at once.
pub fn describe_failures(failures: &[TaskFailure], total: usize) -> String {
    format!(
        "{} of {total} tasks failed: {}",
        failures.len(),
        list_capped(failures)
    )
}

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(task: usize) -> TaskFailure {
        TaskFailure {
            task,
            worker: format!("{} (pid {})", task % 2, 100 + task % 2),
            error: TaskError::new("boom"),
        }
    }

    #[test]
    fn every_failed_task_is_named_up_to_the_cap() {
        let two: Vec<TaskFailure> = (0..2).map(failure).collect();
        let text = Error::TasksFailed {
            failures: two,
            total: 2,
        }
        .to_string();
        assert_eq!(
            text,
            "2 of 2 tasks failed: task 0 on worker 0 (pid 100): boom; \
             task 1 on worker 1 (pid 101): boom"
        );
        let many: Vec<TaskFailure> = (0..25).map(failure).collect();
        let text = Error::TasksFailed {
            failures: many,
            total: 30,
        }
        .to_string();
        assert!(text.starts_with("25 of 30 tasks failed: task 0 on worker 0"));
        assert!(text.contains("task 9 on worker 1 (pid 101)"), "{text}");
        assert!(!text.contains("task 10 "), "{text}");
        assert!(text.ends_with("; and 15 more"), "{text}");
        assert_eq!(text.lines().count(), 1);
    }
}
