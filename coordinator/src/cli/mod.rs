//! The command line: the clap types, and `dispatch` to each command's
//! module.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod conn;
pub mod reports;
pub mod schedules;
pub mod serve;
pub mod sweeps;

use conn::Conn;
use reports::CompareArgs;
use schedules::ScheduleAction;
use serve::ServeArgs;

#[derive(Parser)]
#[command(
    name = "coordinator",
    version,
    about = "Distributed sweeps of joint black-box + explanation training"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text (colours only on a terminal) or as JSON for log shippers.
    #[arg(long, global = true, default_value = "text")]
    pub log_format: sweep_shared::logging::LogFormat,
}

#[derive(Subcommand)]
pub enum Command {
    /// Moved: a whole sweep on this machine is `sweep-local run`.
    #[command(hide = true)]
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Serve sweeps to workers over gRPC until SIGTERM.
    Serve(ServeArgs),
    /// Submit (or extend) a sweep file to a running coordinator.
    Submit {
        sweep: PathBuf,
        #[command(flatten)]
        conn: Conn,
    },
    /// Show a sweep's progress (or follow it with --watch).
    Status {
        name: String,
        #[arg(long)]
        watch: bool,
        /// One JSON object per status instead of a sentence.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Cancel a sweep's remaining jobs.
    Cancel {
        name: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// List the sweeps a coordinator knows.
    List {
        #[command(flatten)]
        conn: Conn,
    },
    /// Write a sweep's results as JSON lines.
    Results {
        name: String,
        #[arg(long, default_value = "results.jsonl")]
        out: PathBuf,
        #[command(flatten)]
        conn: Conn,
    },
    /// Regenerate a sweep's report (Parquet files, report.md, report.html) from its database.
    Report {
        sweep: String,
        /// The database [default: results/<sweep>/state.db].
        #[arg(long)]
        db: Option<PathBuf>,
        /// Output directory [default: the database's directory].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only these formats [default: parquet, md, html, plots; `latex` or `all` add report.tex].
        #[arg(long, value_delimiter = ',')]
        format: Vec<sweep_coordinator::report::Format>,
        /// What follows ± in report.tex: the standard deviation, or the 95% interval's half-width.
        #[arg(long, default_value = "std")]
        interval: sweep_coordinator::report::latex::Interval,
    },
    /// Learn the sparse task graph of a sweep that asked for probes (method.md section 5):
    /// graph.parquet, graph.svg/.png and a section of report.md/.html.
    Graph {
        sweep: String,
        /// Only this dataset.
        #[arg(long)]
        dataset: Option<sweep_shared::DatasetName>,
        /// ρ: the weight of the graph's coupling of the explanations.
        #[arg(long, default_value_t = 1.0)]
        rho: f64,
        /// η: the weight of the edges' sparsity penalty.
        #[arg(long, default_value_t = 1.0)]
        eta: f64,
        /// Projected-gradient steps of the upper level.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// The database [default: results/<sweep>/state.db].
        #[arg(long)]
        db: Option<PathBuf>,
        /// Output directory [default: the database's directory].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare sweep B with sweep A (the baseline), cell by cell; exits with status 3 on a regression.
    Compare(CompareArgs),
    /// Scheduled benchmark runs: add, list, show, pause, resume, remove, run-now.
    Schedule {
        #[command(subcommand)]
        action: ScheduleAction,
        #[command(flatten)]
        conn: Conn,
    },
    /// Ask the coordinator's gRPC health service; exits 0 when it is serving (for container health checks).
    Health {
        #[command(flatten)]
        conn: Conn,
    },
    /// Time the aggregation of N synthetic run rows into cells.
    BenchAggregate {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
    /// Moved: the load benchmark is `sweep-local bench`.
    #[command(hide = true)]
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

pub async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { args } => Err(moved("run", &args)),
        Command::Serve(args) => serve::serve(args).await,
        Command::Submit { sweep, conn } => sweeps::submit(&sweep, &conn).await,
        Command::Status {
            name,
            watch,
            json,
            conn,
        } => sweeps::status(name, watch, json, &conn).await,
        Command::Cancel { name, conn } => sweeps::cancel(name, &conn).await,
        Command::List { conn } => sweeps::list(&conn).await,
        Command::Results { name, out, conn } => sweeps::results(&name, &out, &conn).await,
        Command::Report {
            sweep,
            db,
            out,
            format,
            interval,
        } => reports::report(&sweep, db, out, format, interval),
        Command::Graph {
            sweep,
            dataset,
            rho,
            eta,
            steps,
            db,
            out,
        } => reports::graph(&sweep, dataset, (rho, eta, steps), db, out),
        Command::Compare(args) => reports::compare(args),
        Command::Schedule { action, conn } => schedules::schedule(action, &conn).await,
        Command::Health { conn } => health(&conn).await,
        Command::BenchAggregate { rows } => reports::bench_aggregate(rows),
        Command::Bench { args } => Err(moved("bench", &args)),
    }
}

/// The commands that moved to `sweep-local`, which links the trainer.
fn moved(command: &str, args: &[String]) -> anyhow::Error {
    anyhow::Error::msg(format!(
        "`coordinator {command}` moved to `sweep-local {command}` (the one binary that links both \
         the coordinator and the trainer): run `sweep-local {command} {}`",
        args.join(" ")
    ))
}

/// `coordinator health`: SERVING (exit 0), or what the service says.
async fn health(conn: &Conn) -> anyhow::Result<ExitCode> {
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    let reply = HealthClient::new(conn.channel().await?)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(conn::status)?
        .into_inner();
    let status = reply.status();
    println!("{}", status.as_str_name());
    Ok(
        if status == tonic_health::pb::health_check_response::ServingStatus::Serving {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}
