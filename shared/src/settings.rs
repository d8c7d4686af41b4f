use serde::{Deserialize, Serialize};

/// Training and measurement settings of a job.
///
/// The defaults are those of `method.md` section 1, which reproduce the
/// published numbers: change them only on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Widths of the hidden layers of `f`, each followed by ReLU.
    pub hidden: Vec<usize>,
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Fraction of the training rows, taken from the end, used for validation.
    pub validation_fraction: f64,
    /// Epochs without a lower validation loss before training stops.
    pub patience: usize,
    /// Factor applied to the learning rate on a validation-loss plateau.
    pub lr_factor: f64,
    /// Epochs of plateau before the learning rate is reduced.
    pub lr_patience: usize,
    /// Keep the weights of the best validation epoch instead of the last.
    pub restore_best: bool,
    /// At most this many test points are used for GNF (drawn with the seed).
    pub gnf_max_points: usize,
    /// LIME samples per explanation.
    pub lime_samples: usize,
    /// LIME kernel width as a multiple of sqrt(number of design columns).
    pub lime_kernel_factor: f64,
    /// Neighbours per point for the neighbourhood fidelity.
    pub gnf_neighbours: usize,
    /// Standard deviation of the neighbour perturbation.
    pub gnf_sigma: f64,
    /// Rows generated for the built-in synthetic datasets.
    pub synthetic_rows: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            hidden: vec![512, 256, 128],
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            batch_size: 32,
            max_epochs: 100,
            validation_fraction: 0.1,
            patience: 3,
            lr_factor: 0.1,
            lr_patience: 1,
            restore_best: false,
            gnf_max_points: 1000,
            lime_samples: 5000,
            lime_kernel_factor: 0.75,
            gnf_neighbours: 10,
            gnf_sigma: 0.1,
            synthetic_rows: 2000,
        }
    }
}

impl TrainSettings {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        fn positive(name: &str, v: f64) -> Result<(), String> {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name}: must be a positive number, got {v}"))
            }
        }
        fn unit_open(name: &str, v: f64) -> Result<(), String> {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(format!("{name}: must be in (0, 1), got {v}"))
            }
        }
        fn at_least_one(name: &str, v: usize) -> Result<(), String> {
            if v >= 1 {
                Ok(())
            } else {
                Err(format!("{name}: must be at least 1"))
            }
        }
        if self.hidden.contains(&0) {
            return Err("hidden: layer widths must be at least 1".into());
        }
        positive("learning_rate", self.learning_rate)?;
        unit_open("beta1", self.beta1)?;
        unit_open("beta2", self.beta2)?;
        positive("epsilon", self.epsilon)?;
        at_least_one("batch_size", self.batch_size)?;
        at_least_one("max_epochs", self.max_epochs)?;
        unit_open("validation_fraction", self.validation_fraction)?;
        unit_open("lr_factor", self.lr_factor)?;
        at_least_one("gnf_max_points", self.gnf_max_points)?;
        if self.lime_samples < 2 {
            return Err("lime_samples: must be at least 2".into());
        }
        positive("lime_kernel_factor", self.lime_kernel_factor)?;
        at_least_one("gnf_neighbours", self.gnf_neighbours)?;
        positive("gnf_sigma", self.gnf_sigma)?;
        if self.synthetic_rows < 20 {
            return Err("synthetic_rows: must be at least 20".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_published_ones_and_valid() {
        let s = TrainSettings::default();
        assert_eq!(s.hidden, [512, 256, 128]);
        assert_eq!((s.batch_size, s.max_epochs, s.patience), (32, 100, 3));
        assert_eq!(s.epsilon, 1e-7);
        s.validate().unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let s = TrainSettings {
            validation_fraction: 1.5,
            ..Default::default()
        };
        assert!(s
            .validate()
            .unwrap_err()
            .starts_with("validation_fraction:"));
        let s = TrainSettings {
            hidden: vec![8, 0],
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().starts_with("hidden:"));
    }
}
