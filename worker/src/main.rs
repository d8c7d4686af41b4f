//! `worker`: train one job, fetch the datasets, or benchmark a training step.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sweep_shared::secrets;
use sweep_shared::signal::stop_signal;
use sweep_shared::{DatasetName, JobResult, JobSpec, Objective, Task, TrainSettings};
use sweep_worker::agent;
use sweep_worker::data::{self, fetch};

#[derive(Parser)]
#[command(
    name = "worker",
    version,
    about = "Trains black-box models jointly with their linear explanations"
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
    /// Train one job and print its result as one JSON object on stdout.
    Train(TrainArgs),
    /// Download the paper datasets into a directory, verifying every file.
    Fetch(FetchArgs),
    /// Time one training step (forward, backward, Adam), single-threaded.
    BenchStep(BenchArgs),
    /// Join a coordinator and run its jobs until stopped (SIGTERM drains).
    Join(JoinArgs),
}

#[derive(Args)]
struct JoinArgs {
    /// The coordinator, e.g. http://127.0.0.1:7070.
    endpoint: String,
    /// Jobs run at once [default: the number of cores].
    #[arg(long)]
    slots: Option<usize>,
    /// A name for logs and the coordinator [default: the host name].
    #[arg(long)]
    name: Option<String>,
    /// Where dataset files fetched from the coordinator are cached.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// A file holding the worker token [default: $SWEEP_WORKER_TOKEN, else $SWEEP_TOKEN].
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The PEM CA that signed the coordinator's certificate, for an https:// endpoint [default: $SWEEP_TLS_CA].
    #[arg(long)]
    tls_ca: Option<PathBuf>,
}

#[derive(Args)]
struct TrainArgs {
    /// wine, adult, housing, titanic, autompg, or a built-in: friedman1, moons.
    #[arg(long)]
    dataset: DatasetName,
    /// stl (f alone, then a post-hoc surrogate), mtl (the joint α-loss),
    /// expo or idexpo (the α-loss plus a regulariser), constrained (GF ≤ gf_target),
    /// auxiliary (the `aux_columns` group predicted by heads on a shared trunk).
    #[arg(long)]
    objective: Objective,
    /// Weight of the prediction loss, in (0, 1); mtl, expo and idexpo.
    #[arg(long)]
    alpha: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory laid out like ../shared/datasets [default: $SWEEP_DATA_DIR, ./datasets, ../shared/datasets].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Hidden layer widths of f, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "512,256,128")]
    hidden: Vec<usize>,
    #[arg(long, default_value_t = 100)]
    max_epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    #[arg(long, default_value_t = 3)]
    patience: usize,
    /// Learning-rate factor on a validation-loss plateau.
    #[arg(long, default_value_t = 0.1)]
    lr_factor: f64,
    /// Epochs of plateau before the learning rate is cut.
    #[arg(long, default_value_t = 1)]
    lr_patience: usize,
    /// Fraction of the training rows, from the end, used for validation.
    #[arg(long, default_value_t = 0.1)]
    validation_fraction: f64,
    /// Keep the weights of the best validation epoch instead of the last.
    #[arg(long)]
    restore_best: bool,
    /// At most this many test points for GNF.
    #[arg(long, default_value_t = 1000)]
    gnf_max_points: usize,
    #[arg(long, default_value_t = 5000)]
    lime_samples: usize,
    /// Rows of the built-in synthetic datasets.
    #[arg(long, default_value_t = 2000)]
    synthetic_rows: usize,
    /// Any other training setting, as a sweep file's `[training]` writes
    /// it: `--set expo_lambda=0.5 --set gf_target=0.01`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// `settings` with `key=value` pairs applied, each value read as TOML (so
/// `0.5`, `"surrogate"` or a bare `surrogate`, `[64, 64]`).
fn with_overrides(settings: TrainSettings, pairs: &[String]) -> anyhow::Result<TrainSettings> {
    if pairs.is_empty() {
        return Ok(settings);
    }
    let mut table = toml::Table::try_from(&settings)?;
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            anyhow::bail!("--set {pair}: expected KEY=VALUE");
        };
        let key = key.trim();
        if !TrainSettings::field_names().iter().any(|k| k == key) {
            anyhow::bail!(
                "--set {pair}: unknown setting `{key}`; expected one of {}",
                TrainSettings::field_names().join(", ")
            );
        }
        let parsed: toml::Value = match format!("v = {value}").parse::<toml::Table>() {
            Ok(mut t) => t.remove("v").expect("just written"),
            Err(_) => toml::Value::String(value.to_string()),
        };
        table.insert(key.to_string(), parsed);
        // Read back after each pair, so that a bad value names its key.
        if let Err(e) = table.clone().try_into::<TrainSettings>() {
            anyhow::bail!("--set {pair}: {key}: {}", e.message());
        }
    }
    let settings: TrainSettings = table.try_into()?;
    settings.validate()?;
    Ok(settings)
}

#[derive(Args)]
struct FetchArgs {
    /// Datasets to fetch (default: all five paper datasets).
    #[arg(long = "dataset", value_delimiter = ',')]
    datasets: Vec<DatasetName>,
    /// Where to write them, laid out like ../shared/datasets.
    #[arg(long, default_value = "datasets")]
    dest: PathBuf,
    /// Fetch from a mirror laid out like the data directory instead of the public homes.
    #[arg(long)]
    mirror: Option<String>,
}

