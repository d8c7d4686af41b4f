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
    /// The auxiliary objective's baselines, heads and error correlations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<AuxMetrics>,
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

/// What the auxiliary objective (method.md section 4) measures beside the
/// main model's metrics: the main metric (MSE for regression, accuracy for
/// classification) of the two baselines trained in the same job with the
/// same seed, and per auxiliary head its test error and how much of the
/// main model's error it explains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuxMetrics {
    /// `mse` or `accuracy`: what the three main-metric columns measure.
    pub main_metric: String,
    /// The main task with the group removed from the inputs.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub without_group: f64,
    /// The main task with the group as input (today's STL).
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub with_group: f64,
    /// The main task with the group as auxiliary targets (this model).
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub as_target: f64,
    pub heads: Vec<AuxHead>,
}

/// One auxiliary column's head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuxHead {
    pub column: String,
    /// Whether the column is categorical (a cross-entropy head) or numeric
    /// (a standardised-MSE head).
    pub categorical: bool,
    /// Test error: standardised MSE, or mean cross-entropy.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub error: f64,
    /// Spearman correlation over test points between the main model's
    /// per-point error and this head's.
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub spearman: f64,
    /// Its bootstrap 95% interval (1,000 resamples, from the job's seed).
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub spearman_low: f64,
    #[serde(deserialize_with = "crate::null_float::nan")]
    pub spearman_high: f64,
}

/// `f`'s predictions on the dataset's probe rows (the task graph's data,
/// method.md section 5), with the rows' model inputs, which the
/// coordinator keeps once per dataset and input set and drops from the
/// stored result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probes {
    /// SHA-256 over the probe rows' inputs: equal for every job whose `f`
    /// saw the same inputs.
    pub inputs_sha256: String,
    /// Names of the model inputs (the columns of `inputs`).
    pub features: Vec<String>,
    pub rows: usize,
    /// Row-major `rows × features.len()`; absent once the store has kept it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<f32>,
    /// `f` on each row (a probability for classification).
    pub predictions: Vec<f32>,
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
    /// `f` on the probe rows, when the job's `probe_rows` asks for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<Probes>,
}
