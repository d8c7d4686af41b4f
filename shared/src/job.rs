use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{DatasetName, TrainSettings, UnknownName};

/// What is trained: `f` and `g` jointly on the α-loss, or `f` alone with a
/// global surrogate fitted afterwards (the "single-task" baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    Stl,
    Mtl,
}

impl Objective {
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Stl => "stl",
            Objective::Mtl => "mtl",
        }
    }
}

impl FromStr for Objective {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stl" => Ok(Objective::Stl),
            "mtl" => Ok(Objective::Mtl),
            _ => Err(UnknownName {
                kind: "objective",
                name: s.to_string(),
                expected: "stl, mtl".to_string(),
            }),
        }
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
    /// The weight of the prediction loss; `None` for [`Objective::Stl`].
    pub alpha: Option<f64>,
    /// Drives initialisation, shuffling and every sampled quantity; never the split.
    pub seed: u64,
    #[serde(default)]
    pub settings: TrainSettings,
}

impl JobSpec {
    /// Checks the combination, naming the offending field.
    pub fn validate(&self) -> Result<(), String> {
        match (self.objective, self.alpha) {
            (Objective::Mtl, None) => return Err("alpha: required for objective mtl".into()),
            (Objective::Mtl, Some(a)) if !(a > 0.0 && a < 1.0) => {
                return Err(format!("alpha: {a} is outside (0, 1)"))
            }
            (Objective::Stl, Some(_)) => {
                return Err("alpha: objective stl trains f alone and takes no alpha".into())
            }
            _ => {}
        }
        self.settings.validate()
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
        }
    }

    #[test]
    fn alpha_is_checked_against_the_objective() {
        assert!(spec(Objective::Mtl, Some(0.5)).validate().is_ok());
        assert!(spec(Objective::Stl, None).validate().is_ok());
        for bad in [0.0, 1.0, -0.1, f64::NAN] {
            let err = spec(Objective::Mtl, Some(bad)).validate().unwrap_err();
            assert!(err.starts_with("alpha:"), "{err}");
        }
        assert!(spec(Objective::Mtl, None).validate().is_err());
        assert!(spec(Objective::Stl, Some(0.5)).validate().is_err());
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
