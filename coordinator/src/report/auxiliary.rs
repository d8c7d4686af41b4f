//! The auxiliary objective's section (method.md section 4): per dataset,
//! the main metric without the group, with it as input and with it as
//! target, and per auxiliary column its error and how its errors track the
//! main model's (Spearman ρ with its bootstrap interval), over seeds; and
//! the same as `aux.parquet`, one row per job and column.

use std::collections::BTreeMap;

use polars::prelude::*;
use sweep_shared::{AuxHead, AuxMetrics, JobResult};

use super::stats::{mean, variance};
use super::table::{esc, Section};
use super::ReportError;
use crate::store::ResultRow;

/// One auxiliary job's result.
pub struct AuxRun {
    dataset: String,
    label: String,
    key: String,
    aux: AuxMetrics,
}

/// The auxiliary results of a sweep.
pub struct AuxRuns(Vec<AuxRun>);

impl AuxRuns {
    pub fn of(rows: &[ResultRow]) -> Result<AuxRuns, ReportError> {
        let mut out = Vec::new();
        for r in rows {
            let parsed: JobResult =
                serde_json::from_str(&r.result_json).map_err(|source| ReportError::BadResult {
                    key: r.key.to_string(),
                    source,
                })?;
            if let Some(aux) = parsed.metrics.aux {
                out.push(AuxRun {
                    dataset: parsed.spec.dataset.to_string(),
                    label: parsed.spec.column_label(),
                    key: r.key.to_string(),
                    aux,
                });
            }
        }
        Ok(AuxRuns(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `aux.parquet`: one row per job and auxiliary column.
    pub fn frame(&self) -> Result<DataFrame, ReportError> {
        let rows: Vec<(&AuxRun, &AuxHead)> = self
            .0
            .iter()
            .flat_map(|run| run.aux.heads.iter().map(move |h| (run, h)))
            .collect();
        let text = |f: &dyn Fn(&AuxRun, &AuxHead) -> String| {
            rows.iter().map(|(r, h)| f(r, h)).collect::<Vec<_>>()
        };
        let num = |f: &dyn Fn(&AuxMetrics, &AuxHead) -> f64| {
            rows.iter()
                .map(|(r, h)| Some(f(&r.aux, h)).filter(|v| v.is_finite()))
                .collect::<Vec<_>>()
        };
        let columns = vec![
            Column::new("job_key".into(), text(&|r, _| r.key.clone())),
            Column::new("dataset".into(), text(&|r, _| r.dataset.clone())),
            Column::new("column_label".into(), text(&|r, _| r.label.clone())),
            Column::new(
                "main_metric".into(),
                text(&|r, _| r.aux.main_metric.clone()),
            ),
            Column::new("without_group".into(), num(&|a, _| a.without_group)),
            Column::new("with_group".into(), num(&|a, _| a.with_group)),
            Column::new("as_target".into(), num(&|a, _| a.as_target)),
            Column::new("column".into(), text(&|_, h| h.column.clone())),
            Column::new(
                "categorical".into(),
                rows.iter().map(|(_, h)| h.categorical).collect::<Vec<_>>(),
            ),
            Column::new("error".into(), num(&|_, h| h.error)),
            Column::new("spearman".into(), num(&|_, h| h.spearman)),
            Column::new("spearman_low".into(), num(&|_, h| h.spearman_low)),
            Column::new("spearman_high".into(), num(&|_, h| h.spearman_high)),
        ];
        Ok(DataFrame::new_infer_height(columns)?)
    }

    /// The report's section: one table of main metrics and one of heads per
    /// dataset and auxiliary cell.
    pub fn section(&self) -> Section {
        let mut cells: BTreeMap<(&str, &str), Vec<&AuxMetrics>> = BTreeMap::new();
        for run in &self.0 {
            cells
                .entry((&run.dataset, &run.label))
                .or_default()
                .push(&run.aux);
        }
        let mut md = String::from(
            "\n## Auxiliary targets\n\nThe group's columns are removed from the inputs and predicted by heads on the shared trunk (method.md section 4). \
             Mean ± standard deviation over seeds; ρ is the Spearman correlation over test points between the main model's per-point error and the head's, \
             its interval the mean of the seeds' bootstrap 95% intervals.\n",
        );
        let mut html = String::from(
            "<h2>Auxiliary targets</h2>\n<p>The group's columns are removed from the inputs and predicted by heads on the shared trunk (method.md section 4). \
             Mean ± standard deviation over seeds; ρ is the Spearman correlation over test points between the main model's per-point error and the head's, \
             its interval the mean of the seeds' bootstrap 95% intervals.</p>\n",
        );
        for ((dataset, label), runs) in &cells {
            let metric = match runs[0].main_metric.as_str() {
                "mse" => "MSE",
                "accuracy" => "accuracy",
                other => other,
            };
            let n = runs.len();
            let stat = |f: &dyn Fn(&AuxMetrics) -> f64| {
                summary(&runs.iter().map(|a| f(a)).collect::<Vec<_>>())
            };
            let (without, with, target) = (
                stat(&|a| a.without_group),
                stat(&|a| a.with_group),
                stat(&|a| a.as_target),
            );
            md.push_str(&format!(
                "\n### {dataset}: {label} (n = {n})\n\n| test {metric} | without the group | with it as input | with it as target |\n|---|---|---|---|\n| mean ± std | {without} | {with} | {target} |\n\n\
                 | auxiliary column | head | test error | ρ(main error, head error) | 95% interval |\n|---|---|---|---|---|\n"
            ));
            html.push_str(&format!(
                "<h3>{}: {} (n = {n})</h3>\n<table>\n<tr><th>test {metric}</th><th>without the group</th><th>with it as input</th><th>with it as target</th></tr>\n\
                 <tr><td>mean ± std</td><td>{without}</td><td>{with}</td><td>{target}</td></tr>\n</table>\n<table>\n\
                 <tr><th>auxiliary column</th><th>head</th><th>test error</th><th>ρ(main error, head error)</th><th>95% interval</th></tr>\n",
                esc(dataset),
                esc(label)
            ));
            for (i, head) in runs[0].heads.iter().enumerate() {
                let of = |f: &dyn Fn(&AuxHead) -> f64| -> Vec<f64> {
                    runs.iter().filter_map(|a| a.heads.get(i)).map(f).collect()
                };
                let kind = if head.categorical {
                    "categorical (cross-entropy)"
                } else {
                    "numeric (standardised MSE)"
                };
                let (error, rho) = (summary(&of(&|h| h.error)), summary(&of(&|h| h.spearman)));
                let interval = format!(
                    "[{:.3}, {:.3}]",
                    finite_mean(&of(&|h| h.spearman_low)),
                    finite_mean(&of(&|h| h.spearman_high))
                );
                md.push_str(&format!(
                    "| {} | {kind} | {error} | {rho} | {interval} |\n",
                    head.column
                ));
                html.push_str(&format!(
                    "<tr><td>{}</td><td>{kind}</td><td>{error}</td><td>{rho}</td><td>{interval}</td></tr>\n",
                    esc(&head.column)
                ));
            }
            html.push_str("</table>\n");
        }
        Section { markdown: md, html }
    }
}

fn finite_mean(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        mean(&f)
    }
}

/// `0.512 ± 0.013` over the finite values (no ± for one).
fn summary(v: &[f64]) -> String {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    match f.len() {
        0 => "–".into(),
        1 => format!("{:.4}", f[0]),
        _ => format!("{:.4} ± {:.4}", mean(&f), variance(&f).sqrt()),
    }
}
