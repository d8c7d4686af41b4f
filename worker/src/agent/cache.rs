//! The dataset cache: where fetched files live, and the datasets already
//! loaded from them.

use std::path::PathBuf;
use std::sync::Arc;

use sweep_shared::JobSpec;

use super::Shared;
use crate::data::{self, Dataset};

/// The job's dataset, loaded (and parsed) once per dataset and row count.
pub(super) fn load_cached(
    shared: &Shared,
    spec: &JobSpec,
) -> Result<Arc<Dataset>, data::DataError> {
    let key = (
        spec.dataset,
        spec.settings.synthetic_rows,
        spec.settings.protocol,
    );
    if let Some(d) = shared.datasets.lock().unwrap().get(&key) {
        return Ok(d.clone());
    }
    let d = Arc::new(data::load(
        spec.dataset,
        &shared.config.cache_dir,
        spec.settings.synthetic_rows,
        spec.settings.protocol,
    )?);
    shared.datasets.lock().unwrap().insert(key, d.clone());
    Ok(d)
}

/// The default cache: `$XDG_CACHE_HOME/mtl-sweep/datasets`, else `~/.cache/...`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("mtl-sweep").join("datasets")
}
