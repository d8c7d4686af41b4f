//! Small dense linear algebra in f64 for the surrogate and LIME fits
//! (at most a few hundred unknowns, so nothing here needs a BLAS).

/// Why a fit of the measuring (the STL surrogate, LIME) has no solution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumericError {
    /// Not positive-definite even with the largest diagonal jitter.
    #[error("the system is singular")]
    Singular,
}

/// Solves `A x = b` for a symmetric positive-definite `A` (row-major n×n)
/// by Cholesky; `b` is overwritten with `x`. A relative jitter is added to
/// the diagonal when `A` is only semi-definite (collinear one-hot columns).
pub fn solve_spd(a: &[f64], b: &mut [f64]) -> Result<(), NumericError> {
    let n = b.len();
    let l = factor_spd(a, n)?;
    forward_back(&l, n, b);
    Ok(())
}

/// The inverse of a symmetric positive-definite `A` (row-major n×n), by
/// Cholesky with the same jitter as [`solve_spd`]: one factorisation, then
/// `n` triangular solves.
pub fn inverse_spd(a: &[f64], n: usize) -> Result<Vec<f64>, NumericError> {
    let l = factor_spd(a, n)?;
    let mut inv = vec![0.0; n * n];
    let mut col = vec![0.0; n];
    for j in 0..n {
        col.iter_mut().for_each(|c| *c = 0.0);
        col[j] = 1.0;
        forward_back(&l, n, &mut col);
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    Ok(inv)
}

/// The Cholesky factor of `A`, with the smallest relative diagonal jitter
/// (none, then 1e-12 up to 1e-6 of the largest diagonal entry) that makes
/// it positive-definite.
fn factor_spd(a: &[f64], n: usize) -> Result<Vec<f64>, NumericError> {
    assert_eq!(a.len(), n * n);
    let scale = (0..n)
        .map(|i| a[i * n + i].abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    for jitter in [0.0, 1e-12, 1e-10, 1e-8, 1e-6] {
        let mut l = a.to_vec();
        for i in 0..n {
            l[i * n + i] += jitter * scale;
        }
        if cholesky(&mut l, n) {
            return Ok(l);
        }
    }
    Err(NumericError::Singular)
}

fn cholesky(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        // Not positive, or NaN: not positive-definite.
        if d.is_nan() || d <= 0.0 || d.is_infinite() {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    true
}

fn forward_back(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// Weighted ridge regression with an unpenalised intercept, solved as
/// scikit-learn's `Ridge(fit_intercept=True)` does with sample weights:
/// centre on the weighted means, solve the penalised normal equations,
/// recover the intercept. `rows` yields each design row.
pub fn weighted_ridge<'a>(
    rows: impl Iterator<Item = &'a [f64]> + Clone,
    y: &[f64],
    w: &[f64],
    ridge: f64,
    p: usize,
) -> Result<(Vec<f64>, f64), NumericError> {
    let sw: f64 = w.iter().sum();
    let mut xm = vec![0.0; p];
    let mut ym = 0.0;
    for ((row, &yi), &wi) in rows.clone().zip(y).zip(w) {
        for j in 0..p {
            xm[j] += wi * row[j];
        }
        ym += wi * yi;
    }
    xm.iter_mut().for_each(|v| *v /= sw);
    ym /= sw;
    let mut a = vec![0.0; p * p];
    let mut b = vec![0.0; p];
    let mut c = vec![0.0; p];
    for ((row, &yi), &wi) in rows.zip(y).zip(w) {
        for j in 0..p {
            c[j] = row[j] - xm[j];
        }
        let yc = yi - ym;
        for j in 0..p {
            let wc = wi * c[j];
            b[j] += wc * yc;
            for k in 0..=j {
                a[j * p + k] += wc * c[k];
            }
        }
    }
    for j in 0..p {
        a[j * p + j] += ridge;
        for k in 0..j {
            a[k * p + j] = a[j * p + k];
        }
    }
    solve_spd(&a, &mut b)?;
    let intercept = ym - xm.iter().zip(&b).map(|(m, c)| m * c).sum::<f64>();
    Ok((b, intercept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let x = [1.0, -2.0, 0.5];
        let mut b: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| a[i * 3 + j] * x[j]).sum())
            .collect();
        solve_spd(&a, &mut b).unwrap();
        for (got, want) in b.iter().zip(x) {
            assert!((got - want).abs() < 1e-12);
        }
        // The inverse: A·A⁻¹ = I.
        let inv = inverse_spd(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!(
                    (v - f64::from(u8::from(i == j))).abs() < 1e-12,
                    "({i}, {j}): {v}"
                );
            }
        }
        assert!(inverse_spd(&[-1.0, 0.0, 0.0, -1.0], 2).is_err());
    }

    #[test]
    fn ridge_without_penalty_recovers_an_exact_linear_law() {
        let rows: Vec<Vec<f64>> = (0..20)
            .map(|i| vec![i as f64, ((i * 7) % 5) as f64])
            .collect();
        let y: Vec<f64> = rows.iter().map(|r| 3.0 + 2.0 * r[0] - 0.5 * r[1]).collect();
        let w: Vec<f64> = (0..20).map(|i| 1.0 + i as f64 / 10.0).collect();
        let (coef, icpt) = weighted_ridge(rows.iter().map(Vec::as_slice), &y, &w, 0.0, 2).unwrap();
        assert!(
            (coef[0] - 2.0).abs() < 1e-9
                && (coef[1] + 0.5).abs() < 1e-9
                && (icpt - 3.0).abs() < 1e-9
        );
    }
}
