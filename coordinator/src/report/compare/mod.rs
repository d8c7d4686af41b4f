//! Comparison of two sweeps, cell by cell: for each (dataset, objective, α)
//! present in both and each quality metric, both means, the difference, a
//! p-value (a paired t-test where both sides ran the same seeds, Welch's
//! t-test otherwise), the p-value adjusted across all the comparison's
//! tests (`fdr`: Benjamini–Hochberg by default), and a flag when the cell
//! moved beyond its threshold in a significant way by the adjusted value.
//! Scheduled runs use it to tell a pass from a regression.
//!
//! The t-tests live in `report::stats` (re-exported here); `render` lays a
//! comparison out as a frame, Markdown and files.

mod fdr;
mod render;

pub use fdr::Fdr;

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use super::panels::grid_labels;
use super::stats::mean;
pub use super::stats::{paired_p, welch_p};
use super::{floats, strings, ReportError};
pub use render::p_text;

/// The metrics compared, with whether a higher value is better.
pub const COMPARED: [(&str, bool); 11] = [
    ("mse", false),
    ("r2", true),
    ("accuracy", true),
    ("f1", true),
    ("gf", false),
    ("gnf", false),
    ("r2_fg", true),
    ("ins_g", true),
    ("del_g", false),
    ("ins_grad", true),
    ("del_grad", false),
];

/// A change is significant below this (adjusted) p-value: q for
/// Benjamini–Hochberg.
pub const SIGNIFICANCE: f64 = 0.05;

/// The relative change, per metric, beyond which a significant move is
/// flagged; metrics not listed use `default`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thresholds {
    pub default: f64,
    #[serde(default)]
    pub per_metric: BTreeMap<String, f64>,
    /// How the p-values are adjusted for the number of tests (absent in
    /// schedules from before it was kept: Benjamini–Hochberg).
    #[serde(default)]
    pub fdr: Fdr,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            default: 0.05,
            per_metric: BTreeMap::new(),
            fdr: Fdr::default(),
        }
    }
}

impl Thresholds {
    /// Parses `metric=value` items such as `gf=0.1`, naming the bad one.
    pub fn parse(default: f64, items: &[String]) -> Result<Thresholds, ReportError> {
        if !(default >= 0.0 && default.is_finite()) {
            return Err(ReportError::BadDefaultThreshold(default));
        }
        let mut per_metric = BTreeMap::new();
        for item in items {
            let (metric, value) = item
                .split_once('=')
                .ok_or_else(|| ReportError::ThresholdSyntax(item.clone()))?;
            if !COMPARED.iter().any(|(m, _)| *m == metric) {
                let known: Vec<&str> = COMPARED.iter().map(|(m, _)| *m).collect();
                return Err(ReportError::ThresholdMetric {
                    item: item.clone(),
                    metric: metric.to_string(),
                    known: known.join(", "),
                });
            }
            let value: f64 = value
                .parse()
                .ok()
                .filter(|v: &f64| *v >= 0.0 && v.is_finite())
                .ok_or_else(|| ReportError::ThresholdValue {
                    item: item.clone(),
                    value: value.to_string(),
                })?;
            per_metric.insert(metric.to_string(), value);
        }
        Ok(Thresholds {
            default,
            per_metric,
            fdr: Fdr::default(),
        })
    }

    /// The same thresholds, with p-values adjusted by `fdr`.
    pub fn with_fdr(self, fdr: Fdr) -> Thresholds {
        Thresholds { fdr, ..self }
    }

    pub fn of(&self, metric: &str) -> f64 {
        self.per_metric.get(metric).copied().unwrap_or(self.default)
    }
}

/// How a compared cell moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Unchanged,
    Improvement,
    Regression,
}

impl Flag {
    pub fn name(self) -> &'static str {
        match self {
            Flag::Unchanged => "",
            Flag::Improvement => "improvement",
            Flag::Regression => "regression",
        }
    }
}

/// One (cell, metric) of a comparison.
#[derive(Debug, Clone)]
pub struct Row {
    pub dataset: String,
    pub objective: String,
    pub alpha: Option<f64>,
    /// The grid point (see the sweep file's `[grid]`); empty without one.
    pub grid: String,
    pub metric: &'static str,
    pub n_a: usize,
    pub n_b: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    /// `mean_b - mean_a`.
    pub diff: f64,
    /// `diff / |mean_a|` (null when `mean_a` is 0).
    pub rel_diff: Option<f64>,
    pub test: &'static str,
    /// The test's own p-value.
    pub p_value: Option<f64>,
    /// `p_value` adjusted across the comparison (see [`Fdr`]); the flag
    /// is decided on it.
    pub p_adjusted: Option<f64>,
    pub flag: Flag,
}

