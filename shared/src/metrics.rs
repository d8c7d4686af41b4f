use serde::{Deserialize, Serialize};

use crate::{EpochRecord, JobSpec, StopReason};

/// What one job measured. Prediction metrics are present for the task they
/// apply to only; everything except the `*_seconds` fields is bit-identical
/// between runs of the same job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mse: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub r2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub f1: Option<f64>,
    /// Global fidelity: mean squared difference of g and f on the test set.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub gf: f64,
    /// Global neighbourhood fidelity of LIME explanations of f.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub gnf: f64,
    /// R² of g as a predictor of f on the test set.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub r2_fg: f64,
    /// Insertion score of the surrogate's explanations (method.md §3):
    /// higher is more faithful. Absent in results from before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ins_g: Option<f64>,
    /// Deletion score of the surrogate's explanations: lower is more faithful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub del_g: Option<f64>,
    /// Insertion score of gradient × input of `f`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ins_grad: Option<f64>,
    /// Deletion score of gradient × input of `f`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub del_grad: Option<f64>,
    /// The constrained objective's final Lagrange multiplier μ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mu: Option<f64>,
    /// The constrained objective: whether GF ≤ ε held on the validation rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint_met_val: Option<bool>,
    /// The constrained objective: whether GF ≤ ε held on the test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint_met_test: Option<bool>,
    /// Test points GNF (and insertion/deletion) was averaged over.
    pub gnf_points: usize,
    pub epochs: usize,
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub final_lr: f64,
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub train_seconds: f64,
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub eval_seconds: f64,
    /// Why training ended (absent in results from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// The learning rate fell below `LR_COLLAPSED_BELOW` before the end: a
    /// label, not a stopping rule.
    #[serde(default)]
    pub lr_collapsed: bool,
    /// The black box predicts worse than a constant (see the worker's
    /// `train::degenerate`).
    #[serde(default)]
    pub degenerate: bool,
}

/// The surrogate `g`: the explanation of `f`, one coefficient per model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub features: Vec<String>,
    #[serde(deserialize_with = "crate::null_float::nans")]
    pub coefficients: Vec<f64>,
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub intercept: f64,
}

/// Everything a worker reports for one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub spec: JobSpec,
    pub metrics: Metrics,
    pub explanation: Explanation,
    /// SHA-256 over the dataset's files (or of the generator for built-in ones).
    pub dataset_sha256: String,
    pub code_version: String,
    /// Validation losses per epoch (`curves.parquet`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<EpochRecord>,
}
