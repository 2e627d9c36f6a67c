//! `py-processes`: CPython ProcessPoolExecutor of W forked processes (pickles arguments and results).

use super::{start, Kind};
use crate::executor::ExecutorInfo;

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "py-processes",
    about: "CPython ProcessPoolExecutor of W forked processes (pickles arguments and results)",
    scales: true,
    start: |options| start(Kind::Processes, options),
};
