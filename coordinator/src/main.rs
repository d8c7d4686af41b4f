//! `coordinator`: serve sweeps to workers, run a whole sweep locally, or
//! talk to a running coordinator.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sweep_coordinator::report::live::{LiveReports, ReportDirs};
use sweep_coordinator::{bench, report, run, server, user};
use sweep_proto as pb;

#[derive(Parser)]
#[command(
    name = "coordinator",
    version,
    about = "Distributed sweeps of joint black-box + explanation training"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole sweep on this machine: the coordinator and N local workers in one process.
    Run(RunArgs),
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
        /// Only these formats [default: all].
        #[arg(long, value_delimiter = ',')]
        format: Vec<sweep_coordinator::report::Format>,
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
    /// Time the aggregation of N synthetic run rows into cells.
    BenchAggregate {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
    /// Load benchmark: M simulated workers doing lease → report of no-op jobs.
    Bench {
        #[arg(long, default_value_t = 100)]
        workers: usize,
        #[arg(long, default_value_t = 20000)]
        jobs: usize,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The sweep file.
    sweep: PathBuf,
    /// Local workers, one job each [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Output directory [default: results/<sweep name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the paper datasets are [default: $SWEEP_DATA_DIR, ./datasets, ../shared/datasets].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ScheduleAction {
    /// Freeze a sweep file into a schedule that re-runs it with fresh jobs.
    Add(ScheduleAddArgs),
    /// List the schedules with their next due time.
    List,
    /// A schedule and its runs' history: outcome, flagged cells, reports.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop firing (due times while paused are not caught up).
    Pause { name: String },
    /// Fire again from now on.
    Resume { name: String },
    /// Delete the schedule (its runs' sweeps and reports are kept).
    Remove { name: String },
    /// Start a run now, unless one is in progress.
    RunNow { name: String },
}

#[derive(Args)]
struct ScheduleAddArgs {
    name: String,
    /// The sweep file; its content is frozen into the schedule.
    #[arg(long)]
    sweep: PathBuf,
    /// Five fields as in crontab (`0 2 * * *`: 02:00 daily), or six with seconds first.
    #[arg(long)]
    cron: String,
    /// The IANA time zone the cron expression is read in.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// What each run is compared with: `previous`, `none` or a sweep name.
    #[arg(long, default_value = "previous")]
    baseline: String,
    /// Relative change flagged when significant.
    #[arg(long, default_value_t = 0.05)]
    threshold: f64,
    /// A metric's own threshold, as METRIC=VALUE; repeatable.
    #[arg(long = "metric-threshold")]
    metric_threshold: Vec<String>,
    /// The metric plotted over runs.
    #[arg(long, default_value = "gf")]
    metric: String,
    /// POSTed a JSON summary of each outcome.
    #[arg(long)]
    webhook: Option<String>,
    /// Add it paused.
    #[arg(long)]
    paused: bool,
}

#[derive(Args)]
struct CompareArgs {
    /// The baseline: a sweep name, a report directory or a runs.parquet file.
    a: String,
    /// The sweep compared with it, named the same ways.
    b: String,
    /// The database holding sweeps given by name [default: results/<sweep>/state.db].
    #[arg(long)]
    db: Option<PathBuf>,
    /// Where compare.parquet and compare.md go [default: results/compare/<a>--<b>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Relative change beyond which a significant move is flagged.
    #[arg(long, default_value_t = 0.05)]
    threshold: f64,
    /// A metric's own threshold, as METRIC=VALUE (e.g. gf=0.2); repeatable.
    #[arg(long = "metric-threshold")]
    metric_threshold: Vec<String>,
    /// Print every compared row, not only the flagged ones.
    #[arg(long)]
    all: bool,
}

#[derive(Args)]
struct ServeArgs {
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

#[derive(Args)]
struct Conn {
    /// The coordinator [default: $SWEEP_COORDINATOR or http://127.0.0.1:7070].
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// A file holding the token [default: $SWEEP_TOKEN].
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
}

impl Conn {
    async fn connect(&self) -> Result<pb::Client, String> {
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| std::env::var("SWEEP_COORDINATOR").ok())
            .unwrap_or_else(|| "http://127.0.0.1:7070".into());
        pb::connect(&endpoint, token(&self.token_file)?.as_deref()).await
    }
}

fn token(file: &Option<PathBuf>) -> Result<Option<String>, String> {
    match file {
        Some(path) => std::fs::read_to_string(path)
            .map(|t| Some(t.trim().to_string()))
            .map_err(|e| format!("{}: {e}", path.display())),
        None => Ok(std::env::var("SWEEP_TOKEN").ok().filter(|t| !t.is_empty())),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` shows a progress bar: only warnings by default, so logs do not bury it.
    let default = if matches!(cli.command, Command::Run(_)) {
        "warn"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn data_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(sweep_worker::data::default_data_dir)
}

async fn dispatch(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Run(args) => {
            let workers = args
                .workers
                .unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                })
                .max(1);
            let opts = run::RunOptions {
                sweep: args.sweep,
                workers,
                out: args.out,
                data_dir: data_dir(args.data_dir),
            };
            run::run(opts, sweep_worker::agent::stop_signal())
                .await
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            let listener = tokio::net::TcpListener::bind(&args.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            println!("coordinator listening on http://{addr}");
            let reports = args.reports.unwrap_or_else(|| {
                args.db
                    .parent()
                    .map(|d| d.join("reports"))
                    .unwrap_or_else(|| PathBuf::from("reports"))
            });
            let config = server::ServerConfig {
                db: args.db,
                data_dir: data_dir(args.data_dir),
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
                sweep_worker::agent::stop_signal().await;
                tracing::info!("stop requested: draining in-flight calls");
            })
            .await
            .map_err(|e| e.to_string())
            .map(|()| ExitCode::SUCCESS)
        }
        Command::Submit { sweep, conn } => {
            let r = user::submit(&mut conn.connect().await?, &sweep).await?;
            println!(
                "sweep {}: {} jobs, {} already done, {} to run",
                r.name, r.jobs, r.already_done, r.to_run
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Status {
            name,
            watch,
            json,
            conn,
        } => {
            let show = |s: &pb::SweepStatusReply| {
                if json {
                    user::status_json(s)
                } else {
                    user::describe(s)
                }
            };
            let mut c = conn.connect().await?;
            if watch {
                let mut stream = c
                    .watch_sweep(pb::SweepRef { name })
                    .await
                    .map_err(|s| s.message().to_string())?
                    .into_inner();
                while let Some(s) = stream
                    .message()
                    .await
                    .map_err(|s| s.message().to_string())?
                {
                    println!("{}", show(&s));
                }
            } else {
                let s = c
                    .sweep_status(pb::SweepRef { name })
                    .await
                    .map_err(|s| s.message().to_string())?
                    .into_inner();
                println!("{}", show(&s));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Cancel { name, conn } => {
            let s = conn
                .connect()
                .await?
                .cancel_sweep(pb::SweepRef { name })
                .await
                .map_err(|s| s.message().to_string())?;
            println!("{}", user::describe(s.get_ref()));
            Ok(ExitCode::SUCCESS)
        }
        Command::List { conn } => {
            let all = conn
                .connect()
                .await?
                .list_sweeps(pb::ListSweepsRequest {})
                .await
                .map_err(|s| s.message().to_string())?;
            for s in &all.get_ref().sweeps {
                println!("{}", user::describe(s));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Results { name, out, conn } => {
            let n = user::export_results(&mut conn.connect().await?, &name, &out).await?;
            println!("{n} results written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            sweep,
            db,
            out,
            format,
        } => {
            let db = db.unwrap_or_else(|| PathBuf::from("results").join(&sweep).join("state.db"));
            let out = out.unwrap_or_else(|| db.parent().map(PathBuf::from).unwrap_or_default());
            let formats = if format.is_empty() {
                report::ALL_FORMATS.to_vec()
            } else {
                format
            };
            let written = report::generate(&db, &sweep, &out, &formats)?;
            for f in &written.files {
                println!("{}", f.display());
            }
            if !written.skipped.is_empty() {
                return Err(written.skipped.join("; "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare(args) => compare(args),
        Command::Schedule { action, conn } => schedule(action, conn).await,
        Command::BenchAggregate { rows } => {
            println!("{}", report::bench_aggregate(rows.max(1))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { workers, jobs } => {
            let r = bench::bench(workers.max(1), jobs.max(1)).await?;
            println!("{}", serde_json::to_string(&r).expect("serialisable"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Exit status of `compare` when a cell regressed (1 is an error, 2 bad usage).
const REGRESSION_EXIT: u8 = 3;

fn compare(args: CompareArgs) -> Result<ExitCode, String> {
    use report::compare;
    let thresholds = compare::Thresholds::parse(args.threshold, &args.metric_threshold)?;
    let a = report::runs_of(&args.a, args.db.as_deref())?;
    let b = report::runs_of(&args.b, args.db.as_deref())?;
    let label = |s: &str| {
        std::path::Path::new(s)
            .file_stem()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| s.to_string())
    };
    let (la, lb) = (label(&args.a), label(&args.b));
    let c = compare::compare(&la, &a, &lb, &b, &thresholds)?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("results/compare").join(format!("{la}--{lb}")));
    let files = c.write(&out, &thresholds)?;
    let flagged = |r: &compare::Row| args.all || r.flag != compare::Flag::Unchanged;
    if c.rows.iter().any(flagged) {
        print!("{}", c.markdown(flagged));
    }
    let regressions = c.regressions().len();
    println!(
        "{lb} against {la}: {} cell metrics compared, {regressions} regressions, {} improvements",
        c.rows.len(),
        c.rows
            .iter()
            .filter(|r| r.flag == compare::Flag::Improvement)
            .count()
    );
    for f in files {
        println!("{}", f.display());
    }
    Ok(if regressions > 0 {
        ExitCode::from(REGRESSION_EXIT)
    } else {
        ExitCode::SUCCESS
    })
}

async fn schedule(action: ScheduleAction, conn: Conn) -> Result<ExitCode, String> {
    use sweep_coordinator::schedule::client;
    let mut c = conn.connect().await?;
    let status = |s: tonic::Status| s.message().to_string();
    let by_name = |name: String| pb::ScheduleRef { name };
    let text = match action {
        ScheduleAction::Add(a) => {
            let req = pb::AddScheduleRequest {
                name: a.name,
                sweep_toml: client::read_sweep(&a.sweep)?,
                source: a.sweep.display().to_string(),
                cron: a.cron,
                tz: a.tz,
                baseline: a.baseline,
                threshold: a.threshold,
                metric_thresholds: a.metric_threshold,
                metric: a.metric,
                webhook: a.webhook.unwrap_or_default(),
                paused: a.paused,
            };
            client::add(&mut c, req).await?
        }
        ScheduleAction::List => {
            let all = c
                .list_schedules(pb::ListSchedulesRequest {})
                .await
                .map_err(status)?
                .into_inner();
            if all.schedules.is_empty() {
                "no schedules".to_string()
            } else {
                all.schedules
                    .iter()
                    .map(client::describe)
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        ScheduleAction::Show { name, json } => {
            let d = c
                .show_schedule(by_name(name))
                .await
                .map_err(status)?
                .into_inner();
            if json {
                client::show_json(&d)
            } else {
                client::show(&d).trim_end().to_string()
            }
        }
        ScheduleAction::Pause { name } => {
            let s = c.pause_schedule(by_name(name)).await.map_err(status)?;
            client::describe(s.get_ref())
        }
        ScheduleAction::Resume { name } => {
            let s = c.resume_schedule(by_name(name)).await.map_err(status)?;
            client::describe(s.get_ref())
        }
        ScheduleAction::Remove { name } => {
            let s = c.remove_schedule(by_name(name)).await.map_err(status)?;
            format!("removed schedule {}", s.get_ref().name)
        }
        ScheduleAction::RunNow { name } => {
            let r = c
                .run_schedule_now(by_name(name.clone()))
                .await
                .map_err(status)?;
            let r = r.into_inner();
            if r.outcome == "failed" {
                return Err(format!(
                    "schedule {name}: run {} failed to start: {}",
                    r.seq, r.detail
                ));
            }
            format!(
                "schedule {name}: run {} started as sweep {}",
                r.seq, r.sweep
            )
        }
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
