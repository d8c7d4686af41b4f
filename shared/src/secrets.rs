//! Reading the secrets every binary is given: a bearer token, and the CA
//! that signed the coordinator's certificate. One reading for the
//! coordinator's server and clients and for the worker, so an empty token
//! means the same mistake everywhere.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An empty token would let anyone in on a server, and is a mistake on
    /// a client: never taken for "no token".
    #[error("{}: the token file is empty", .0.display())]
    EmptyFile(PathBuf),
    #[error("${0} is set but empty; unset it or give it a token")]
    EmptyVar(&'static str),
}

/// The token in `file`, or else in the first of the environment variables
/// `vars` that is set; `None` when neither is.
pub fn token(file: Option<&Path>, vars: &[&'static str]) -> Result<Option<String>, SecretError> {
    if let Some(path) = file {
        let t = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if t.trim().is_empty() {
            return Err(SecretError::EmptyFile(path.to_path_buf()));
        }
        return Ok(Some(t.trim().to_string()));
    }
    for var in vars {
        if let Ok(t) = std::env::var(var) {
            if t.trim().is_empty() {
                return Err(SecretError::EmptyVar(var));
            }
            return Ok(Some(t.trim().to_string()));
        }
    }
    Ok(None)
}

/// The PEM CA in `file`, or in the file `$SWEEP_TLS_CA` names.
pub fn tls_ca(file: Option<&Path>) -> Result<Option<Vec<u8>>, SecretError> {
    let path = match file {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("SWEEP_TLS_CA") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => return Ok(None),
        },
    };
    std::fs::read(&path)
        .map(Some)
        .map_err(|source| SecretError::Read { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_is_trimmed_and_an_empty_one_refused() {
        let dir = std::env::temp_dir().join(format!("sweep-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(token(Some(&file), &[]).unwrap().as_deref(), Some("s3cret"));
        std::fs::write(&file, " \n").unwrap();
        assert!(matches!(
            token(Some(&file), &[]),
            Err(SecretError::EmptyFile(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
