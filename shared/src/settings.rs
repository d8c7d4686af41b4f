use serde::{Deserialize, Serialize};

use crate::protocol::{
    is_default, EarlyStoppingOn, GInit, IdDeletion, IdExplainer, LrSchedule, Protocol,
};
use crate::Objective;

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

    // The protocol options beside method.md. Each is left out of a job's
    // JSON at its default, so that every job key computed before they
    // existed stays the same.
    /// A named preset (`docs/protocols.md`): `method` or `authors-code`.
    #[serde(skip_serializing_if = "is_default")]
    pub protocol: Protocol,
    /// `plateau` (method.md) or `none` (a constant learning rate).
    #[serde(skip_serializing_if = "is_default")]
    pub lr_schedule: LrSchedule,
    /// The gain an epoch needs not to count as a plateau: Keras' 1e-4; 0
    /// means any strictly lower loss.
    #[serde(skip_serializing_if = "is_default_lr_min_delta")]
    pub lr_min_delta: f64,
    /// What early stopping and the plateau schedule watch: `joint`,
    /// `prediction` (the prediction loss alone) or `none` (no stopping).
    #[serde(skip_serializing_if = "is_default")]
    pub early_stopping_on: EarlyStoppingOn,
    /// No early stop before this many epochs.
    #[serde(skip_serializing_if = "is_default")]
    pub min_epochs: usize,
    /// How `g` starts: `glorot` or `least-squares`.
    #[serde(skip_serializing_if = "is_default")]
    pub g_init: GInit,
    /// Epochs of `f` alone on the prediction loss before the joint loss.
    #[serde(skip_serializing_if = "is_default")]
    pub warmup_epochs: usize,

    // The settings of the explanation-quality objectives (method.md
    // sections 2, 3 and 6). Each is read by its objective alone (see
    // [`ignored_by`]) and left out of the JSON at its default.
    /// ExpO's λ: the weight of the neighbourhood-fidelity regulariser.
    #[serde(skip_serializing_if = "is_default_one")]
    pub expo_lambda: f64,
    /// ExpO's σ_r: the standard deviation of the regulariser's neighbours.
    #[serde(skip_serializing_if = "is_default_expo_sigma")]
    pub expo_sigma: f64,
    /// ExpO's B_r: training rows whose neighbourhoods each step regularises.
    #[serde(skip_serializing_if = "is_default_expo_batch")]
    pub expo_batch: usize,
    /// ID-ExpO's λ₁: the weight of `CIns + CDel`.
    #[serde(skip_serializing_if = "is_default_one")]
    pub idexpo_lambda: f64,
    /// ID-ExpO's τ: the sharpness of the soft masks.
    #[serde(skip_serializing_if = "is_default_idexpo_tau")]
    pub idexpo_tau: f64,
    /// Whose explanation ID-ExpO's regulariser orders the features by.
    #[serde(skip_serializing_if = "is_default")]
    pub idexpo_explainer: IdExplainer,
    /// ID-ExpO: order by the log-softmax of the explanation instead of the explanation.
    #[serde(skip_serializing_if = "is_default")]
    pub idexpo_log_softmax: bool,
    /// ID-ExpO's regression deletion term: `squared` (method.md) or the
    /// bounded `welsch`.
    #[serde(skip_serializing_if = "is_default")]
    pub idexpo_deletion: IdDeletion,
    /// The constrained objective's ε: the GF the model must stay within.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gf_target: Option<f64>,
    /// The constrained objective's dual step η_μ.
    #[serde(skip_serializing_if = "is_default_one")]
    pub dual_lr: f64,
    /// The constrained objective's starting multiplier μ.
    #[serde(skip_serializing_if = "is_default")]
    pub mu_init: f64,
    /// The auxiliary objective's λ_a: the weight of every auxiliary head's loss.
    #[serde(skip_serializing_if = "is_default_one")]
    pub aux_lambda: f64,
    /// The auxiliary objective's group: the input columns (as the dataset
    /// names them, a one-hot group by its source column) that become
    /// targets. A sweep file sets it per dataset with its `aux` table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aux_columns: Vec<String>,

    /// Training rows (at most) whose predictions by `f` a job returns for
    /// the sweep's task graph (method.md section 5); 0 returns none. The
    /// rows are drawn by the dataset alone, the same for every job.
    #[serde(skip_serializing_if = "is_default")]
    pub probe_rows: usize,
}

