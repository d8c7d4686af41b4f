use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The learning task of a dataset, which decides the output layer, the base
/// loss and the prediction metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Regression,
    Classification,
}

/// Every dataset a job can name: the five of the published paper, read from
/// a data directory, and built-in synthetic ones generated from a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DatasetName {
    Wine,
    Adult,
    Housing,
    Titanic,
    AutoMpg,
    /// Friedman #1 regression: 10 uniform inputs, 5 of them informative.
    Friedman1,
    /// Two interleaved noisy half-moons plus distractor inputs, classification.
    Moons,
}

impl DatasetName {
    pub const ALL: [DatasetName; 7] = [
        DatasetName::Wine,
        DatasetName::Adult,
        DatasetName::Housing,
        DatasetName::Titanic,
        DatasetName::AutoMpg,
        DatasetName::Friedman1,
        DatasetName::Moons,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Wine => "wine",
            DatasetName::Adult => "adult",
            DatasetName::Housing => "housing",
            DatasetName::Titanic => "titanic",
            DatasetName::AutoMpg => "autompg",
            DatasetName::Friedman1 => "friedman1",
            DatasetName::Moons => "moons",
        }
    }

    pub fn task(self) -> Task {
        match self {
            DatasetName::Wine
            | DatasetName::Housing
            | DatasetName::AutoMpg
            | DatasetName::Friedman1 => Task::Regression,
            DatasetName::Adult | DatasetName::Titanic | DatasetName::Moons => Task::Classification,
        }
    }

    /// The dataset's input columns before preprocessing (a categorical
    /// column is one name for all its one-hot inputs), as the worker's
    /// loaders name them (Wine's, Housing's and Adult's loaders read them
    /// from here); the auxiliary objective's groups are checked against
    /// them at submission.
    pub fn input_columns(self) -> &'static [&'static str] {
        match self {
            DatasetName::Wine => &[
                "fixed acidity",
                "volatile acidity",
                "citric acid",
                "residual sugar",
                "chlorides",
                "free sulfur dioxide",
                "total sulfur dioxide",
                "density",
                "pH",
                "sulphates",
                "alcohol",
            ],
            DatasetName::Housing => &[
                "MedInc",
                "HouseAge",
                "AveRooms",
                "AveBedrms",
                "Population",
                "AveOccup",
                "Latitude",
                "Longitude",
            ],
            DatasetName::AutoMpg => &[
                "cylinders",
                "displacement",
                "horsepower",
                "weight",
                "acceleration",
                "model year",
                "origin",
            ],
            DatasetName::Titanic => &["age", "sibsp", "parch", "fare", "pclass", "sex", "embarked"],
            DatasetName::Adult => &[
                "age",
                "workclass",
                "fnlwgt",
                "education",
                "education-num",
                "marital-status",
                "occupation",
                "relationship",
                "race",
                "sex",
                "capital-gain",
                "capital-loss",
                "hours-per-week",
                "native-country",
            ],
            DatasetName::Friedman1 => {
                &["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10"]
            }
            DatasetName::Moons => &["u", "v", "noise1", "noise2", "band"],
        }
    }

    /// The name of the column the dataset predicts.
    pub fn target_column(self) -> &'static str {
        match self {
            DatasetName::Wine => "quality",
            DatasetName::Housing => "MedHouseVal",
            DatasetName::AutoMpg => "mpg",
            DatasetName::Titanic => "survived",
            DatasetName::Adult => "income",
            DatasetName::Friedman1 | DatasetName::Moons => "y",
        }
    }

    /// Built-in datasets need no files: they are generated from a seed.
    pub fn is_builtin(self) -> bool {
        matches!(self, DatasetName::Friedman1 | DatasetName::Moons)
    }
}

/// A name that is not one of [`DatasetName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`; expected one of: {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
    pub expected: String,
}

impl FromStr for DatasetName {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetName::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "dataset",
                name: s.to_string(),
                expected: DatasetName::ALL.map(|d| d.as_str()).join(", "),
            })
    }
}

impl TryFrom<String> for DatasetName {
    type Error = UnknownName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DatasetName> for String {
    fn from(d: DatasetName) -> String {
        d.as_str().to_string()
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for d in DatasetName::ALL {
            assert_eq!(d.as_str().parse::<DatasetName>().unwrap(), d);
        }
        let err = "mnist".parse::<DatasetName>().unwrap_err();
        assert!(err.to_string().contains("unknown dataset `mnist`"), "{err}");
        assert!(err.to_string().contains("autompg"), "{err}");
    }
}
