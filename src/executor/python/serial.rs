//! `py-serial`: the Python tasks one after another in one CPython process. The baseline of
//! the py-* family, as serial is of ours.

use super::{start, Kind};
use crate::executor::ExecutorInfo;

/// Registry entry.
pub const INFO: ExecutorInfo = ExecutorInfo {
    name: "py-serial",
    about: "the Python tasks one after another in one CPython process: the py-* baseline",
    scales: false,
    start: |options| start(Kind::Serial, options),
};
