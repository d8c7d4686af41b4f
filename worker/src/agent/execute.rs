//! Preparing a leased job (its spec, its dataset files) and training it on
//! a blocking thread.

use std::sync::Arc;

use sweep_proto as pb;
use sweep_shared::JobSpec;

use super::cache::load_cached;
use super::files::ensure_files;
use super::{AgentError, Shared};

/// Runs one leased job; its result, as JSON, or why it failed.
pub(super) async fn prepare_and_run(
    shared: &Arc<Shared>,
    lease: &pb::Lease,
) -> Result<String, AgentError> {
    let spec: JobSpec =
        serde_json::from_str(&lease.spec_json).map_err(|source| AgentError::BadSpec { source })?;
    // Before anything is fetched or allocated for it.
    spec.validate().map_err(crate::JobError::from)?;
    if spec.noop.is_none() && !spec.dataset.is_builtin() {
        ensure_files(shared, &lease.files).await?;
    }
    let shared = shared.clone();
    let label = spec.label();
    tracing::info!(job = %lease.job_key, attempt = lease.attempt, %label, "job started");
    tokio::task::spawn_blocking(move || -> Result<String, AgentError> {
        let result = if spec.noop.is_some() {
            crate::run_job(&spec, &shared.config.cache_dir)?
        } else {
            let dataset = load_cached(&shared, &spec)?;
            crate::run_on(&spec, &dataset)?
        };
        Ok(serde_json::to_string(&result).expect("a result serialises"))
    })
    .await
    .map_err(|source| AgentError::JobThread { source })?
}
