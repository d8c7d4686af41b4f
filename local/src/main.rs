//! `sweep-local`: a whole sweep on this machine (`run`), or the
//! coordinator's load benchmark (`bench`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sweep_local::{bench, run_sweep, LocalError, RunOptions};
use sweep_shared::registry::default_data_dir;
use sweep_shared::signal::stop_signal;

#[derive(Parser)]
#[command(
    name = "sweep-local",
    version,
    about = "A whole sweep on one machine: the coordinator and local workers in one process"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text (colours only on a terminal) or as JSON for log shippers.
    #[arg(long, global = true, default_value = "text")]
    log_format: sweep_shared::logging::LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole sweep on this machine: the coordinator and N local workers in one process.
    Run {
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
    },
    /// Load benchmark: M simulated workers doing lease → report of no-op jobs.
    Bench {
        #[arg(long, default_value_t = 100)]
        workers: usize,
        #[arg(long, default_value_t = 20000)]
        jobs: usize,
        /// Also connect N idle workers first, and measure what they cost
        /// the process (CPU, Lease calls) over --idle-seconds before the sweep.
        #[arg(long, default_value_t = 0)]
        idle_workers: usize,
        #[arg(long, default_value_t = 5)]
        idle_seconds: u64,
        /// Idle workers poll Lease every this many ms, as workers did before
        /// long polls (0: they long-poll).
        #[arg(long, default_value_t = 0)]
        idle_poll_ms: u64,
        /// Bench a coordinator in another process (`coordinator serve`) at
        /// this endpoint instead of one in this process; needs --coordinator-pid.
        #[arg(long, requires = "coordinator_pid")]
        coordinator: Option<String>,
        /// That coordinator's process id: its CPU time is read from /proc/PID/stat.
        #[arg(long, requires = "coordinator")]
        coordinator_pid: Option<u32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` shows a progress bar: only warnings by default, so logs do not bury it.
    let default = if matches!(cli.command, Command::Run { .. }) {
        "warn"
    } else {
        "info"
    };
    sweep_shared::logging::init(cli.log_format, default);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<(), LocalError> {
    match command {
        Command::Run {
            sweep,
            workers,
            out,
            data_dir,
        } => {
            let workers = workers
                .unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                })
                .max(1);
            let opts = RunOptions {
                sweep,
                workers,
                out,
                data_dir: data_dir.unwrap_or_else(default_data_dir),
            };
            run_sweep(opts, stop_signal()).await
        }
        Command::Bench {
            workers,
            jobs,
            idle_workers,
            idle_seconds,
            idle_poll_ms,
            coordinator,
            coordinator_pid,
        } => {
            let idle = bench::Idle {
                workers: idle_workers,
                seconds: idle_seconds.max(1),
                poll_ms: idle_poll_ms,
            };
            let external = coordinator
                .zip(coordinator_pid)
                .map(|(endpoint, pid)| bench::External { endpoint, pid });
            let r = bench::bench(workers.max(1), jobs.max(1), idle, external).await?;
            println!("{}", serde_json::to_string(&r).expect("serialisable"));
            Ok(())
        }
    }
}
