//! `coordinator serve`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sweep_coordinator::report::live::{LiveReports, ReportDirs};
use sweep_coordinator::server;
use sweep_shared::registry::default_data_dir;
use sweep_shared::signal::stop_signal;

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
    /// A file holding the shared-secret token [default: $SWEEP_TOKEN]; required off loopback.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// How often lease deadlines are checked, in milliseconds.
    #[arg(long, default_value_t = 250)]
    tick_ms: u64,
    /// Where sweep reports are written, refreshed as results arrive [default: reports/ beside the database].
    #[arg(long)]
    reports: Option<PathBuf>,
    /// Rewrite a changed sweep's report at most this often, in seconds.
    #[arg(long, default_value_t = 10)]
    report_every_secs: u64,
    /// How often schedules are checked for due runs, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    schedule_tick_ms: u64,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("coordinator listening on http://{addr}");
    let reports = args.reports.unwrap_or_else(|| {
        args.db
            .parent()
            .map(|d| d.join("reports"))
            .unwrap_or_else(|| PathBuf::from("reports"))
    });
    let config = server::ServerConfig {
        db: args.db,
        data_dir: args.data_dir.unwrap_or_else(default_data_dir),
        token: token(&args.token_file)?,
        tick: Duration::from_millis(args.tick_ms.max(10)),
        live_reports: Some(LiveReports {
            dirs: ReportDirs::PerSweep(reports.clone()),
            every: Duration::from_secs(args.report_every_secs),
            final_pass: true,
        }),
        schedules: Some(server::ScheduleConfig {
            tick: Duration::from_millis(args.schedule_tick_ms.max(10)),
            reports,
        }),
    };
    server::serve(listener, config, async {
        stop_signal().await;
        tracing::info!("stop requested: draining in-flight calls");
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
