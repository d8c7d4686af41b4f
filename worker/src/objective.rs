//! What a job's training minimises, per objective (method.md sections 1,
//! 2, 3 and 6), and the loss of one step.
//!
//! The α-loss of MTL is the common part: ExpO and ID-ExpO add their
//! regulariser to it, the constrained objective weighs its two terms
//! `(1, μ)` instead of `(α, 1 − α)`, with `μ` moved by dual ascent after
//! every epoch (see `train`).

use dfdx::prelude::*;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use sweep_shared::{JobSpec, Objective, TrainSettings};

use crate::data::Matrix;
use crate::expo::{self, Neighbourhoods};
use crate::idexpo;
use crate::linalg::NumericError;
use crate::losses::{batch_loss, Scalar, Weights};
use crate::model::Model;

/// A job's objective with the numbers its training needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plan {
    /// `f` alone; `g` is fitted afterwards.
    Stl,
    /// The α-loss.
    Joint { alpha: f64 },
    /// The α-loss plus `λ·mean(R)`.
    Expo { alpha: f64 },
    /// The α-loss plus `λ₁·(CIns + CDel)`.
    Idexpo { alpha: f64 },
    /// `L_base + μ·(fidelity − ε)`.
    Constrained { gf_target: f64 },
}

impl Plan {
    /// The plan of a validated spec.
    pub fn of(spec: &JobSpec) -> Plan {
        Plan::new(
            spec.objective,
            spec.alpha.unwrap_or(f64::NAN),
            spec.settings.gf_target.unwrap_or(f64::NAN),
        )
    }

    /// `objective`'s plan at `alpha` (read by the objectives with an α) and
    /// `gf_target` (read by the constrained objective).
    pub fn new(objective: Objective, alpha: f64, gf_target: f64) -> Plan {
        match objective {
            // The auxiliary objective's own network trains in
            // `auxiliary`; its baselines and surrogate are STL's.
            Objective::Stl | Objective::Auxiliary => Plan::Stl,
            Objective::Mtl => Plan::Joint { alpha },
            Objective::Expo => Plan::Expo { alpha },
            Objective::Idexpo => Plan::Idexpo { alpha },
            Objective::Constrained => Plan::Constrained { gf_target },
        }
    }

    pub fn trains_g(self) -> bool {
        self != Plan::Stl
    }

    /// The α of the α-loss, where the objective has one.
    pub fn alpha(self) -> Option<f64> {
        match self {
            Plan::Joint { alpha } | Plan::Expo { alpha } | Plan::Idexpo { alpha } => Some(alpha),
            Plan::Stl | Plan::Constrained { .. } => None,
        }
    }

    /// The validation value early stopping watches, from the epoch's
    /// prediction loss and fidelity and, for the constrained objective,
    /// that epoch's μ. ExpO and ID-ExpO watch their α-loss: the
    /// regulariser is a means, not the objective the user reads.
    pub fn watched(self, prediction: f64, fidelity: Option<f64>, mu: f64) -> f64 {
        match (self, fidelity) {
            (Plan::Constrained { gf_target }, Some(fid)) => prediction + mu * (fid - gf_target),
            (plan, Some(fid)) => match plan.alpha() {
                Some(a) => a * prediction + (1.0 - a) * fid,
                None => prediction,
            },
            (_, None) => prediction,
        }
    }
}

/// The per-step state of a job's loss: the regularisers' settings and
/// ExpO's random stream (its own, so that ExpO's draws never shift the
/// shuffling of the batches).
pub struct StepLoss {
    plan: Plan,
    expo: Option<ExpoState>,
    idexpo: Option<(f32, idexpo::Config)>,
}

struct ExpoState {
    lambda: f32,
    sigma: f64,
    batch: usize,
    rng: ChaCha8Rng,
}

impl StepLoss {
    /// `x`, `y`: the training rows, of which the first `n_fit` are fitted.
    pub fn new(
        plan: Plan,
        s: &TrainSettings,
        (x, y, n_fit): (&Matrix, &[f32], usize),
        rng: ChaCha8Rng,
    ) -> Self {
        let expo = matches!(plan, Plan::Expo { .. }).then(|| ExpoState {
            lambda: s.expo_lambda as f32,
            sigma: s.expo_sigma,
            batch: s.expo_batch.min(n_fit),
            rng,
        });
        let idexpo = matches!(plan, Plan::Idexpo { .. }).then(|| {
            let fitted = x.rows_range(0..n_fit);
            let mean = y[..n_fit].iter().map(|&v| f64::from(v)).sum::<f64>() / n_fit as f64;
            let var = y[..n_fit]
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / n_fit as f64;
            let cfg = idexpo::Config {
                explainer: s.idexpo_explainer,
                deletion: s.idexpo_deletion,
                tau: s.idexpo_tau as f32,
                log_softmax: s.idexpo_log_softmax,
                // A constant target has nothing to scale by.
                target_variance: if var > 0.0 { var as f32 } else { 1.0 },
                baseline: crate::insertion::baseline(&fitted),
            };
            (s.idexpo_lambda as f32, cfg)
        });
        StepLoss { plan, expo, idexpo }
    }

    /// The loss of one batch: `xb` rows of `inputs + 1` (constant-1 column
    /// last), `yb` their targets. `weights` are this epoch's (see
    /// [`StepLoss::weights`]); `None` (the warm-up) is `f` alone, without
    /// a regulariser.
    pub fn batch(
        &mut self,
        model: &Model,
        (xb, yb): (&[f32], &[f32]),
        train_x: &Matrix,
        n_fit: usize,
        weights: Option<Weights>,
    ) -> Result<Scalar, NumericError> {
        let rows = yb.len();
        let xt = model
            .dev
            .tensor_from_vec(xb.to_vec(), (rows, model.inputs() + 1));
        let yt = model.dev.tensor_from_vec(yb.to_vec(), (rows, 1));
        let joint = batch_loss(model, xt, &yt, weights);
        if weights.is_none() {
            return Ok(joint);
        }
        if let Some(e) = &mut self.expo {
            let chosen = sample(&mut e.rng, n_fit, e.batch);
            let points: Vec<&[f32]> = chosen.iter().map(|i| train_x.row(i)).collect();
            let nb = Neighbourhoods::sample(&model.dev, &points, e.sigma, &mut e.rng)?;
            let (joint, tape) = joint.split_tape();
            return Ok(expo::regulariser(model, &nb, tape) * e.lambda + joint);
        }
        if let Some((lambda, cfg)) = &self.idexpo {
            let (joint, tape) = joint.split_tape();
            return Ok(idexpo::regulariser(model, xb, yb, cfg, tape) * *lambda + joint);
        }
        Ok(joint)
    }

    /// The weights of the joint loss this epoch: the α-loss's, or
    /// `(1, μ)` for the constrained objective.
    pub fn weights(&self, mu: f64) -> Option<Weights> {
        match self.plan {
            Plan::Stl => None,
            Plan::Constrained { .. } => Some(Weights {
                base: 1.0,
                fidelity: mu as f32,
            }),
            plan => plan.alpha().map(|a| Weights::alpha(a as f32)),
        }
    }
}
