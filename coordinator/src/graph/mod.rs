//! The task graph of a sweep (method.md section 5): for one dataset, each
//! cell (seeds pooled) is a task, its black boxes' mean prediction on the
//! dataset's probe rows; `bilevel` learns which tasks' linear explanations
//! are better shared than apart. Connected components of the kept edges
//! are the cells that share one explanation.
//!
//! The probe rows' inputs live once per input set in the store
//! (`probe_inputs`); each result carries its predictions.

pub mod bilevel;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use polars::prelude::*;
use sweep_shared::{DatasetName, JobResult};

pub use bilevel::{GraphError, GraphSettings, LearnedGraph, SHARED_MIN_WEIGHT};

use crate::report::table::{esc, Section};
use crate::store::{ProbeInputs, ResultRow};

/// What `coordinator graph` and report generation learn.
#[derive(Debug, Clone, Default)]
pub struct GraphOptions {
    pub settings: GraphSettings,
    /// Only this dataset (all with probes when `None`).
    pub dataset: Option<DatasetName>,
}

/// Why a graph could not be learned.
#[derive(Debug, thiserror::Error)]
pub enum GraphFailure {
    #[error("no result of this sweep has probe predictions: set `probe_rows = 2000` in the sweep file's [training] table and run it again (jobs of another probe_rows are new jobs)")]
    NoProbes,
    #[error(
        "the probe inputs {0} are not in the store (a result that brought them was never stored)"
    )]
    MissingInputs(String),
    #[error("result {key}: {source}")]
    BadResult {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no input set has two cells to compare: {}", .0.join("; "))]
    TooFewCells(Vec<String>),
    #[error("dataset {dataset}: {source}")]
    Learn {
        dataset: String,
        #[source]
        source: GraphError,
    },
}

/// One dataset's (and input set's) graph.
#[derive(Debug, Clone)]
pub struct DatasetGraph {
    pub dataset: String,
    /// The cells, in report order (by objective, then α), with their seeds.
    pub cells: Vec<(String, usize)>,
    pub learned: LearnedGraph,
    /// A component id per cell (edges of weight ≥ `SHARED_MIN_WEIGHT`).
    pub components: Vec<usize>,
    pub rows: usize,
    pub inputs: usize,
    pub seconds: f64,
}

/// The task graphs of a sweep.
#[derive(Debug, Clone)]
pub struct Report {
    pub graphs: Vec<DatasetGraph>,
    /// Cells left out: alone on their input set (an auxiliary cell's
    /// probes lack its group's columns), so there is nothing to share with.
    pub alone: Vec<String>,
}

/// A cell's pooled predictions while reading results.
struct Task {
    alpha: Option<f64>,
    order: (sweep_shared::Objective, String),
    sum: Vec<f64>,
    seeds: usize,
}

