//! The training protocol's choices beside method.md's defaults: how the
//! learning rate follows the validation loss, what early stopping watches,
//! how `g` starts, and the named presets. Each default is method.md's; a
//! setting at its default is left out of a job's JSON, so it leaves every
//! existing job key unchanged.

use serde::{Deserialize, Serialize};

/// A named preset of everything a protocol decides, data preparation and
/// metrics included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// `method.md` section 1: the default.
    #[default]
    Method,
    /// What the authors' public Keras code does where it differs from
    /// method.md (`docs/protocols.md` lists every difference).
    AuthorsCode,
}

/// What happens to the learning rate during training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// Keras' `ReduceLROnPlateau`: multiply by `lr_factor` after
    /// `lr_patience` epochs without a gain of more than `lr_min_delta`.
    #[default]
    Plateau,
    /// A constant learning rate.
    None,
}

/// The validation quantity early stopping (and the plateau schedule) watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EarlyStoppingOn {
    /// The loss being minimised (for STL that is the prediction loss).
    #[default]
    Joint,
    /// The prediction loss alone, `L_base(f, y)`.
    Prediction,
    /// Never stop early: train for `max_epochs`.
    None,
}

/// How the surrogate `g` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GInit {
    /// Glorot-uniform weights, zero bias (method.md).
    #[default]
    Glorot,
    /// The least-squares fit of y on the inputs (for classification the
    /// logistic fit), so the pair starts at the data rather than at noise.
    LeastSquares,
}

/// Whose explanation ID-ExpO's regulariser orders the features by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdExplainer {
    /// The surrogate's `e_j = q_j·(x_j − b_j)` (method.md section 3).
    #[default]
    Surrogate,
    /// Gradient × input of `f`, as the masked product of the weight
    /// matrices (see the worker's `idexpo::by_gradient`).
    Gradient,
}

/// The form of ID-ExpO's regression deletion term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdDeletion {
    /// method.md's `CDel = −mean_k (f(x_del^k) − f(x))² / var(y)`: unbounded
    /// below, so training can lower it without end by moving `f` far on the
    /// deletion inputs (on Wine it drove the test MSE to about 1e18).
    #[default]
    Squared,
    /// `CDel = −mean_k (1 − exp(−(f(x_del^k) − f(x))² / var(y)))`: the same
    /// slope near `f(x)`, saturating at −1 (Welsch's bounded loss).
    Welsch,
}

/// Why a training run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EarlyStopping,
    MaxEpochs,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::EarlyStopping => "early_stopping",
            StopReason::MaxEpochs => "max_epochs",
        }
    }
}

/// One epoch of a training curve, measured on the validation rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The prediction loss `L_base(f, y)`.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub prediction: f64,
    /// The fidelity term `(g − f)²`; absent while `g` is not trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<f64>,
    /// The loss being minimised that epoch.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub joint: f64,
    /// The learning rate the epoch trained with.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub lr: f64,
    /// A warm-up epoch: `f` alone on the prediction loss.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warmup: bool,
}

/// The learning rate below which a run counts as `lr_collapsed`.
pub const LR_COLLAPSED_BELOW: f64 = 1e-8;

/// `true` when `v` is its type's default; used to leave settings at their
/// default out of a job's JSON.
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_sweep_files_spellings() {
        assert_eq!(
            serde_json::to_string(&Protocol::AuthorsCode).unwrap(),
            "\"authors-code\""
        );
        assert_eq!(
            serde_json::to_string(&GInit::LeastSquares).unwrap(),
            "\"least-squares\""
        );
        assert!(serde_json::from_str::<LrSchedule>("\"cosine\"").is_err());
        assert!(is_default(&GInit::Glorot) && !is_default(&GInit::LeastSquares));
    }
}
