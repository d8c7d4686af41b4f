//! Reports of a sweep, from the durable state: the runs, failures, cell
//! statistics over seeds and explanations as Parquet files, and the
//! published paper's table per dataset as Markdown and HTML.
//!
//! `frames` turns stored results into Polars frames, `cells` aggregates
//! them over seeds, `table` lays the cells out for people, `plots` draws
//! them and `compare` sets two sweeps side by side; `stats` holds the
//! statistics `cells` and `compare` share, and `error` the one error type.

pub mod auxiliary;
pub mod cells;
pub mod compare;
pub mod error;
pub mod frames;
mod groups;
pub mod latex;
pub mod live;
pub mod panels;
pub mod plots;
pub mod seeding;
pub mod stats;
pub mod table;

pub use error::{FontError, ReportError};

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::ids::SweepName;
use crate::store::Store;
use crate::sweep_file;

/// Every metric aggregated over seeds, in report order.
pub const METRICS: [&str; 15] = [
    "mse",
    "r2",
    "accuracy",
    "f1",
    "gf",
    "gnf",
    "r2_fg",
    "ins_g",
    "del_g",
    "ins_grad",
    "del_grad",
    "mu",
    "epochs",
    "train_seconds",
    "eval_seconds",
];

/// The files a report wrote.
#[derive(Debug)]
pub struct Written {
    pub files: Vec<PathBuf>,
    pub runs: usize,
    pub failures: usize,
    pub cells: usize,
    /// Files that could not be drawn, and why (the rest are still written).
    pub skipped: Vec<String>,
    /// Cells with degenerate seeds (a black box worse than a constant),
    /// as `wine mtl α=0.1: 2 of 5 seeds`.
    pub degenerate: Vec<String>,
}

pub const ALL_FORMATS: [Format; 4] = [Format::Parquet, Format::Md, Format::Html, Format::Plots];

/// Which files a report writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
    Parquet,
    /// `plots/<dataset>.svg` and `.png`.
    Plots,
    /// `report.tex` (not among the defaults).
    Latex,
    /// Every format, `latex` included.
    All,
}

/// A sweep's stored state, as the report needs it.
struct Loaded {
    planned_seeds: usize,
    results: Vec<crate::store::ResultRow>,
    failed: Vec<(crate::state::Job, String)>,
    /// An adaptive sweep's cells (empty for fixed seeds).
    seeding: Vec<crate::state::seeding::SeedCell>,
    /// The probe inputs the results name, by checksum (the task graph's).
    probes: std::collections::HashMap<String, crate::store::ProbeInputs>,
}

fn load(db: &Path, sweep: &str) -> Result<Loaded, ReportError> {
    if !db.exists() {
        return Err(ReportError::NoDatabase(db.to_path_buf()));
    }
    let store = Store::open(db).map_err(|source| ReportError::OpenDatabase {
        path: db.to_path_buf(),
        source,
    })?;
    let state = store.load(std::time::Instant::now())?;
    let name = SweepName::from(sweep);
    let s = state
        .sweeps
        .get(&name)
        .ok_or_else(|| ReportError::UnknownSweep {
            db: db.to_path_buf(),
            sweep: sweep.to_string(),
        })?;
    let planned_seeds = sweep_file::parse(&s.toml, sweep)
        .map(|p| p.seeds.len())
        .unwrap_or(0);
    let results = store.results(&s.keys)?;
    let failed: Vec<_> = s
        .keys
        .iter()
        .filter_map(|k| match &state.jobs[k].state {
            crate::state::JobState::Failed { error } => {
                Some((state.jobs[k].clone(), error.clone()))
            }
            _ => None,
        })
        .collect();
    let mut probes = std::collections::HashMap::new();
    for r in &results {
        if !r.result_json.contains("\"inputs_sha256\"") {
            continue;
        }
        let Ok(parsed) = serde_json::from_str::<sweep_shared::JobResult>(&r.result_json) else {
            continue;
        };
        let Some(sha) = parsed.probes.map(|p| p.inputs_sha256) else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = probes.entry(sha) {
            if let Some(inputs) = store.probe_inputs(slot.key())? {
                slot.insert(inputs);
            }
        }
    }
    Ok(Loaded {
        planned_seeds,
        results,
        failed,
        seeding: state.seed_cells(&name).to_vec(),
        probes,
    })
}

/// The runs frame of a sweep in a database.
pub fn runs_in_db(db: &Path, sweep: &str) -> Result<DataFrame, ReportError> {
    frames::runs(&load(db, sweep)?.results)
}

