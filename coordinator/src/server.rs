//! Starting and stopping the coordinator: `serve(listener, config, shutdown)`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sweep_proto::coordinator_server::CoordinatorServer;
use sweep_proto::ConnectError;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::auth::Tokens;
use crate::core::Core;
use crate::error::CoordinatorError;
use crate::report::live::{self, LiveReports};
use crate::schedule::clock::SystemClock;
use crate::schedule::schedules::{Schedules, SchedulesConfig};
use crate::service::Service;

/// The largest request a peer may send, in bytes.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The SQLite database: the coordinator's durable state.
    pub db: PathBuf,
    /// Where the paper datasets are, to serve them to workers.
    pub data_dir: PathBuf,
    /// The worker and admin tokens; required off loopback.
    pub tokens: Tokens,
    /// The certificate and key to serve TLS with; required off loopback
    /// unless `insecure`.
    pub tls: Option<TlsFiles>,
    /// Serve plaintext off loopback (behind a TLS-terminating proxy).
    pub insecure: bool,
    /// Jobs per sweep at most.
    pub max_jobs: u64,
    /// How often lease deadlines are checked.
    pub tick: Duration,
    /// Reports rewritten as results arrive; `None` writes none while serving.
    pub live_reports: Option<LiveReports>,
    /// Serve and fire schedules, ticking this often; `None` for none.
    pub schedules: Option<ScheduleConfig>,
    /// Where the dashboard, `/metrics` and `/healthz` listen (none: not
    /// served); bound by the caller, so it knows the port.
    pub http: Option<Arc<std::net::TcpListener>>,
}

/// PEM files of the coordinator's certificate (chain) and private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    fn load(&self) -> Result<tonic::transport::ServerTlsConfig, CoordinatorError> {
        let read = |p: &PathBuf| {
            std::fs::read(p)
                .map_err(|e| CoordinatorError::BadRequest(format!("{}: {e}", p.display())))
        };
        let identity = tonic::transport::Identity::from_pem(read(&self.cert)?, read(&self.key)?);
        Ok(tonic::transport::ServerTlsConfig::new().identity(identity))
    }
}

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub tick: Duration,
    /// Each scheduled run's report goes to `reports/<run's sweep>/`.
    pub reports: PathBuf,
    /// Hosts webhooks may reach at private or loopback addresses.
    pub webhook_allow: Vec<String>,
}

/// Refuses to serve off loopback without tokens, or in plaintext unless
/// `insecure` (TLS terminated by a proxy in front).
pub fn check_exposure(
    addr: std::net::SocketAddr,
    tokens: &Tokens,
    tls: bool,
    insecure: bool,
) -> Result<(), CoordinatorError> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if tokens.is_open() {
        return Err(CoordinatorError::BadRequest(format!(
            "refusing to listen on {addr} without tokens: set SWEEP_WORKER_TOKEN and SWEEP_ADMIN_TOKEN (or the --*-token-file options), or one SWEEP_TOKEN"
        )));
    }
    if !tls && !insecure {
        return Err(CoordinatorError::BadRequest(format!(
            "refusing to serve plaintext on {addr}: give --tls-cert and --tls-key, or --insecure behind a TLS-terminating proxy"
        )));
    }
    Ok(())
}

/// Serves until `shutdown` completes, then drains in-flight calls.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CoordinatorError> {
    serve_ready(listener, config, || {}, shutdown).await
}

