//! ID-ExpO's differentiable insertion/deletion regulariser (method.md
//! section 3; Iwata & Yoshikawa, AISTATS 2024) with the surrogate's
//! explanation `e_j = q_j·(x_j − b_j)` (the default) or gradient × input of
//! `f`, built as tensor operations (see `by_gradient`).
//!
//! Per batch row: the soft explanation `ê`, thresholds `t_k` between its
//! consecutive sorted values and the scale `σ_s` (constants), soft masks
//! `a_kj = sigmoid(τ/σ_s·(ê_j − t_k))`, and `f` on the `d` soft insertion
//! and `d` soft deletion inputs. Gradients flow through `f` and through `ê`
//! (so through `g`'s weights).
//!
//! Where method.md leaves a choice:
//! - `ê` explains what the loss is about, as the metric's order does (see
//!   `insertion`): for classification `e` explains class 1, so a row of
//!   class 0 uses `−e`; for regression the score is symmetric in the
//!   direction of the change, so `ê = |e|`.
//! - `t_k` for `k < d` is the midpoint of the k-th and (k+1)-th largest
//!   values; `t_d`, below which nothing is left, is the smallest value minus
//!   half of `σ_s`, so that every hard mask (top-k kept, `k = 1..d`) is the
//!   limit of its soft mask as τ grows.
//! - The log-softmax, when asked for, is over the `d` inputs.
//! - The regression deletion term of method.md is unbounded below; the
//!   `idexpo_deletion = "welsch"` option bounds it (see `IdDeletion`).

use dfdx::prelude::*;
use sweep_shared::{IdDeletion, IdExplainer, Task};

use crate::losses::{Scalar, CLIP};
use crate::model::{Mat, Model};

/// The regulariser's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub explainer: IdExplainer,
    pub deletion: IdDeletion,
    pub tau: f32,
    pub log_softmax: bool,
    /// The variance of the training target: the regression form is divided by it.
    pub target_variance: f32,
    /// The baseline `b` (the training mean), one per input.
    pub baseline: Vec<f32>,
}

/// The thresholds `t_1..t_d` and the mask scale `τ/σ_s` of one explanation.
pub fn thresholds(e: &[f32], tau: f32) -> (Vec<f32>, f32) {
    let mut sorted = e.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let gaps: Vec<f32> = sorted
        .windows(2)
        .map(|w| w[0] - w[1])
        .filter(|&g| g > 0.0)
        .collect();
    let sigma = if gaps.is_empty() {
        1.0
    } else {
        gaps.iter().sum::<f32>() / gaps.len() as f32
    };
    let d = sorted.len();
    let t = (0..d)
        .map(|k| {
            if k + 1 < d {
                0.5 * (sorted[k] + sorted[k + 1])
            } else {
                sorted[k] - 0.5 * sigma
            }
        })
        .collect();
    (t, tau / sigma)
}

/// The soft masks `a_kj` of one explanation, row `k` for `k = 1..d`.
pub fn soft_masks(e: &[f32], tau: f32) -> Vec<Vec<f64>> {
    let (t, scale) = thresholds(e, tau);
    t.iter()
        .map(|&tk| {
            e.iter()
                .map(|&ej| 1.0 / (1.0 + (-(f64::from(scale) * f64::from(ej - tk))).exp()))
                .collect()
        })
        .collect()
}

