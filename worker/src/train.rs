//! The training loop: Adam over mini-batches reshuffled every epoch with the
//! job's seed, a validation set taken from the end of the training rows
//! before any shuffling, early stopping and learning-rate reduction on a
//! validation-loss plateau, as Keras' callbacks do them (see `callbacks`).
//!
//! With `warmup_epochs`, a first phase trains `f` alone on the prediction
//! loss, with its own Adam and no callbacks; the joint phase then starts as
//! it would without it. Every epoch's validation losses are kept as the
//! run's curve.

use std::time::Instant;

use dfdx::prelude::*;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sweep_shared::{EarlyStoppingOn, EpochRecord, StopReason, Task, TrainSettings};

use crate::callbacks::{Callbacks, Verdict};
use crate::data::Matrix;
use crate::linalg::NumericError;
use crate::losses::{joint_loss, Weights};
use crate::metrics::gf;
use crate::model::{push_row, Model};
use crate::objective::{Plan, StepLoss};
use crate::optim::Adam;

/// How training went.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Epochs trained, warm-up included.
    pub epochs: usize,
    pub final_lr: f64,
    pub seconds: f64,
    pub stop_reason: StopReason,
    /// One record per epoch, warm-up first.
    pub curve: Vec<EpochRecord>,
    /// The constrained objective's final multiplier μ.
    pub mu: Option<f64>,
    /// The constrained objective's validation GF with the final weights.
    pub val_gf: Option<f64>,
}

/// The number of training rows that are fitted; the rest, from the end,
/// are the validation rows (Keras' `validation_split`, before shuffling).
pub fn fitted_rows(rows: usize, s: &TrainSettings) -> usize {
    let n_fit = ((rows as f64) * (1.0 - s.validation_fraction)) as usize;
    n_fit.clamp(1, rows - 1)
}

/// One optimisation step on a batch of `yb.len()` rows (each followed by
/// the constant-1 column, see [`push_row`]): forward, backward, Adam.
/// `weights = None` trains `f` alone.
pub fn step(
    model: &mut Model,
    adam: &mut Adam,
    loss: &mut StepLoss,
    batch: (&[f32], &[f32]),
    (train_x, n_fit): (&Matrix, usize),
    weights: Option<Weights>,
) -> Result<(), NumericError> {
    let mut grads = loss
        .batch(model, batch, train_x, n_fit, weights)?
        .backward();
    adam.step(&mut model.params_mut(weights.is_some()), &mut grads);
    Ok(())
}

/// The validation losses of one epoch: the prediction loss, the fidelity
/// term when `g` trains, and the value early stopping watches (see
/// [`Plan::watched`]), computed as `joint_loss` computes the α-loss so
/// that MTL's watched value is the same bits.
fn validate(
    model: &Model,
    x_val: &Matrix,
    y_val: &[f32],
    plan: Option<Plan>,
    mu: f64,
) -> EpochRecord {
    let f = model.predict_f(x_val);
    let prediction = joint_loss(model.task, None, &f, &[], y_val);
    let (fidelity, joint) = match plan {
        None => (None, prediction),
        Some(p) => {
            let fidelity = gf(&f, &model.predict_g(x_val));
            (Some(fidelity), p.watched(prediction, Some(fidelity), mu))
        }
    };
    EpochRecord {
        prediction,
        fidelity,
        joint,
        lr: 0.0,
        warmup: false,
    }
}

/// The rows, batches and buffers of one training set.
struct Epochs<'a> {
    x: &'a Matrix,
    y: &'a [f32],
    order: Vec<usize>,
    batch_size: usize,
    xb: Vec<f32>,
    yb: Vec<f32>,
}

impl Epochs<'_> {
    /// One pass over the fitted rows in a fresh order.
    fn run(
        &mut self,
        model: &mut Model,
        adam: &mut Adam,
        loss: &mut StepLoss,
        weights: Option<Weights>,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), NumericError> {
        self.order.shuffle(rng);
        let n_fit = self.order.len();
        for chunk in self.order.chunks(self.batch_size) {
            self.xb.clear();
            self.yb.clear();
            for &i in chunk {
                push_row(&mut self.xb, self.x.row(i));
                self.yb.push(self.y[i]);
            }
            let batch = (self.xb.as_slice(), self.yb.as_slice());
            step(model, adam, loss, batch, (self.x, n_fit), weights)?;
        }
        Ok(())
    }
}

