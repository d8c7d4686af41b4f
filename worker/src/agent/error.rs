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

impl AgentError {
    /// Whether another lease of the job could succeed. A spec that does not
    /// parse or validate, or a file the lease names that this worker will
    /// not write, fails the same way on every worker: the job fails at once.
    pub fn retryable(&self) -> bool {
        !matches!(
            self,
            AgentError::BadSpec { .. }
                | AgentError::UnknownFile { .. }
                | AgentError::Job(JobError::Invalid(_))
        )
    }

    /// Whether the attempt counts toward the retry limit: not when this
    /// worker's host failed (its cache could not be written), which says
    /// nothing about the job.
    pub fn counts_toward_limit(&self) -> bool {
        !matches!(self, AgentError::Write { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_files_and_invalid_specs_are_final_and_io_is_not() {
        let unknown = AgentError::UnknownFile {
            path: "/tmp/x".into(),
            sha256: "00".into(),
        };
        assert!(!unknown.retryable());
        let invalid = AgentError::Job(JobError::Invalid(
            sweep_shared::SettingsError::AlphaMissing(sweep_shared::Objective::Mtl),
        ));
        assert!(!invalid.retryable());
        let write = AgentError::Write {
            path: "/cache/x".into(),
            source: std::io::Error::other("disk full"),
        };
        assert!(write.retryable() && !write.counts_toward_limit());
        assert!(AgentError::Job(JobError::Injected("boom".into())).retryable());
    }
}
