//! `coordinator serve`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sweep_coordinator::report::live::{LiveReports, ReportDirs};
use sweep_coordinator::server;
use sweep_shared::registry::default_data_dir;
use sweep_shared::signal::stop_signal;

use sweep_coordinator::auth::Tokens;
use sweep_coordinator::sweep_file::limits::DEFAULT_MAX_JOBS;

use super::conn::token;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: String,
    /// The durable state.
    #[arg(long, default_value = "coordinator/state.db")]
    db: PathBuf,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A file holding the workers' token [default: $SWEEP_WORKER_TOKEN]; tokens are required off loopback.
    #[arg(long)]
    worker_token_file: Option<PathBuf>,
    /// A file holding the users' (admin) token [default: $SWEEP_ADMIN_TOKEN].
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// A file holding one token for both roles [default: $SWEEP_TOKEN]; fills in a role not given.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The PEM certificate (chain) to serve TLS with; TLS is required off loopback.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plaintext off loopback (only behind a proxy that terminates TLS).
    #[arg(long, conflicts_with = "tls_cert")]
    insecure: bool,
    /// A host webhooks may reach though it resolves to a loopback or private address; repeatable.
    #[arg(long = "webhook-allow-host")]
    webhook_allow_host: Vec<String>,
    /// Refuse a sweep that would expand to more jobs than this.
    #[arg(long, default_value_t = DEFAULT_MAX_JOBS)]
    max_jobs: u64,
    /// How often lease deadlines are checked, in milliseconds.
    #[arg(long, default_value_t = 250)]
    tick_ms: u64,
    /// Where sweep reports are written, refreshed as results arrive [default: reports/ beside the database].
    #[arg(long)]
    reports: Option<PathBuf>,
    /// Rewrite a changed sweep's report at most this often, in seconds.
    #[arg(long, default_value_t = 10)]
    report_every_secs: u64,
    /// Serve the dashboard, /metrics and /healthz over HTTP on this address
    /// (port 0 picks one; printed on stdout). Off loopback the pages need the
    /// admin token, and --insecure-http (it is plaintext: put a TLS proxy or
    /// an Ingress in front, or keep it inside the cluster).
    #[arg(long)]
    http: Option<String>,
    /// Serve --http off loopback in plaintext.
    #[arg(long)]
    insecure_http: bool,
    /// How often schedules are checked for due runs, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    schedule_tick_ms: u64,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let tokens = Tokens::new(
        token(args.worker_token_file.as_deref(), &["SWEEP_WORKER_TOKEN"])?.as_deref(),
        token(args.admin_token_file.as_deref(), &["SWEEP_ADMIN_TOKEN"])?.as_deref(),
        token(args.token_file.as_deref(), &["SWEEP_TOKEN"])?.as_deref(),
    )?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(server::TlsFiles { cert, key }),
        _ => None,
    };
    // Refused before anything is bound, when the address says enough.
    if let Ok(addr) = args.listen.parse::<std::net::SocketAddr>() {
        server::check_exposure(addr, &tokens, tls.is_some(), args.insecure)?;
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let http = match &args.http {
        Some(at) => {
            let l = std::net::TcpListener::bind(at)
                .map_err(|e| anyhow::anyhow!("cannot listen on {at} (--http): {e}"))?;
            server::check_exposure(l.local_addr()?, &tokens, false, args.insecure_http)
                .map_err(|e| anyhow::anyhow!("--http: {e} (for the dashboard: --insecure-http)"))?;
            Some(std::sync::Arc::new(l))
        }
        None => None,
    };
    let http_addr = http.as_ref().map(|l| l.local_addr()).transpose()?;
    let reports = args.reports.unwrap_or_else(|| {
        args.db
            .parent()
            .map(|d| d.join("reports"))
            .unwrap_or_else(|| PathBuf::from("reports"))
    });
    let config = server::ServerConfig {
        db: args.db,
        data_dir: args.data_dir.unwrap_or_else(default_data_dir),
        tokens,
        tls,
        insecure: args.insecure,
        max_jobs: args.max_jobs,
        tick: Duration::from_millis(args.tick_ms.max(10)),
        live_reports: Some(LiveReports {
            dirs: ReportDirs::PerSweep(reports.clone()),
            every: Duration::from_secs(args.report_every_secs),
            final_pass: true,
        }),
        schedules: Some(server::ScheduleConfig {
            tick: Duration::from_millis(args.schedule_tick_ms.max(10)),
            reports,
            webhook_allow: args.webhook_allow_host,
        }),
        http,
    };
    // The address is printed once the state is loaded: whoever waits for
    // that line (a script, a test) can use the coordinator at once, and a
    // store that cannot be read ends the process before it.
    let ready = move || {
        println!("coordinator listening on {scheme}://{addr}");
        if let Some(at) = http_addr {
            println!("dashboard on http://{at}/");
        }
    };
    server::serve_ready(listener, config, ready, async {
        stop_signal().await;
        tracing::info!("stop requested: draining in-flight calls");
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
