//! What both sides of the wire share: what a job is, the settings it trains
//! with, what it measured, the typed ids, the dataset registry, and the stop
//! signal and secrets (tokens, CA) of every binary.
//!
//! The job types are plain data with serde, so they can travel as JSON
//! inside gRPC messages and be stored verbatim in the coordinator's
//! database. Nothing here trains or serves: the coordinator and the worker
//! depend on this crate and never on each other.

mod dataset;
pub mod ids;
mod job;
pub mod logging;
mod metrics;
pub mod null_float;
mod protocol;
pub mod registry;
pub mod secrets;
mod settings;
pub mod signal;

pub use dataset::{DatasetName, Task, UnknownName};
pub use job::{cell_label, check_aux_group, JobSpec, NoopJob, Objective};
pub use metrics::{AuxHead, AuxMetrics, Explanation, JobResult, Metrics, Probes};
pub use protocol::{
    EarlyStoppingOn, EpochRecord, GInit, IdDeletion, IdExplainer, LrSchedule, Protocol, StopReason,
    LR_COLLAPSED_BELOW,
};
pub use settings::{ignored_by, is_objective_setting, SettingsError, TrainSettings};

/// The version of the training code, part of every job key: results from
/// another version of the science are not reused.
pub const CODE_VERSION: &str = env!("CARGO_PKG_VERSION");
