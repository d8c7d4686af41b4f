//! The one error type of `sweep-local`. Its messages are what `sweep-local`
//! prints after `error: `, so each is the text the commands gave before
//! they had a type.

use std::path::PathBuf;

use sweep_coordinator::error::CoordinatorError;
use sweep_coordinator::sweep_file::SweepFileError;
use sweep_coordinator::user::ClientError;
use sweep_proto::ConnectError;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A file or directory of the run's, at `path`.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The bench's scratch directory, or the loopback port of the in-process
    /// coordinator.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    SweepFile(#[from] SweepFileError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A user command against the in-process coordinator.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The in-process coordinator, as it stopped.
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    /// A call the coordinator refused or could not answer: its message alone.
    #[error("{}", .0.message())]
    Rpc(Box<tonic::Status>),
    /// A simulated worker's call (`register`, `lease`, `report`) that failed,
    /// with the whole status.
    #[error("{call}: {status}")]
    Call {
        call: &'static str,
        status: Box<tonic::Status>,
    },
    /// A task (a simulated worker, the final report) that panicked.
    #[error("{0}")]
    Task(#[from] tokio::task::JoinError),
    /// A lease's spec or a result that does not (de)serialise.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A simulated worker's no-op job.
    #[error(transparent)]
    Job(#[from] sweep_worker::JobError),
    #[error("only {done} of {jobs} jobs were done")]
    Incomplete { done: u32, jobs: usize },
    #[error("{0} jobs failed; `sweep-local run` again retries them")]
    JobsFailed(u32),
    #[error("interrupted")]
    Interrupted,
    #[error("the coordinator closed the progress stream")]
    ProgressClosed,
}

impl From<tonic::Status> for LocalError {
    fn from(s: tonic::Status) -> Self {
        LocalError::Rpc(Box::new(s))
    }
}

impl LocalError {
    /// A failed call of a simulated worker's, named `call`.
    pub(crate) fn call(call: &'static str) -> impl FnOnce(tonic::Status) -> LocalError {
        move |status| LocalError::Call {
            call,
            status: Box::new(status),
        }
    }

    /// An I/O error on `path`.
    pub(crate) fn file(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LocalError {
        let path = path.into();
        move |source| LocalError::File { path, source }
    }
}
