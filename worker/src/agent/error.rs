//! The agent's one error type.
//!
//! Its messages are what users see: `worker join` prints a registration
//! error and exits, and a job's error is reported to the coordinator as the
//! job's failure, so the texts are kept exactly as they were.

use std::path::PathBuf;

use tonic::Code;

use crate::data::DataError;
use crate::JobError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Registration was refused for good (protocol version, token, request).
    #[error("the coordinator refused this worker ({code:?}): {message}")]
    Refused { code: Code, message: String },
    #[error("bad job spec: {source}")]
    BadSpec { source: serde_json::Error },
    /// A dataset file could not be fetched from the coordinator.
    #[error("fetching {path}: {}", .status.message())]
    Fetch { path: String, status: tonic::Status },
    /// A lease named a file that is not one of the registry's dataset files
    /// (a wrong or hostile coordinator): nothing is fetched or written.
    #[error(
        "the lease names {path} (sha256 {sha256}), which is not a known dataset file; refused"
    )]
    UnknownFile { path: String, sha256: String },
    /// A fetched dataset file is not the one its checksum names.
    #[error("fetching {path}: the received bytes do not match sha256 {sha256}")]
    FetchMismatch { path: String, sha256: String },
    /// A fetched dataset file could not be written to the cache.
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("the job's thread failed: {source}")]
    JobThread { source: tokio::task::JoinError },
}
