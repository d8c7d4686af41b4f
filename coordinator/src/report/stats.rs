//! The statistics of the reports, in one place: the mean and variance of
//! samples, the two-sided Student-t p-values of the paired and Welch
//! t-tests (`compare`), and the Student-t quantile of the 95% intervals
//! (`cells`). Student's t comes from `statrs`.

use statrs::distribution::{ContinuousCDF, StudentsT};

pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// The sample variance (n − 1 in the denominator).
pub fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
}

/// Two-sided p-value of t with `df` degrees of freedom. A zero standard
/// error gives p = 0 for a non-zero difference and 1 for none.
pub fn two_sided(diff: f64, se: f64, df: f64) -> Option<f64> {
    if se == 0.0 {
        return Some(if diff == 0.0 { 1.0 } else { 0.0 });
    }
    let t = diff / se;
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(2.0 * (1.0 - dist.cdf(t.abs())))
}

/// The paired t-test on per-seed differences.
pub fn paired_p(d: &[f64]) -> Option<f64> {
    let n = d.len() as f64;
    two_sided(mean(d), (variance(d) / n).sqrt(), n - 1.0)
}

/// Welch's unequal-variance t-test, with the Welch–Satterthwaite degrees of
/// freedom.
pub fn welch_p(a: &[f64], b: &[f64]) -> Option<f64> {
    welch_p_of(
        (mean(a), variance(a), a.len()),
        (mean(b), variance(b), b.len()),
    )
}

/// Welch's test from each side's (mean, sample variance, n), as a report's
/// cells keep them.
pub fn welch_p_of(a: (f64, f64, usize), b: (f64, f64, usize)) -> Option<f64> {
    let (na, nb) = (a.2 as f64, b.2 as f64);
    if a.2 < 2 || b.2 < 2 {
        return None;
    }
    let (qa, qb) = (a.1 / na, b.1 / nb);
    let se = (qa + qb).sqrt();
    let df = if qa + qb == 0.0 {
        na + nb - 2.0
    } else {
        (qa + qb).powi(2) / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0))
    };
    two_sided(b.0 - a.0, se, df)
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile_975(df: u32) -> f64 {
    StudentsT::new(0.0, 1.0, f64::from(df))
        .expect("df ≥ 1")
        .inverse_cdf(0.975)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference p-values from scipy:
    //   ttest_rel([.10,.12,.11], [.15,.16,.18]).pvalue = 0.026271...
    //   ttest_ind([.10,.12,.11,.13], [.15,.16,.18], equal_var=False).pvalue = 0.011756...
    #[test]
    fn p_values_match_scipy() {
        let d: Vec<f64> = [0.15, 0.16, 0.18]
            .iter()
            .zip([0.10, 0.12, 0.11])
            .map(|(b, a)| b - a)
            .collect();
        let p = paired_p(&d).unwrap();
        assert!((p - 0.026_271).abs() < 1e-5, "paired p = {p}");
        let p = welch_p(&[0.10, 0.12, 0.11, 0.13], &[0.15, 0.16, 0.18]).unwrap();
        assert!((p - 0.011_756).abs() < 1e-5, "welch p = {p}");
    }
}
