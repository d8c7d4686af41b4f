use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{files::DataFile, DataError};

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a data file whole and checks it against its expected SHA-256.
pub fn read_verified(dir: &Path, file: &DataFile) -> Result<Vec<u8>, DataError> {
    let path = dir.join(file.path);
    let mut bytes = Vec::with_capacity(file.bytes as usize);
    File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
    let actual = sha256_hex(&bytes);
    if actual != file.sha256 {
        return Err(DataError::Checksum {
            path,
            expected: file.sha256.to_string(),
            actual,
        });
    }
    Ok(bytes)
}