impl Row {
    pub fn cell(&self) -> String {
        cell_label(&self.dataset, &self.objective, self.alpha, &self.grid)
    }
}

pub(crate) use sweep_shared::cell_label;

pub struct Comparison {
    pub a: String,
    pub b: String,
    /// How the p-values were adjusted.
    pub fdr: Fdr,
    pub rows: Vec<Row>,
    /// Cells present on one side only.
    pub unmatched: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.flag == Flag::Regression)
            .collect()
    }
}

/// (dataset, objective, α's bits, grid point): α as bits so that the key is `Ord`.
type CellKey = (String, String, Option<u64>, String);

fn alpha_of(key: &CellKey) -> Option<f64> {
    key.2.map(f64::from_bits)
}

/// Per cell, per metric: seed → value.
type Samples = BTreeMap<CellKey, HashMap<&'static str, BTreeMap<u64, f64>>>;

fn samples(runs: &DataFrame) -> Result<Samples, ReportError> {
    let dataset = strings(runs, "dataset")?;
    let objective = strings(runs, "objective")?;
    let alpha = floats(runs, "alpha")?;
    let grid = grid_labels(runs)?;
    let seed: Vec<u64> = runs
        .column("seed")
        .and_then(|c| c.cast(&DataType::UInt64))?
        .u64()?
        .iter()
        .map(|s| s.unwrap_or(0))
        .collect();
    let mut out: Samples = BTreeMap::new();
    for (metric, _) in COMPARED {
        let values = floats(runs, metric)?;
        for i in 0..runs.height() {
            let key = (
                dataset[i].clone(),
                objective[i].clone(),
                alpha[i].map(f64::to_bits),
                grid[i].clone(),
            );
            if let Some(v) = values[i] {
                out.entry(key)
                    .or_default()
                    .entry(metric)
                    .or_default()
                    .insert(seed[i], v);
            } else {
                out.entry(key).or_default();
            }
        }
    }
    Ok(out)
}

/// Compares the runs of sweep `b` against those of sweep `a` (the baseline).
pub fn compare(
    a_name: &str,
    a: &DataFrame,
    b_name: &str,
    b: &DataFrame,
    thresholds: &Thresholds,
) -> Result<Comparison, ReportError> {
    let (sa, sb) = (samples(a)?, samples(b)?);
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    let label = |k: &CellKey| cell_label(&k.0, &k.1, alpha_of(k), &k.3);
    for (key, ma) in &sa {
        let Some(mb) = sb.get(key) else {
            unmatched.push(format!("{} (only in {a_name})", label(key)));
            continue;
        };
        for (metric, _) in COMPARED {
            let (Some(xa), Some(xb)) = (ma.get(metric), mb.get(metric)) else {
                continue;
            };
            rows.push(compare_cell(key, metric, xa, xb));
        }
    }
    for key in sb.keys().filter(|k| !sa.contains_key(*k)) {
        unmatched.push(format!("{} (only in {b_name})", label(key)));
    }
    // Only now, with every test known, can the p-values be adjusted and
    // the rows flagged.
    let raw: Vec<Option<f64>> = rows.iter().map(|r| r.p_value).collect();
    for (row, p) in rows.iter_mut().zip(thresholds.fdr.adjust(&raw)) {
        row.p_adjusted = p;
        row.flag = flag(row, thresholds.of(row.metric));
    }
    Ok(Comparison {
        a: a_name.to_string(),
        b: b_name.to_string(),
        fdr: thresholds.fdr,
        rows,
        unmatched,
    })
}

/// Whether a row moved beyond `threshold` (relative to the baseline, or
/// absolute when the baseline is 0) and, where there are enough seeds to
/// tell, significantly by its adjusted p-value; which way is better is
/// the metric's own.
fn flag(row: &Row, threshold: f64) -> Flag {
    let higher_is_better = COMPARED
        .iter()
        .find(|(m, _)| *m == row.metric)
        .is_some_and(|(_, h)| *h);
    let size = row.rel_diff.unwrap_or(row.diff).abs();
    let significant = row.p_adjusted.is_none_or(|p| p < SIGNIFICANCE);
    if size > threshold && significant && row.diff != 0.0 {
        if (row.diff > 0.0) == higher_is_better {
            Flag::Improvement
        } else {
            Flag::Regression
        }
    } else {
        Flag::Unchanged
    }
}

