//! `py-interpreters`: CPython InterpreterPoolExecutor of W subinterpreters (Python 3.14+).

use super::{start, Kind};
use crate::executor::ExecutorInfo;

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "py-interpreters",
    about: "CPython InterpreterPoolExecutor of W subinterpreters (Python 3.14+)",
    scales: true,
    start: |options| start(Kind::Interpreters, options),
};
