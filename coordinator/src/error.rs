//! The coordinator's one error type, mapped to gRPC status codes in one place.

use crate::report::ReportError;
use crate::state::StateError;
use crate::sweep_file::SweepFileError;

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("{0}")]
    InvalidSweep(String),
    #[error("protocol version {got} is not supported; this coordinator speaks version {want}")]
    ProtocolMismatch { got: u32, want: u32 },
    #[error(transparent)]
    State(#[from] StateError),
    #[error("no dataset file with sha256 {0}")]
    UnknownFile(String),
    #[error("the coordinator's store failed: {0}")]
    Store(String),
    #[error("the coordinator is shutting down")]
    ShuttingDown,
    /// The core's thread ended (a panic, a store it cannot read).
    #[error("the coordinator's core stopped: {0}")]
    CoreStopped(String),
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidSchedule(String),
    #[error("no schedule named `{0}`")]
    UnknownSchedule(String),
    #[error("a schedule named `{0}` exists already")]
    ScheduleExists(String),
    #[error("{0}")]
    Conflict(String),
    /// A report, comparison or plot of a scheduled run.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A task of the coordinator's (a blocking job, the server) that panicked
    /// or was cancelled.
    #[error("{0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<SweepFileError> for CoordinatorError {
    fn from(e: SweepFileError) -> Self {
        CoordinatorError::InvalidSweep(e.to_string())
    }
}

impl From<CoordinatorError> for tonic::Status {
    fn from(e: CoordinatorError) -> Self {
        let message = e.to_string();
        match e {
            CoordinatorError::InvalidSweep(_)
            | CoordinatorError::BadRequest(_)
            | CoordinatorError::InvalidSchedule(_) => tonic::Status::invalid_argument(message),
            CoordinatorError::UnknownSchedule(_) => tonic::Status::not_found(message),
            CoordinatorError::ScheduleExists(_) => tonic::Status::already_exists(message),
            CoordinatorError::Conflict(_) => tonic::Status::failed_precondition(message),
            CoordinatorError::ProtocolMismatch { .. } => {
                tonic::Status::failed_precondition(message)
            }
            CoordinatorError::State(StateError::UnknownWorker(_)) => {
                // Tagged, so a worker re-registers on the kind, not the text.
                let mut s = tonic::Status::not_found(message);
                s.metadata_mut().insert(
                    sweep_proto::ERROR_KIND,
                    sweep_proto::UNKNOWN_WORKER.parse().unwrap(),
                );
                s
            }
            CoordinatorError::State(StateError::UnknownSweep(_))
            | CoordinatorError::UnknownFile(_) => tonic::Status::not_found(message),
            CoordinatorError::Store(_)
            | CoordinatorError::Report(_)
            | CoordinatorError::Task(_) => tonic::Status::internal(message),
            CoordinatorError::ShuttingDown | CoordinatorError::CoreStopped(_) => {
                tonic::Status::unavailable(message)
            }
        }
    }
}
