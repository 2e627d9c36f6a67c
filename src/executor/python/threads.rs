//! `py-threads`: CPython ThreadPoolExecutor of W threads in one process (under the GIL unless free-threaded).

use super::{start, Kind};
use crate::executor::ExecutorInfo;

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "py-threads",
    about: "CPython ThreadPoolExecutor of W threads in one process (under the GIL unless free-threaded)",
    scales: true,
    start: |options| start(Kind::Threads, options),
};
