//! The user commands against a running coordinator: submit, status,
//! watch, cancel, list, and the export of results.

use std::io::Write as _;
use std::path::Path;

use sweep_proto as pb;

/// The sweep's name, as the file gives it (for paths and messages).
pub fn sweep_name(text: &str, source: &str) -> Result<String, String> {
    crate::sweep_file::parse(text, source).map(|p| p.file.name)
}

pub async fn submit(client: &mut pb::Client, path: &Path) -> Result<pb::SubmitSweepReply, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    client
        .submit_sweep(pb::SubmitSweepRequest {
            sweep_toml: text,
            source: path.display().to_string(),
        })
        .await
        .map(|r| r.into_inner())
        .map_err(|s| s.message().to_string())
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
) -> Result<usize, String> {
    let mut stream = client
        .list_results(pb::SweepRef {
            name: name.to_string(),
        })
        .await
        .map_err(|s| s.message().to_string())?
        .into_inner();
    let tmp = path.with_extension("jsonl.part");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?,
    );
    let mut n = 0;
    while let Some(row) = stream
        .message()
        .await
        .map_err(|s| s.message().to_string())?
    {
        let result: serde_json::Value =
            serde_json::from_str(&row.result_json).map_err(|e| e.to_string())?;
        let line = serde_json::json!({
            "job_key": row.job_key,
            "worker_id": row.worker_id,
            "attempt": row.attempt,
            "finished_ms": row.finished_ms,
            "result": result,
        });
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
        n += 1;
    }
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(n)
}
