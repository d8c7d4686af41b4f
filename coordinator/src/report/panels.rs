//! Panels: what one table and one plot show. A panel is a dataset at one
//! grid point (see the sweep file's `[grid]`); without a grid it is the
//! dataset; the settings of one objective alone (ExpO's λ, …) make columns
//! of a panel rather than panels. An STL cell whose objective ignores some grid keys (its key
//! leaves them out) belongs to every panel of its dataset that agrees with
//! it on the keys it has, so each panel keeps its STL column.

use polars::prelude::DataFrame;

use super::{strings, ReportError};

/// The grid column of a frame, or all empty where the frame has none (runs
/// and cells written before grids existed).
pub(crate) fn grid_labels(df: &DataFrame) -> Result<Vec<String>, ReportError> {
    if df.column("grid").is_err() {
        return Ok(vec![String::new(); df.height()]);
    }
    strings(df, "grid")
}

/// The `key=value` pairs of a grid label such as `g_init=glorot, lr_min_delta=0`.
pub fn grid_pairs(label: &str) -> Vec<(&str, &str)> {
    label
        .split(", ")
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .collect()
}

/// A cell's grid label without the settings of one objective alone (ExpO's
/// λ, the constrained objective's ε, …): those head the cell's column
/// within the panel (see `JobSpec::column_label`) instead of making panels
/// of their own.
fn panel_grid(label: &str) -> String {
    grid_pairs(label)
        .into_iter()
        .filter(|(k, _)| !sweep_shared::is_objective_setting(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether every pair of `part` is in `whole`.
fn agrees(part: &str, whole: &str) -> bool {
    let whole = grid_pairs(whole);
    grid_pairs(part).iter().all(|p| whole.contains(p))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub dataset: String,
    pub grid: String,
    /// The cells of the panel, in the frame's order.
    pub rows: Vec<usize>,
}

impl Panel {
    /// `wine`, or `wine · g_init=least-squares`.
    pub fn title(&self) -> String {
        if self.grid.is_empty() {
            self.dataset.clone()
        } else {
            format!("{} · {}", self.dataset, self.grid)
        }
    }

    /// A file-name stem: the title with everything but letters, digits,
    /// `-`, `_` and `.` replaced.
    pub fn stem(&self) -> String {
        if self.grid.is_empty() {
            return self.dataset.clone();
        }
        let grid: String = self
            .grid
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}-{grid}", self.dataset)
    }
}

/// The panels of a cells frame, in the order their cells first appear.
pub fn panels(cells: &DataFrame) -> Result<Vec<Panel>, ReportError> {
    let dataset = strings(cells, "dataset")?;
    let objective = strings(cells, "objective")?;
    let grid: Vec<String> = grid_labels(cells)?.iter().map(|g| panel_grid(g)).collect();
    let stl = |i: usize| objective[i] == "stl";
    // The grid points that non-STL cells were trained at, per dataset.
    let points: Vec<(usize, &str)> = (0..cells.height())
        .filter(|&i| !stl(i))
        .map(|i| (i, grid[i].as_str()))
        .collect();
    let mut out: Vec<Panel> = Vec::new();
    let add = |out: &mut Vec<Panel>, d: &str, g: &str, row: usize| match out
        .iter_mut()
        .find(|p| p.dataset == d && p.grid == g)
    {
        Some(p) => {
            if !p.rows.contains(&row) {
                p.rows.push(row)
            }
        }
        None => out.push(Panel {
            dataset: d.to_string(),
            grid: g.to_string(),
            rows: vec![row],
        }),
    };
    for i in 0..cells.height() {
        if !stl(i) {
            add(&mut out, &dataset[i], &grid[i], i);
            continue;
        }
        let mut homes: Vec<&str> = Vec::new();
        for &(j, g) in &points {
            if dataset[j] == dataset[i] && agrees(&grid[i], g) && !homes.contains(&g) {
                homes.push(g);
            }
        }
        if homes.is_empty() {
            homes.push(&grid[i]);
        }
        for g in homes {
            add(&mut out, &dataset[i], g, i);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn cells(rows: &[(&str, &str, &str)]) -> DataFrame {
        DataFrame::new_infer_height(vec![
            Column::new(
                "dataset".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "objective".into(),
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            ),
            Column::new("grid".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
        ])
        .unwrap()
    }

    #[test]
    fn without_a_grid_a_panel_is_a_dataset() {
        let c = cells(&[("a", "stl", ""), ("a", "mtl", ""), ("b", "stl", "")]);
        let p = panels(&c).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].title(), p[0].rows.clone()), ("a".into(), vec![0, 1]));
        assert_eq!((p[1].stem(), p[1].rows.clone()), ("b".into(), vec![2]));
    }

    #[test]
    fn stl_joins_every_grid_point_it_agrees_with() {
        // g_init is ignored by STL; lr_min_delta is not.
        let c = cells(&[
            ("a", "stl", "lr_min_delta=0"),
            ("a", "stl", "lr_min_delta=0.0001"),
            ("a", "mtl", "g_init=glorot, lr_min_delta=0"),
            ("a", "mtl", "g_init=least-squares, lr_min_delta=0"),
            ("a", "mtl", "g_init=glorot, lr_min_delta=0.0001"),
        ]);
        let p = panels(&c).unwrap();
        let got: Vec<(String, Vec<usize>)> =
            p.iter().map(|p| (p.grid.clone(), p.rows.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("g_init=glorot, lr_min_delta=0".to_string(), vec![0, 2]),
                (
                    "g_init=least-squares, lr_min_delta=0".to_string(),
                    vec![0, 3]
                ),
                ("g_init=glorot, lr_min_delta=0.0001".to_string(), vec![1, 4]),
            ]
        );
        assert_eq!(p[1].stem(), "a-g_init_least-squares__lr_min_delta_0");
    }
}
