//! A comparison laid out: as a frame, as Markdown tables, as the full
//! report, and written to `compare.parquet` and `compare.md`.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{Comparison, Flag, Row, Thresholds, SIGNIFICANCE};
use crate::report::{self, ReportError};

impl Comparison {
    pub fn frame(&self) -> Result<DataFrame, ReportError> {
        let r = &self.rows;
        let strs = |f: &dyn Fn(&Row) -> String| r.iter().map(f).collect::<Vec<String>>();
        let nums = |f: &dyn Fn(&Row) -> Option<f64>| r.iter().map(f).collect::<Vec<_>>();
        let ints = |f: &dyn Fn(&Row) -> usize| r.iter().map(|x| f(x) as u32).collect::<Vec<_>>();
        let frame = DataFrame::new_infer_height(vec![
            Column::new("dataset".into(), strs(&|x| x.dataset.clone())),
            Column::new("objective".into(), strs(&|x| x.objective.clone())),
            Column::new("alpha".into(), nums(&|x| x.alpha)),
            Column::new("grid".into(), strs(&|x| x.grid.clone())),
            Column::new("metric".into(), strs(&|x| x.metric.to_string())),
            Column::new("n_a".into(), ints(&|x| x.n_a)),
            Column::new("n_b".into(), ints(&|x| x.n_b)),
            Column::new("mean_a".into(), nums(&|x| Some(x.mean_a))),
            Column::new("mean_b".into(), nums(&|x| Some(x.mean_b))),
            Column::new("diff".into(), nums(&|x| Some(x.diff))),
            Column::new("rel_diff".into(), nums(&|x| x.rel_diff)),
            Column::new("test".into(), strs(&|x| x.test.to_string())),
            Column::new("p_value".into(), nums(&|x| x.p_value)),
            Column::new("p_adjusted".into(), nums(&|x| x.p_adjusted)),
            Column::new("flag".into(), strs(&|x| x.flag.name().to_string())),
        ])?;
        Ok(frame)
    }

    /// A Markdown table of the rows `which` selects.
    pub fn markdown(&self, which: impl Fn(&Row) -> bool) -> String {
        let mut s = format!(
            "| cell | metric | {} | {} | diff | rel | test | p | p adj. | flag |\n|---|---|---|---|---|---|---|---|---|---|\n",
            self.a, self.b
        );
        for r in self.rows.iter().filter(|r| which(r)) {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:+.4} | {} | {} | {} | {} | {} |\n",
                r.cell(),
                r.metric,
                num(r.mean_a, r.n_a),
                num(r.mean_b, r.n_b),
                r.diff,
                r.rel_diff
                    .map(|v| format!("{:+.1}%", 100.0 * v))
                    .unwrap_or_else(|| "–".into()),
                r.test,
                r.p_value.map(p_text).unwrap_or_else(|| "–".into()),
                r.p_adjusted.map(p_text).unwrap_or_else(|| "–".into()),
                match r.flag {
                    Flag::Regression => "**regression**",
                    f => f.name(),
                }
            ));
        }
        s
    }

    /// The full report: a summary, the flagged rows, then every row.
    pub fn report(&self, thresholds: &Thresholds) -> String {
        let flagged = self
            .rows
            .iter()
            .filter(|r| r.flag != Flag::Unchanged)
            .count();
        let mut s = format!(
            "# {} compared with {}\n\n{} cell metrics compared; {} regressions, {} improvements \
             (threshold {} relative, per metric {:?}; adjusted p < {SIGNIFICANCE}: {}).\n\n",
            self.b,
            self.a,
            self.rows.len(),
            self.regressions().len(),
            flagged - self.regressions().len(),
            thresholds.default,
            thresholds.per_metric,
            self.fdr.describe()
        );
        if !self.unmatched.is_empty() {
            s.push_str(&format!(
                "Not compared (on one side only): {}.\n\n",
                self.unmatched.join("; ")
            ));
        }
        if flagged > 0 {
            s.push_str("## Flagged\n\n");
            s.push_str(&self.markdown(|r| r.flag != Flag::Unchanged));
            s.push('\n');
        }
        s.push_str("## All\n\n");
        s.push_str(&self.markdown(|_| true));
        s
    }

    /// Writes `compare.parquet` and `compare.md` into `out`.
    pub fn write(&self, out: &Path, thresholds: &Thresholds) -> Result<Vec<PathBuf>, ReportError> {
        std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
        let _writing = report::writing();
        let parquet = out.join("compare.parquet");
        report::write_parquet(&parquet, &mut self.frame()?)?;
        let md = out.join("compare.md");
        report::write_text(&md, &self.report(thresholds))?;
        Ok(vec![parquet, md])
    }
}

/// A p-value as people read it: three decimals, or `<0.001`.
pub fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

fn num(v: f64, n: usize) -> String {
    format!("{v:.4} (n={n})")
}
