//! The reports made from databases and Parquet files, no server needed:
//! report, compare and bench-aggregate.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sweep_coordinator::report;

#[derive(Args)]
pub struct CompareArgs {
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
    /// Multiple-testing correction across the comparison's tests: none, bh (Benjamini–Hochberg) or holm.
    #[arg(long, default_value = "bh")]
    fdr: report::compare::Fdr,
    /// Print every compared row, not only the flagged ones.
    #[arg(long)]
    all: bool,
}

/// Exit status of `compare` when a cell regressed (1 is an error, 2 bad usage).
const REGRESSION_EXIT: u8 = 3;

pub fn report(
    sweep: &str,
    db: Option<PathBuf>,
    out: Option<PathBuf>,
    format: Vec<report::Format>,
    interval: report::latex::Interval,
) -> anyhow::Result<ExitCode> {
    let db = db.unwrap_or_else(|| PathBuf::from("results").join(sweep).join("state.db"));
    let out = out.unwrap_or_else(|| db.parent().map(PathBuf::from).unwrap_or_default());
    let formats = if format.is_empty() {
        report::ALL_FORMATS.to_vec()
    } else {
        format
    };
    let written = report::generate_with(&db, sweep, &out, &formats, interval)?;
    for f in &written.files {
        println!("{}", f.display());
    }
    for cell in &written.degenerate {
        eprintln!("warning: degenerate black box (worse than a constant) in {cell}");
    }
    if !written.skipped.is_empty() {
        anyhow::bail!("{}", written.skipped.join("; "));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn graph(
    sweep: &str,
    dataset: Option<sweep_shared::DatasetName>,
    (rho, eta, steps): (f64, f64, usize),
    db: Option<PathBuf>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    if !(rho >= 0.0 && rho.is_finite()) {
        anyhow::bail!("--rho: must be finite and at least 0, got {rho}");
    }
    if !(eta >= 0.0 && eta.is_finite()) {
        anyhow::bail!("--eta: must be finite and at least 0, got {eta}");
    }
    let db = db.unwrap_or_else(|| PathBuf::from("results").join(sweep).join("state.db"));
    let out = out.unwrap_or_else(|| db.parent().map(PathBuf::from).unwrap_or_default());
    let options = sweep_coordinator::graph::GraphOptions {
        settings: sweep_coordinator::graph::GraphSettings {
            rho,
            eta,
            steps,
            ..Default::default()
        },
        dataset,
    };
    let started = std::time::Instant::now();
    let written = report::generate_graph(&db, sweep, &out, &options)?;
    for f in &written.files {
        println!("{}", f.display());
    }
    eprintln!(
        "report with the task graph written in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    if !written.skipped.is_empty() {
        anyhow::bail!("{}", written.skipped.join("; "));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    use report::compare;
    let thresholds =
        compare::Thresholds::parse(args.threshold, &args.metric_threshold)?.with_fdr(args.fdr);
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

pub fn bench_aggregate(rows: usize) -> anyhow::Result<ExitCode> {
    println!("{}", report::bench_aggregate(rows.max(1))?);
    Ok(ExitCode::SUCCESS)
}
