use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::{DatasetName, SettingsError, TrainSettings, UnknownName};

/// What is trained (method.md): `f` alone with a global surrogate fitted
/// afterwards (the "single-task" baseline, section 1), `f` and `g` jointly
/// on the α-loss (section 1), the α-loss plus ExpO's neighbourhood-fidelity
/// regulariser (section 2) or ID-ExpO's insertion/deletion regulariser
/// (section 3), or the prediction loss under a fidelity constraint by a
/// Lagrangian (section 6), or `f` with some inputs moved to auxiliary
/// targets of a shared trunk (section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    Stl,
    Mtl,
    Expo,
    Idexpo,
    Constrained,
    Auxiliary,
}

impl Objective {
    pub const ALL: [Objective; 6] = [
        Objective::Stl,
        Objective::Mtl,
        Objective::Expo,
        Objective::Idexpo,
        Objective::Constrained,
        Objective::Auxiliary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Stl => "stl",
            Objective::Mtl => "mtl",
            Objective::Expo => "expo",
            Objective::Idexpo => "idexpo",
            Objective::Constrained => "constrained",
            Objective::Auxiliary => "auxiliary",
        }
    }

    /// How reports name it: `STL`, `MTL`, `ExpO`, `ID-ExpO`, `Constrained`.
    pub fn title(self) -> &'static str {
        match self {
            Objective::Stl => "STL",
            Objective::Mtl => "MTL",
            Objective::Expo => "ExpO",
            Objective::Idexpo => "ID-ExpO",
            Objective::Constrained => "Constrained",
            Objective::Auxiliary => "Auxiliary",
        }
    }

    /// Whether its jobs have an α (the weight of the prediction loss in the
    /// joint loss): all but STL, the constrained and the auxiliary objective.
    pub fn takes_alpha(self) -> bool {
        !matches!(
            self,
            Objective::Stl | Objective::Constrained | Objective::Auxiliary
        )
    }

    /// Whether `g` trains with `f` (all but STL and the auxiliary
    /// objective, whose `g` is fitted after).
    pub fn trains_g(self) -> bool {
        !matches!(self, Objective::Stl | Objective::Auxiliary)
    }
}

impl FromStr for Objective {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Objective::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "objective",
                name: s.to_string(),
                expected: Objective::ALL.map(|o| o.as_str()).join(", "),
            })
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One training run: everything that determines its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub dataset: DatasetName,
    pub objective: Objective,
    /// The weight of the prediction loss; `None` for the objectives that
    /// take none (see [`Objective::takes_alpha`]).
    pub alpha: Option<f64>,
    /// Drives initialisation, shuffling and every sampled quantity; never the split.
    pub seed: u64,
    #[serde(default)]
    pub settings: TrainSettings,
    /// Set for the no-op job kind: no training, a sleep and a deterministic
    /// fake result. For tests and load benchmarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noop: Option<NoopJob>,
    /// A scheduled run's id. It changes the job's key, so that a scheduled
    /// run measures afresh instead of finding an earlier run's result, and
    /// nothing else: training never reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The settings the sweep file's `[grid]` varies and this job's
    /// objective reads, in name order: with dataset, objective and
    /// α they name the job's cell. Empty (and absent from the key) without
    /// a grid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grid: Vec<String>,
}

/// The no-op job kind: sleeps, then returns metrics derived from a hash of
/// the spec, so its results are as deterministic as real ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoopJob {
    #[serde(default)]
    pub sleep_ms: u64,
    /// Added to every fake metric: a fault switch that shifts a run's numbers.
    #[serde(default)]
    pub metric_shift: f64,
    /// Fail every attempt with this error text, for retry tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_with: Option<String>,
    /// The standard deviation of a Gaussian, drawn from the job's spec (so
    /// from its seed), added to every fake metric: seed noise for tests of
    /// the statistics. Absent from the spec, and its key, when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub noise: f64,
    /// Scales `noise` by the cell's α (STL counts as α = 1), so one sweep
    /// has quiet cells and noisy ones. Absent from the spec when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub noise_scales_with_alpha: bool,
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// A no-op job sleeps at most an hour: it stands in for training in tests
/// and benchmarks, and a longer sleep only holds a worker's slot.
pub const MAX_NOOP_SLEEP_MS: u64 = 3_600_000;

