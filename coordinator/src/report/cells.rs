//! Statistics over seeds per cell (dataset, objective, α, grid point): for
//! each metric n, mean, standard deviation, standard error and a 95%
//! Student-t interval, how many seeds were degenerate, plus whether the
//! cell is on its dataset's accuracy–fidelity Pareto front (on the means,
//! over every grid point of the dataset).

use polars::prelude::*;

use super::groups::{group_rows, summary};
use super::panels::{grid_labels, grid_pairs};
pub use super::stats::t_quantile_975;
use super::{counts, floats, strings, ReportError, METRICS};

/// Aggregates a runs frame (see `frames::runs`) into one row per cell, in
/// the order cells first appear.
pub fn aggregate(runs: &DataFrame) -> Result<DataFrame, ReportError> {
    // Runs written before grids existed have no grid column: one point.
    let grid = grid_labels(runs)?;
    let mut keyed = runs.select(["dataset", "objective", "alpha"])?;
    keyed.with_column(Column::new("grid".into(), grid.clone()))?;
    let groups = group_rows(&keyed, &["dataset", "objective", "alpha", "grid"])?;
    let first: Vec<usize> = groups.iter().map(|rows| rows[0]).collect();
    let (dataset, objective, alpha) = (
        strings(runs, "dataset")?,
        strings(runs, "objective")?,
        floats(runs, "alpha")?,
    );
    let mut columns = vec![
        Column::new(
            "dataset".into(),
            first
                .iter()
                .map(|&i| dataset[i].clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "objective".into(),
            first
                .iter()
                .map(|&i| objective[i].clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "alpha".into(),
            first.iter().map(|&i| alpha[i]).collect::<Vec<_>>(),
        ),
        Column::new(
            "grid".into(),
            first.iter().map(|&i| grid[i].clone()).collect::<Vec<_>>(),
        ),
    ];
    // How tables head the cell, and the objective's own setting that
    // orders its cells; derived from objective and α for runs written
    // before they were kept.
    let (label, parameter) = if runs.column("column_label").is_ok() {
        (
            strings(runs, "column_label")?,
            floats(runs, "objective_parameter")?,
        )
    } else {
        let label = (0..runs.height())
            .map(|i| match alpha[i] {
                Some(a) => format!("α = {a}"),
                None => "STL".to_string(),
            })
            .collect();
        (label, vec![None; runs.height()])
    };
    columns.push(Column::new(
        "column_label".into(),
        first.iter().map(|&i| label[i].clone()).collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "objective_parameter".into(),
        first.iter().map(|&i| parameter[i]).collect::<Vec<_>>(),
    ));
    // One column per grid key, null where a cell's objective ignores it.
    let mut keys: Vec<&str> = Vec::new();
    for &i in &first {
        for (k, _) in grid_pairs(&grid[i]) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for k in keys {
        let values: Vec<Option<String>> = first
            .iter()
            .map(|&i| {
                grid_pairs(&grid[i])
                    .into_iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            })
            .collect();
        columns.push(Column::new(k.into(), values));
    }
    if runs.column("degenerate").is_ok() {
        let degenerate = super::bools(runs, "degenerate")?;
        let counted: Vec<u32> = groups
            .iter()
            .map(|rows| rows.iter().filter(|&&i| degenerate[i]).count() as u32)
            .collect();
        columns.push(Column::new("degenerate_n".into(), counted));
    }
    // The constrained objective: seeds whose constraint held.
    for flag in ["constraint_met_val", "constraint_met_test"] {
        if runs.column(flag).is_err() {
            continue;
        }
        let held = super::bools(runs, flag)?;
        let counted: Vec<u32> = groups
            .iter()
            .map(|rows| rows.iter().filter(|&&i| held[i]).count() as u32)
            .collect();
        columns.push(Column::new(format!("{flag}_n").into(), counted));
    }
    for m in METRICS {
        // A metric newer than the runs (from an older runs.parquet) is null.
        let values = if runs.column(m).is_ok() {
            floats(runs, m)?
        } else {
            vec![None; runs.height()]
        };
        let (mut n, mut mean, mut std) = (Vec::new(), Vec::new(), Vec::new());
        for rows in &groups {
            let (count, mu, sd) = summary(&values, rows);
            n.push(count);
            mean.push(mu);
            std.push(sd);
        }
        columns.push(Column::new(format!("{m}_n").into(), n));
        columns.push(Column::new(format!("{m}_mean").into(), mean));
        columns.push(Column::new(format!("{m}_std").into(), std));
    }
    let mut cells = DataFrame::new_infer_height(columns)?;
    for m in METRICS {
        let n = counts(&cells, &format!("{m}_n"))?;
        let mean = floats(&cells, &format!("{m}_mean"))?;
        let std = floats(&cells, &format!("{m}_std"))?;
        let (mut sem, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
        for ((&n, &mean), &std) in n.iter().zip(&mean).zip(&std) {
            let interval = match (mean, std) {
                (Some(mean), Some(std)) if n >= 2 => {
                    let se = std / f64::from(n).sqrt();
                    let t = t_quantile_975(n - 1);
                    Some((se, mean - t * se, mean + t * se))
                }
                _ => None,
            };
            sem.push(interval.map(|i| i.0));
            lo.push(interval.map(|i| i.1));
            hi.push(interval.map(|i| i.2));
        }
        for (suffix, values) in [("sem", sem), ("ci95_low", lo), ("ci95_high", hi)] {
            cells.with_column(Column::new(format!("{m}_{suffix}").into(), values))?;
        }
    }
    let pareto = pareto_flags(&cells)?;
    cells.with_column(Column::new("pareto".into(), pareto))?;
    Ok(cells)
}

/// Whether each cell is Pareto-optimal within its dataset: no other cell
/// has a prediction metric at least as good and a GF at least as low, with
/// one of them strictly better. The prediction metric is accuracy (higher
/// is better) where present, else MSE (lower is better).
fn pareto_flags(cells: &DataFrame) -> Result<Vec<bool>, ReportError> {
    let dataset = strings(cells, "dataset")?;
    let (acc, mse, gf) = (
        floats(cells, "accuracy_mean")?,
        floats(cells, "mse_mean")?,
        floats(cells, "gf_mean")?,
    );
    // Scores where lower is better on both axes.
    let score: Vec<Option<(f64, f64)>> = (0..cells.height())
        .map(|i| {
            let prediction = acc[i].map(|a| -a).or(mse[i])?;
            Some((prediction, gf[i]?))
        })
        .collect();
    Ok((0..cells.height())
        .map(|i| {
            let Some((p, g)) = score[i] else { return false };
            !(0..cells.height()).any(|j| {
                j != i
                    && dataset[j] == dataset[i]
                    && score[j].is_some_and(|(pj, gj)| pj <= p && gj <= g && (pj < p || gj < g))
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs with known statistics, checked against values computed
    /// independently (by hand and with scipy.stats.t.ppf).
    /// Adds every metric the frame lacks as an all-null column.
    fn with_missing_metrics(mut runs: DataFrame) -> DataFrame {
        let height = runs.height();
        for m in METRICS {
            if runs.column(m).is_err() {
                runs.with_column(Column::new(m.into(), vec![None::<f64>; height]))
                    .unwrap();
            }
        }
        runs
    }

    #[test]
    fn golden_statistics_over_seeds() {
        let runs = DataFrame::new_infer_height(vec![
            Column::new("dataset".into(), ["d", "d", "d", "d", "d", "e"]),
            Column::new(
                "objective".into(),
                ["mtl", "mtl", "mtl", "stl", "stl", "stl"],
            ),
            Column::new(
                "alpha".into(),
                [Some(0.5), Some(0.5), Some(0.5), None, None, None],
            ),
            Column::new(
                "gf".into(),
                [
                    Some(1.0),
                    Some(2.0),
                    Some(3.0),
                    Some(4.0),
                    Some(f64::NAN).filter(|v| v.is_finite()),
                    Some(7.0),
                ],
            ),
            Column::new(
                "mse".into(),
                [
                    Some(0.5),
                    Some(0.5),
                    Some(0.8),
                    Some(0.1),
                    Some(0.3),
                    Some(1.0),
                ],
            ),
        ])
        .unwrap();
        let runs = with_missing_metrics(runs);
        let cells = aggregate(&runs).unwrap();
        assert_eq!(cells.height(), 3);
        let get = |name: &str, i: usize| cells.column(name).unwrap().f64().unwrap().get(i);
        let n = |name: &str, i: usize| cells.column(name).unwrap().u32().unwrap().get(i);

        // Cell d/mtl/0.5: gf 1, 2, 3 → mean 2, std 1, sem 1/√3,
        // t(0.975, 2) = 4.302652729749464 (scipy).
        assert_eq!(
            (n("gf_n", 0), get("gf_mean", 0), get("gf_std", 0)),
            (Some(3), Some(2.0), Some(1.0))
        );
        let sem = 1.0 / 3f64.sqrt();
        assert!((get("gf_sem", 0).unwrap() - sem).abs() < 1e-12);
        assert!((get("gf_ci95_low", 0).unwrap() - (2.0 - 4.302652729749464 * sem)).abs() < 1e-9);
        assert!((get("gf_ci95_high", 0).unwrap() - (2.0 + 4.302652729749464 * sem)).abs() < 1e-9);

        // Cell d/stl: one gf was NaN → n = 1: a mean but no spread or interval.
        assert_eq!(
            (n("gf_n", 1), get("gf_mean", 1), get("gf_std", 1)),
            (Some(1), Some(4.0), None)
        );
        assert_eq!((get("gf_ci95_low", 1), get("gf_sem", 1)), (None, None));
        // Its mse has two values: 0.1, 0.3 → std √0.02, t(0.975, 1) = 12.706204736174698.
        let sem = 0.02f64.sqrt() / 2f64.sqrt();
        assert!((get("mse_ci95_high", 1).unwrap() - (0.2 + 12.706204736174698 * sem)).abs() < 1e-9);

        // Pareto within d: mtl (mse 0.6, gf 2) and stl (mse 0.2, gf 4) trade off: both on the front.
        let pareto = super::super::bools(&cells, "pareto").unwrap();
        assert_eq!(pareto, [true, true, true]);
    }

    #[test]
    fn a_dominated_cell_is_off_the_front() {
        let runs = DataFrame::new_infer_height(vec![
            Column::new("dataset".into(), ["d", "d"]),
            Column::new("objective".into(), ["mtl", "mtl"]),
            Column::new("alpha".into(), [Some(0.1), Some(0.9)]),
            Column::new("accuracy".into(), [Some(0.9), Some(0.8)]),
            Column::new("gf".into(), [Some(0.01), Some(0.02)]),
        ])
        .unwrap();
        let runs = with_missing_metrics(runs);
        let cells = aggregate(&runs).unwrap();
        let pareto = super::super::bools(&cells, "pareto").unwrap();
        assert_eq!(pareto, [true, false]);
    }
}
