//! Insertion and deletion scores of an explanation (method.md, section 3),
//! for tabular inputs.
//!
//! An explanation of a point `x` is one number per model input, `e_j`:
//! from the surrogate `g`, `e_j = q_j·(x_j − b_j)`; from `f` itself,
//! gradient × input, `e_j = ∂f/∂x_j·(x_j − b_j)`, with `b` the training
//! mean. The inputs are ordered by the explanation of what `f` predicts,
//! descending; for `k = 1..d` the insertion input takes the top `k` inputs
//! from `x` and the rest from `b`, the deletion input the other way round.
//! A score is the mean over `k` of the model's output on those inputs: for
//! classification the probability of the class predicted at `x`, for
//! regression `−(f(input) − f(x))²`. A faithful explanation has a high
//! insertion and a low deletion score.
//!
//! "The explanation of what `f` predicts", where method.md says only "by
//! `e` descending": `f` has one output, and `e` explains class 1, so for a
//! point predicted as class 0 its explanation is `−e`; the regression
//! score is symmetric in the direction of the change, so its order is by
//! `|e|`. Read literally (signed `e` for every point), the exact
//! attribution of a linear regression model scores worse on insertion
//! than its own reverse order does.

use dfdx::prelude::*;
use sweep_shared::Task;

use crate::data::Matrix;
use crate::model::Model;

/// Points whose insertion and deletion inputs are evaluated in one batch.
const POINTS_PER_BATCH: usize = 64;

/// Both scores of one explainer, averaged over the points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub insertion: f64,
    pub deletion: f64,
}

/// The column means of `x`: the baseline `b`.
pub fn baseline(x: &Matrix) -> Vec<f32> {
    let mut sum = vec![0.0f64; x.cols];
    for i in 0..x.rows {
        for (s, &v) in sum.iter_mut().zip(x.row(i)) {
            *s += f64::from(v);
        }
    }
    sum.iter()
        .map(|s| (s / x.rows.max(1) as f64) as f32)
        .collect()
}

/// The surrogate's explanations of the rows of `points`: `q ⊙ (x − b)`.
pub fn surrogate_explanations(q: &[f64], points: &Matrix, b: &[f32]) -> Vec<f64> {
    (0..points.rows)
        .flat_map(|i| {
            points
                .row(i)
                .iter()
                .zip(b)
                .zip(q)
                .map(|((&x, &b), &q)| q * f64::from(x - b))
        })
        .collect()
}

/// Gradient × input of `f` at the rows of `points`: `∇f(x) ⊙ (x − b)`,
/// the gradient of `f`'s output (a probability for classification, whose
/// positive factor `p(1 − p)` leaves the order of the inputs unchanged).
pub fn gradient_explanations(model: &Model, points: &Matrix, b: &[f32]) -> Vec<f64> {
    let cols = points.cols;
    let mut out = Vec::with_capacity(points.rows * cols);
    for start in (0..points.rows).step_by(POINTS_PER_BATCH) {
        let chunk = points.rows_range(start..(start + POINTS_PER_BATCH).min(points.rows));
        let x = model.batch(&chunk);
        let leaf = x.clone();
        // Rows are independent, so the gradient of the sum is each row's own.
        let f = model.f_forward(x.traced(Gradients::leaky()));
        let mut grads = f.sum::<(), _>().backward();
        let dx = grads
            .get_or_alloc_mut(&leaf)
            .expect("allocating a gradient on the CPU cannot fail");
        for i in 0..chunk.rows {
            // The batch's last column is the constant 1: not an input.
            let g = &dx[i * (cols + 1)..i * (cols + 1) + cols];
            out.extend(
                g.iter()
                    .zip(chunk.row(i))
                    .zip(b)
                    .map(|((&g, &x), &b)| f64::from(g) * f64::from(x - b)),
            );
        }
    }
    out
}

/// The inputs in order of importance for what `f` predicts at the point:
/// `e` descending for class 1, `−e` for class 0, `|e|` for regression
/// (ties by position, so the order is a function of `e` alone).
fn order(task: Task, predicted_one: bool, e: &[f64]) -> Vec<usize> {
    let key = |v: f64| match task {
        Task::Classification if predicted_one => v,
        Task::Classification => -v,
        Task::Regression => v.abs(),
    };
    let mut idx: Vec<usize> = (0..e.len()).collect();
    idx.sort_by(|&a, &b| key(e[b]).total_cmp(&key(e[a])).then(a.cmp(&b)));
    idx
}