impl NoopJob {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.sleep_ms > MAX_NOOP_SLEEP_MS {
            return Err(SettingsError::TooLarge {
                field: "noop.sleep_ms",
                value: self.sleep_ms as f64,
                max: MAX_NOOP_SLEEP_MS as f64,
            });
        }
        if !self.metric_shift.is_finite() {
            return Err(SettingsError::NotFinite {
                field: "noop.metric_shift",
            });
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return Err(SettingsError::Negative {
                field: "noop.noise",
                value: self.noise,
            });
        }
        if self.noise > 1e6 {
            return Err(SettingsError::TooLarge {
                field: "noop.noise",
                value: self.noise,
                max: 1e6,
            });
        }
        if self.fail_with.as_ref().is_some_and(|t| t.len() > 4096) {
            return Err(SettingsError::TooLarge {
                field: "noop.fail_with (bytes)",
                value: self.fail_with.as_ref().map_or(0, String::len) as f64,
                max: 4096.0,
            });
        }
        Ok(())
    }
}

impl JobSpec {
    /// Checks the combination, naming the offending field.
    pub fn validate(&self) -> Result<(), SettingsError> {
        match (self.objective.takes_alpha(), self.alpha) {
            (true, None) => return Err(SettingsError::AlphaMissing(self.objective)),
            (true, Some(a)) if !(a > 0.0 && a < 1.0) => {
                return Err(SettingsError::AlphaOutOfRange(a))
            }
            (false, Some(_)) => return Err(SettingsError::AlphaNotTaken(self.objective)),
            _ => {}
        }
        if self.objective == Objective::Constrained && self.settings.gf_target.is_none() {
            return Err(SettingsError::Required {
                field: "gf_target",
                objective: self.objective,
            });
        }
        if self.objective == Objective::Auxiliary {
            self.validate_aux_columns()?;
        }
        if let Some(noop) = &self.noop {
            noop.validate()?;
        }
        self.settings.validate()
    }

    /// The auxiliary objective's group: named, made of the dataset's input
    /// columns, without repeats, and leaving at least one input.
    fn validate_aux_columns(&self) -> Result<(), SettingsError> {
        if self.settings.aux_columns.is_empty() {
            return Err(SettingsError::Required {
                field: "aux",
                objective: self.objective,
            });
        }
        check_aux_group(self.dataset, &self.settings.aux_columns)
    }

    /// The content-addressed key of the job: a hash of everything that
    /// determines its result (the spec with all settings, the data's
    /// checksum, the code version). Equal keys have equal results.
    pub fn key(&self, dataset_sha256: &str) -> String {
        let spec = serde_json::to_string(self).expect("a job spec serialises");
        let mut text = format!("{spec}\n{dataset_sha256}\n{}", crate::CODE_VERSION);
        if let Some(revision) = self.measuring_revision() {
            text.push('\n');
            text.push_str(revision);
        }
        let digest = sha2::Sha256::digest(text.as_bytes());
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A fix of the measuring code that changed the results of some jobs
    /// without changing the code version: it enters those jobs' keys, so
    /// that their earlier results are not reused, and leaves every other
    /// key as it was.
    fn measuring_revision(&self) -> Option<&'static str> {
        // The STL classification surrogate's Newton steps are damped: two
        // of five undamped Adult fits of the paper grid had diverged.
        (self.objective == Objective::Stl && self.dataset.task() == crate::Task::Classification)
            .then_some("stl-logistic-damped-newton")
    }