/// One (cell, metric)'s means and test, not yet flagged.
fn compare_cell(
    key: &CellKey,
    metric: &'static str,
    xa: &BTreeMap<u64, f64>,
    xb: &BTreeMap<u64, f64>,
) -> Row {
    let va: Vec<f64> = xa.values().copied().collect();
    let vb: Vec<f64> = xb.values().copied().collect();
    let (mean_a, mean_b) = (mean(&va), mean(&vb));
    let diff = mean_b - mean_a;
    let rel_diff = (mean_a != 0.0).then(|| diff / mean_a.abs());
    let same_seeds = xa.len() == xb.len() && xa.keys().eq(xb.keys());
    let (test, p_value) = if same_seeds && va.len() >= 2 {
        let d: Vec<f64> = va.iter().zip(&vb).map(|(a, b)| b - a).collect();
        ("paired", paired_p(&d))
    } else if va.len() >= 2 && vb.len() >= 2 {
        ("welch", welch_p(&va, &vb))
    } else {
        ("none", None)
    };
    Row {
        dataset: key.0.clone(),
        objective: key.1.clone(),
        alpha: alpha_of(key),
        grid: key.3.clone(),
        metric,
        n_a: va.len(),
        n_b: vb.len(),
        mean_a,
        mean_b,
        diff,
        rel_diff,
        test,
        p_value,
        p_adjusted: p_value,
        flag: Flag::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(rows: &[(&str, Option<f64>, u64, f64)]) -> DataFrame {
        let mut cols = vec![
            Column::new(
                "dataset".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "objective".into(),
                rows.iter()
                    .map(|r| if r.1.is_some() { "mtl" } else { "stl" })
                    .collect::<Vec<_>>(),
            ),
            Column::new("alpha".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            Column::new("seed".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
        ];
        for (m, _) in COMPARED {
            let v: Vec<Option<f64>> = rows.iter().map(|r| (m == "gf").then_some(r.3)).collect();
            cols.push(Column::new(m.into(), v));
        }
        DataFrame::new_infer_height(cols).unwrap()
    }

    #[test]
    fn a_worse_gf_on_the_same_seeds_is_a_paired_regression() {
        let a = runs(&[
            ("wine", Some(0.1), 0, 0.10),
            ("wine", Some(0.1), 1, 0.12),
            ("wine", Some(0.1), 2, 0.11),
            ("wine", None, 0, 0.5),
        ]);
        let b = runs(&[
            ("wine", Some(0.1), 0, 0.15),
            ("wine", Some(0.1), 1, 0.16),
            ("wine", Some(0.1), 2, 0.18),
            ("wine", None, 0, 0.5),
            ("wine", Some(0.3), 0, 0.2),
        ]);
        let c = compare("a", &a, "b", &b, &Thresholds::default()).unwrap();
        let reg = c.regressions();
        assert_eq!(reg.len(), 1);
        assert_eq!((reg[0].metric, reg[0].test), ("gf", "paired"));
        assert_eq!(reg[0].alpha, Some(0.1));
        let stl = c.rows.iter().find(|r| r.alpha.is_none()).unwrap();
        assert_eq!((stl.flag, stl.test), (Flag::Unchanged, "none"));
        assert_eq!(c.unmatched, vec!["wine mtl α=0.3 (only in b)".to_string()]);
        // The same move is an improvement the other way round.
        let back = compare("b", &b, "a", &a, &Thresholds::default()).unwrap();
        assert!(back.regressions().is_empty());
        assert_eq!(
            back.rows
                .iter()
                .filter(|r| r.flag == Flag::Improvement)
                .count(),
            1
        );
    }

    #[test]
    fn a_move_below_its_threshold_or_not_significant_is_not_flagged() {
        let a = runs(&[("wine", None, 0, 0.10), ("wine", None, 1, 0.30)]);
        let b = runs(&[("wine", None, 2, 0.12), ("wine", None, 3, 0.34)]);
        // +15%, but Welch's p is far above 0.05 with this spread.
        let c = compare("a", &a, "b", &b, &Thresholds::default()).unwrap();
        assert_eq!(c.rows[0].test, "welch");
        assert!(c.rows[0].p_value.unwrap() > 0.5);
        assert_eq!(c.rows[0].flag, Flag::Unchanged);
        // Single seeds: the threshold alone decides.
        let a = runs(&[("wine", None, 0, 0.10)]);
        let b = runs(&[("wine", None, 0, 0.104)]);
        let loose = Thresholds::parse(0.05, &[]).unwrap();
        assert_eq!(
            compare("a", &a, "b", &b, &loose).unwrap().rows[0].flag,
            Flag::Unchanged
        );
        let tight = Thresholds::parse(0.05, &["gf=0.01".into()]).unwrap();
        assert_eq!(
            compare("a", &a, "b", &b, &tight).unwrap().rows[0].flag,
            Flag::Regression
        );
    }

    #[test]
    fn bad_thresholds_are_named() {
        let e = Thresholds::parse(0.05, &["gff=0.1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown metric `gff`"), "{e}");
        let e = Thresholds::parse(0.05, &["gf=-1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`-1` is not a non-negative number"), "{e}");
        let e = Thresholds::parse(0.05, &["gf".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("METRIC=VALUE"), "{e}");
    }
}