/// Insertion and deletion scores of the explanations `e` (one row of
/// `points.cols` per point) of `f`, whose values at the points are `f_x`.
pub fn scores(
    task: Task,
    points: &Matrix,
    f_x: &[f32],
    e: &[f64],
    b: &[f32],
    f: &dyn Fn(&Matrix) -> Vec<f32>,
) -> Scores {
    let d = points.cols;
    let (mut ins_total, mut del_total) = (0.0f64, 0.0f64);
    for start in (0..points.rows).step_by(POINTS_PER_BATCH) {
        let end = (start + POINTS_PER_BATCH).min(points.rows);
        // For each point, d insertion rows then d deletion rows.
        let mut rows = Vec::with_capacity((end - start) * 2 * d * d);
        for i in start..end {
            let x = points.row(i);
            let ranked = order(task, f_x[i] >= 0.5, &e[i * d..(i + 1) * d]);
            let mut ins = b.to_vec();
            for &j in &ranked {
                ins[j] = x[j];
                rows.extend_from_slice(&ins);
            }
            let mut del = x.to_vec();
            for &j in &ranked {
                del[j] = b[j];
                rows.extend_from_slice(&del);
            }
        }
        let out = f(&Matrix::new(rows, (end - start) * 2 * d, d));
        for (n, i) in (start..end).enumerate() {
            let fx = f64::from(f_x[i]);
            let predicted_one = fx >= 0.5;
            let value = |v: f32| -> f64 {
                let v = f64::from(v);
                match task {
                    Task::Classification if predicted_one => v,
                    Task::Classification => 1.0 - v,
                    Task::Regression => -(v - fx).powi(2),
                }
            };
            let block = &out[n * 2 * d..(n + 1) * 2 * d];
            ins_total += block[..d].iter().map(|&v| value(v)).sum::<f64>() / d as f64;
            del_total += block[d..].iter().map(|&v| value(v)).sum::<f64>() / d as f64;
        }
    }
    let n = points.rows.max(1) as f64;
    Scores {
        insertion: ins_total / n,
        deletion: del_total / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A linear `f` whose true attribution is `w ⊙ (x − b)`.
    fn linear(w: Vec<f32>) -> impl Fn(&Matrix) -> Vec<f32> {
        move |m: &Matrix| {
            (0..m.rows)
                .map(|i| m.row(i).iter().zip(&w).map(|(x, w)| x * w).sum())
                .collect()
        }
    }

    fn points(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix {
        let data = (0..rows * cols).map(|_| rng.gen_range(-2.0..2.0)).collect();
        Matrix::new(data, rows, cols)
    }

    #[test]
    fn the_true_attribution_beats_random_orderings_on_a_linear_model() {
        for task in [Task::Regression, Task::Classification] {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let d = 8;
            let w: Vec<f32> = (0..d).map(|_| rng.gen_range(-3.0..3.0)).collect();
            // Regression: f = w·x. Classification: f = sigmoid(w·x), whose
            // logit's attribution is the same.
            let logit = linear(w.clone());
            let f = move |m: &Matrix| -> Vec<f32> {
                let z = logit(m);
                match task {
                    Task::Regression => z,
                    Task::Classification => z.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect(),
                }
            };
            let x = points(&mut rng, 300, d);
            let b = baseline(&points(&mut rng, 500, d));
            let fx = f(&x);
            let q: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
            let truth = surrogate_explanations(&q, &x, &b);
            let exact = scores(task, &x, &fx, &truth, &b, &f);
            let random: Vec<f64> = (0..x.rows * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let chance = scores(task, &x, &fx, &random, &b, &f);
            // The score's range: from the true order reversed to the true order.
            let reversed: Vec<f64> = truth
                .iter()
                .map(|&v| match task {
                    Task::Regression => 1.0 / (1e-9 + v.abs()),
                    Task::Classification => -v,
                })
                .collect();
            let worst = scores(task, &x, &fx, &reversed, &b, &f);
            let range = exact.insertion - worst.insertion;
            assert!(range > 0.0, "{task:?}: {exact:?} {worst:?}");
            assert!(
                exact.insertion - chance.insertion >= 0.05 * range,
                "{task:?}: exact {exact:?}, random {chance:?}, range {range}"
            );
            assert!(
                exact.deletion < chance.deletion,
                "{task:?}: {exact:?} {chance:?}"
            );
        }
    }

    #[test]
    fn insertion_of_every_input_ends_at_the_point_itself() {
        // With d = 1 the only insertion input is x and the only deletion
        // input is b: the scores are f's value (classification) exactly.
        let x = Matrix::new(vec![2.0, -1.0], 2, 1);
        let b = vec![0.0];
        let f = |m: &Matrix| -> Vec<f32> {
            (0..m.rows)
                .map(|i| 1.0 / (1.0 + (-m.row(i)[0]).exp()))
                .collect()
        };
        let fx = f(&x);
        let s = scores(Task::Classification, &x, &fx, &[1.0, 1.0], &b, &f);
        // Point 1 predicts class 1 (p = 0.88), point 2 class 0 (p1 = 0.27).
        let p_class = (f64::from(fx[0]) + (1.0 - f64::from(fx[1]))) / 2.0;
        assert!((s.insertion - p_class).abs() < 1e-6, "{s:?}");
        assert!((s.deletion - 0.5).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn gradient_times_input_of_a_network_matches_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for task in [Task::Regression, Task::Classification] {
            let model = Model::new(task, 4, &[16, 8], &mut rng);
            let x = points(&mut rng, 5, 4);
            let b = vec![0.0; 4];
            let e = gradient_explanations(&model, &x, &b);
            let h = 1e-2f32;
            for i in 0..x.rows {
                for j in 0..4 {
                    let mut up = x.row(i).to_vec();
                    let mut down = up.clone();
                    up[j] += h;
                    down[j] -= h;
                    let fu = model.predict_f(&Matrix::new(up, 1, 4))[0];
                    let fd = model.predict_f(&Matrix::new(down, 1, 4))[0];
                    let numeric = f64::from(fu - fd) / f64::from(2.0 * h) * f64::from(x.row(i)[j]);
                    let analytic = e[i * 4 + j];
                    assert!(
                        (numeric - analytic).abs() < 2e-3 * (1.0 + analytic.abs()),
                        "{task:?} point {i} input {j}: {analytic} vs {numeric}"
                    );
                }
            }
        }
    }
}
