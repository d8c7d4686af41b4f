//! The training loop: Adam over mini-batches reshuffled every epoch with the
//! job's seed, a validation set taken from the end of the training rows
//! before any shuffling, early stopping and learning-rate reduction on a
//! validation-loss plateau, as Keras' callbacks do them.

use std::time::Instant;

use dfdx::prelude::*;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sweep_shared::TrainSettings;

use crate::data::Matrix;
use crate::losses::{batch_loss, joint_loss};
use crate::model::{push_row, Model};
use crate::optim::Adam;

/// How training went.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub epochs: usize,
    pub final_lr: f64,
    pub seconds: f64,
    /// Validation loss after each epoch.
    pub val_losses: Vec<f64>,
}

/// Keras' `EarlyStopping` (min_delta 0) and `ReduceLROnPlateau`
/// (min_delta 1e-4, no cooldown) in one place.
struct Callbacks {
    best: f64,
    wait: usize,
    plateau_best: f64,
    plateau_wait: usize,
}

enum Verdict {
    Continue { improved: bool, reduce_lr: bool },
    Stop { improved: bool },
}

impl Callbacks {
    fn new() -> Self {
        Callbacks {
            best: f64::INFINITY,
            wait: 0,
            plateau_best: f64::INFINITY,
            plateau_wait: 0,
        }
    }

    fn epoch_end(&mut self, epoch: usize, val: f64, s: &TrainSettings) -> Verdict {
        let improved = val < self.best;
        if improved {
            self.best = val;
            self.wait = 0;
        } else {
            self.wait += 1;
        }
        let mut reduce_lr = false;
        if val < self.plateau_best - 1e-4 {
            self.plateau_best = val;
            self.plateau_wait = 0;
        } else {
            self.plateau_wait += 1;
            if self.plateau_wait >= s.lr_patience {
                reduce_lr = true;
                self.plateau_wait = 0;
            }
        }
        if !improved && self.wait >= s.patience && epoch > 0 {
            Verdict::Stop { improved }
        } else {
            Verdict::Continue {
                improved,
                reduce_lr,
            }
        }
    }
}

/// One optimisation step on a batch of `y.len()` rows (each followed by the
/// constant-1 column, see [`push_row`]): forward, backward, Adam. `alpha = None` trains `f` alone.
pub fn step(model: &mut Model, adam: &mut Adam, x: Vec<f32>, y: Vec<f32>, alpha: Option<f32>) {
    let rows = y.len();
    let xt = model.dev.tensor_from_vec(x, (rows, model.inputs() + 1));
    let yt = model.dev.tensor_from_vec(y, (rows, 1));
    let mut grads = batch_loss(model, xt, &yt, alpha).backward();
    adam.step(&mut model.params_mut(alpha.is_some()), &mut grads);
}

/// Trains `model` on `x`, `y`. With `alpha = None` only `f` is trained (STL);
/// otherwise `f` and `g` are trained jointly on the α-loss.
pub fn train(
    model: &mut Model,
    x: &Matrix,
    y: &[f32],
    alpha: Option<f64>,
    s: &TrainSettings,
    rng: &mut ChaCha8Rng,
) -> TrainOutcome {
    let start = Instant::now();
    // Keras' `validation_split`: the last fraction of the rows, before shuffling.
    let n_fit = ((x.rows as f64) * (1.0 - s.validation_fraction)) as usize;
    let n_fit = n_fit.clamp(1, x.rows - 1);
    let x_val = x.rows_range(n_fit..x.rows);
    let y_val = &y[n_fit..];
    let with_g = alpha.is_some();
    let alpha32 = alpha.map(|a| a as f32);

    let mut adam = Adam::new(
        &model.params_mut(with_g),
        s.learning_rate,
        s.beta1,
        s.beta2,
        s.epsilon,
    );
    let mut callbacks = Callbacks::new();
    let mut best_weights = None;
    let mut val_losses = Vec::new();
    let mut order: Vec<usize> = (0..n_fit).collect();
    let mut xb = Vec::with_capacity(s.batch_size * (x.cols + 1));
    let mut yb = Vec::with_capacity(s.batch_size);

    for epoch in 0..s.max_epochs {
        order.shuffle(rng);
        for chunk in order.chunks(s.batch_size) {
            xb.clear();
            yb.clear();
            for &i in chunk {
                push_row(&mut xb, x.row(i));
                yb.push(y[i]);
            }
            step(model, &mut adam, xb.clone(), yb.clone(), alpha32);
        }

        let f = model.predict_f(&x_val);
        let g = if with_g {
            model.predict_g(&x_val)
        } else {
            Vec::new()
        };
        let val = joint_loss(model.task, alpha, &f, &g, y_val);
        val_losses.push(val);
        tracing::debug!(epoch, val_loss = val, lr = adam.lr, "epoch done");
        let verdict = callbacks.epoch_end(epoch, val, s);
        let improved = match verdict {
            Verdict::Continue { improved, .. } | Verdict::Stop { improved } => improved,
        };
        if s.restore_best && improved {
            best_weights = Some(adam.snapshot());
        }
        match verdict {
            Verdict::Stop { .. } => break,
            Verdict::Continue { reduce_lr, .. } => {
                if reduce_lr {
                    adam.lr *= s.lr_factor;
                }
            }
        }
    }

    if let Some(best) = best_weights {
        adam.restore(&best, &mut model.params_mut(with_g));
    }
    TrainOutcome {
        epochs: val_losses.len(),
        final_lr: adam.lr,
        seconds: start.elapsed().as_secs_f64(),
        val_losses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_stopping_waits_for_patience_and_plateaus_cut_the_rate() {
        let s = TrainSettings::default();
        let mut cb = Callbacks::new();
        let losses = [1.0, 0.9, 0.95, 0.95, 0.95];
        let mut stopped_at = None;
        let mut reductions = 0;
        for (epoch, &l) in losses.iter().enumerate() {
            match cb.epoch_end(epoch, l, &s) {
                Verdict::Stop { .. } => {
                    stopped_at = Some(epoch);
                    break;
                }
                Verdict::Continue { reduce_lr, .. } => reductions += usize::from(reduce_lr),
            }
        }
        // Best at epoch 1; epochs 2, 3, 4 do not improve: stop after the third.
        assert_eq!(stopped_at, Some(4));
        // Plateaus of one epoch at epochs 2 and 3 each cut the rate.
        assert_eq!(reductions, 2);
    }
}
