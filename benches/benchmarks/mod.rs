//! The groups of the suite, one file each, and the sweep and knobs they share.

pub mod api;
pub mod config;
pub mod cpu;
pub mod dot;
pub mod io;
pub mod kernel;
pub mod overhead;
pub mod sweep;
