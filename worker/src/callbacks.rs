//! Keras' `EarlyStopping` (min_delta 0) and `ReduceLROnPlateau` (min_delta
//! `lr_min_delta`, no cooldown) in one place, with the protocol's options:
//! no schedule, no early stopping, no stopping before `min_epochs`.
//!
//! Both watch one validation quantity, chosen by the trainer from
//! `early_stopping_on`, as Keras' two callbacks both watch `val_loss`.

use sweep_shared::{EarlyStoppingOn, LrSchedule, Protocol, TrainSettings};

pub struct Callbacks {
    best: f64,
    wait: usize,
    plateau_best: f64,
    plateau_wait: usize,
    patience: usize,
    lr_patience: usize,
    lr_min_delta: f64,
    schedule: LrSchedule,
    stopping: bool,
    min_epochs: usize,
}

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Continue { improved: bool, reduce_lr: bool },
    Stop { improved: bool },
}

impl Verdict {
    pub fn improved(&self) -> bool {
        match self {
            Verdict::Continue { improved, .. } | Verdict::Stop { improved } => *improved,
        }
    }
}

impl Callbacks {
    pub fn new(s: &TrainSettings) -> Self {
        Callbacks {
            best: f64::INFINITY,
            wait: 0,
            plateau_best: f64::INFINITY,
            plateau_wait: 0,
            patience: s.patience,
            lr_patience: s.lr_patience,
            lr_min_delta: s.lr_min_delta,
            // The authors' last commit builds its optimiser from the string
            // "adam", so its plateau callback never finds a rate to cut.
            schedule: match s.protocol {
                Protocol::AuthorsCode => LrSchedule::None,
                Protocol::Method => s.lr_schedule,
            },
            stopping: s.early_stopping_on != EarlyStoppingOn::None,
            min_epochs: s.min_epochs,
        }
    }

    /// The verdict after `epoch` (0-based) whose watched loss was `val`.
    pub fn epoch_end(&mut self, epoch: usize, val: f64) -> Verdict {
        let improved = val < self.best;
        if improved {
            self.best = val;
            self.wait = 0;
        } else {
            self.wait += 1;
        }
        let mut reduce_lr = false;
        if self.schedule == LrSchedule::Plateau {
            // Keras compares `val < best - min_delta`: with the default 1e-4
            // an epoch that gains less than that counts as a plateau.
            if val < self.plateau_best - self.lr_min_delta {
                self.plateau_best = val;
                self.plateau_wait = 0;
            } else {
                self.plateau_wait += 1;
                if self.plateau_wait >= self.lr_patience {
                    reduce_lr = true;
                    self.plateau_wait = 0;
                }
            }
        }
        let may_stop = self.stopping && epoch > 0 && epoch + 1 >= self.min_epochs;
        if !improved && self.wait >= self.patience && may_stop {
            Verdict::Stop { improved }
        } else {
            Verdict::Continue {
                improved,
                reduce_lr,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The epoch at which `losses` stop training, and how many times the
    /// rate was cut before.
    fn replay(s: &TrainSettings, losses: &[f64]) -> (Option<usize>, usize) {
        let mut cb = Callbacks::new(s);
        let mut reductions = 0;
        for (epoch, &l) in losses.iter().enumerate() {
            match cb.epoch_end(epoch, l) {
                Verdict::Stop { .. } => return (Some(epoch), reductions),
                Verdict::Continue { reduce_lr, .. } => reductions += usize::from(reduce_lr),
            }
        }
        (None, reductions)
    }

    #[test]
    fn early_stopping_waits_for_patience_and_plateaus_cut_the_rate() {
        let s = TrainSettings::default();
        let (stopped_at, reductions) = replay(&s, &[1.0, 0.9, 0.95, 0.95, 0.95]);
        // Best at epoch 1; epochs 2, 3, 4 do not improve: stop after the third.
        assert_eq!(stopped_at, Some(4));
        // Plateaus of one epoch at epochs 2 and 3 each cut the rate.
        assert_eq!(reductions, 2);
    }

    #[test]
    fn min_delta_decides_what_counts_as_a_plateau() {
        // Every epoch gains 3e-5: a plateau for Keras' 1e-4 (until the gain
        // since the last best passes 1e-4, at epoch 4), progress for 0.
        let losses: Vec<f64> = (0..6).map(|i| 1.0 - 3e-5 * i as f64).collect();
        let s = TrainSettings::default();
        assert_eq!(replay(&s, &losses), (None, 4));
        let strict = TrainSettings {
            lr_min_delta: 0.0,
            ..Default::default()
        };
        assert_eq!(replay(&strict, &losses), (None, 0));
        let constant = TrainSettings {
            lr_schedule: LrSchedule::None,
            ..Default::default()
        };
        assert_eq!(replay(&constant, &losses), (None, 0));
    }

    #[test]
    fn min_epochs_and_none_hold_stopping_back() {
        let flat = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(replay(&TrainSettings::default(), &flat).0, Some(3));
        let late = TrainSettings {
            min_epochs: 6,
            ..Default::default()
        };
        assert_eq!(replay(&late, &flat).0, Some(5));
        let never = TrainSettings {
            early_stopping_on: EarlyStoppingOn::None,
            ..Default::default()
        };
        assert_eq!(replay(&never, &flat).0, None);
    }
}
