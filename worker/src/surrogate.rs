//! The STL baseline's global surrogate, fitted after training to
//! `(x_train, f(x_train))`: ordinary least squares for regression, and for
//! classification a logistic regression on `f`'s probabilities as soft
//! targets (cross-entropy), fitted by Newton's method.

use sweep_shared::Task;

use crate::data::Matrix;
use crate::linalg::{solve_spd, weighted_ridge, NumericError};

/// A vanishing penalty that only picks one solution when one-hot columns
/// are collinear with the intercept; predictions are unaffected.
const TIE_BREAK: f64 = 1e-9;

pub fn fit(task: Task, x: &Matrix, f: &[f32]) -> Result<(Vec<f64>, f64), NumericError> {
    let rows: Vec<f64> = x.data.iter().map(|&v| f64::from(v)).collect();
    let target: Vec<f64> = f.iter().map(|&v| f64::from(v)).collect();
    match task {
        Task::Regression => {
            let w = vec![1.0; x.rows];
            weighted_ridge(
                rows.chunks(x.cols),
                &target,
                &w,
                TIE_BREAK * x.rows as f64,
                x.cols,
            )
        }
        Task::Classification => logistic_soft(&rows, x.cols, &target),
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The authors' code's classification surrogate: scikit-learn's default
/// `LogisticRegression()` (L2 with C = 1 on the coefficients, not the
/// intercept) fitted to f's hard labels `1[f >= 0.5]`. Solved to the
/// optimum by Newton's method, where lbfgs stops at its tolerance (the two
/// agree to about 1e-3).
pub fn fit_hard_labels(x: &Matrix, f: &[f32]) -> Result<(Vec<f64>, f64), NumericError> {
    let rows: Vec<f64> = x.data.iter().map(|&v| f64::from(v)).collect();
    let labels: Vec<f64> = f.iter().map(|&p| f64::from(u8::from(p >= 0.5))).collect();
    logistic(&rows, x.cols, &labels, Penalty::L2 { inverse_c: 1.0 })
}

/// The penalty of a logistic fit.
#[derive(Clone, Copy)]
enum Penalty {
    /// A vanishing ridge on every parameter that only picks one solution
    /// where one-hot columns are collinear with the intercept.
    TieBreak,
    /// scikit-learn's `½‖w‖² / C` on the coefficients.
    L2 { inverse_c: f64 },
}

fn logistic_soft(rows: &[f64], d: usize, t: &[f64]) -> Result<(Vec<f64>, f64), NumericError> {
    logistic(rows, d, t, Penalty::TieBreak)
}

/// `ln(1 + e^z)` without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Minimises `Σ −[t ln σ(z) + (1 − t) ln(1 − σ(z))]` plus the penalty,
/// `z = b + x·w`, by Newton steps, each halved until the objective does not
/// rise. Undamped Newton overshoots where f saturates (many h ≈ 0): on
/// Adult it left two of five STL surrogates with GF 0.15 and 0.67.
fn logistic(
    rows: &[f64],
    d: usize,
    t: &[f64],
    penalty: Penalty,
) -> Result<(Vec<f64>, f64), NumericError> {
    let p = d + 1; // intercept first
    let n = t.len();
    let mut beta = vec![0.0; p];
    let mut xi = vec![0.0; p];
    let ridge_of = |j: usize| match penalty {
        Penalty::TieBreak => TIE_BREAK * n as f64,
        Penalty::L2 { .. } if j == 0 => 0.0,
        Penalty::L2 { inverse_c } => inverse_c,
    };
    // The objective, `Σ softplus(z) − t·z` plus the penalty.
    let objective = |beta: &[f64]| -> f64 {
        let loss: f64 = t
            .iter()
            .enumerate()
            .map(|(i, &ti)| {
                let x = &rows[i * d..(i + 1) * d];
                let z = beta[0] + x.iter().zip(&beta[1..]).map(|(a, b)| a * b).sum::<f64>();
                softplus(z) - ti * z
            })
            .sum();
        let penalty: f64 = (0..p).map(|j| 0.5 * ridge_of(j) * beta[j] * beta[j]).sum();
        loss + penalty
    };
    let mut current = objective(&beta);
    for _ in 0..100 {
        let mut grad = vec![0.0; p];
        let mut hess = vec![0.0; p * p];
        for (i, &ti) in t.iter().enumerate() {
            xi[0] = 1.0;
            xi[1..].copy_from_slice(&rows[i * d..(i + 1) * d]);
            let z: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let s = sigmoid(z);
            let r = s - ti;
            let h = (s * (1.0 - s)).max(1e-12);
            for j in 0..p {
                grad[j] += r * xi[j];
                for k in 0..=j {
                    hess[j * p + k] += h * xi[j] * xi[k];
                }
            }
        }
        for j in 0..p {
            let ridge = ridge_of(j);
            hess[j * p + j] += ridge;
            grad[j] += ridge * beta[j];
            for k in 0..j {
                hess[k * p + j] = hess[j * p + k];
            }
        }
        let mut step = grad;
        solve_spd(&hess, &mut step)?;
        // The full step where it does not raise the objective beyond
        // rounding (so converging fits take exactly Newton's iterates),
        // else the first halving that does not.
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - scale * s).collect();
            let value = objective(&trial);
            if value <= current + 1e-12 * current.abs() {
                accepted = Some((trial, value));
                break;
            }
            scale *= 0.5;
        }
        let Some((next, value)) = accepted else {
            break; // no step lowers the objective: at the optimum to rounding
        };
        // Converged when Newton's own step is negligible, not a halved one.
        let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        beta = next;
        current = value;
        if largest < 1e-10 {
            break;
        }
    }
    Ok((beta[1..].to_vec(), beta[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed problem of `validation/authors_facts.py`: scikit-learn
    /// 1.9.1's `LogisticRegression()` gave coef [1.331325565, 0.06815772931],
    /// intercept −2.353436698 (lbfgs stopped at its tolerance); at tol 1e-12
    /// it gave [1.332093096, 0.06829022568], −2.355346817.
    #[test]
    fn hard_label_surrogate_matches_scikit_learn() {
        let x = [
            [0.0, 1.0],
            [1.0, 0.5],
            [2.0, -0.5],
            [3.0, 0.0],
            [0.5, 2.0],
            [2.5, 1.5],
            [1.5, -1.0],
            [3.5, 1.0],
        ];
        let m = Matrix::new(x.iter().flatten().map(|&v| v as f32).collect(), 8, 2);
        // f's probabilities: thresholded at 0.5 they are y = [0,0,1,1,0,1,0,1].
        let f = [0.2, 0.49, 0.5, 0.9, 0.1, 0.7, 0.3, 0.99];
        let (w, b) = fit_hard_labels(&m, &f).unwrap();
        let optimum = ([1.332093096, 0.06829022568], -2.355346817);
        assert!((w[0] - optimum.0[0]).abs() < 1e-6 && (w[1] - optimum.0[1]).abs() < 1e-6);
        assert!((b - optimum.1).abs() < 1e-6, "{w:?} {b}");
        let default = ([1.331325565, 0.06815772931], -2.353436698);
        assert!((w[0] - default.0[0]).abs() < 2e-3 && (b - default.1).abs() < 2e-3);
    }

    #[test]
    fn logistic_recovers_the_law_of_soft_targets() {
        let x: Vec<f32> = (0..40)
            .flat_map(|i| [(i as f32) / 10.0 - 2.0, ((i * 3) % 7) as f32 / 3.0])
            .collect();
        let m = Matrix::new(x, 40, 2);
        let f: Vec<f32> = (0..40)
            .map(|i| {
                sigmoid(0.5 + 1.5 * f64::from(m.row(i)[0]) - 0.7 * f64::from(m.row(i)[1])) as f32
            })
            .collect();
        let (w, b) = fit(Task::Classification, &m, &f).unwrap();
        assert!(
            (w[0] - 1.5).abs() < 1e-4 && (w[1] + 0.7).abs() < 1e-4 && (b - 0.5).abs() < 1e-4,
            "{w:?} {b}"
        );
    }
}
