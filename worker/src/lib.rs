//! The worker: trains one job (the black box `f` and its linear surrogate
//! `g`, jointly, with dfdx) and measures accuracy and fidelity.
//!
//! `data` reads and preprocesses the datasets, `model`/`losses`/`optim`/
//! `train` are the learning, `surrogate`/`metrics`/`lime`/`insertion` the measuring,
//! and `job` ties them into one run.

pub mod agent;
pub mod auxiliary;
pub mod bench;
pub mod callbacks;
pub mod data;
pub mod expo;
pub mod fpu;
#[cfg(test)]
mod gradcheck;
pub mod idexpo;
pub mod insertion;
pub mod job;
pub mod lime;
pub mod linalg;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod noop;
pub mod objective;
pub mod optim;
pub mod probes;
pub mod surrogate;
pub mod train;

pub use job::{run_job, run_on, JobError};
pub use linalg::NumericError;
