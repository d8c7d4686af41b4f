//! The user commands against a running coordinator: submit, status,
//! watch, cancel, list, and the export of results.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sweep_proto as pb;

use crate::sweep_file::SweepFileError;

/// What a user's command against a coordinator fails with (these commands
/// and the schedule ones of `schedule::client`). The messages are the text
/// the commands print.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A call the coordinator refused or could not answer: its message alone.
    #[error("{}", .0.message())]
    Rpc(Box<tonic::Status>),
    /// A file of the user's, read or written.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing the exported results.
    #[error(transparent)]
    Write(std::io::Error),
    /// A stored result that is not JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> Self {
        ClientError::Rpc(Box::new(s))
    }
}

impl ClientError {
    /// An I/O error on the user's file at `path`.
    pub(crate) fn file(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
        move |source| ClientError::File {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The sweep's name, as the file gives it (for paths and messages).
pub fn sweep_name(text: &str, source: &str) -> Result<String, SweepFileError> {
    crate::sweep_file::parse(text, source).map(|p| p.file.name)
}

pub async fn submit(
    client: &mut pb::Client,
    path: &Path,
) -> Result<pb::SubmitSweepReply, ClientError> {
    let text = std::fs::read_to_string(path).map_err(ClientError::file(path))?;
    Ok(client
        .submit_sweep(pb::SubmitSweepRequest {
            sweep_toml: text,
            source: path.display().to_string(),
        })
        .await?
        .into_inner())
}

pub fn describe(s: &pb::SweepStatusReply) -> String {
    format!(
        "{}: {} — {}/{} done, {} running, {} queued, {} failed, {} cancelled",
        s.name,
        s.state().label(),
        s.done,
        s.total,
        s.running,
        s.queued,
        s.failed,
        s.cancelled
    )
}

pub fn status_json(s: &pb::SweepStatusReply) -> String {
    serde_json::json!({
        "name": s.name, "state": s.state().label(), "total": s.total, "queued": s.queued,
        "running": s.running, "done": s.done, "failed": s.failed, "cancelled": s.cancelled,
    })
    .to_string()
}

/// Writes the sweep's results as JSON lines (one job each) to `path`;
/// returns how many.
pub async fn export_results(
    client: &mut pb::Client,
    name: &str,
    path: &Path,
) -> Result<usize, ClientError> {
    let mut stream = client
        .list_results(pb::SweepRef {
            name: name.to_string(),
        })
        .await?
        .into_inner();
    let tmp = path.with_extension("jsonl.part");
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(ClientError::file(&tmp))?);
    let mut n = 0;
    while let Some(row) = stream.message().await? {
        let result: serde_json::Value = serde_json::from_str(&row.result_json)?;
        let line = serde_json::json!({
            "job_key": row.job_key,
            "worker_id": row.worker_id,
            "attempt": row.attempt,
            "finished_ms": row.finished_ms,
            "result": result,
        });
        writeln!(out, "{line}").map_err(ClientError::Write)?;
        n += 1;
    }
    out.flush().map_err(ClientError::Write)?;
    drop(out);
    std::fs::rename(&tmp, path).map_err(ClientError::file(path))?;
    Ok(n)
}
