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
    /// One or more tasks failed; the others completed and are kept in the batch.
    #[error("{} of {total} tasks failed; first: {}", failures.len(), failures.first().map(|f| f.to_string()).unwrap_or_default())]
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
    /// The run was interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
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

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
