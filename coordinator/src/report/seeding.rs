//! What adaptive seeding did, for the report: per cell the seeds run, n,
//! the final half-width against its target and why the cell stopped (a
//! section of `report.md`/`report.html`, two columns of `cells.parquet`),
//! and every decision of every cell (`seed_ledger.parquet`).

use polars::prelude::*;

use super::table::num;
use super::{floats, strings, ReportError};
use crate::state::seeding::{Decision, SeedCell};
use sweep_shared::cell_label;

/// A cell's outcome so far: `met`, `max seeds`, or `running`.
pub fn outcome(cell: &SeedCell) -> &'static str {
    cell.stop.map_or("running", Decision::name)
}

/// Every ledger entry of every cell, in order.
pub fn ledger_frame(cells: &[SeedCell]) -> Result<DataFrame, ReportError> {
    let rows: Vec<(&SeedCell, &crate::state::seeding::LedgerEntry)> = cells
        .iter()
        .flat_map(|c| c.ledger.iter().map(move |e| (c, e)))
        .collect();
    let col = |name: &str, f: &dyn Fn(&SeedCell) -> String| {
        Column::new(
            name.into(),
            rows.iter().map(|(c, _)| f(c)).collect::<Vec<_>>(),
        )
    };
    Ok(DataFrame::new_infer_height(vec![
        col("dataset", &|c| c.dataset.clone()),
        col("objective", &|c| c.objective.clone()),
        Column::new(
            "alpha".into(),
            rows.iter().map(|(c, _)| c.alpha).collect::<Vec<_>>(),
        ),
        col("grid", &|c| c.grid.clone()),
        col("metric", &|c| c.rule.metric.clone()),
        Column::new(
            "step".into(),
            rows.iter()
                .scan((String::new(), 0u32), |(label, step), (c, _)| {
                    if *label != c.label {
                        *label = c.label.clone();
                        *step = 0;
                    }
                    *step += 1;
                    Some(*step)
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "seeds_run".into(),
            rows.iter()
                .map(|(_, e)| e.seeds_run as u32)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "n".into(),
            rows.iter().map(|(_, e)| e.n as u32).collect::<Vec<_>>(),
        ),
        Column::new(
            "mean".into(),
            rows.iter().map(|(_, e)| e.mean).collect::<Vec<_>>(),
        ),
        Column::new(
            "half_width".into(),
            rows.iter().map(|(_, e)| e.half_width).collect::<Vec<_>>(),
        ),
        Column::new(
            "target".into(),
            rows.iter().map(|(_, e)| e.target).collect::<Vec<_>>(),
        ),
        Column::new(
            "decision".into(),
            rows.iter()
                .map(|(_, e)| e.decision.name())
                .collect::<Vec<_>>(),
        ),
    ])?)
}

/// Adds `seeds_target_met` and `seeds_stop` to a cells frame (null for a
/// cell the sweep's seeding does not know).
pub fn annotate_cells(cells_df: &mut DataFrame, cells: &[SeedCell]) -> Result<(), ReportError> {
    let (dataset, objective, alpha, grid) = (
        strings(cells_df, "dataset")?,
        strings(cells_df, "objective")?,
        floats(cells_df, "alpha")?,
        strings(cells_df, "grid")?,
    );
    let by_label: std::collections::HashMap<&str, &SeedCell> =
        cells.iter().map(|c| (c.label.as_str(), c)).collect();
    let found: Vec<Option<&SeedCell>> = (0..cells_df.height())
        .map(|i| {
            by_label
                .get(cell_label(&dataset[i], &objective[i], alpha[i], &grid[i]).as_str())
                .copied()
        })
        .collect();
    cells_df.with_column(Column::new(
        "seeds_target_met".into(),
        found
            .iter()
            .map(|c| c.map(|c| c.stop == Some(Decision::Met)))
            .collect::<Vec<_>>(),
    ))?;
    cells_df.with_column(Column::new(
        "seeds_stop".into(),
        found.iter().map(|c| c.map(outcome)).collect::<Vec<_>>(),
    ))?;
    Ok(())
}

/// The last ledger entry's numbers, as the section prints them.
fn last(cell: &SeedCell) -> (usize, usize, String, String) {
    match cell.ledger.last() {
        Some(e) => (
            e.seeds_run,
            e.n,
            e.half_width.map_or("—".into(), num),
            e.target.map_or("—".into(), num),
        ),
        None => (cell.released, 0, "—".into(), "—".into()),
    }
}

fn rule_text(cells: &[SeedCell]) -> String {
    let r = &cells[0].rule;
    format!(
        "{} to {} seeds per cell, until the {} of `{}` is met",
        r.min,
        r.max,
        r.width.describe(),
        r.metric
    )
}

/// The Markdown section (empty for a sweep with fixed seeds).
pub fn markdown(cells: &[SeedCell]) -> String {
    if cells.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n## Adaptive seeding\n\n{}. Every decision is in `seed_ledger.parquet`.\n\n\
         | cell | seeds run | n | 95% half-width | target | stopped |\n|---|---|---|---|---|---|\n",
        rule_text(cells)
    );
    for c in cells {
        let (run, n, width, target) = last(c);
        out.push_str(&format!(
            "| {} | {run} | {n} | {width} | {target} | {} |\n",
            c.label,
            outcome(c)
        ));
    }
    let met = cells
        .iter()
        .filter(|c| c.stop == Some(Decision::Met))
        .count();
    let seeds: usize = cells.iter().map(|c| c.released).sum();
    out.push_str(&format!(
        "\n{met} of {} cells met the target; {seeds} seeds ran, of at most {}.\n",
        cells.len(),
        cells.iter().map(|c| c.candidates.len()).sum::<usize>()
    ));
    out
}

/// The HTML section (empty for a sweep with fixed seeds).
pub fn html(cells: &[SeedCell], esc: &dyn Fn(&str) -> String) -> String {
    if cells.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "<h2>Adaptive seeding</h2>\n<p>{}. Every decision is in <code>seed_ledger.parquet</code>.</p>\n<table>\n\
         <tr><th>cell</th><th>seeds run</th><th>n</th><th>95% half-width</th><th>target</th><th>stopped</th></tr>\n",
        esc(&rule_text(cells))
    );
    for c in cells {
        let (run, n, width, target) = last(c);
        let class = if c.stop == Some(Decision::Met) {
            " class=\"best\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{run}</td><td>{n}</td><td>{width}</td><td>{target}</td><td{class}>{}</td></tr>\n",
            esc(&c.label),
            outcome(c)
        ));
    }
    out.push_str("</table>\n");
    out
}
