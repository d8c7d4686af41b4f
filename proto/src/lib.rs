//! The gRPC service of `sweep.proto`, generated at build time.

#![allow(clippy::all)]

tonic::include_proto!("sweep.v1");

/// Bumped on every incompatible change of the service; a worker of another
/// version is refused at registration.
/// 4: `LeaseRequest.wait_ms` (long polls); a version-3 coordinator would
/// answer at once and leave a version-4 worker polling without pause.
pub const PROTOCOL_VERSION: u32 = 4;

impl SweepState {
    /// The word users read and scripts match (`status --json`, reports).
    pub fn label(self) -> &'static str {
        match self {
            SweepState::Unspecified => "unknown",
            SweepState::Running => "running",
            SweepState::Finished => "finished",
            SweepState::Cancelled => "cancelled",
        }
    }
}

impl RunOutcome {
    /// The word users read and scripts match (`schedule show --json`, webhooks).
    pub fn label(self) -> &'static str {
        match self {
            RunOutcome::Unspecified => "unknown",
            RunOutcome::Skipped => "skipped",
            RunOutcome::Running => "running",
            RunOutcome::Pass => "pass",
            RunOutcome::Regression => "regression",
            RunOutcome::Failed => "failed",
            RunOutcome::Cancelled => "cancelled",
        }
    }
}

/// A client that attaches the shared-secret token to every call.
pub type Client = coordinator_client::CoordinatorClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Token>,
>;

/// Adds `authorization: Bearer <token>` to outgoing calls when a token is set.
#[derive(Clone, Default)]
pub struct Token(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Token {
    pub fn new(token: Option<&str>) -> Result<Token, ConnectError> {
        token
            .map(|t| {
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| ConnectError::BadToken)
            })
            .transpose()
            .map(Token)
    }
}

impl tonic::service::Interceptor for Token {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// Why a client could not be made or could not reach its coordinator.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the token must be printable ASCII")]
    BadToken,
    /// `endpoint` is not a URI.
    #[error("{endpoint}: {source}")]
    BadEndpoint {
        endpoint: String,
        source: tonic::transport::Error,
    },
    #[error("{0}: an https endpoint needs the CA that signed the coordinator's certificate (--tls-ca or SWEEP_TLS_CA)")]
    NoCa(String),
    #[error("{0}: --tls-ca is given, so the endpoint must be https://")]
    CaWithoutTls(String),
    #[error("cannot reach the coordinator at {endpoint}: {source}")]
    Unreachable {
        endpoint: String,
        source: tonic::transport::Error,
    },
}

/// Connects to a coordinator at `endpoint` (`http://host:port`).
pub async fn connect(endpoint: &str, token: Option<&str>) -> Result<Client, ConnectError> {
    connect_with(endpoint, token, None).await
}

/// Connects to `endpoint`; over TLS when it is `https://…`, trusting the
/// certificates the PEM `tls_ca` signed (there are no built-in roots: a
/// cluster's coordinator has its own CA).
pub async fn connect_with(
    endpoint: &str,
    token: Option<&str>,
    tls_ca: Option<&[u8]>,
) -> Result<Client, ConnectError> {
    let token = Token::new(token)?;
    let channel = channel(endpoint, tls_ca).await?;
    Ok(
        coordinator_client::CoordinatorClient::with_interceptor(channel, token)
            .max_decoding_message_size(64 * 1024 * 1024),
    )
}

/// A connection to `endpoint` (TLS as for [`connect_with`]), for any of the
/// services the coordinator serves (its own, or `grpc.health.v1`).
pub async fn channel(
    endpoint: &str,
    tls_ca: Option<&[u8]>,
) -> Result<tonic::transport::Channel, ConnectError> {
    let bad = |source| ConnectError::BadEndpoint {
        endpoint: endpoint.to_string(),
        source,
    };
    let mut ep = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .map_err(bad)?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true);
    let https = endpoint.starts_with("https://");
    match (https, tls_ca) {
        (true, Some(ca)) => {
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca));
            ep = ep.tls_config(tls).map_err(bad)?;
        }
        (true, None) => return Err(ConnectError::NoCa(endpoint.to_string())),
        (false, Some(_)) => return Err(ConnectError::CaWithoutTls(endpoint.to_string())),
        (false, None) => {}
    }
    ep.connect()
        .await
        .map_err(|source| ConnectError::Unreachable {
            endpoint: endpoint.to_string(),
            source,
        })
}

/// The metadata key of a status that carries a machine-readable error kind.
pub const ERROR_KIND: &str = "x-sweep-error";

/// The `ERROR_KIND` of "this worker is not registered (any more)": the
/// worker should register again.
pub const UNKNOWN_WORKER: &str = "unknown-worker";

/// Whether `status` says the coordinator does not know the calling worker.
pub fn is_unknown_worker(status: &tonic::Status) -> bool {
    status
        .metadata()
        .get(ERROR_KIND)
        .is_some_and(|v| v.to_str().ok() == Some(UNKNOWN_WORKER))
}
