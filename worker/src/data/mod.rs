//! Datasets: the five of the published paper, read from verified files, and
//! built-in synthetic ones; all preprocessed into model inputs as
//! `method.md` specifies.

pub mod fetch;
mod loaders;
mod prep;
pub mod split;
mod synthetic;

use std::path::{Path, PathBuf};

use sweep_shared::registry::{self, read_verified};

use sweep_shared::{DatasetName, Protocol, Task};

// The registry (files, checksums, verified reading) is shared with the
// coordinator; these names keep the worker's paths to it short.
pub use prep::{Partition, RawTable};
pub use sweep_shared::registry::{default_data_dir, files, files_identity, sha256_hex, FileError};

/// A dense row-major matrix of model inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub data: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
}

impl Matrix {
    pub fn new(data: Vec<f32>, rows: usize, cols: usize) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix data does not match its shape"
        );
        Matrix { data, rows, cols }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows `range`, copied.
    pub fn rows_range(&self, range: std::ops::Range<usize>) -> Matrix {
        let data = self.data[range.start * self.cols..range.end * self.cols].to_vec();
        Matrix::new(data, range.len(), self.cols)
    }

    /// The rows at `indices`, copied in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix::new(data, indices.len(), self.cols)
    }
}

/// How model-input columns map back to original features. LIME samples and
/// perturbs continuous columns and one-hot groups differently.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureGroup {
    Continuous { col: usize },
    OneHot { start: usize, len: usize },
}

/// A preprocessed dataset, ready for training.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: DatasetName,
    pub task: Task,
    /// One name per model input, e.g. `age` or `sex=Male`.
    pub features: Vec<String>,
    pub groups: Vec<FeatureGroup>,
    pub x_train: Matrix,
    pub y_train: Vec<f32>,
    pub x_test: Matrix,
    pub y_test: Vec<f32>,
    /// Identity of the data: the SHA-256 over the files' checksums, or of
    /// the generator's parameters for built-in datasets.
    pub sha256: String,
    /// Per model input, the factor from the unit GNF's neighbour noise is
    /// drawn in to model units: 1 under method.md (model units); the
    /// inverse of the raw column's training std where the authors' code
    /// perturbs raw values.
    pub noise_scale: Vec<f32>,
    /// Model inputs that are standardised label codes (the authors' Adult):
    /// GNF's neighbours draw them, as a category, from the evaluated points.
    pub coded: Vec<usize>,
}

impl Dataset {
    pub fn inputs(&self) -> usize {
        self.x_train.cols
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: checksum mismatch: expected sha256 {expected}, got {actual}; the file is corrupt or not the published one (re-run `worker fetch`)", path.display())]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("download of {url} failed: {message}")]
    Download { url: String, message: String },
    /// A download that is not what its origin should serve.
    #[error("download of {url} failed: {source}")]
    Unpack { url: String, source: ContentError },
    /// A dataset whose rows cannot be preprocessed; `path` is its first file.
    #[error("{}: {source}", path.display())]
    Unusable { path: PathBuf, source: ContentError },
}

/// What is wrong with data that was read whole: a downloaded archive or
/// ARFF file that cannot be unpacked, or a table too poor to train on.
/// `DataError` adds where the data came from.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("not a tar.gz archive: {0}")]
    NotTarGz(#[source] std::io::Error),
    #[error("corrupt archive: {0}")]
    CorruptArchive(#[source] std::io::Error),
    /// An archive member whose path cannot be read.
    #[error(transparent)]
    MemberPath(std::io::Error),
    #[error("the archive has no member `{0}`")]
    NoMember(String),
    #[error("the ARFF is not UTF-8: {0}")]
    ArffNotUtf8(#[source] std::str::Utf8Error),
    #[error("an @attribute line has no name")]
    ArffUnnamedAttribute,
    #[error("the ARFF declares no attributes")]
    ArffNoAttributes,
    #[error("too few rows: {train} for training and {test} for testing")]
    TooFewRows { train: usize, test: usize },
    #[error("column `{0}` has no value in the training rows")]
    NoTrainingValue(String),
}

impl From<FileError> for DataError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io { path, source } => DataError::Io { path, source },
            FileError::Checksum {
                path,
                expected,
                actual,
            } => DataError::Checksum {
                path,
                expected,
                actual,
            },
        }
    }
}

/// Loads, verifies and preprocesses a dataset as `protocol` prepares it.
pub fn load(
    name: DatasetName,
    data_dir: &Path,
    synthetic_rows: usize,
    protocol: Protocol,
) -> Result<Dataset, DataError> {
    match name {
        DatasetName::Friedman1 => Ok(synthetic::friedman1(synthetic_rows)),
        DatasetName::Moons => Ok(synthetic::moons(synthetic_rows)),
        _ => {
            let mut contents = Vec::new();
            for file in registry::files(name) {
                contents.push(read_verified(data_dir, file)?);
            }
            let sha = files_identity(name);
            let (raw, mut partition) = loaders::parse(name, data_dir, &contents)?;
            if name == DatasetName::Wine && protocol == Protocol::AuthorsCode {
                partition = Partition::Sampled {
                    frac: 0.8,
                    seed: 42,
                };
            }
            let prep = prep::Preparation::of(name, protocol);
            prep::preprocess(name, raw, partition, sha, prep).map_err(|source| {
                DataError::Unusable {
                    path: data_dir.join(registry::files(name)[0].path),
                    source,
                }
            })
        }
    }
}