#[derive(Args)]
struct BenchArgs {
    #[arg(long, default_value_t = 8)]
    inputs: usize,
    #[arg(long, value_delimiter = ',', default_value = "512,256,128")]
    hidden: Vec<usize>,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    /// regression or classification (sets the output and loss).
    #[arg(long, default_value = "regression", value_parser = parse_task)]
    task: Task,
    /// The objective whose step is timed: stl, mtl, expo, idexpo or constrained.
    #[arg(long, default_value = "mtl", value_parser = parse_objective)]
    objective: Objective,
}

fn parse_objective(s: &str) -> anyhow::Result<Objective> {
    Ok(s.parse::<Objective>()?)
}

fn parse_task(s: &str) -> anyhow::Result<Task> {
    match s {
        "regression" => Ok(Task::Regression),
        "classification" => Ok(Task::Classification),
        _ => anyhow::bail!("unknown task `{s}`; expected regression or classification"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    sweep_shared::logging::init(cli.log_format, "info");
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The outermost message only: the text the commands gave when
            // their errors were strings.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train(args),
        Command::Fetch(args) => {
            let datasets = if args.datasets.is_empty() {
                DatasetName::ALL
                    .into_iter()
                    .filter(|d| !d.is_builtin())
                    .collect()
            } else {
                args.datasets
            };
            let from = match args.mirror {
                Some(url) => fetch::FetchFrom::Mirror(url),
                None => fetch::FetchFrom::Origin,
            };
            for outcome in fetch::fetch(&datasets, &args.dest, &from)? {
                match outcome {
                    fetch::Fetched::Downloaded(p) => {
                        eprintln!("downloaded and verified {}", p.display())
                    }
                    fetch::Fetched::AlreadyPresent(p) => {
                        eprintln!("already present and verified {}", p.display())
                    }
                }
            }
            Ok(())
        }
        Command::Join(args) => join(args),
        Command::BenchStep(args) => {
            if args.inputs == 0 || args.batch == 0 || args.hidden.contains(&0) {
                anyhow::bail!("--inputs, --batch and every --hidden width must be at least 1");
            }
            let result = sweep_worker::bench::bench_step(
                args.inputs,
                &args.hidden,
                args.batch,
                args.task,
                args.steps.max(10),
                args.objective,
            );
            println!("{}", serde_json::to_string(&result).expect("serialisable"));
            Ok(())
        }
    }
}

fn join(args: JoinArgs) -> anyhow::Result<()> {
    let token = secrets::token(
        args.token_file.as_deref(),
        &["SWEEP_WORKER_TOKEN", "SWEEP_TOKEN"],
    )?;
    let tls_ca = secrets::tls_ca(args.tls_ca.as_deref())?;
    let config = agent::AgentConfig {
        endpoint: args.endpoint,
        token,
        tls_ca,
        slots: args
            .slots
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            })
            .max(1),
        name: args.name.unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "worker".into())
        }),
        cache_dir: args.cache_dir.unwrap_or_else(agent::default_cache_dir),
        idle_poll: std::time::Duration::from_millis(200),
        lease_wait: std::time::Duration::from_secs(20),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        // The first SIGTERM or Ctrl-C drains; a second hands leases back.
        let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
        let (second_tx, second_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            stop_signal().await;
            tracing::info!(
                "stop requested: finishing running jobs (signal again to hand them back)"
            );
            let _ = first_tx.send(());
            stop_signal().await;
            let _ = second_tx.send(());
        });
        agent::join(config, async { first_rx.await.unwrap_or(()) }, async {
            second_rx.await.unwrap_or(())
        })
        .await?;
        Ok(())
    })
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let settings = TrainSettings {
        hidden: args.hidden,
        max_epochs: args.max_epochs,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        patience: args.patience,
        lr_factor: args.lr_factor,
        lr_patience: args.lr_patience,
        validation_fraction: args.validation_fraction,
        restore_best: args.restore_best,
        gnf_max_points: args.gnf_max_points,
        lime_samples: args.lime_samples,
        synthetic_rows: args.synthetic_rows,
        ..TrainSettings::default()
    };
    let settings = with_overrides(settings, &args.set)?;
    let spec = JobSpec {
        dataset: args.dataset,
        objective: args.objective,
        alpha: args.alpha,
        seed: args.seed,
        settings,
        noop: None,
        run: None,
        grid: Vec::new(),
    };
    let data_dir = args.data_dir.unwrap_or_else(data::default_data_dir);
    let result = sweep_worker::run_job(&spec, &data_dir)?;
    eprintln!("{}", summary(&result));
    println!("{}", serde_json::to_string(&result).expect("serialisable"));
    Ok(())
}

fn summary(r: &JobResult) -> String {
    let m = &r.metrics;
    let prediction = match (m.mse, m.r2, m.accuracy, m.f1) {
        (Some(mse), Some(r2), _, _) => format!("mse {mse:.4}  r2 {r2:.4}"),
        (_, _, Some(acc), Some(f1)) => format!("accuracy {acc:.4}  f1 {f1:.4}"),
        _ => String::new(),
    };
    format!(
        "{}: {prediction}  gf {:.3e}  gnf {:.3e}  r2(f,g) {:.4}  ({} epochs, lr {:.0e}, train {:.1}s, eval {:.1}s)",
        r.spec.label(),
        m.gf,
        m.gnf,
        m.r2_fg,
        m.epochs,
        m.final_lr,
        m.train_seconds,
        m.eval_seconds
    )
}
