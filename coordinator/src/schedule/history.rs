//! The history plot: a schedule's metric over its finished runs, written
//! into each concluded run's report directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::schedules::Schedules;
use super::{Run, Schedule};
use crate::error::CoordinatorError;
use crate::report::{self, plots};

impl Schedules {
    /// Plots the schedule's metric over its finished runs into the run's
    /// report directory.
    pub(super) async fn history_plot(
        &self,
        s: &Schedule,
        upto: &Run,
    ) -> Result<(), CoordinatorError> {
        let runs: Vec<Run> = self
            .store()
            .runs(&s.name)?
            .into_iter()
            .filter(|r| r.seq <= upto.seq && (r.outcome.finished() || r.seq == upto.seq))
            .collect();
        let (db, metric, stem) = (
            self.config.db.clone(),
            s.metric.clone(),
            PathBuf::from(&upto.report_dir).join(format!("history-{}", s.metric)),
        );
        Ok(tokio::task::spawn_blocking(move || plot_runs(&db, &metric, &stem, &runs)).await??)
    }
}

/// Reads each of `runs` from the database and writes `<stem>.svg` and
/// `.png`: one panel per dataset, one line per cell, one point per run. A
/// run whose results cannot be read leaves a gap, not an error.
fn plot_runs(
    db: &Path,
    metric: &str,
    stem: &Path,
    runs: &[Run],
) -> Result<(), report::ReportError> {
    let mut labels = Vec::new();
    // dataset → cell → one value per run.
    let mut panels: BTreeMap<String, BTreeMap<String, Vec<Option<f64>>>> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        labels.push(format!("#{}", r.seq));
        let Ok(frame) = report::runs_in_db(db, &r.sweep) else {
            continue;
        };
        let cells = report::cells::aggregate(&frame)?;
        let dataset = report::strings(&cells, "dataset")?;
        let objective = report::strings(&cells, "objective")?;
        let alpha = report::floats(&cells, "alpha")?;
        let values = report::floats(&cells, &format!("{metric}_mean"))?;
        let grid = report::panels::grid_labels(&cells)?;
        for c in 0..cells.height() {
            let mut cell = match alpha[c] {
                Some(a) => format!("α={a}"),
                None => objective[c].to_uppercase(),
            };
            if !grid[c].is_empty() {
                cell.push_str(&format!(" [{}]", grid[c]));
            }
            let series = panels
                .entry(dataset[c].clone())
                .or_default()
                .entry(cell)
                .or_insert_with(|| vec![None; runs.len()]);
            series[i] = values[c];
        }
    }
    let panels: Vec<(String, Vec<plots::Series>)> = panels
        .into_iter()
        .map(|(d, cells)| {
            let series = cells
                .into_iter()
                .filter(|(_, v)| v.iter().any(Option::is_some))
                .map(|(label, values)| plots::Series { label, values })
                .collect();
            (d, series)
        })
        .collect();
    plots::write_history(stem, metric, &labels, &panels).map(|_| ())
}
