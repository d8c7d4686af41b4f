//! Multiple-testing control across the (cell, metric) tests of one
//! comparison. A paper grid has hundreds of tests: at p < 0.05 each, two
//! runs of the same code differ "significantly" somewhere by chance alone.
//! Benjamini–Hochberg bounds the expected share of false flags among the
//! flagged (the false discovery rate) by q; Holm bounds the chance of any
//! false flag at all (stricter). The adjusted p-values are compared with q
//! as raw ones would be.

use std::str::FromStr;

/// How the p-values of one comparison are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fdr {
    /// Each test on its own.
    None,
    /// Benjamini–Hochberg (the false discovery rate).
    #[default]
    Bh,
    /// Holm–Bonferroni (the family-wise error rate).
    Holm,
}

impl Fdr {
    pub fn name(self) -> &'static str {
        match self {
            Fdr::None => "none",
            Fdr::Bh => "bh",
            Fdr::Holm => "holm",
        }
    }

    /// What the report says it did.
    pub fn describe(self) -> &'static str {
        match self {
            Fdr::None => "raw p-values, no multiple-testing correction",
            Fdr::Bh => "p-values adjusted by Benjamini–Hochberg across the comparison's tests",
            Fdr::Holm => "p-values adjusted by Holm across the comparison's tests",
        }
    }

    /// The adjusted p-values of `p`, in the same order; `None` stays
    /// `None` and is not counted among the tests.
    pub fn adjust(self, p: &[Option<f64>]) -> Vec<Option<f64>> {
        let mut tested: Vec<(usize, f64)> = p
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect();
        let m = tested.len() as f64;
        tested.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let mut out = p.to_vec();
        match self {
            Fdr::None => {}
            Fdr::Bh => {
                // p_(i)·m/i, made monotone from the largest down.
                let mut running = 1.0f64;
                for (rank, &(i, v)) in tested.iter().enumerate().rev() {
                    running = running.min(v * m / (rank + 1) as f64);
                    out[i] = Some(running.min(1.0));
                }
            }
            Fdr::Holm => {
                // p_(i)·(m − i + 1), made monotone from the smallest up.
                let mut running = 0.0f64;
                for (rank, &(i, v)) in tested.iter().enumerate() {
                    running = running.max(v * (m - rank as f64));
                    out[i] = Some(running.min(1.0));
                }
            }
        }
        out
    }
}

impl FromStr for Fdr {
    type Err = String;
    fn from_str(s: &str) -> Result<Fdr, String> {
        match s {
            "none" => Ok(Fdr::None),
            "bh" => Ok(Fdr::Bh),
            "holm" => Ok(Fdr::Holm),
            other => Err(format!("`{other}` is not one of none, bh, holm")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[Option<f64>], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.is_some_and(|x| (x - y).abs() < 1e-12))
    }

    #[test]
    fn adjusted_p_values_match_rs_p_adjust() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.5), "BH") and "holm".
        let p = [Some(0.01), Some(0.04), Some(0.03), Some(0.005), Some(0.5)];
        assert!(close(&Fdr::Bh.adjust(&p), &[0.025, 0.05, 0.05, 0.025, 0.5]));
        assert!(close(
            &Fdr::Holm.adjust(&p),
            &[0.04, 0.09, 0.09, 0.025, 0.5]
        ));
        assert_eq!(Fdr::None.adjust(&p), p.to_vec());
    }

    #[test]
    fn untested_rows_are_neither_adjusted_nor_counted() {
        let p = [Some(0.02), None, Some(0.04)];
        let adjusted = Fdr::Bh.adjust(&p);
        assert_eq!(adjusted[1], None);
        assert!(close(&[adjusted[0], adjusted[2]], &[0.04, 0.04]));
    }
}