/// [`serve`], calling `ready` once the state is loaded and calls are about
/// to be answered.
pub async fn serve_ready(
    listener: TcpListener,
    config: ServerConfig,
    ready: impl FnOnce(),
    shutdown: impl Future<Output = ()>,
) -> Result<(), CoordinatorError> {
    let addr = listener
        .local_addr()
        .map_err(|e| CoordinatorError::BadRequest(e.to_string()))?;
    check_exposure(addr, &config.tokens, config.tls.is_some(), config.insecure)?;
    let tls = config.tls.as_ref().map(TlsFiles::load).transpose()?;
    if let Some(parent) = config.db.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| CoordinatorError::Store(format!("{}: {e}", parent.display())))?;
    }
    let http = config
        .http
        .as_ref()
        .map(|l| {
            let addr = l
                .local_addr()
                .map_err(|e| CoordinatorError::BadRequest(e.to_string()))?;
            // The dashboard shows every result: never off loopback without
            // tokens. (Plaintext there is `serve --insecure-http`'s call.)
            if !addr.ip().is_loopback() && config.tokens.is_open() {
                return Err(CoordinatorError::BadRequest(format!(
                    "refusing to serve the dashboard on {addr} without tokens"
                )));
            }
            l.try_clone()
                .and_then(|l| {
                    l.set_nonblocking(true)?;
                    TcpListener::from_std(l)
                })
                .map_err(|e| CoordinatorError::BadRequest(format!("{addr}: {e}")))
        })
        .transpose()?;
    let core = Core::start(&config.db, config.tick)?;
    let (draining, stopping) = tokio::sync::watch::channel(false);
    let mut service = Service::new(core.clone(), config.data_dir.clone())
        .with_tokens(config.tokens.clone())
        .with_max_jobs(config.max_jobs)
        .with_stopping(stopping);
    let (stop_tasks, tasks_stop) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let mut scheduler_handle = None;
    if let Some(sc) = &config.schedules {
        let scheduler = Arc::new(Schedules::new(
            core.clone(),
            SchedulesConfig {
                db: config.db.clone(),
                data_dir: config.data_dir.clone(),
                reports: sc.reports.clone(),
                late_after: (sc.tick * 5).max(Duration::from_secs(5)),
                max_jobs: config.max_jobs,
                webhook_allow: sc.webhook_allow.clone(),
            },
            Arc::new(SystemClock),
        )?);
        service = service.with_scheduler(scheduler.clone());
        scheduler_handle = Some(scheduler.clone());
        tasks.push(tokio::spawn(
            scheduler.tick_until(sc.tick, tasks_stop.clone()),
        ));
    }
    if let Some(live) = &config.live_reports {
        tasks.push(tokio::spawn(live::refresh(
            core.clone(),
            config.db.clone(),
            live.clone(),
            tasks_stop.clone(),
        )));
    }
    // The standard health service: no token (probes carry none, and it
    // tells nothing but SERVING or NOT_SERVING). Serving once the state is
    // loaded, which it is by now; not serving once draining or the core
    // has stopped.
    if let Some(listener) = http {
        let dashboard = crate::http::Dashboard::new(
            core.clone(),
            config.db.clone(),
            config.tokens.clone(),
            config.live_reports.as_ref().map(|l| l.dirs.clone()),
            scheduler_handle,
        );
        let stop = tasks_stop.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::http::serve(listener, dashboard, stop).await {
                tracing::error!(error = %e, "the dashboard stopped");
            }
        }));
    }
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<CoordinatorServer<Service>>().await;
    let tokens = config.tokens.clone();
    let server = tonic::service::interceptor::InterceptedService::new(
        // Large enough for a sweep file at its limit and a result, small
        // enough that no peer makes the coordinator buffer much.
        CoordinatorServer::new(service).max_decoding_message_size(MAX_REQUEST_BYTES),
        move |req| tokens.authenticate(req),
    );
    tracing::info!(%addr, db = %config.db.display(), tls = tls.is_some(), "coordinator listening");
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| CoordinatorError::BadRequest(format!("TLS: {e}")))?;
    }
    // Serving stops on the caller's signal, or when the core's thread has
    // ended: a coordinator without its core must exit with an error (so a
    // supervisor restarts it), never keep its port answering "shutting down".
    let stop = {
        let core = core.clone();
        let health = health.clone();
        async move {
            tokio::select! {
                _ = shutdown => {}
                _ = core.stopped() => {}
            }
            let _ = draining.send(true);
            health.set_not_serving::<CoordinatorServer<Service>>().await;
            health
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
        }
    };
    ready();
    let served = builder
        .add_service(health_service)
        .add_service(server)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), stop)
        .await
        .map_err(|e| CoordinatorError::BadRequest(e.to_string()));
    // The schedules finish their tick; the reports get their last pass.
    let _ = stop_tasks.send(true);
    for task in tasks {
        let _ = task.await;
    }
    if let Some(reason) = core.stop_reason() {
        return Err(CoordinatorError::CoreStopped(reason));
    }
    served
}

/// Connects to `endpoint`, retrying until `limit` has passed: a server
/// just started, or one accepting many connections at once, may not answer
/// the first attempt.
pub async fn connect_within(
    endpoint: &str,
    limit: Duration,
) -> Result<sweep_proto::Client, ConnectError> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match sweep_proto::connect(endpoint, None).await {
            Ok(c) => return Ok(c),
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// A coordinator serving on a loopback port inside this process, for the
/// one-machine commands (`run`, `bench`).
pub struct InProcess {
    pub endpoint: String,
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<Result<(), CoordinatorError>>,
}

impl InProcess {
    /// Binds 127.0.0.1 on a free port and serves with `config`.
    pub async fn start(config: ServerConfig) -> std::io::Result<InProcess> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let handle = tokio::spawn(async move {
            serve(listener, config, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        });
        Ok(InProcess {
            endpoint,
            stop,
            handle,
        })
    }

    /// A client, once the server answers (within ten seconds).
    pub async fn client(&self) -> Result<sweep_proto::Client, ConnectError> {
        connect_within(&self.endpoint, Duration::from_secs(10)).await
    }

    /// Stops serving and waits for in-flight calls to drain.
    pub async fn stop(self) -> Result<(), CoordinatorError> {
        let _ = self.stop.send(true);
        self.handle.await?
    }
}
