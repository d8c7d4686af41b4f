//! Fetching a job's dataset files from the coordinator, verified, into the
//! cache directory.

use std::path::Path;

use sweep_proto as pb;

use super::session::with_retry;
use super::{AgentError, Shared};
use crate::data;
use sweep_shared::registry;

/// Fetches the files this worker does not have yet, verified, once.
pub(super) async fn ensure_files(
    shared: &Shared,
    files: &[pb::DataFile],
) -> Result<(), AgentError> {
    let _one_at_a_time = shared.fetching.lock().await;
    for f in files {
        let known =
            registry::known_file(&f.path, &f.sha256).ok_or_else(|| AgentError::UnknownFile {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
            })?;
        let target = shared.config.cache_dir.join(known.path);
        if verified(&target, &f.sha256) {
            continue;
        }
        let mut stream = with_retry(shared, "fetch file", |mut c, _| {
            let sha256 = f.sha256.clone();
            async move { c.fetch_file(pb::FetchFileRequest { sha256 }).await }
        })
        .await
        .map_err(|status| AgentError::Fetch {
            path: f.path.clone(),
            status,
        })?
        .into_inner();
        let mut bytes = Vec::with_capacity(f.bytes as usize);
        while let Some(chunk) = stream.message().await.map_err(|status| AgentError::Fetch {
            path: f.path.clone(),
            status,
        })? {
            bytes.extend_from_slice(&chunk.data);
        }
        if data::sha256_hex(&bytes) != f.sha256 {
            return Err(AgentError::FetchMismatch {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
            });
        }
        write_atomically(&target, &bytes).map_err(|source| AgentError::Write {
            path: target.clone(),
            source,
        })?;
        tracing::info!(file = %f.path, bytes = bytes.len(), "dataset file fetched and cached");
    }
    Ok(())
}

/// Whether `path` exists and holds the bytes of `sha256`.
fn verified(path: &Path, sha256: &str) -> bool {
    std::fs::read(path)
        .map(|b| data::sha256_hex(&b) == sha256)
        .unwrap_or(false)
}

/// Writes `bytes` to `target` through a temporary file and a rename, so a
/// reader never sees half a file.
fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = target.with_extension(format!("part{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, target)
}
