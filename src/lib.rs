#![warn(missing_docs)]
//! parbench: for this kind of work, which executor wins, and at how many workers?
//!
//! Two small traits carry the whole design:
//! - [`workload::Workload`]: a list of independent, deterministic tasks with checkable outputs;
//! - [`executor::Executor`]: a started pool of W workers that runs a batch of those tasks.
//!
//! Every batch produces one [`measure::Batch`] record (outputs, per-task start/stop, counters),
//! and that record feeds the table, the exports, the pictures and the Criterion benches.

pub mod cli;
pub mod commands;
pub mod criterion;
pub mod engine;
pub mod error;
pub mod executor;
pub mod export;
pub mod gate;
pub mod interrupt;
pub mod limits;
pub mod measure;
pub mod output;
pub mod plot;
pub mod progress;
pub mod refusal;
pub mod report;
pub mod serve;
pub mod stats;
pub mod system;
pub mod task;
pub mod validate;
pub mod verdict;
pub mod workload;