fn is_default_one(v: &f64) -> bool {
    *v == 1.0
}

const DEFAULT_EXPO_SIGMA: f64 = 0.1;
const DEFAULT_EXPO_BATCH: usize = 16;
const DEFAULT_IDEXPO_TAU: f64 = 10.0;

fn is_default_expo_sigma(v: &f64) -> bool {
    *v == DEFAULT_EXPO_SIGMA
}

fn is_default_expo_batch(v: &usize) -> bool {
    *v == DEFAULT_EXPO_BATCH
}

fn is_default_idexpo_tau(v: &f64) -> bool {
    *v == DEFAULT_IDEXPO_TAU
}

const DEFAULT_LR_MIN_DELTA: f64 = 1e-4;

fn is_default_lr_min_delta(v: &f64) -> bool {
    *v == DEFAULT_LR_MIN_DELTA
}

/// The settings of `g`'s joint training, which STL (no `g` to start or to
/// hold back) never reads.
const JOINT: [&str; 2] = ["g_init", "warmup_epochs"];
const EXPO: [&str; 3] = ["expo_lambda", "expo_sigma", "expo_batch"];
const IDEXPO: [&str; 5] = [
    "idexpo_lambda",
    "idexpo_tau",
    "idexpo_explainer",
    "idexpo_log_softmax",
    "idexpo_deletion",
];
const CONSTRAINED: [&str; 3] = ["gf_target", "dual_lr", "mu_init"];
const AUX: [&str; 2] = ["aux_lambda", "aux_columns"];

/// The settings `objective`'s training never reads: a grid over them would
/// only repeat its jobs, so they stay at their defaults in its key (see
/// [`TrainSettings::for_objective`]).
pub fn ignored_by(objective: Objective) -> Vec<&'static str> {
    let (joint, expo, idexpo, constrained) = match objective {
        Objective::Stl | Objective::Auxiliary => (true, true, true, true),
        Objective::Mtl => (false, true, true, true),
        Objective::Expo => (false, false, true, true),
        Objective::Idexpo => (false, true, false, true),
        Objective::Constrained => (false, true, true, false),
    };
    let aux = objective != Objective::Auxiliary;
    let mut out = Vec::new();
    for (ignored, names) in [
        (joint, &JOINT[..]),
        (expo, &EXPO[..]),
        (idexpo, &IDEXPO[..]),
        (constrained, &CONSTRAINED[..]),
        (aux, &AUX[..]),
    ] {
        if ignored {
            out.extend_from_slice(names);
        }
    }
    out
}

