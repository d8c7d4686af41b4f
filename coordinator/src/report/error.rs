//! The reports' one error type. Its messages are the text users read (the
//! CLI prints them, tests match on some), so a variant's message is exactly
//! the text the reports gave before they had a type. Callers that speak
//! `String` use `.map_err(|e| e.to_string())`.

use std::path::PathBuf;

use polars::prelude::PolarsError;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The task graph could not be learned (`coordinator graph`).
    #[error("task graph: {0}")]
    Graph(#[from] crate::graph::GraphFailure),
    /// A Polars operation on frames in memory.
    #[error(transparent)]
    Polars(#[from] PolarsError),
    /// Reading or writing the Parquet file at `path`.
    #[error("{}: {source}", .path.display())]
    Parquet { path: PathBuf, source: PolarsError },
    /// A file or directory at `path`.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no such database", .0.display())]
    NoDatabase(PathBuf),
    /// Opening the database at `path`.
    #[error("{}: {source}", .path.display())]
    OpenDatabase {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// Reading an open database.
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
    #[error("{}: no sweep named `{sweep}`", .db.display())]
    UnknownSweep { db: PathBuf, sweep: String },
    /// A stored result that does not parse.
    #[error("job {key}: {source}")]
    BadResult {
        key: String,
        source: serde_json::Error,
    },
    /// The default threshold of a comparison.
    #[error("threshold: {0} is not a non-negative number")]
    BadDefaultThreshold(f64),
    /// A per-metric threshold without `=`.
    #[error("threshold `{0}`: expected METRIC=VALUE, e.g. gf=0.1")]
    ThresholdSyntax(String),
    #[error("threshold `{item}`: unknown metric `{metric}` (known: {known})")]
    ThresholdMetric {
        item: String,
        metric: String,
        /// The compared metrics, comma-separated.
        known: String,
    },
    #[error("threshold `{item}`: `{value}` is not a non-negative number")]
    ThresholdValue { item: String, value: String },
    #[error(transparent)]
    Font(#[from] FontError),
    /// Drawing the plot at `path`; plotters' error type depends on the
    /// backend, so it is kept as text.
    #[error("{}: {message}", .path.display())]
    Plot { path: PathBuf, message: String },
}

impl ReportError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ReportError {
        let path = path.into();
        move |source| ReportError::Io { path, source }
    }

    /// A Parquet error on `path`.
    pub(crate) fn parquet(path: impl Into<PathBuf>) -> impl FnOnce(PolarsError) -> ReportError {
        let path = path.into();
        move |source| ReportError::Parquet { path, source }
    }
}

/// Why the plots have no font. Registered once per process, so the outcome
/// is kept and handed out again: hence `Clone`, which `ReportError` is not.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FontError {
    #[error("{0}: not a TrueType font")]
    NotTrueType(String),
    #[error("SWEEP_FONT={0}: cannot be read")]
    Unreadable(String),
    #[error(
        "no font for the plots: install DejaVu Sans (Debian: fonts-dejavu-core) \
         or set SWEEP_FONT to a .ttf file (looked in {looked})"
    )]
    Missing {
        /// The paths looked in, comma-separated.
        looked: String,
    },
}