impl Report {
    /// Learns the graph of every dataset whose results carry probes;
    /// `None` when none does.
    pub fn learn(
        results: &[ResultRow],
        probes: &HashMap<String, ProbeInputs>,
        options: &GraphOptions,
    ) -> Result<Option<Report>, GraphFailure> {
        // (dataset, input set) → cell label → task.
        let mut sets: BTreeMap<(String, String), BTreeMap<String, Task>> = BTreeMap::new();
        for r in results {
            if !r.result_json.contains("\"probes\"") {
                continue;
            }
            let parsed: JobResult =
                serde_json::from_str(&r.result_json).map_err(|source| GraphFailure::BadResult {
                    key: r.key.to_string(),
                    source,
                })?;
            let Some(p) = parsed.probes else { continue };
            if options.dataset.is_some_and(|d| d != parsed.spec.dataset) {
                continue;
            }
            let spec = &parsed.spec;
            let mut label = spec.cell_label();
            if let Some(rest) = label.strip_prefix(&format!("{} ", spec.dataset)) {
                label = rest.to_string();
            }
            let task = sets
                .entry((spec.dataset.to_string(), p.inputs_sha256.clone()))
                .or_default()
                .entry(label)
                .or_insert_with(|| Task {
                    alpha: spec.alpha,
                    order: (spec.objective, spec.column_label()),
                    sum: vec![0.0; p.predictions.len()],
                    seeds: 0,
                });
            if task.sum.len() != p.predictions.len() {
                continue;
            }
            task.sum
                .iter_mut()
                .zip(&p.predictions)
                .for_each(|(s, &v)| *s += f64::from(v));
            task.seeds += 1;
        }
        if sets.is_empty() {
            return Ok(None);
        }
        let mut graphs = Vec::new();
        let mut alone = Vec::new();
        for ((dataset, sha), tasks) in sets {
            if tasks.len() < 2 {
                alone.extend(tasks.keys().map(|label| format!("{dataset} {label}")));
                continue;
            }
            let x_in = probes
                .get(&sha)
                .ok_or_else(|| GraphFailure::MissingInputs(sha.clone()))?;
            let mut tasks: Vec<(String, Task)> = tasks.into_iter().collect();
            tasks.sort_by(|a, b| {
                (a.1.order.0, a.1.alpha.unwrap_or(-1.0), &a.1.order.1)
                    .partial_cmp(&(b.1.order.0, b.1.alpha.unwrap_or(-1.0), &b.1.order.1))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let (n, d) = (x_in.rows, x_in.features.len() + 1);
            let k = tasks.len();
            // Rows in a fixed shuffled order, so the 80/20 split is not
            // the probe rows' index order.
            let order = shuffled(n);
            let mut x = Vec::with_capacity(n * d);
            let mut y = Vec::with_capacity(n * k);
            for &i in &order {
                x.extend(
                    x_in.inputs[i * (d - 1)..(i + 1) * (d - 1)]
                        .iter()
                        .map(|&v| f64::from(v)),
                );
                x.push(1.0);
                y.extend(tasks.iter().map(|(_, t)| t.sum[i] / t.seeds as f64));
            }
            let started = Instant::now();
            let learned = bilevel::learn(&x, n, d, &y, k, &options.settings).map_err(|source| {
                GraphFailure::Learn {
                    dataset: dataset.clone(),
                    source,
                }
            })?;
            let seconds = started.elapsed().as_secs_f64();
            let components = bilevel::components(k, &learned.edges, SHARED_MIN_WEIGHT);
            graphs.push(DatasetGraph {
                dataset,
                cells: tasks.iter().map(|(l, t)| (l.clone(), t.seeds)).collect(),
                learned,
                components,
                rows: n,
                inputs: d - 1,
                seconds,
            });
        }
        if graphs.is_empty() {
            return Err(GraphFailure::TooFewCells(alone));
        }
        Ok(Some(Report { graphs, alone }))
    }

    /// `graph.parquet`: one row per candidate edge, with both cells, the
    /// weight and whether it is kept as shared.
    pub fn frame(&self) -> PolarsResult<DataFrame> {
        let mut dataset = Vec::new();
        let (mut a, mut b, mut w, mut kept) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for g in &self.graphs {
            for e in &g.learned.edges {
                dataset.push(g.dataset.clone());
                a.push(g.cells[e.a].0.clone());
                b.push(g.cells[e.b].0.clone());
                w.push(e.weight);
                kept.push(e.weight >= SHARED_MIN_WEIGHT);
            }
        }
        DataFrame::new_infer_height(vec![
            Column::new("dataset".into(), dataset),
            Column::new("cell_a".into(), a),
            Column::new("cell_b".into(), b),
            Column::new("weight".into(), w),
            Column::new("shared".into(), kept),
        ])
    }

    /// The report's section: per dataset, the groups of cells that share
    /// one explanation.
    pub fn section(&self) -> Section {
        let intro = format!(
            "Each cell (seeds pooled) is a task: its black boxes' mean prediction on the dataset's probe rows. \
             The bilevel program of method.md section 5 learns edge weights in [0, 1] over the kNN graph of the cells' \
             least-squares explanations; cells joined by edges of weight ≥ {SHARED_MIN_WEIGHT} share one explanation. \
             Every edge is in `graph.parquet`."
        );
        let mut md = format!("\n## Task graph\n\n{intro}\n");
        let mut html = format!("<h2>Task graph</h2>\n<p>{}</p>\n", esc(&intro));
        for g in &self.graphs {
            let kept = g
                .learned
                .edges
                .iter()
                .filter(|e| e.weight >= SHARED_MIN_WEIGHT)
                .count();
            let facts = format!(
                "{} cells, {} probe rows of {} inputs; {} of {} candidate edges kept; validation RMSE {:.3} of the independent fits'; learned in {:.2} s.",
                g.cells.len(),
                g.rows,
                g.inputs,
                kept,
                g.learned.edges.len(),
                g.learned.relative_rmse,
                g.seconds
            );
            let facts = if g.learned.worse_than_empty && kept > 0 {
                format!(
                    "{facts} Caution: this graph scores worse on the upper objective than no edges at all \
                     (its edges cost more validation error than they save); the {} steps from the full graph \
                     stopped before pruning them.",
                    g.learned.objective.len() - 1
                )
            } else {
                facts
            };
            md.push_str(&format!("\n### {}\n\n{facts}\n\n", g.dataset));
            html.push_str(&format!(
                "<h3>{}</h3>\n<p>{}</p>\n<ul>\n",
                esc(&g.dataset),
                esc(&facts)
            ));
            let (shared, single): (Vec<_>, Vec<_>) = groups(&g.components)
                .into_iter()
                .partition(|group| group.len() > 1);
            let names = |group: &[usize]| -> String {
                let names: Vec<&str> = group.iter().map(|&i| g.cells[i].0.as_str()).collect();
                names.join(", ")
            };
            let mut lines: Vec<String> = shared
                .iter()
                .map(|group| format!("share one explanation: {}", names(group)))
                .collect();
            if !single.is_empty() {
                let single: Vec<usize> = single.into_iter().flatten().collect();
                lines.push(format!("each on its own: {}", names(&single)));
            }
            for line in lines {
                md.push_str(&format!("- {line}\n"));
                html.push_str(&format!("<li>{}</li>\n", esc(&line)));
            }
            html.push_str("</ul>\n");
        }
        if !self.alone.is_empty() {
            let note = format!(
                "Left out, each alone on its input set (an auxiliary cell's probe rows lack its group's columns): {}.",
                self.alone.join(", ")
            );
            md.push_str(&format!("\n{note}\n"));
            html.push_str(&format!("<p>{}</p>\n", esc(&note)));
        }
        Section { markdown: md, html }
    }
}

/// The cells of each component, components in order of their first cell.
pub fn groups(components: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, &c) in components.iter().enumerate() {
        if out.len() <= c {
            out.resize(c + 1, Vec::new());
        }
        out[c].push(i);
    }
    out
}

/// `0..n` in a fixed pseudo-random order (splitmix64 Fisher–Yates).
fn shuffled(n: usize) -> Vec<usize> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}
