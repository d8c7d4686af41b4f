//! The dataset registry: which files each paper dataset is read from, their
//! checksums, and the verified reading of them.
//!
//! Pure data, shared by both sides: the coordinator checks the files before
//! it expands a sweep and serves them to workers by checksum; the worker
//! reads them, verified, before training. Neither side needs the other for it.

mod files;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::DatasetName;

pub use files::{files, sources, DataFile, Origin, Source};

/// A data file that could not be read, or is not the published one.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
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
}

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads a data file whole and checks it against its expected SHA-256.
pub fn read_verified(dir: &Path, file: &DataFile) -> Result<Vec<u8>, FileError> {
    let path = dir.join(file.path);
    let mut bytes = Vec::with_capacity(file.bytes as usize);
    File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| FileError::Io {
            path: path.clone(),
            source,
        })?;
    let actual = sha256_hex(&bytes);
    if actual != file.sha256 {
        return Err(FileError::Checksum {
            path,
            expected: file.sha256.to_string(),
            actual,
        });
    }
    Ok(bytes)
}

/// The registry's entry for a file named by `path` and `sha256`, if it is
/// one of the published files. A worker writes only these into its cache,
/// under the registry's own relative path: a lease cannot name a file
/// outside the cache, nor one that is not a dataset.
pub fn known_file(path: &str, sha256: &str) -> Option<&'static DataFile> {
    DatasetName::ALL
        .into_iter()
        .flat_map(files)
        .find(|f| f.path == path && f.sha256 == sha256)
}

/// One checksum for a dataset, over its files' checksums.
pub fn files_identity(name: DatasetName) -> String {
    let joined: Vec<&str> = files(name).iter().map(|f| f.sha256).collect();
    sha256_hex(joined.join("\n").as_bytes())
}

/// The default place datasets are read from: `$SWEEP_DATA_DIR`, else
/// `./datasets` (where `worker fetch` writes), else `../shared/datasets`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SWEEP_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("datasets");
    if local.is_dir() {
        return local;
    }
    PathBuf::from("../shared/datasets")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_published_files_are_known_and_only_under_their_own_path() {
        let wine = files(DatasetName::Wine)[0];
        let known = known_file(wine.path, wine.sha256).expect("wine's file is known");
        assert_eq!(known.path, "wine-quality/winequality-red.csv");
        // A hostile lease: a path outside the cache, or a known path with
        // another checksum, or a known checksum under another path.
        assert!(known_file("/tmp/PWNED-test", wine.sha256).is_none());
        assert!(known_file("../../etc/passwd", wine.sha256).is_none());
        assert!(known_file(wine.path, &"0".repeat(64)).is_none());
        let adult = files(DatasetName::Adult)[0];
        assert!(known_file(adult.path, wine.sha256).is_none());
        for name in DatasetName::ALL {
            for f in files(name) {
                assert!(!Path::new(f.path).is_absolute() && !f.path.contains(".."));
            }
        }
    }
}