/// The runs frame named by `source`: a `runs.parquet` file or a report
/// directory if such a path exists, else a sweep in `db` (by default
/// `results/<sweep>/state.db`, where `sweep-local run` keeps it).
pub fn runs_of(source: &str, db: Option<&Path>) -> Result<DataFrame, ReportError> {
    let path = Path::new(source);
    if path.exists() {
        return runs_in_file(path);
    }
    let default = PathBuf::from("results").join(source).join("state.db");
    runs_in_db(db.unwrap_or(&default), source)
}

/// The runs frame of a `runs.parquet` file, or of the one in a report
/// directory.
pub fn runs_in_file(path: &Path) -> Result<DataFrame, ReportError> {
    let file = if path.is_dir() {
        path.join("runs.parquet")
    } else {
        path.to_path_buf()
    };
    let f = std::fs::File::open(&file).map_err(ReportError::io(&file))?;
    ParquetReader::new(f)
        .finish()
        .map_err(ReportError::parquet(file))
}

/// Regenerates the report files of `sweep` from the database at `db` into
/// `out`, in the given formats.
pub fn generate(
    db: &Path,
    sweep: &str,
    out: &Path,
    formats: &[Format],
) -> Result<Written, ReportError> {
    generate_with(db, sweep, out, formats, latex::Interval::default())
}

/// [`generate`], with `interval` after the `±` of `report.tex`.
pub fn generate_with(
    db: &Path,
    sweep: &str,
    out: &Path,
    formats: &[Format],
    interval: latex::Interval,
) -> Result<Written, ReportError> {
    generate_all(
        db,
        sweep,
        out,
        formats,
        interval,
        &Default::default(),
        false,
    )
}

/// `coordinator graph`: the report with the task graph learned as
/// `options` say; a sweep without probes is refused, saying how to ask
/// for them.
pub fn generate_graph(
    db: &Path,
    sweep: &str,
    out: &Path,
    options: &crate::graph::GraphOptions,
) -> Result<Written, ReportError> {
    generate_all(
        db,
        sweep,
        out,
        &ALL_FORMATS,
        latex::Interval::default(),
        options,
        true,
    )
}

fn generate_all(
    db: &Path,
    sweep: &str,
    out: &Path,
    formats: &[Format],
    interval: latex::Interval,
    graph_options: &crate::graph::GraphOptions,
    need_graph: bool,
) -> Result<Written, ReportError> {
    let all = formats.contains(&Format::All);
    let formats: Vec<Format> = if all {
        ALL_FORMATS.iter().copied().chain([Format::Latex]).collect()
    } else {
        formats.to_vec()
    };
    let Loaded {
        planned_seeds,
        results,
        failed,
        seeding: seed_cells,
        probes,
    } = load(db, sweep)?;
    let _writing = writing();
    std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
    let mut runs = frames::runs(&results)?;
    let mut failures = frames::failures(&failed)?;
    let mut explanations = frames::explanations(&results)?;
    let mut curves = frames::curves(&results)?;
    let mut cells = cells::aggregate(&runs)?;
    if !seed_cells.is_empty() {
        seeding::annotate_cells(&mut cells, &seed_cells)?;
    }
    let mut files = Vec::new();
    if formats.contains(&Format::Parquet) && !seed_cells.is_empty() {
        let path = out.join("seed_ledger.parquet");
        write_parquet(&path, &mut seeding::ledger_frame(&seed_cells)?)?;
        files.push(path);
    }
    if formats.contains(&Format::Parquet) {
        for (file, df) in [
            ("runs.parquet", &mut runs),
            ("failures.parquet", &mut failures),
            ("cells.parquet", &mut cells),
            ("explanations.parquet", &mut explanations),
            ("curves.parquet", &mut curves),
        ] {
            let path = out.join(file);
            write_parquet(&path, df)?;
            files.push(path);
        }
    }
    let aux = auxiliary::AuxRuns::of(&results)?;
    if formats.contains(&Format::Parquet) && !aux.is_empty() {
        let path = out.join("aux.parquet");
        write_parquet(&path, &mut aux.frame()?)?;
        files.push(path);
    }
    let mut skipped = Vec::new();
    let graph = graph_of(
        (&results, &probes),
        graph_options,
        need_graph,
        out,
        &formats,
        (&mut files, &mut skipped),
    )?;
    let sections = extra_sections(&aux, graph);
    let tables = table::Tables::from_cells(&cells, planned_seeds)?
        .with_seeding(seed_cells)
        .with_sections(sections);
    // report.html carries its plots inline, so the one file stands alone.
    let inline_plots = if formats.contains(&Format::Html) && cells.height() > 0 {
        plots::tradeoff_svgs(&cells).unwrap_or_else(|e| {
            skipped.push(format!("plots in report.html: {e}"));
            vec![]
        })
    } else {
        vec![]
    };
    for (format, file, text) in [
        (Format::Md, "report.md", tables.markdown(sweep)),
        (
            Format::Html,
            "report.html",
            tables.html(sweep, &inline_plots),
        ),
        (Format::Latex, "report.tex", tables.latex(sweep, interval)),
    ] {
        if formats.contains(&format) {
            let path = out.join(file);
            write_text(&path, &text)?;
            files.push(path);
        }
    }
    if formats.contains(&Format::Plots) && cells.height() > 0 {
        // A machine without a font still gets its tables and Parquet files.
        match plots::write_tradeoffs(&cells, out) {
            Ok(f) => files.extend(f),
            Err(e) => skipped.push(format!("plots: {e}")),
        }
    }
    let degenerate = degenerate_cells(&cells)?;
    Ok(Written {
        files,
        runs: runs.height(),
        failures: failures.height(),
        cells: cells.height(),
        skipped,
        degenerate,
    })
}

