//! The preprocessing of method.md, shared by every dataset: split, impute
//! (mean / mode), standardise, one-hot; every statistic fitted on the
//! training rows only.

use std::collections::BTreeMap;

use sweep_shared::{DatasetName, Task};

use super::split::train_test_split;
use super::{ContentError, Dataset, FeatureGroup, Matrix};

/// Parsed rows before preprocessing; `None` is a missing value.
#[derive(Debug, Clone, Default)]
pub struct RawTable {
    pub numeric_names: Vec<String>,
    pub categorical_names: Vec<String>,
    pub numeric: Vec<Vec<Option<f64>>>,
    pub categorical: Vec<Vec<Option<String>>>,
    pub target: Vec<f64>,
}

impl RawTable {
    pub fn new(numeric: &[&str], categorical: &[&str]) -> Self {
        RawTable {
            numeric_names: numeric.iter().map(|s| s.to_string()).collect(),
            categorical_names: categorical.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    pub fn push(
        &mut self,
        numeric: Vec<Option<f64>>,
        categorical: Vec<Option<String>>,
        target: f64,
    ) {
        debug_assert_eq!(numeric.len(), self.numeric_names.len());
        debug_assert_eq!(categorical.len(), self.categorical_names.len());
        self.numeric.push(numeric);
        self.categorical.push(categorical);
        self.target.push(target);
    }
}

/// Which rows are for training and which for testing.
#[derive(Debug, Clone, Copy)]
pub enum Partition {
    /// scikit-learn's shuffled split with a fixed seed.
    Shuffled { test_fraction: f64, seed: u32 },
    /// The first `n_train` rows train, the rest test (Adult's own files).
    Given { n_train: usize },
}

pub fn preprocess(
    name: DatasetName,
    raw: RawTable,
    partition: Partition,
    sha256: String,
) -> Result<Dataset, ContentError> {
    // Borrowed, so the column closures below capture a reference.
    let raw = &raw;
    let n = raw.target.len();
    let (train, test) = match partition {
        Partition::Shuffled {
            test_fraction,
            seed,
        } => train_test_split(n, test_fraction, seed),
        Partition::Given { n_train } => ((0..n_train).collect(), (n_train..n).collect()),
    };
    if train.len() < 10 || test.is_empty() {
        return Err(ContentError::TooFewRows {
            train: train.len(),
            test: test.len(),
        });
    }

    let mut features = Vec::new();
    let mut groups = Vec::new();
    // Columns of the model input, each a closure over a raw row index.
    let mut columns: Vec<Box<dyn Fn(usize) -> f64 + '_>> = Vec::new();

    for (j, col_name) in raw.numeric_names.iter().enumerate() {
        let value = move |i: usize| raw.numeric[i][j];
        let present: Vec<f64> = train.iter().filter_map(|&i| value(i)).collect();
        if present.is_empty() {
            return Err(ContentError::NoTrainingValue(col_name.clone()));
        }
        let fill = mean(&present);
        let imputed: Vec<f64> = train.iter().map(|&i| value(i).unwrap_or(fill)).collect();
        let (mu, sd) = mean_std(&imputed);
        groups.push(FeatureGroup::Continuous { col: columns.len() });
        features.push(col_name.clone());
        columns.push(Box::new(move |i| (value(i).unwrap_or(fill) - mu) / sd));
    }

    for (j, col_name) in raw.categorical_names.iter().enumerate() {
        let value = move |i: usize| raw.categorical[i][j].as_deref();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &train {
            if let Some(v) = value(i) {
                *counts.entry(v).or_default() += 1;
            }
        }
        // The most frequent training category; ties go to the first in
        // sorted order, as scikit-learn's SimpleImputer does.
        let mode = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, _)| *k)
            .ok_or_else(|| ContentError::NoTrainingValue(col_name.clone()))?;
        let start = columns.len();
        // Categories sorted, as scikit-learn's OneHotEncoder orders them; a
        // category never seen in training encodes as all zeros.
        for category in counts.keys().copied() {
            features.push(format!("{col_name}={category}"));
            columns.push(Box::new(move |i| {
                f64::from(value(i).unwrap_or(mode) == category)
            }));
        }
        groups.push(FeatureGroup::OneHot {
            start,
            len: columns.len() - start,
        });
    }

    let build = |rows: &[usize]| {
        let mut data = Vec::with_capacity(rows.len() * columns.len());
        for &i in rows {
            data.extend(columns.iter().map(|c| c(i) as f32));
        }
        Matrix::new(data, rows.len(), columns.len())
    };
    let x_train = build(&train);
    let x_test = build(&test);

    let task = name.task();
    let (y_train, y_test) = match task {
        Task::Regression => {
            let train_y: Vec<f64> = train.iter().map(|&i| raw.target[i]).collect();
            let (mu, sd) = mean_std(&train_y);
            let scale = |rows: &[usize]| {
                rows.iter()
                    .map(|&i| ((raw.target[i] - mu) / sd) as f32)
                    .collect()
            };
            (scale(&train), scale(&test))
        }
        Task::Classification => {
            let pick = |rows: &[usize]| rows.iter().map(|&i| raw.target[i] as f32).collect();
            (pick(&train), pick(&test))
        }
    };
    Ok(Dataset {
        name,
        task,
        features,
        groups,
        x_train,
        y_train,
        x_test,
        y_test,
        sha256,
    })
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Mean and population standard deviation (1 where it is 0), as
/// scikit-learn's StandardScaler computes them.
pub(crate) fn mean_std(v: &[f64]) -> (f64, f64) {
    let mu = mean(v);
    let var = v.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / v.len() as f64;
    let sd = var.sqrt();
    (mu, if sd > 0.0 { sd } else { 1.0 })
}
