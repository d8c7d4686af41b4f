//! Starting and stopping the coordinator: `serve(listener, config, shutdown)`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sweep_proto::coordinator_server::CoordinatorServer;
use sweep_proto::ConnectError;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::core::Core;
use crate::error::CoordinatorError;
use crate::report::live::{self, LiveReports};
use crate::schedule::clock::SystemClock;
use crate::schedule::schedules::{Schedules, SchedulesConfig};
use crate::service::Service;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The SQLite database: the coordinator's durable state.
    pub db: PathBuf,
    /// Where the paper datasets are, to serve them to workers.
    pub data_dir: PathBuf,
    /// The shared secret every RPC must carry; required off loopback.
    pub token: Option<String>,
    /// How often lease deadlines are checked.
    pub tick: Duration,
    /// Reports rewritten as results arrive; `None` writes none while serving.
    pub live_reports: Option<LiveReports>,
    /// Serve and fire schedules, ticking this often; `None` for none.
    pub schedules: Option<ScheduleConfig>,
}

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub tick: Duration,
    /// Each scheduled run's report goes to `reports/<run's sweep>/`.
    pub reports: PathBuf,
}

/// Serves until `shutdown` completes, then drains in-flight calls.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CoordinatorError> {
    let addr = listener
        .local_addr()
        .map_err(|e| CoordinatorError::BadRequest(e.to_string()))?;
    if !addr.ip().is_loopback() && config.token.is_none() {
        return Err(CoordinatorError::BadRequest(format!(
            "refusing to listen on {addr} without a token: set SWEEP_TOKEN or --token-file"
        )));
    }
    if let Some(parent) = config.db.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| CoordinatorError::Store(format!("{}: {e}", parent.display())))?;
    }
    let core = Core::start(&config.db, config.tick)?;
    let mut service = Service::new(core.clone(), config.data_dir.clone());
    let (stop_tasks, tasks_stop) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(sc) = &config.schedules {
        let scheduler = Arc::new(Schedules::new(
            core.clone(),
            SchedulesConfig {
                db: config.db.clone(),
                data_dir: config.data_dir.clone(),
                reports: sc.reports.clone(),
                late_after: (sc.tick * 5).max(Duration::from_secs(5)),
            },
            Arc::new(SystemClock),
        )?);
        service = service.with_scheduler(scheduler.clone());
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
    let token = config.token.clone();
    let server = tonic::service::interceptor::InterceptedService::new(
        CoordinatorServer::new(service).max_decoding_message_size(64 * 1024 * 1024),
        move |req| crate::auth::check(req, token.as_deref()),
    );
    tracing::info!(%addr, db = %config.db.display(), "coordinator listening");
    let served = tonic::transport::Server::builder()
        .add_service(server)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
        .map_err(|e| CoordinatorError::BadRequest(e.to_string()));
    // The schedules finish their tick; the reports get their last pass.
    let _ = stop_tasks.send(true);
    for task in tasks {
        let _ = task.await;
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