/// The sections after the tables: the auxiliary objective's, where the
/// sweep has one, and the task graph's, where it asked for probes.
fn extra_sections(aux: &auxiliary::AuxRuns, graph: Option<table::Section>) -> Vec<table::Section> {
    let mut out = Vec::new();
    if !aux.is_empty() {
        out.push(aux.section());
    }
    out.extend(graph);
    out
}

/// The task graph of a sweep whose jobs returned probe predictions: learned
/// with the default settings, written as `graph.parquet` and its figure,
/// and returned as a report section. A sweep without probes has none.
/// With `need`, no probes and a failure to learn are errors rather than a
/// report without the graph.
fn graph_of(
    (results, probes): (
        &[crate::store::ResultRow],
        &std::collections::HashMap<String, crate::store::ProbeInputs>,
    ),
    options: &crate::graph::GraphOptions,
    need: bool,
    out: &Path,
    formats: &[Format],
    (files, skipped): (&mut Vec<PathBuf>, &mut Vec<String>),
) -> Result<Option<table::Section>, ReportError> {
    let report = match crate::graph::Report::learn(results, probes, options) {
        Ok(Some(r)) => r,
        Ok(None) if need => return Err(crate::graph::GraphFailure::NoProbes.into()),
        Ok(None) => return Ok(None),
        Err(e) if need => return Err(e.into()),
        Err(e) => {
            skipped.push(format!("task graph: {e}"));
            return Ok(None);
        }
    };
    for g in &report.graphs {
        tracing::info!(
            dataset = %g.dataset,
            cells = g.cells.len(),
            seconds = g.seconds,
            "task graph learned"
        );
    }
    if formats.contains(&Format::Parquet) {
        let path = out.join("graph.parquet");
        write_parquet(&path, &mut report.frame()?)?;
        files.push(path);
    }
    if formats.contains(&Format::Plots) {
        match plots::write_graph(&report, out) {
            Ok(f) => files.extend(f),
            Err(e) => skipped.push(format!("graph figure: {e}")),
        }
    }
    Ok(Some(report.section()))
}

/// What the dashboard's page of a sweep shows of its results.
pub struct SweepPage {
    /// The tables, the seeding section and the plots, as `report.html`'s body.
    pub body: String,
    pub runs: usize,
    /// (job, attempts, error) of every failed job.
    pub failures: Vec<(String, u32, String)>,
}

/// Reads a sweep's results from the database and lays them out as
/// `report.html` does, with its plots inline (none without a font).
pub fn sweep_page(db: &Path, sweep: &str) -> Result<SweepPage, ReportError> {
    let Loaded {
        planned_seeds,
        results,
        failed,
        seeding: seed_cells,
        probes,
    } = load(db, sweep)?;
    let runs = frames::runs(&results)?;
    let failures = failed
        .iter()
        .map(|(job, error)| {
            let label = serde_json::from_str::<sweep_shared::JobSpec>(&job.spec_json)
                .map(|s| s.label())
                .unwrap_or_else(|_| job.key.to_string());
            (label, job.attempts, error.clone())
        })
        .collect();
    if runs.height() == 0 {
        return Ok(SweepPage {
            body: "<p>No results yet.</p>".into(),
            runs: 0,
            failures,
        });
    }
    let mut cells = cells::aggregate(&runs)?;
    if !seed_cells.is_empty() {
        seeding::annotate_cells(&mut cells, &seed_cells)?;
    }
    let aux = auxiliary::AuxRuns::of(&results)?;
    let graph = crate::graph::Report::learn(&results, &probes, &Default::default())
        .ok()
        .flatten();
    let tables = table::Tables::from_cells(&cells, planned_seeds)?
        .with_seeding(seed_cells)
        .with_sections(extra_sections(&aux, graph.map(|g| g.section())));
    let plots = plots::tradeoff_svgs(&cells).unwrap_or_default();
    Ok(SweepPage {
        body: tables.html_body(&plots),
        runs: runs.height(),
        failures,
    })
}

