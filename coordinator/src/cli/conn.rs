//! How the client commands reach a coordinator: its endpoint and token.

use std::path::PathBuf;

use clap::Args;
use sweep_proto as pb;

#[derive(Args)]
pub struct Conn {
    /// The coordinator [default: $SWEEP_COORDINATOR or http://127.0.0.1:7070].
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// A file holding the token [default: $SWEEP_TOKEN].
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
}

impl Conn {
    pub async fn connect(&self) -> anyhow::Result<pb::Client> {
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| std::env::var("SWEEP_COORDINATOR").ok())
            .unwrap_or_else(|| "http://127.0.0.1:7070".into());
        Ok(pb::connect(&endpoint, token(&self.token_file)?.as_deref()).await?)
    }
}

/// The token in `file`, or else `$SWEEP_TOKEN` when set and not empty.
pub fn token(file: &Option<PathBuf>) -> anyhow::Result<Option<String>> {
    match file {
        Some(path) => std::fs::read_to_string(path)
            .map(|t| Some(t.trim().to_string()))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        None => Ok(std::env::var("SWEEP_TOKEN").ok().filter(|t| !t.is_empty())),
    }
}

/// A failed call, as its message alone.
pub fn status(s: tonic::Status) -> anyhow::Error {
    anyhow::Error::msg(s.message().to_string())
}
