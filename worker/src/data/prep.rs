//! The preprocessing of method.md, shared by every dataset: split, impute
//! (mean / mode), standardise, one-hot; every statistic fitted on the
//! training rows only. `Preparation` holds the authors' code's departures
//! from it (`docs/protocols.md`).

use std::collections::BTreeMap;

use sweep_shared::{DatasetName, Protocol, Task};

use super::split::{pandas_sample_split, train_test_split};
use super::{ContentError, Dataset, FeatureGroup, Matrix};

/// Parsed rows before preprocessing; `None` is a missing value.
#[derive(Debug, Clone, Default)]
pub struct RawTable {
    pub numeric_names: Vec<String>,
    pub categorical_names: Vec<String>,
    pub numeric: Vec<Vec<Option<f64>>>,
    pub categorical: Vec<Vec<Option<String>>>,
    pub target: Vec<f64>,
    /// Every column name in the file's order, where the model inputs may
    /// follow it (label codes); empty otherwise.
    pub file_order: Vec<String>,
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
    /// pandas' `df.sample(frac, random_state=seed)` trains, the rest test
    /// (the authors' Wine split).
    Sampled { frac: f64, seed: u32 },
}

/// How the data is prepared where a protocol departs from method.md.
#[derive(Debug, Clone, Copy, Default)]
pub struct Preparation {
    /// Categorical columns become one standardised label code each (the
    /// index among the sorted training categories), in the file's column
    /// order, instead of one-hot groups (the authors' Adult).
    pub label_codes: bool,
    /// Missing numbers take the mean over all rows, missing categories the
    /// next value present in file order, before the split (the authors'
    /// Titanic).
    pub impute_before_split: bool,
    /// GNF's neighbours are perturbed in the raw units of each numeric
    /// column (the authors' LIME table is unstandardised), not in model units.
    pub raw_unit_noise: bool,
}

impl Preparation {
    pub fn of(name: DatasetName, protocol: Protocol) -> Preparation {
        match protocol {
            Protocol::Method => Preparation::default(),
            Protocol::AuthorsCode => Preparation {
                label_codes: name == DatasetName::Adult,
                impute_before_split: name == DatasetName::Titanic,
                // Wine's and Housing's LIME tables are the standardised inputs.
                raw_unit_noise: !matches!(name, DatasetName::Wine | DatasetName::Housing),
            },
        }
    }
}

/// One model input, as a function of a raw row index.
type Column<'a> = Box<dyn Fn(usize) -> f64 + 'a>;

pub fn preprocess(
    name: DatasetName,
    raw: RawTable,
    partition: Partition,
    sha256: String,
    prep: Preparation,
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
        Partition::Sampled { frac, seed } => pandas_sample_split(n, frac, seed),
    };
    if train.len() < 10 || test.is_empty() {
        return Err(ContentError::TooFewRows {
            train: train.len(),
            test: test.len(),
        });
    }

    let all_rows: Vec<usize> = (0..n).collect();
    let fill_rows = if prep.impute_before_split {
        &all_rows
    } else {
        &train
    };
    // Each categorical column's values, back-filled where the protocol says so.
    let categorical: Vec<Vec<Option<&str>>> = (0..raw.categorical_names.len())
        .map(|j| {
            let mut values: Vec<Option<&str>> =
                raw.categorical.iter().map(|r| r[j].as_deref()).collect();
            if prep.impute_before_split {
                for i in (0..values.len().saturating_sub(1)).rev() {
                    if values[i].is_none() {
                        values[i] = values[i + 1];
                    }
                }
            }
            values
        })
        .collect();
    let categorical = &categorical;
    let mut features = Vec::new();
    let mut groups = Vec::new();
    // Columns of the model input, each a closure over a raw row index.
    let mut columns: Vec<Column<'_>> = Vec::new();
    let mut noise_scale = Vec::new();
    let mut coded = Vec::new();

    for (j, col_name) in raw.numeric_names.iter().enumerate() {
        let value = move |i: usize| raw.numeric[i][j];
        let present: Vec<f64> = fill_rows.iter().filter_map(|&i| value(i)).collect();
        if present.is_empty() {
            return Err(ContentError::NoTrainingValue(col_name.clone()));
        }
        let fill = mean(&present);
        let imputed: Vec<f64> = train.iter().map(|&i| value(i).unwrap_or(fill)).collect();
        let (mu, sd) = mean_std(&imputed);
        groups.push(FeatureGroup::Continuous { col: columns.len() });
        features.push(col_name.clone());
        columns.push(Box::new(move |i| (value(i).unwrap_or(fill) - mu) / sd));
        noise_scale.push(if prep.raw_unit_noise { 1.0 / sd } else { 1.0 } as f32);
    }

    for (j, col_name) in raw.categorical_names.iter().enumerate() {
        let value = move |i: usize| categorical[j][i];
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
        if prep.label_codes {
            // LabelEncoder's codes: the index among the sorted training
            // categories, standardised like a number.
            let code = move |i: usize| {
                let v = value(i).unwrap_or(mode);
                counts.keys().position(|&c| c == v).unwrap_or(0) as f64
            };
            let codes: Vec<f64> = train.iter().map(|&i| code(i)).collect();
            let (mu, sd) = mean_std(&codes);
            coded.push(columns.len());
            groups.push(FeatureGroup::Continuous { col: columns.len() });
            features.push(col_name.clone());
            columns.push(Box::new(move |i| (code(i) - mu) / sd));
            noise_scale.push((1.0 / sd) as f32);
            continue;
        }
        let start = columns.len();
        // Categories sorted, as scikit-learn's OneHotEncoder orders them; a
        // category never seen in training encodes as all zeros.
        for category in counts.keys().copied() {
            features.push(format!("{col_name}={category}"));
            columns.push(Box::new(move |i| {
                f64::from(value(i).unwrap_or(mode) == category)
            }));
            noise_scale.push(1.0);
        }
        groups.push(FeatureGroup::OneHot {
            start,
            len: columns.len() - start,
        });
    }

    if prep.label_codes && !raw.file_order.is_empty() {
        // Every column is one input now: put them in the file's order.
        let mut order: Vec<usize> = (0..columns.len()).collect();
        let rank = |name: &str| {
            raw.file_order
                .iter()
                .position(|c| c == name)
                .expect("every column is in the file's order")
        };
        order.sort_by_key(|&c| rank(&features[c]));
        let mut taken: Vec<Option<Column<'_>>> = columns.into_iter().map(Some).collect();
        columns = order
            .iter()
            .map(|&c| taken[c].take().expect("once"))
            .collect();
        features = order.iter().map(|&c| features[c].clone()).collect();
        noise_scale = order.iter().map(|&c| noise_scale[c]).collect();
        coded = (0..order.len())
            .filter(|&k| coded.contains(&order[k]))
            .collect();
        groups = (0..order.len())
            .map(|col| FeatureGroup::Continuous { col })
            .collect();
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
        noise_scale,
        coded,
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