    /// The job's grid point, `g_init=least-squares, lr_min_delta=0`; empty
    /// without a grid.
    pub fn grid_label(&self) -> String {
        self.grid
            .iter()
            .map(|k| {
                let v = self.settings.value_text(k).unwrap_or_default();
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The cell the job is a seed of, as reports name it (see [`cell_label`]).
    pub fn cell_label(&self) -> String {
        cell_label(
            &self.dataset.to_string(),
            &self.objective.to_string(),
            self.alpha,
            &self.grid_label(),
        )
    }

    /// How a report's table heads the job's cell within its panel:
    /// `STL`, `α = 0.5` (MTL, as the published table does),
    /// `ExpO λ = 1, α = 0.5`, `ID-ExpO λ₁ = 1, α = 0.5`,
    /// `Constrained ε = 0.01`; an objective's other settings follow when
    /// the sweep's grid varies them.
    pub fn column_label(&self) -> String {
        let s = &self.settings;
        let mut parts: Vec<String> = Vec::new();
        match self.objective {
            Objective::Stl | Objective::Mtl => {}
            Objective::Expo => parts.push(format!("λ = {}", s.expo_lambda)),
            Objective::Idexpo => parts.push(format!("λ₁ = {}", s.idexpo_lambda)),
            Objective::Constrained => {
                if let Some(eps) = s.gf_target {
                    parts.push(format!("ε = {eps}"));
                }
            }
            Objective::Auxiliary => parts.push(format!("λ_a = {}", s.aux_lambda)),
        }
        for key in &self.grid {
            let symbol = match key.as_str() {
                "expo_sigma" => "σ_r",
                "expo_batch" => "B_r",
                "idexpo_tau" => "τ",
                "idexpo_explainer" => "explainer",
                "idexpo_log_softmax" => "log-softmax",
                "idexpo_deletion" => "deletion",
                "dual_lr" => "η_μ",
                "mu_init" => "μ₀",
                _ => continue,
            };
            let value = s.value_text(key).unwrap_or_default();
            parts.push(format!("{symbol} = {value}"));
        }
        if let Some(a) = self.alpha {
            parts.push(format!("α = {a}"));
        }
        let settings = parts.join(", ");
        match self.objective {
            Objective::Stl => "STL".to_string(),
            Objective::Mtl => settings,
            o => format!("{} {settings}", o.title()),
        }
    }

    /// The objective's own main setting (ExpO's λ, ID-ExpO's λ₁, the
    /// constrained objective's ε), by which reports order its cells.
    pub fn objective_parameter(&self) -> Option<f64> {
        match self.objective {
            Objective::Stl | Objective::Mtl => None,
            Objective::Expo => Some(self.settings.expo_lambda),
            Objective::Idexpo => Some(self.settings.idexpo_lambda),
            Objective::Constrained => self.settings.gf_target,
            Objective::Auxiliary => Some(self.settings.aux_lambda),
        }
    }

    /// A short human label such as `wine mtl α=0.1 seed=0`.
    pub fn label(&self) -> String {
        match self.alpha {
            Some(a) => format!(
                "{} {} α={} seed={}",
                self.dataset, self.objective, a, self.seed
            ),
            None => format!("{} {} seed={}", self.dataset, self.objective, self.seed),
        }
    }
}

/// A cell (the seeds of one dataset, objective, α and grid point) by name:
/// `wine mtl α=0.1`, `wine stl`, or `wine mtl α=0.1 [g_init=least-squares]`.
pub fn cell_label(dataset: &str, objective: &str, alpha: Option<f64>, grid: &str) -> String {
    let cell = match alpha {
        Some(a) => format!("{dataset} {objective} α={a}"),
        None => format!("{dataset} {objective}"),
    };
    if grid.is_empty() {
        cell
    } else {
        format!("{cell} [{grid}]")
    }
}

/// An auxiliary column group of `dataset`: each a source column of its
/// inputs (`DatasetName::input_columns`), not the target, named once, and
/// leaving at least one input. The sweep file checks it once per dataset,
/// each job again.
pub fn check_aux_group(dataset: DatasetName, columns: &[String]) -> Result<(), SettingsError> {
    let known = dataset.input_columns();
    for (i, c) in columns.iter().enumerate() {
        if c == dataset.target_column() {
            return Err(SettingsError::AuxColumn {
                dataset,
                column: c.clone(),
                because: "is the target itself".into(),
            });
        }
        if !known.contains(&c.as_str()) {
            return Err(SettingsError::AuxColumn {
                dataset,
                column: c.clone(),
                because: format!(
                    "is not an input column; expected one of: {}",
                    known.join(", ")
                ),
            });
        }
        if columns[..i].contains(c) {
            return Err(SettingsError::AuxColumn {
                dataset,
                column: c.clone(),
                because: "is named twice".into(),
            });
        }
    }
    if columns.len() >= known.len() {
        return Err(SettingsError::AuxColumn {
            dataset,
            column: columns.join(", "),
            because: "would leave no input".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(objective: Objective, alpha: Option<f64>) -> JobSpec {
        JobSpec {
            dataset: DatasetName::Wine,
            objective,
            alpha,
            seed: 0,
            settings: TrainSettings::default(),
            noop: None,
            run: None,
            grid: Vec::new(),
        }
    }

    #[test]
    fn a_default_job_keeps_the_key_it_had_before_the_protocol_options() {
        // Key and JSON computed by the code before the protocol settings
        // and grids existed (commit 391d343).
        let s = JobSpec {
            seed: 3,
            alpha: Some(0.1),
            ..spec(Objective::Mtl, Some(0.1))
        };
        assert_eq!(s.key("abc123"), "a17a9022f97ff33884e85cb36c245f93");
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"dataset":"wine","objective":"mtl","alpha":0.1,"seed":3,"settings":{"hidden":[512,256,128],"learning_rate":0.001,"beta1":0.9,"beta2":0.999,"epsilon":1e-7,"batch_size":32,"max_epochs":100,"validation_fraction":0.1,"patience":3,"lr_factor":0.1,"lr_patience":1,"restore_best":false,"gnf_max_points":1000,"lime_samples":5000,"lime_kernel_factor":0.75,"gnf_neighbours":10,"gnf_sigma":0.1,"synthetic_rows":2000}}"#
        );
    }

    #[test]
    fn the_damped_surrogate_fit_changes_only_stl_classification_keys() {
        let old_key = |s: &JobSpec| {
            let text = format!(
                "{}\nd\n{}",
                serde_json::to_string(s).unwrap(),
                crate::CODE_VERSION
            );
            let digest = sha2::Sha256::digest(text.as_bytes());
            digest[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let mut s = spec(Objective::Stl, None);
        assert_eq!(s.key("d"), old_key(&s), "regression STL keeps its key");
        s.dataset = DatasetName::Adult;
        assert_ne!(
            s.key("d"),
            old_key(&s),
            "classification STL is measured afresh"
        );
        let mut m = spec(Objective::Mtl, Some(0.5));
        m.dataset = DatasetName::Adult;
        assert_eq!(m.key("d"), old_key(&m));
    }

    #[test]
    fn every_protocol_setting_changes_the_key() {
        use crate::{EarlyStoppingOn, GInit, LrSchedule, Protocol};
        let base = spec(Objective::Mtl, Some(0.1));
        let variants: [fn(&mut TrainSettings); 8] = [
            |s| s.protocol = Protocol::AuthorsCode,
            |s| s.lr_schedule = LrSchedule::None,
            |s| s.lr_min_delta = 0.0,
            |s| s.early_stopping_on = EarlyStoppingOn::Prediction,
            |s| s.early_stopping_on = EarlyStoppingOn::None,
            |s| s.min_epochs = 5,
            |s| s.g_init = GInit::LeastSquares,
            |s| s.warmup_epochs = 2,
        ];
        let mut keys = vec![base.key("d")];
        for change in &variants {
            let mut s = base.clone();
            change(&mut s.settings);
            s.validate().unwrap();
            keys.push(s.key("d"));
            // And it survives the JSON round trip that jobs travel in.
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<JobSpec>(&json).unwrap(), s);
        }
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), keys.len());
    }

    #[test]
    fn grid_labels_name_the_varied_settings() {
        let mut s = spec(Objective::Mtl, Some(0.1));
        assert_eq!(s.grid_label(), "");
        s.settings.lr_min_delta = 0.0;
        s.settings.hidden = vec![64, 64];
        s.grid = vec!["g_init".into(), "lr_min_delta".into(), "hidden".into()];
        assert_eq!(
            s.grid_label(),
            "g_init=glorot, lr_min_delta=0.0, hidden=[64,64]"
        );
    }

    #[test]
    fn alpha_is_checked_against_the_objective() {
        assert!(spec(Objective::Mtl, Some(0.5)).validate().is_ok());
        assert!(spec(Objective::Stl, None).validate().is_ok());
        for bad in [0.0, 1.0, -0.1, f64::NAN] {
            let err = spec(Objective::Mtl, Some(bad))
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("alpha:"), "{err}");
        }
        assert!(spec(Objective::Mtl, None).validate().is_err());
        assert!(spec(Objective::Stl, Some(0.5)).validate().is_err());
    }

    #[test]
    fn keys_change_with_anything_that_changes_the_result() {
        let a = spec(Objective::Mtl, Some(0.3));
        assert_eq!(a.key("d1"), a.clone().key("d1"));
        assert_ne!(a.key("d1"), a.key("d2"));
        let mut b = a.clone();
        b.seed = 1;
        assert_ne!(a.key("d1"), b.key("d1"));
        let mut c = a.clone();
        c.settings.max_epochs = 99;
        assert_ne!(a.key("d1"), c.key("d1"));
        assert_eq!(a.key("d1").len(), 32);
        // A scheduled run's id forces fresh jobs.
        let mut d = a.clone();
        d.run = Some("nightly-1".into());
        assert_ne!(a.key("d1"), d.key("d1"));
        // An unscheduled spec's JSON (and so its key) is as before the field.
        assert!(!serde_json::to_string(&a).unwrap().contains("run"));
    }

    #[test]
    fn json_round_trip_and_unknown_fields_refused() {
        let s = spec(Objective::Mtl, Some(0.3));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<JobSpec>(&json).unwrap(), s);
        let bad = json.replacen("\"seed\"", "\"sed\"", 1);
        assert!(serde_json::from_str::<JobSpec>(&bad).is_err());
    }
}
