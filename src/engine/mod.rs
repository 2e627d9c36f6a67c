//! The measurement engine's shared pieces: the estimators and the host-ceiling probe, used
//! by the Criterion suite's `ceiling` group and the verdict page.

pub mod probe;
pub mod stats;