type Taped2 = Tensor<(usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>;

/// The surrogate's explanations `q ⊙ (x − b)` of the rows, on a tape:
/// (rows, d + 1), the last column (the constant input) 0.
fn by_surrogate(model: &Model, centred: &Mat, tape: OwnedTape<f32, Cpu>) -> Taped2 {
    let shape = *centred.shape();
    let q = model
        .g
        .w
        .clone()
        .put_tape(tape)
        .reshape_like(&(shape.1,))
        .broadcast_like::<_, Axis<0>>(&shape);
    q * centred.clone()
}

/// Gradient × input of `f`'s logit at the rows `x`, on a tape, as ordinary
/// tensor operations whose first-order gradient is exact: for a ReLU
/// network `∂z/∂x = W₁·D₁·W₂·D₂ ⋯ w_L`, with `D_l` the 0/1 activity of
/// layer `l` at the row (a constant of the weights almost everywhere). The
/// logit rather than the probability: the two differ by the positive factor
/// `p(1 − p)` per row, which leaves the soft masks unchanged (they depend
/// on `ê` through `(ê − t_k)/σ_s` alone); with the log-softmax it does not.
fn by_gradient(model: &Model, x: &Mat, centred: &Mat, tape: OwnedTape<f32, Cpu>) -> Taped2 {
    let rows = x.shape().0;
    let last = model.f.len() - 1;
    let mut active = Vec::with_capacity(last);
    let mut h = x.clone();
    for layer in &model.f[..last] {
        let z = layer.forward(h);
        // The carried constant unit is 1, so active: its row of Wᵀ feeds
        // only the constant input, whose column is dropped below.
        let mask: Vec<f32> = z
            .as_vec()
            .iter()
            .map(|&v| f32::from(u8::from(v > 0.0)))
            .collect();
        active.push(model.dev.tensor_from_vec(mask, *z.shape()));
        h = z.relu();
    }
    let out = &model.f[last].w;
    let width = out.shape().0;
    let mut v = out
        .clone()
        .put_tape(tape)
        .reshape_like(&(width,))
        .broadcast_like::<_, Axis<0>>(&(rows, width));
    for (layer, mask) in model.f[..last].iter().zip(active).rev() {
        v = (v * mask).matmul(layer.w.clone().permute::<_, Axes2<1, 0>>());
    }
    v * centred.clone()
}

/// The soft explanation `ê` from a raw one: signed by the class (or its
/// magnitude for regression), then the log-softmax over the inputs when
/// `inputs` (1 on the inputs, 0 on the constant column) is given.
fn soften(e: Taped2, sign: Option<&Mat>, inputs: Option<&Mat>) -> Taped2 {
    let shape = *e.shape();
    let e = match sign {
        Some(s) => e * s.clone(),
        None => e.abs(),
    };
    let Some(inputs) = inputs else {
        return e;
    };
    let (e, tape) = e.split_tape();
    let lse = (e.clone().put_tape(tape).exp() * inputs.clone())
        .sum::<(usize,), Axis<1>>()
        .ln()
        .broadcast_like::<_, Axis<1>>(&shape);
    lse.negate() + e
}

/// `CIns + CDel` of the batch `x` (rows, d + 1, constant-1 column last)
/// with targets `y`, on the tape `tape` carries.
pub fn regulariser(
    model: &Model,
    x: &[f32],
    y: &[f32],
    cfg: &Config,
    tape: OwnedTape<f32, Cpu>,
) -> Scalar {
    let dev = &model.dev;
    let rows = y.len();
    let d = model.inputs();
    let k = d + 1;
    // The inputs and the baseline, each with the constant column: the
    // baseline's is 1 as well, so every soft input keeps it exactly.
    let mut centred = Vec::with_capacity(rows * k);
    for row in x.chunks(k) {
        centred.extend(row[..d].iter().zip(&cfg.baseline).map(|(v, b)| v - b));
        centred.push(0.0);
    }
    let centred = dev.tensor_from_vec(centred, (rows, k));
    let sign = (model.task == Task::Classification).then(|| {
        let s: Vec<f32> = y
            .iter()
            .flat_map(|&t| std::iter::repeat_n(if t > 0.5 { 1.0 } else { -1.0 }, k))
            .collect();
        dev.tensor_from_vec(s, (rows, k))
    });
    let inputs_only = cfg.log_softmax.then(|| {
        let m: Vec<f32> = (0..rows)
            .flat_map(|_| (0..k).map(|j| f32::from(u8::from(j < d))))
            .collect();
        dev.tensor_from_vec(m, (rows, k))
    });
    let raw = match cfg.explainer {
        IdExplainer::Surrogate => by_surrogate(model, &centred, tape),
        IdExplainer::Gradient => by_gradient(
            model,
            &dev.tensor_from_vec(x.to_vec(), (rows, k)),
            &centred,
            tape,
        ),
    };
    let e = soften(raw, sign.as_ref(), inputs_only.as_ref());
    let values = e.as_vec();
    let mut t3 = Vec::with_capacity(rows * d * k);
    let mut c3 = Vec::with_capacity(rows * d * k);
    for row in values.chunks(k) {
        let (t, scale) = thresholds(&row[..d], cfg.tau);
        for tk in t {
            t3.extend(std::iter::repeat_n(tk, k));
            c3.extend(std::iter::repeat_n(scale, k));
        }
    }
    let shape3 = (rows, d, k);
    let t3 = dev.tensor_from_vec(t3, shape3);
    let c3 = dev.tensor_from_vec(c3, shape3);
    let masks = ((e.broadcast_like::<_, Axis<1>>(&shape3) - t3) * c3).sigmoid();
    let moved = masks * centred.broadcast_like::<_, Axis<1>>(&shape3);
    let (moved, tape) = moved.split_tape();

    let mut base = cfg.baseline.clone();
    base.push(1.0);
    let base = dev
        .tensor_from_vec(base, (k,))
        .broadcast_like::<_, Axes2<0, 1>>(&shape3);
    let xs = dev
        .tensor_from_vec(x.to_vec(), (rows, k))
        .broadcast_like::<_, Axis<1>>(&shape3);
    let f_on = |inputs: Tensor<(usize, usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>| {
        model
            .f_forward(inputs.reshape_like(&(rows * d, k)))
            .reshape_like(&(rows, d))
    };
    let (f_ins, tape) = f_on(moved.clone().put_tape(tape) + base).split_tape();
    let (f_del, tape) = f_on(moved.put_tape(tape).negate() + xs).split_tape();
    let f_x = model
        .f_forward(dev.tensor_from_vec(x.to_vec(), (rows, k)).put_tape(tape))
        .reshape_like(&(rows,))
        .broadcast_like::<_, Axis<1>>(&(rows, d));
    let (f_x, tape) = f_x.split_tape();
    match model.task {
        Task::Classification => {
            // log p_y(v) = ln(v·(2y − 1) + 1 − y) for y ∈ {0, 1}, as in the base loss.
            let per_row = |v: f32| std::iter::repeat_n(v, d);
            let sign: Vec<f32> = y.iter().flat_map(|&t| per_row(2.0 * t - 1.0)).collect();
            let offset: Vec<f32> = y.iter().flat_map(|&t| per_row(1.0 - t)).collect();
            let sign = dev.tensor_from_vec(sign, (rows, d));
            let offset = dev.tensor_from_vec(offset, (rows, d));
            let log_p = |p: Tensor<(usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>| {
                (p.clamp(CLIP as f32, 1.0 - CLIP as f32) * sign.clone() + offset.clone())
                    .ln()
                    .mean::<(), _>()
            };
            // CIns + CDel = −mean log p_y(ins) + mean log p_y(del) − log p_y(x).
            let (at_x, tape) = log_p(f_x.put_tape(tape)).split_tape();
            let (ins, tape) = log_p(f_ins.put_tape(tape)).split_tape();
            let del = log_p(f_del.put_tape(tape));
            del - ins - at_x
        }
        Task::Regression => {
            let (ins, tape) = (f_ins.put_tape(tape) - f_x.clone())
                .square()
                .mean::<(), _>()
                .split_tape();
            let var = cfg.target_variance;
            let moved = (f_del.put_tape(tape) - f_x).square();
            match cfg.deletion {
                IdDeletion::Squared => (moved.mean::<(), _>().negate() + ins) * (1.0 / var),
                // −mean(1 − e^(−Δ²/var)) = mean(e^(−Δ²/var)) − 1.
                IdDeletion::Welsch => {
                    let kept = (moved * (-1.0 / var)).exp().mean::<(), _>();
                    // `ins` is off the tape: used as an operand only, never operated on.
                    ((kept * var + ins) * (1.0 / var)) - 1.0
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// `CIns + CDel` without a tape, in f64 where the model allows, with
    /// the thresholds and scales of each row frozen (as the taped loss
    /// treats them: constants).
    fn plain(m: &Model, x: &[f32], y: &[f32], cfg: &Config, frozen: &[(Vec<f32>, f32)]) -> f64 {
        let d = m.inputs();
        let k = d + 1;
        let (q, _) = m.g_coefficients();
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let (mut ins, mut del) = (Vec::new(), Vec::new());
        for (i, row) in x.chunks(k).enumerate() {
            let e = soft(m, &q, row, y[i], cfg);
            let (t, scale) = &frozen[i];
            for tk in t {
                for j in 0..d {
                    let a = sig(f64::from(*scale) * (e[j] - f64::from(*tk)));
                    let moved = a * f64::from(row[j] - cfg.baseline[j]);
                    ins.push((f64::from(cfg.baseline[j]) + moved) as f32);
                    del.push((f64::from(row[j]) - moved) as f32);
                }
                ins.push(1.0);
                del.push(1.0);
            }
        }
        let rows = y.len();
        let f = |v: Vec<f32>, n: usize| m.f_forward(m.dev.tensor_from_vec(v, (n, k))).as_vec();
        let (f_ins, f_del) = (f(ins, rows * d), f(del, rows * d));
        let f_x = f(x.to_vec(), rows);
        let n = (rows * d) as f64;
        match m.task {
            Task::Classification => {
                let log_p = |p: f32, t: f32| {
                    let p = f64::from(p).clamp(CLIP, 1.0 - CLIP);
                    (p * f64::from(2.0 * t - 1.0) + f64::from(1.0 - t)).ln()
                };
                let mean = |v: &[f32], per: usize| {
                    v.iter()
                        .enumerate()
                        .map(|(r, &p)| log_p(p, y[r / per]))
                        .sum::<f64>()
                        / v.len() as f64
                };
                mean(&f_del, d) - mean(&f_ins, d) - mean(&f_x, 1)
            }
            Task::Regression => {
                let var = f64::from(cfg.target_variance);
                let mean_of = |v: &[f32], psi: &dyn Fn(f64) -> f64| {
                    v.iter()
                        .enumerate()
                        .map(|(r, &p)| psi((f64::from(p) - f64::from(f_x[r / d])).powi(2)))
                        .sum::<f64>()
                        / n
                };
                let ins = mean_of(&f_ins, &|sq| sq / var);
                let del = match cfg.deletion {
                    IdDeletion::Squared => mean_of(&f_del, &|sq| sq / var),
                    IdDeletion::Welsch => mean_of(&f_del, &|sq| 1.0 - (-sq / var).exp()),
                };
                ins - del
            }
        }
    }

    /// `ê` of one row (d values), as the taped loss computes it: the raw
    /// explanation from the surrogate's coefficients in f64, or from the
    /// gradient expression's value.
    fn soft(m: &Model, q: &[f64], row: &[f32], y: f32, cfg: &Config) -> Vec<f64> {
        let d = m.inputs();
        let raw: Vec<f64> = match cfg.explainer {
            IdExplainer::Surrogate => (0..d)
                .map(|j| q[j] * f64::from(row[j] - cfg.baseline[j]))
                .collect(),
            IdExplainer::Gradient => {
                let x = m.dev.tensor_from_vec(row.to_vec(), (1, d + 1));
                let mut c: Vec<f32> = (0..d).map(|j| row[j] - cfg.baseline[j]).collect();
                c.push(0.0);
                let c = m.dev.tensor_from_vec(c, (1, d + 1));
                let (_, tape) = x.clone().traced(Gradients::leaky()).split_tape();
                by_gradient(m, &x, &c, tape).as_vec()[..d]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect()
            }
        };
        let mut e: Vec<f64> = raw
            .into_iter()
            .map(|v| match m.task {
                Task::Classification if y > 0.5 => v,
                Task::Classification => -v,
                Task::Regression => v.abs(),
            })
            .collect();
        if cfg.log_softmax {
            let lse = e.iter().map(|v| v.exp()).sum::<f64>().ln();
            e.iter_mut().for_each(|v| *v -= lse);
        }
        e
    }

    /// The gradient expression of `by_gradient` is `∂f/∂x` itself: against
    /// the tape's own input gradient (of the logit: no sigmoid here).
    #[test]
    fn the_gradient_expression_is_the_input_gradient() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut model = Model::new(Task::Regression, 3, &[6, 5], &mut rng);
        crate::gradcheck::jitter(&mut model, 9);
        let points = crate::data::Matrix::new(vec![0.5, -1.0, 0.2, -0.3, 0.8, 1.1], 2, 3);
        let zero = vec![0.0f32; 3];
        let direct = crate::insertion::gradient_explanations(&model, &points, &zero);
        let x = model.batch(&points);
        let ones = model.batch(&crate::data::Matrix::new(vec![1.0; 6], 2, 3));
        let (_, tape) = x.clone().traced(Gradients::leaky()).split_tape();
        let ours = by_gradient(&model, &x, &ones, tape).as_vec();
        for i in 0..2 {
            for j in 0..3 {
                // gradient × (x − 0) against gradient × 1 · x.
                let want = direct[i * 3 + j];
                let have = f64::from(ours[i * 4 + j]) * f64::from(points.row(i)[j]);
                assert!(
                    (want - have).abs() < 1e-5,
                    "row {i} input {j}: {want} vs {have}"
                );
            }
        }
    }

    /// The taped `CIns + CDel` and its gradients (through `f` and through
    /// `g`'s weights) against the plain loss and central finite differences,
    /// for both tasks, with and without the log-softmax.
    #[test]
    fn gradients_match_finite_differences() {
        let explainers = [IdExplainer::Surrogate, IdExplainer::Gradient];
        for (task, explainer) in [Task::Regression, Task::Classification]
            .into_iter()
            .flat_map(|t| explainers.map(|e| (t, e)))
        {
            for (log_softmax, deletion) in [
                (false, IdDeletion::Squared),
                (true, IdDeletion::Squared),
                (false, IdDeletion::Welsch),
            ] {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
                let mut model = Model::new(task, 3, &[5, 4], &mut rng);
                crate::gradcheck::jitter(&mut model, 5);
                let rows: [[f32; 3]; 4] = [
                    [0.5, -1.0, 0.2],
                    [-0.3, 0.8, 1.1],
                    [1.4, 0.1, -0.6],
                    [-0.9, -0.4, 0.7],
                ];
                let mut x = Vec::new();
                for r in &rows {
                    crate::model::push_row(&mut x, r);
                }
                let y: Vec<f32> = match task {
                    Task::Regression => vec![0.3, -1.2, 0.8, 0.1],
                    Task::Classification => vec![1.0, 0.0, 0.0, 1.0],
                };
                let cfg = Config {
                    explainer,
                    deletion,
                    tau: 2.0,
                    log_softmax,
                    target_variance: 0.7,
                    baseline: vec![0.1, -0.2, 0.05],
                };
                let (q, _) = model.g_coefficients();
                let frozen: Vec<(Vec<f32>, f32)> = x
                    .chunks(4)
                    .zip(&y)
                    .map(|(row, &t)| {
                        let e: Vec<f32> = soft(&model, &q, row, t, &cfg)
                            .into_iter()
                            .map(|v| v as f32)
                            .collect();
                        thresholds(&e, cfg.tau)
                    })
                    .collect();
                let value = |m: &Model| plain(m, &x, &y, &cfg, &frozen);
                let (_, tape) = model
                    .dev
                    .tensor_from_vec(x.clone(), (4, 4))
                    .traced(Gradients::leaky())
                    .split_tape();
                let loss = regulariser(&model, &x, &y, &cfg, tape);
                let what = format!(
                    "ID-ExpO {task:?} {explainer:?} log-softmax={log_softmax} {deletion:?}"
                );
                assert!(
                    (f64::from(loss.array()) - value(&model)).abs() < 1e-5,
                    "{what}: taped {} plain {}",
                    loss.array(),
                    value(&model)
                );
                crate::gradcheck::check(&mut model, true, loss, &value, (1e-3, 1e-3, 3e-2), &what);
            }
        }
    }

    /// The hard mask of the metric: the top k inputs of `e` kept.
    fn hard(e: &[f32], k: usize) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..e.len()).collect();
        idx.sort_by(|&a, &b| e[b].total_cmp(&e[a]));
        let mut m = vec![0.0; e.len()];
        for &i in &idx[..k] {
            m[i] = 1.0;
        }
        m
    }

    #[test]
    fn soft_masks_tend_to_the_hard_masks_as_tau_grows() {
        let e = [0.3f32, -1.2, 2.5, 0.31, 0.0];
        let distance = |tau: f32| {
            soft_masks(&e, tau)
                .iter()
                .enumerate()
                .flat_map(|(k, row)| {
                    let h = hard(&e, k + 1);
                    row.iter()
                        .zip(h)
                        .map(|(a, h)| (a - h).abs())
                        .collect::<Vec<_>>()
                })
                .fold(0.0, f64::max)
        };
        // The closest pair (0.3, 0.31) needs the largest τ.
        let (d10, d1k, d100k) = (distance(10.0), distance(1e3), distance(1e5));
        assert!(d10 > d1k && d1k > d100k, "{d10} {d1k} {d100k}");
        assert!(d100k < 1e-6, "{d100k}");
        // At the default τ, masks already order as the hard ones do.
        for (k, row) in soft_masks(&e, 10.0).iter().enumerate() {
            let h = hard(&e, k + 1);
            for (a, h) in row.iter().zip(&h) {
                assert_eq!(*a > 0.5, *h == 1.0, "k={} mask {row:?}", k + 1);
            }
        }
    }

    #[test]
    fn thresholds_sit_between_the_sorted_values() {
        let (t, scale) = thresholds(&[1.0, 3.0, 2.0], 10.0);
        assert_eq!(t, vec![2.5, 1.5, 0.5]);
        assert_eq!(scale, 10.0);
        // No gap at all: σ_s is 1.
        let (t, scale) = thresholds(&[2.0, 2.0], 10.0);
        assert_eq!((t, scale), (vec![2.0, 1.5], 10.0));
    }
}
