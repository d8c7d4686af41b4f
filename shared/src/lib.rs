//! Types that cross the boundary between the coordinator and the workers:
//! what a job is, the settings it trains with, and what it measured.
//!
//! Everything here is plain data with serde, so it can travel as JSON inside
//! gRPC messages and be stored verbatim in the coordinator's database.

mod dataset;
mod job;
mod metrics;
mod settings;

pub use dataset::{DatasetName, Task, UnknownName};
pub use job::{JobSpec, NoopJob, Objective};
pub use metrics::{Explanation, JobResult, Metrics};
pub use settings::TrainSettings;

/// The version of the training code, part of every job key: results from
/// another version of the science are not reused.
pub const CODE_VERSION: &str = env!("CARGO_PKG_VERSION");
