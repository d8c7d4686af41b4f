//! One machine, one process: the coordinator of `sweep-coordinator` serving
//! on a loopback port, with workers of `sweep-worker` as tasks beside it.
//!
//! This is the only crate that links both sides of the wire, so that
//! `coordinator serve` never links the trainer and `worker join` never
//! links Polars. `local_run` runs a whole sweep with local workers; `bench`
//! is the coordinator's load benchmark, with simulated workers running the
//! no-op job kind.

pub mod bench;
pub mod error;
pub mod local_run;

pub use error::LocalError;
pub use local_run::{run_sweep, RunOptions};