/// The cells with degenerate seeds, named for a warning.
fn degenerate_cells(cells: &DataFrame) -> Result<Vec<String>, ReportError> {
    if cells.column("degenerate_n").is_err() {
        return Ok(Vec::new());
    }
    let (dataset, objective, alpha) = (
        strings(cells, "dataset")?,
        strings(cells, "objective")?,
        floats(cells, "alpha")?,
    );
    let grid = panels::grid_labels(cells)?;
    let (flagged, n) = (counts(cells, "degenerate_n")?, counts(cells, "gf_n")?);
    Ok((0..cells.height())
        .filter(|&i| flagged[i] > 0)
        .map(|i| {
            let cell = compare::cell_label(&dataset[i], &objective[i], alpha[i], &grid[i]);
            format!("{cell}: {} of {} seeds", flagged[i], n[i])
        })
        .collect())
}

/// Times the aggregation of `rows` synthetic runs into cells.
pub fn bench_aggregate(rows: usize) -> Result<serde_json::Value, ReportError> {
    let cells_per_dataset = 10usize;
    let datasets = ["wine", "adult", "housing", "titanic", "autompg"];
    let mut dataset = Vec::with_capacity(rows);
    let mut objective = Vec::with_capacity(rows);
    let mut alpha = Vec::with_capacity(rows);
    let metric = |i: usize, k: usize| Some(((i * 2_654_435_761 + k * 97) % 1000) as f64 / 1000.0);
    let mut columns: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(rows); METRICS.len()];
    for i in 0..rows {
        dataset.push(datasets[i % datasets.len()]);
        let cell = (i / datasets.len()) % cells_per_dataset;
        objective.push(if cell == 0 { "stl" } else { "mtl" });
        alpha.push((cell > 0).then(|| cell as f64 / 10.0));
        for (k, c) in columns.iter_mut().enumerate() {
            c.push(metric(i, k));
        }
    }
    let mut cols = vec![
        Column::new("dataset".into(), dataset),
        Column::new("objective".into(), objective),
        Column::new("alpha".into(), alpha),
    ];
    for (m, values) in METRICS.iter().zip(columns) {
        cols.push(Column::new((*m).into(), values));
    }
    let runs = DataFrame::new_infer_height(cols)?;
    let started = std::time::Instant::now();
    let cells = cells::aggregate(&runs)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(
        serde_json::json!({ "rows": rows, "cells": cells.height(), "metrics": METRICS.len(), "seconds": seconds }),
    )
}

/// A float column of `df` as values (null → `None`).
pub(crate) fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, ReportError> {
    Ok(df.column(name)?.f64()?.iter().collect())
}

/// A count column of `df` as values (null → 0).
pub(crate) fn counts(df: &DataFrame, name: &str) -> Result<Vec<u32>, ReportError> {
    Ok(df
        .column(name)?
        .u32()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// A boolean column of `df` as values (null → false).
pub(crate) fn bools(df: &DataFrame, name: &str) -> Result<Vec<bool>, ReportError> {
    Ok(df
        .column(name)?
        .bool()?
        .iter()
        .map(|b| b.unwrap_or(false))
        .collect())
}

/// A string column of `df` as values (null → empty).
pub(crate) fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>, ReportError> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect())
}

/// Held while report files are written: the live refresh and a finished
/// scheduled run may write the same sweep's directory at the same moment.
pub(crate) fn writing() -> std::sync::MutexGuard<'static, ()> {
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes through a temporary file, so a reader never sees half a file.
pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<(), ReportError> {
    let tmp = path.with_extension("parquet.part");
    let file = std::fs::File::create(&tmp).map_err(ReportError::io(&tmp))?;
    ParquetWriter::new(file)
        .finish(df)
        .map_err(ReportError::parquet(path))?;
    std::fs::rename(&tmp, path).map_err(ReportError::io(path))
}

/// Writes text through a temporary file, as `write_parquet` does.
pub fn write_text(path: &Path, text: &str) -> Result<(), ReportError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(ReportError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(ReportError::io(path))
}