/// Whether a setting belongs to one objective alone (ExpO's λ, the
/// constrained objective's ε, …): reports name it with the objective in a
/// column's heading rather than as a panel of its own.
pub fn is_objective_setting(name: &str) -> bool {
    EXPO.contains(&name)
        || IDEXPO.contains(&name)
        || CONSTRAINED.contains(&name)
        || AUX.contains(&name)
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
            protocol: Protocol::Method,
            lr_schedule: LrSchedule::Plateau,
            lr_min_delta: DEFAULT_LR_MIN_DELTA,
            early_stopping_on: EarlyStoppingOn::Joint,
            min_epochs: 0,
            g_init: GInit::Glorot,
            warmup_epochs: 0,
            aux_lambda: 1.0,
            aux_columns: Vec::new(),
            probe_rows: 0,
            expo_lambda: 1.0,
            expo_sigma: DEFAULT_EXPO_SIGMA,
            expo_batch: DEFAULT_EXPO_BATCH,
            idexpo_lambda: 1.0,
            idexpo_tau: DEFAULT_IDEXPO_TAU,
            idexpo_explainer: IdExplainer::Surrogate,
            idexpo_log_softmax: false,
            idexpo_deletion: IdDeletion::Squared,
            gf_target: None,
            dual_lr: 1.0,
            mu_init: 0.0,
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
    #[error("{field}: must be finite and at least 0, got {value}")]
    Negative { field: &'static str, value: f64 },
    #[error("{field}: {because}")]
    Redundant {
        field: &'static str,
        because: &'static str,
    },
    #[error("{field}: {value} is above max_epochs")]
    AboveMaxEpochs { field: &'static str, value: usize },
    #[error("{field}: must be at most {max}, got {value}")]
    TooLarge {
        field: &'static str,
        value: f64,
        max: f64,
    },
    #[error("{field}: must be finite")]
    NotFinite { field: &'static str },
    #[error("hidden: layer widths must be at least 1")]
    EmptyLayer,
    #[error("alpha: required for objective {0}")]
    AlphaMissing(Objective),
    #[error("alpha: {0} is outside (0, 1)")]
    AlphaOutOfRange(f64),
    #[error("alpha: objective {0} takes no alpha")]
    AlphaNotTaken(Objective),
    #[error("{field}: required for objective {objective}")]
    Required {
        field: &'static str,
        objective: Objective,
    },
    #[error("aux: dataset {dataset}: column `{column}` {because}")]
    AuxColumn {
        dataset: crate::DatasetName,
        column: String,
        because: String,
    },
}

/// The largest network a worker builds: a layer of 8,192 units is already
/// 64 Mi weights against the previous layer; more is a typo, and a
/// `hidden = [1000000, 1000000]` would abort the worker allocating it.
pub const MAX_LAYER_WIDTH: usize = 8192;
pub const MAX_LAYERS: usize = 16;

impl TrainSettings {
    /// Each bounded setting with its value and its upper bound: far above
    /// any experiment of method.md, low enough that no value allocates
    /// more than a worker has or runs for days.
    fn upper_bounds(&self) -> [(&'static str, f64, f64); 16] {
        let widest = self.hidden.iter().copied().max().unwrap_or(0);
        [
            (
                "hidden (layers)",
                self.hidden.len() as f64,
                MAX_LAYERS as f64,
            ),
            ("hidden (width)", widest as f64, MAX_LAYER_WIDTH as f64),
            ("batch_size", self.batch_size as f64, 65_536.0),
            ("max_epochs", self.max_epochs as f64, 100_000.0),
            ("warmup_epochs", self.warmup_epochs as f64, 100_000.0),
            ("gnf_max_points", self.gnf_max_points as f64, 100_000.0),
            ("lime_samples", self.lime_samples as f64, 1_000_000.0),
            ("gnf_neighbours", self.gnf_neighbours as f64, 10_000.0),
            ("synthetic_rows", self.synthetic_rows as f64, 1_000_000.0),
            ("learning_rate", self.learning_rate, 10.0),
            ("gnf_sigma", self.gnf_sigma, 100.0),
            ("expo_batch", self.expo_batch as f64, 4096.0),
            ("expo_sigma", self.expo_sigma, 100.0),
            ("idexpo_tau", self.idexpo_tau, 1e6),
            ("probe_rows", self.probe_rows as f64, 5_000.0),
            ("aux_columns", self.aux_columns.len() as f64, 1_000.0),
        ]
    }

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
        for (field, value, max) in self.upper_bounds() {
            if value > max {
                return Err(SettingsError::TooLarge { field, value, max });
            }
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
        if self.protocol == Protocol::AuthorsCode && self.lr_schedule == LrSchedule::None {
            // The preset already trains without a schedule: refused, so the
            // same training does not get a second key.
            return Err(SettingsError::Redundant {
                field: "lr_schedule",
                because: "protocol authors-code trains without a schedule already",
            });
        }
        if !(self.lr_min_delta >= 0.0 && self.lr_min_delta.is_finite()) {
            return Err(SettingsError::Negative {
                field: "lr_min_delta",
                value: self.lr_min_delta,
            });
        }
        if self.min_epochs > self.max_epochs {
            return Err(SettingsError::AboveMaxEpochs {
                field: "min_epochs",
                value: self.min_epochs,
            });
        }
        fn non_negative(field: &'static str, value: f64) -> Result<(), SettingsError> {
            if value >= 0.0 && value.is_finite() {
                Ok(())
            } else {
                Err(SettingsError::Negative { field, value })
            }
        }
        non_negative("expo_lambda", self.expo_lambda)?;
        positive("expo_sigma", self.expo_sigma)?;
        at_least("expo_batch", self.expo_batch, 1)?;
        non_negative("idexpo_lambda", self.idexpo_lambda)?;
        positive("idexpo_tau", self.idexpo_tau)?;
        if let Some(eps) = self.gf_target {
            positive("gf_target", eps)?;
        }
        non_negative("dual_lr", self.dual_lr)?;
        non_negative("mu_init", self.mu_init)?;
        non_negative("aux_lambda", self.aux_lambda)?;
        for (field, value) in [
            ("aux_lambda", self.aux_lambda),
            ("expo_lambda", self.expo_lambda),
            ("idexpo_lambda", self.idexpo_lambda),
            ("dual_lr", self.dual_lr),
            ("mu_init", self.mu_init),
        ] {
            if value > 1e6 {
                return Err(SettingsError::TooLarge {
                    field,
                    value,
                    max: 1e6,
                });
            }
        }
        Ok(())
    }

    /// These settings with the ones `objective` ignores at their defaults.
    pub fn for_objective(&self, objective: Objective) -> TrainSettings {
        let d = TrainSettings::default();
        let mut s = self.clone();
        for name in ignored_by(objective) {
            match name {
                "g_init" => s.g_init = d.g_init,
                "warmup_epochs" => s.warmup_epochs = d.warmup_epochs,
                "expo_lambda" => s.expo_lambda = d.expo_lambda,
                "expo_sigma" => s.expo_sigma = d.expo_sigma,
                "expo_batch" => s.expo_batch = d.expo_batch,
                "idexpo_lambda" => s.idexpo_lambda = d.idexpo_lambda,
                "idexpo_tau" => s.idexpo_tau = d.idexpo_tau,
                "idexpo_explainer" => s.idexpo_explainer = d.idexpo_explainer,
                "idexpo_log_softmax" => s.idexpo_log_softmax = d.idexpo_log_softmax,
                "idexpo_deletion" => s.idexpo_deletion = d.idexpo_deletion,
                "gf_target" => s.gf_target = d.gf_target,
                "dual_lr" => s.dual_lr = d.dual_lr,
                "mu_init" => s.mu_init = d.mu_init,
                "aux_lambda" => s.aux_lambda = d.aux_lambda,
                "aux_columns" => s.aux_columns = d.aux_columns.clone(),
                other => unreachable!("ignored_by names a setting for_objective resets: {other}"),
            }
        }
        s
    }

    /// The names of every setting, as a sweep file spells them.
    pub fn field_names() -> Vec<String> {
        match serde_json::to_value(TrainSettings::every_field_set()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Settings with no field at its default, so that serialising them
    /// names every field.
    fn every_field_set() -> TrainSettings {
        TrainSettings {
            protocol: Protocol::AuthorsCode,
            lr_schedule: LrSchedule::None,
            lr_min_delta: 0.0,
            early_stopping_on: EarlyStoppingOn::None,
            min_epochs: 1,
            g_init: GInit::LeastSquares,
            warmup_epochs: 1,
            expo_lambda: 2.0,
            expo_sigma: 0.5,
            expo_batch: 8,
            idexpo_lambda: 2.0,
            idexpo_tau: 5.0,
            idexpo_explainer: IdExplainer::Gradient,
            idexpo_log_softmax: true,
            idexpo_deletion: IdDeletion::Welsch,
            gf_target: Some(0.01),
            dual_lr: 2.0,
            mu_init: 1.0,
            aux_lambda: 2.0,
            aux_columns: vec!["a".into()],
            probe_rows: 1,
            ..TrainSettings::default()
        }
    }

    /// One setting's value as a sweep file writes it (`0.0001`,
    /// `least-squares`, `[64,64]`), or `None` for an unknown name.
    pub fn value_text(&self, name: &str) -> Option<String> {
        let serde_json::Value::Object(mine) = serde_json::to_value(self).ok()? else {
            return None;
        };
        // A field missing from the JSON is skipped at its default.
        let value = match mine.get(name) {
            Some(v) => v.clone(),
            None => skipped_default(name)?,
        };
        Some(match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
    }
}

/// The default of a field that is left out of the JSON at its default.
fn skipped_default(name: &str) -> Option<serde_json::Value> {
    let d = TrainSettings::default();
    match name {
        "protocol" => serde_json::to_value(d.protocol).ok(),
        "lr_schedule" => serde_json::to_value(d.lr_schedule).ok(),
        "lr_min_delta" => serde_json::to_value(d.lr_min_delta).ok(),
        "early_stopping_on" => serde_json::to_value(d.early_stopping_on).ok(),
        "min_epochs" => serde_json::to_value(d.min_epochs).ok(),
        "g_init" => serde_json::to_value(d.g_init).ok(),
        "warmup_epochs" => serde_json::to_value(d.warmup_epochs).ok(),
        "expo_lambda" => serde_json::to_value(d.expo_lambda).ok(),
        "expo_sigma" => serde_json::to_value(d.expo_sigma).ok(),
        "expo_batch" => serde_json::to_value(d.expo_batch).ok(),
        "idexpo_lambda" => serde_json::to_value(d.idexpo_lambda).ok(),
        "idexpo_tau" => serde_json::to_value(d.idexpo_tau).ok(),
        "idexpo_explainer" => serde_json::to_value(d.idexpo_explainer).ok(),
        "idexpo_log_softmax" => serde_json::to_value(d.idexpo_log_softmax).ok(),
        "idexpo_deletion" => serde_json::to_value(d.idexpo_deletion).ok(),
        "gf_target" => Some(serde_json::Value::String("none".into())),
        "dual_lr" => serde_json::to_value(d.dual_lr).ok(),
        "mu_init" => serde_json::to_value(d.mu_init).ok(),
        "aux_lambda" => serde_json::to_value(d.aux_lambda).ok(),
        "aux_columns" => serde_json::to_value(&d.aux_columns).ok(),
        "probe_rows" => serde_json::to_value(d.probe_rows).ok(),
        _ => None,
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
        let s = TrainSettings {
            protocol: Protocol::AuthorsCode,
            lr_schedule: LrSchedule::None,
            ..Default::default()
        };
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("lr_schedule:"));
        let s = TrainSettings {
            min_epochs: 200,
            ..Default::default()
        };
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("min_epochs:"));
    }

    #[test]
    fn objective_settings_are_checked_and_reset_where_ignored() {
        for (s, field) in [
            (
                TrainSettings {
                    expo_lambda: -1.0,
                    ..Default::default()
                },
                "expo_lambda:",
            ),
            (
                TrainSettings {
                    idexpo_tau: -2.0,
                    ..Default::default()
                },
                "idexpo_tau:",
            ),
            (
                TrainSettings {
                    gf_target: Some(0.0),
                    ..Default::default()
                },
                "gf_target:",
            ),
            (
                TrainSettings {
                    expo_batch: 0,
                    ..Default::default()
                },
                "expo_batch:",
            ),
        ] {
            let err = s.validate().unwrap_err().to_string();
            assert!(err.starts_with(field), "{err}");
        }
        let s = TrainSettings {
            expo_lambda: 3.0,
            idexpo_tau: 4.0,
            gf_target: Some(0.01),
            warmup_epochs: 2,
            ..Default::default()
        };
        let expo = s.for_objective(Objective::Expo);
        assert_eq!((expo.expo_lambda, expo.idexpo_tau), (3.0, 10.0));
        assert_eq!((expo.gf_target, expo.warmup_epochs), (None, 2));
        let stl = s.for_objective(Objective::Stl);
        assert_eq!(stl, TrainSettings::default());
        let constrained = s.for_objective(Objective::Constrained);
        assert_eq!(constrained.gf_target, Some(0.01));
        assert_eq!(constrained.expo_lambda, 1.0);
        // Every name ignored_by lists is a setting.
        let names = TrainSettings::field_names();
        for o in Objective::ALL {
            for n in ignored_by(o) {
                assert!(names.iter().any(|k| k == n), "{n}");
            }
        }
    }
}
