//! How the client commands reach a coordinator: its endpoint, the admin
//! token and the CA that signed its certificate.

use std::path::PathBuf;

use clap::Args;
use sweep_proto as pb;

#[derive(Args)]
pub struct Conn {
    /// The coordinator [default: $SWEEP_COORDINATOR or http://127.0.0.1:7070]; https://… for TLS.
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// A file holding the admin token [default: $SWEEP_ADMIN_TOKEN, else $SWEEP_TOKEN].
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    /// The PEM CA that signed the coordinator's certificate [default: $SWEEP_TLS_CA].
    #[arg(long, global = true)]
    tls_ca: Option<PathBuf>,
}

impl Conn {
    fn endpoint(&self) -> String {
        self.endpoint
            .clone()
            .or_else(|| std::env::var("SWEEP_COORDINATOR").ok())
            .unwrap_or_else(|| "http://127.0.0.1:7070".into())
    }

    /// A connection without a token, for the health service.
    pub async fn channel(&self) -> anyhow::Result<tonic::transport::Channel> {
        let ca = tls_ca(self.tls_ca.as_deref())?;
        Ok(pb::channel(&self.endpoint(), ca.as_deref()).await?)
    }

    pub async fn connect(&self) -> anyhow::Result<pb::Client> {
        let endpoint = self.endpoint();
        let token = token(
            self.token_file.as_deref(),
            &["SWEEP_ADMIN_TOKEN", "SWEEP_TOKEN"],
        )?;
        let ca = tls_ca(self.tls_ca.as_deref())?;
        Ok(pb::connect_with(&endpoint, token.as_deref(), ca.as_deref()).await?)
    }
}

use sweep_shared::secrets::tls_ca;
pub use sweep_shared::secrets::token;

/// A failed call, as its message alone.
pub fn status(s: tonic::Status) -> anyhow::Error {
    anyhow::Error::msg(s.message().to_string())
}
