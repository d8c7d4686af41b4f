//! The joint loss of method.md section 1,
//! `α · L_base(f, y) + (1 − α) · (g − f)²` averaged over the batch, in two
//! forms: taped dfdx ops for training, and plain `f64` for validation
//! losses and for checking the gradients.

use dfdx::prelude::*;
use sweep_shared::Task;

use crate::model::{Mat, Model};

/// Probabilities are clipped to `[CLIP, 1 − CLIP]` inside the cross-entropy, as Keras does.
pub const CLIP: f64 = 1e-7;

/// `log(cosh(d))`, computed without overflow as `|d| + ln(1 + e^(−2|d|)) − ln 2`.
pub fn log_cosh(d: f64) -> f64 {
    let a = d.abs();
    a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2
}

/// The base loss of one prediction.
pub fn base_loss(task: Task, pred: f64, y: f64) -> f64 {
    match task {
        Task::Regression => log_cosh(pred - y),
        Task::Classification => {
            let p = pred.clamp(CLIP, 1.0 - CLIP);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        }
    }
}

/// The mean joint loss over a set; `alpha = None` is `f` alone (STL).
pub fn joint_loss(task: Task, alpha: Option<f64>, f: &[f32], g: &[f32], y: &[f32]) -> f64 {
    let n = y.len() as f64;
    let base: f64 = f
        .iter()
        .zip(y)
        .map(|(&p, &t)| base_loss(task, p.into(), t.into()))
        .sum::<f64>()
        / n;
    match alpha {
        None => base,
        Some(a) => {
            let fid: f64 = f
                .iter()
                .zip(g)
                .map(|(&p, &q)| (f64::from(q) - f64::from(p)).powi(2))
                .sum::<f64>()
                / n;
            a * base + (1.0 - a) * fid
        }
    }
}

pub type Scalar = Tensor<(), f32, Cpu, OwnedTape<f32, Cpu>>;

/// The weights of the two terms of a joint loss: `(α, 1 − α)` for the
/// α-loss, `(1, μ)` for the constrained objective's Lagrangian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub base: f32,
    pub fidelity: f32,
}

impl Weights {
    /// The α-loss's weights.
    pub fn alpha(alpha: f32) -> Self {
        Weights {
            base: alpha,
            fidelity: 1.0 - alpha,
        }
    }
}

/// The taped joint loss of one batch. `x` is (rows, inputs), `y` (rows, 1);
/// `weights = None` is the prediction loss of `f` alone.
///
/// Every op runs on the tensor that carries the tape; a value used twice is
/// split off its tape and reused by id, so its gradient accumulates from
/// both uses before its own backward op runs (dfdx replays ops in reverse
/// creation order).
pub fn batch_loss(model: &Model, x: Mat, y: &Mat, weights: Option<Weights>) -> Scalar {
    let (x, tape) = x.traced(Gradients::leaky()).split_tape();
    let f = model.f_forward(x.clone().put_tape(tape));
    let Some(w) = weights else {
        return base_loss_taped(model.task, f, y);
    };
    let (f, tape) = f.split_tape();
    let g = model.g_forward(x.put_tape(tape));
    let fidelity = (g - f.clone()).square().mean::<(), _>() * w.fidelity;
    let (fidelity, tape) = fidelity.split_tape();
    let base = base_loss_taped(model.task, f.put_tape(tape), y) * w.base;
    base + fidelity
}

/// The base loss of `pred` (probabilities for classification) against `y`, taped.
pub fn base_loss_taped(
    task: Task,
    pred: Tensor<(usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>,
    y: &Mat,
) -> Scalar {
    match task {
        Task::Regression => {
            let (a, tape) = (pred - y.clone()).abs().split_tape();
            let soft = ((a.clone().put_tape(tape) * -2.0).exp() + 1.0).ln();
            ((soft + a) - std::f32::consts::LN_2).mean::<(), _>()
        }
        Task::Classification => {
            // For y ∈ {0, 1}: −ln(y·p + (1 − y)(1 − p)) = −ln(p·(2y − 1) + 1 − y),
            // which uses p once.
            let p = pred.clamp(CLIP as f32, 1.0 - CLIP as f32);
            let sign = y.clone() * 2.0 - 1.0;
            let offset = y.clone().negate() + 1.0;
            ((p * sign + offset).ln().mean::<(), _>()).negate()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Matrix;
    use rand::SeedableRng;

    #[test]
    fn log_cosh_is_stable_and_exact() {
        for d in [-3.0f64, -0.5, 0.0, 0.1, 2.0] {
            assert!((log_cosh(d) - d.cosh().ln()).abs() < 1e-12, "{d}");
        }
        assert!((log_cosh(1000.0) - (1000.0 - std::f64::consts::LN_2)).abs() < 1e-9);
    }

    /// The taped loss and its gradients against the plain loss and central
    /// finite differences, for both tasks: `f` alone, the α-loss, and the
    /// constrained objective's Lagrangian weights `(1, μ)`.
    #[test]
    fn gradients_match_finite_differences() {
        let lagrangian = Weights {
            base: 1.0,
            fidelity: 2.5,
        };
        for task in [Task::Regression, Task::Classification] {
            for weights in [None, Some(Weights::alpha(0.3)), Some(lagrangian)] {
                check_gradients(task, weights);
            }
        }
    }

    fn check_gradients(task: Task, weights: Option<Weights>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut model = Model::new(task, 3, &[5, 4], &mut rng);
        let xs: Vec<f32> = (0..18)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let ys: Vec<f32> = match task {
            Task::Regression => (0..6).map(|i| i as f32 / 3.0 - 1.0).collect(),
            Task::Classification => (0..6).map(|i| (i % 2) as f32).collect(),
        };
        let x = Matrix::new(xs, 6, 3);
        let y = model.dev.tensor_from_vec(ys.clone(), (6, 1));
        let plain = |m: &Model| {
            let f = m.predict_f(&x);
            let g = m.predict_g(&x);
            match weights {
                None => joint_loss(task, None, &f, &g, &ys),
                Some(w) => {
                    let base = joint_loss(task, None, &f, &g, &ys);
                    let fid = crate::metrics::gf(&f, &g);
                    f64::from(w.base) * base + f64::from(w.fidelity) * fid
                }
            }
        };

        let loss = batch_loss(&model, model.batch(&x), &y, weights);
        assert!((f64::from(loss.array()) - plain(&model)).abs() < 1e-5);
        crate::gradcheck::check(
            &mut model,
            weights.is_some(),
            loss,
            &plain,
            (1e-2, 2e-3, 2e-2),
            &format!("{task:?} {weights:?}"),
        );
    }
}
