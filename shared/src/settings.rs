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

/// A job's settings or its combination of objective and α that are not
/// valid; the message starts with the field it names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    #[error("{field}: must be a positive number, got {value}")]
    NotPositive { field: &'static str, value: f64 },
    #[error("{field}: must be in (0, 1), got {value}")]
    NotInUnitInterval { field: &'static str, value: f64 },
    #[error("{field}: must be at least {min}")]
    TooSmall { field: &'static str, min: usize },
    #[error("hidden: layer widths must be at least 1")]
    EmptyLayer,
    #[error("alpha: required for objective mtl")]
    AlphaMissing,
    #[error("alpha: {0} is outside (0, 1)")]
    AlphaOutOfRange(f64),
    #[error("alpha: objective stl trains f alone and takes no alpha")]
    AlphaNotTaken,
}

impl TrainSettings {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), SettingsError> {
        fn positive(field: &'static str, value: f64) -> Result<(), SettingsError> {
            if value > 0.0 && value.is_finite() {
                Ok(())
            } else {
                Err(SettingsError::NotPositive { field, value })
            }
        }
        fn unit_open(field: &'static str, value: f64) -> Result<(), SettingsError> {
            if value > 0.0 && value < 1.0 {
                Ok(())
            } else {
                Err(SettingsError::NotInUnitInterval { field, value })
            }
        }
        fn at_least(field: &'static str, v: usize, min: usize) -> Result<(), SettingsError> {
            if v >= min {
                Ok(())
            } else {
                Err(SettingsError::TooSmall { field, min })
            }
        }
        if self.hidden.contains(&0) {
            return Err(SettingsError::EmptyLayer);
        }
        positive("learning_rate", self.learning_rate)?;
        unit_open("beta1", self.beta1)?;
        unit_open("beta2", self.beta2)?;
        positive("epsilon", self.epsilon)?;
        at_least("batch_size", self.batch_size, 1)?;
        at_least("max_epochs", self.max_epochs, 1)?;
        unit_open("validation_fraction", self.validation_fraction)?;
        unit_open("lr_factor", self.lr_factor)?;
        at_least("gnf_max_points", self.gnf_max_points, 1)?;
        at_least("lime_samples", self.lime_samples, 2)?;
        positive("lime_kernel_factor", self.lime_kernel_factor)?;
        at_least("gnf_neighbours", self.gnf_neighbours, 1)?;
        positive("gnf_sigma", self.gnf_sigma)?;
        at_least("synthetic_rows", self.synthetic_rows, 20)?;
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
            .to_string()
            .starts_with("validation_fraction:"));
        let s = TrainSettings {
            hidden: vec![8, 0],
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().to_string().starts_with("hidden:"));
    }
}