/// The warm-up phase: `f` alone on the prediction loss for
/// `warmup_epochs`, with its own Adam over `f`'s parameters only, so `g`
/// keeps its initial weights.
fn warm_up(
    model: &mut Model,
    epochs: &mut Epochs<'_>,
    loss: &mut StepLoss,
    (x_val, y_val): (&Matrix, &[f32]),
    s: &TrainSettings,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<EpochRecord>, NumericError> {
    if s.warmup_epochs == 0 {
        return Ok(Vec::new());
    }
    let mut adam = Adam::new(
        &model.params_mut(false),
        s.learning_rate,
        s.beta1,
        s.beta2,
        s.epsilon,
    );
    (0..s.warmup_epochs)
        .map(|_| {
            epochs.run(model, &mut adam, loss, None, rng)?;
            Ok(EpochRecord {
                lr: adam.lr,
                warmup: true,
                ..validate(model, x_val, y_val, None, 0.0)
            })
        })
        .collect()
}

/// Starts `g` at the least-squares fit of `y` on `x` (the logistic fit for
/// classification), over the rows training fits, not the validation rows.
pub fn init_g_least_squares(
    model: &mut Model,
    x: &Matrix,
    y: &[f32],
    s: &TrainSettings,
) -> Result<(), crate::linalg::NumericError> {
    let n_fit = fitted_rows(x.rows, s);
    let (coef, intercept) =
        crate::surrogate::fit(model.task, &x.rows_range(0..n_fit), &y[..n_fit])?;
    model.set_g(&coef, intercept);
    Ok(())
}

/// Does what an epoch's verdict asks of the optimiser: under
/// `restore_best`, keeps the weights of an improving epoch in `best`; on a
/// plateau, lowers the learning rate. Returns whether training stops.
/// Every trainer's epoch loop (this one, the auxiliary network's) ends here.
pub(crate) fn act_on(
    verdict: Verdict,
    s: &TrainSettings,
    adam: &mut Adam,
    best: &mut Option<Vec<Vec<f32>>>,
) -> bool {
    if s.restore_best && verdict.improved() {
        *best = Some(adam.snapshot());
    }
    match verdict {
        Verdict::Stop { .. } => true,
        Verdict::Continue { reduce_lr, .. } => {
            if reduce_lr {
                adam.lr *= s.lr_factor;
            }
            false
        }
    }
}

/// Trains `model` on `x`, `y` as `plan` says: `f` alone for STL, otherwise
/// `f` and `g` jointly. `rng` shuffles the batches; `regulariser_rng`
/// draws ExpO's neighbourhoods.
pub fn train(
    model: &mut Model,
    x: &Matrix,
    y: &[f32],
    plan: Plan,
    s: &TrainSettings,
    rng: &mut ChaCha8Rng,
    regulariser_rng: ChaCha8Rng,
) -> Result<TrainOutcome, NumericError> {
    let start = Instant::now();
    let n_fit = fitted_rows(x.rows, s);
    let x_val = x.rows_range(n_fit..x.rows);
    let y_val = &y[n_fit..];
    let with_g = plan.trains_g();
    let mut loss = StepLoss::new(plan, s, (x, y, n_fit), regulariser_rng);
    let constrained = matches!(plan, Plan::Constrained { .. });
    let mut mu = s.mu_init;
    let mut epochs = Epochs {
        x,
        y,
        order: (0..n_fit).collect(),
        batch_size: s.batch_size,
        xb: Vec::with_capacity(s.batch_size * (x.cols + 1)),
        yb: Vec::with_capacity(s.batch_size),
    };
    let mut curve = Vec::new();

    if with_g {
        curve = warm_up(model, &mut epochs, &mut loss, (&x_val, y_val), s, rng)?;
    }

    let mut adam = Adam::new(
        &model.params_mut(with_g),
        s.learning_rate,
        s.beta1,
        s.beta2,
        s.epsilon,
    );
    let mut callbacks = Callbacks::new(s);
    let mut best_weights = None;
    let mut stop_reason = StopReason::MaxEpochs;
    for epoch in 0..s.max_epochs {
        let lr = adam.lr;
        let weights = loss.weights(mu);
        epochs.run(model, &mut adam, &mut loss, weights, rng)?;
        let record = EpochRecord {
            lr,
            ..validate(model, &x_val, y_val, with_g.then_some(plan), mu)
        };
        curve.push(record);
        if let (Plan::Constrained { gf_target }, Some(fid)) = (plan, record.fidelity) {
            // Dual ascent on the validation GF; the watched value above
            // used the μ this epoch trained with.
            mu = (mu + s.dual_lr * (fid - gf_target)).max(0.0);
        }
        let watched = match s.early_stopping_on {
            EarlyStoppingOn::Prediction => record.prediction,
            EarlyStoppingOn::Joint | EarlyStoppingOn::None => record.joint,
        };
        tracing::debug!(epoch, val_loss = watched, lr, "epoch done");
        if act_on(
            callbacks.epoch_end(epoch, watched),
            s,
            &mut adam,
            &mut best_weights,
        ) {
            stop_reason = StopReason::EarlyStopping;
            break;
        }
    }

    if let Some(best) = best_weights {
        adam.restore(&best, &mut model.params_mut(with_g));
    }
    let val_gf = constrained
        .then(|| validate(model, &x_val, y_val, Some(plan), mu).fidelity)
        .flatten();
    Ok(TrainOutcome {
        epochs: curve.len(),
        final_lr: adam.lr,
        seconds: start.elapsed().as_secs_f64(),
        stop_reason,
        curve,
        mu: constrained.then_some(mu),
        val_gf,
    })
}

/// A black box that predicts worse than a constant: test MSE above 1 (the
/// variance of the standardised training target) or test accuracy below
/// the test set's majority-class rate.
pub fn degenerate(task: Task, mse: Option<f64>, accuracy: Option<f64>, y_test: &[f32]) -> bool {
    match task {
        // NaN counts as degenerate.
        Task::Regression => mse.is_some_and(|m| m.is_nan() || m > 1.0),
        Task::Classification => {
            let positives = y_test.iter().filter(|&&t| t > 0.5).count();
            let n = y_test.len().max(1);
            let majority = positives.max(y_test.len() - positives) as f64 / n as f64;
            accuracy.is_some_and(|a| a < majority)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// 60 rows of two inputs and a noisy linear target.
    fn linear_data() -> (Matrix, Vec<f32>) {
        let x: Vec<f32> = (0..60)
            .flat_map(|i| [(i as f32 / 20.0) - 1.5, ((i * 7) % 11) as f32 / 5.0 - 1.0])
            .collect();
        let x = Matrix::new(x, 60, 2);
        let y = (0..60)
            .map(|i| 0.3 + 0.8 * x.row(i)[0] - 0.5 * x.row(i)[1] + 0.05 * ((i % 3) as f32 - 1.0))
            .collect();
        (x, y)
    }

    #[test]
    fn least_squares_init_is_the_normal_equations_solution() {
        let (x, y) = linear_data();
        let s = TrainSettings::default();
        let mut model = Model::new(Task::Regression, 2, &[4], &mut ChaCha8Rng::seed_from_u64(1));
        init_g_least_squares(&mut model, &x, &y, &s).unwrap();
        // The normal equations of [1, x1, x2] over the fitted rows, solved directly.
        let n = fitted_rows(x.rows, &s);
        let mut a = [0.0f64; 9];
        let mut b = [0.0f64; 3];
        for (i, &yi) in y.iter().enumerate().take(n) {
            let r = [1.0, f64::from(x.row(i)[0]), f64::from(x.row(i)[1])];
            for j in 0..3 {
                b[j] += r[j] * f64::from(yi);
                for k in 0..3 {
                    a[j * 3 + k] += r[j] * r[k];
                }
            }
        }
        crate::linalg::solve_spd(&a, &mut b).unwrap();
        let (coef, intercept) = model.g_coefficients();
        assert!((intercept - b[0]).abs() < 1e-5, "{intercept} vs {}", b[0]);
        assert!(
            (coef[0] - b[1]).abs() < 1e-5 && (coef[1] - b[2]).abs() < 1e-5,
            "{coef:?} vs {b:?}"
        );
    }

    #[test]
    fn warm_up_trains_f_and_leaves_g_alone() {
        let (x, y) = linear_data();
        let s = TrainSettings {
            warmup_epochs: 2,
            ..Default::default()
        };
        let mut model = Model::new(Task::Regression, 2, &[4], &mut ChaCha8Rng::seed_from_u64(1));
        let (g_before, f_before) = (model.g_coefficients(), model.predict_f(&x));
        let n_fit = fitted_rows(x.rows, &s);
        let mut epochs = Epochs {
            x: &x,
            y: &y,
            order: (0..n_fit).collect(),
            batch_size: s.batch_size,
            xb: Vec::new(),
            yb: Vec::new(),
        };
        let x_val = x.rows_range(n_fit..x.rows);
        let plan = Plan::Joint { alpha: 0.5 };
        let mut loss = StepLoss::new(plan, &s, (&x, &y, n_fit), ChaCha8Rng::seed_from_u64(3));
        let curve = warm_up(
            &mut model,
            &mut epochs,
            &mut loss,
            (&x_val, &y[n_fit..]),
            &s,
            &mut ChaCha8Rng::seed_from_u64(2),
        )
        .unwrap();
        assert_eq!(model.g_coefficients(), g_before);
        assert_ne!(model.predict_f(&x), f_before);
        assert_eq!(curve.len(), 2);
        assert!(curve.iter().all(|e| e.warmup && e.fidelity.is_none()));
        // The whole run: warm-up epochs first, then the joint phase.
        let outcome = train(
            &mut model,
            &x,
            &y,
            plan,
            &s,
            &mut ChaCha8Rng::seed_from_u64(2),
            ChaCha8Rng::seed_from_u64(3),
        )
        .unwrap();
        assert!(outcome.curve[..2].iter().all(|e| e.warmup));
        assert!(outcome.curve[2..]
            .iter()
            .all(|e| !e.warmup && e.fidelity.is_some()));
        assert_eq!(outcome.epochs, outcome.curve.len());
        assert_ne!(model.g_coefficients(), g_before);
    }

    #[test]
    fn the_stop_reason_is_kept() {
        let (x, y) = linear_data();
        let mut model = Model::new(Task::Regression, 2, &[4], &mut ChaCha8Rng::seed_from_u64(1));
        let s = TrainSettings {
            max_epochs: 2,
            ..Default::default()
        };
        let outcome = train(
            &mut model,
            &x,
            &y,
            Plan::Stl,
            &s,
            &mut ChaCha8Rng::seed_from_u64(2),
            ChaCha8Rng::seed_from_u64(3),
        )
        .unwrap();
        // Two epochs cannot exhaust a patience of 3.
        assert_eq!(
            (outcome.stop_reason, outcome.epochs),
            (StopReason::MaxEpochs, 2)
        );
        let s = TrainSettings {
            learning_rate: 1e-12,
            patience: 1,
            lr_min_delta: 0.0,
            ..Default::default()
        };
        let outcome = train(
            &mut model,
            &x,
            &y,
            Plan::Stl,
            &s,
            &mut ChaCha8Rng::seed_from_u64(2),
            ChaCha8Rng::seed_from_u64(3),
        )
        .unwrap();
        assert_eq!(outcome.stop_reason, StopReason::EarlyStopping);
        assert!(outcome.epochs < 100);
    }

    #[test]
    fn degenerate_means_worse_than_a_constant() {
        assert!(!degenerate(Task::Regression, Some(0.99), None, &[]));
        assert!(degenerate(Task::Regression, Some(1.01), None, &[]));
        assert!(degenerate(Task::Regression, Some(f64::NAN), None, &[]));
        // 3 of 4 test rows are positive: a constant gets 0.75.
        let y = [1.0, 1.0, 0.0, 1.0];
        assert!(degenerate(Task::Classification, None, Some(0.5), &y));
        assert!(!degenerate(Task::Classification, None, Some(0.75), &y));
        assert!(!degenerate(Task::Classification, None, Some(1.0), &y));
    }
}
