//! The five paper datasets, loaded from the real files beside the project
//! (`../shared/datasets`), against values computed independently with
//! numpy and scikit-learn.

use std::path::PathBuf;

use sweep_shared::{DatasetName, Task};
use sweep_worker::data::{self, DataError, Dataset, FeatureGroup};

fn shared_datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets")
}

fn load(name: DatasetName) -> Dataset {
    data::load(
        name,
        &shared_datasets(),
        2000,
        sweep_shared::Protocol::Method,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn close(a: f32, b: f64) -> bool {
    (f64::from(a) - b).abs() < 1e-5
}

/// Every model input of the training set has mean 0 and std 1, or is one-hot.
fn check_standardised(d: &Dataset) {
    for g in &d.groups {
        match *g {
            FeatureGroup::Continuous { col } => {
                let v: Vec<f64> = (0..d.x_train.rows)
                    .map(|i| f64::from(d.x_train.row(i)[col]))
                    .collect();
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
                assert!(
                    mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
                    "{}: {} {mean} {var}",
                    d.name,
                    d.features[col]
                );
            }
            FeatureGroup::OneHot { start, len } => {
                for i in 0..d.x_train.rows {
                    let s: f32 = d.x_train.row(i)[start..start + len].iter().sum();
                    assert_eq!(
                        s, 1.0,
                        "{}: training row {i} has no single hot category",
                        d.name
                    );
                }
            }
        }
    }
}

#[test]
fn wine_matches_scikit_learn_preprocessing() {
    let d = load(DatasetName::Wine);
    assert_eq!((d.x_train.rows, d.x_test.rows, d.inputs()), (1279, 320, 11));
    assert_eq!(d.task, Task::Regression);
    let r0 = d.x_train.row(0);
    assert!(
        close(r0[0], 0.21833164) && close(r0[1], 0.88971201) && close(r0[2], 0.19209222),
        "{r0:?}"
    );
    assert!(close(d.y_train[0], 0.46625122));
    assert!(close(d.x_test.row(0)[0], -0.36185985));
    check_standardised(&d);
}

#[test]
fn housing_derives_the_scikit_learn_features() {
    let d = load(DatasetName::Housing);
    assert_eq!(
        (d.x_train.rows, d.x_test.rows, d.inputs()),
        (16512, 4128, 8)
    );
    assert_eq!(d.features[..3], ["MedInc", "HouseAge", "AveRooms"]);
    let r0 = d.x_train.row(0);
    assert!(
        close(r0[0], -0.326196) && close(r0[1], 0.34849025) && close(r0[2], -0.17491646),
        "{r0:?}"
    );
    assert!(close(d.y_test[0], -1.37948366));
    check_standardised(&d);
}

#[test]
fn auto_mpg_drops_missing_horsepower_and_one_hot_encodes_origin() {
    let d = load(DatasetName::AutoMpg);
    assert_eq!(
        (d.x_train.rows + d.x_test.rows, d.x_test.rows, d.inputs()),
        (392, 79, 9)
    );
    assert_eq!(d.features[6..], ["origin=1", "origin=2", "origin=3"]);
    check_standardised(&d);
}

#[test]
fn titanic_drops_leaky_columns_and_imputes() {
    let d = load(DatasetName::Titanic);
    assert_eq!((d.x_train.rows, d.x_test.rows, d.inputs()), (1047, 262, 12));
    assert_eq!(
        d.features,
        [
            "age",
            "sibsp",
            "parch",
            "fare",
            "pclass=1",
            "pclass=2",
            "pclass=3",
            "sex=female",
            "sex=male",
            "embarked=C",
            "embarked=Q",
            "embarked=S"
        ]
    );
    assert_eq!(d.task, Task::Classification);
    assert!(d
        .y_train
        .iter()
        .chain(&d.y_test)
        .all(|&y| y == 0.0 || y == 1.0));
    let survivors: f32 = d.y_train.iter().chain(&d.y_test).sum();
    assert_eq!(survivors, 500.0);
    check_standardised(&d);
}

#[test]
fn adult_uses_its_own_test_file_and_training_categories() {
    let d = load(DatasetName::Adult);
    assert_eq!((d.x_train.rows, d.x_test.rows), (32561, 16281));
    assert_eq!(d.y_train.iter().sum::<f32>(), 7841.0);
    assert_eq!(d.y_test.iter().sum::<f32>(), 3846.0);
    // 6 numeric + 8 workclass + 16 education + 7 marital + 14 occupation
    // + 6 relationship + 5 race + 2 sex + 41 native-country.
    assert_eq!(d.inputs(), 105);
    assert!(d.features.contains(&"sex=Male".to_string()));
    assert!(
        !d.features.iter().any(|f| f.ends_with("=?")),
        "`?` is imputed, not a category"
    );
    assert_eq!(d.groups.len(), 14);
    check_standardised(&d);
}

#[test]
fn built_in_datasets_need_no_files_and_never_change() {
    let nowhere = PathBuf::from("/nonexistent");
    let a = data::load(
        DatasetName::Friedman1,
        &nowhere,
        500,
        sweep_shared::Protocol::Method,
    )
    .unwrap();
    let b = data::load(
        DatasetName::Friedman1,
        &nowhere,
        500,
        sweep_shared::Protocol::Method,
    )
    .unwrap();
    assert_eq!((a.x_train.rows, a.x_test.rows, a.inputs()), (400, 100, 10));
    assert_eq!(a.x_train, b.x_train);
    assert_eq!(a.sha256, b.sha256);
    let m = data::load(
        DatasetName::Moons,
        &nowhere,
        500,
        sweep_shared::Protocol::Method,
    )
    .unwrap();
    assert_eq!((m.task, m.inputs()), (Task::Classification, 7));
    check_standardised(&m);
}

#[test]
fn a_missing_or_corrupt_file_is_a_clear_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("sweep-data-test-{}", std::process::id()));
    let wine = dir.join("wine-quality/winequality-red.csv");
    std::fs::create_dir_all(wine.parent().unwrap()).unwrap();

    let err = data::load(
        DatasetName::AutoMpg,
        &dir,
        0,
        sweep_shared::Protocol::Method,
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
    assert!(err.to_string().contains("auto-mpg/auto-mpg.data"), "{err}");

    let mut bytes =
        std::fs::read(shared_datasets().join("wine-quality/winequality-red.csv")).unwrap();
    bytes[500] ^= 1;
    std::fs::write(&wine, bytes).unwrap();
    let err = data::load(DatasetName::Wine, &dir, 0, sweep_shared::Protocol::Method).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("winequality-red.csv: checksum mismatch"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn load_as_authors(name: DatasetName) -> Dataset {
    data::load(
        name,
        &shared_datasets(),
        2000,
        sweep_shared::Protocol::AuthorsCode,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The authors' Adult: the 14 columns in file order, categorical ones as
/// label codes, all standardised on `adult.data`; row 0's inputs as
/// `validation/authors_facts.py` printed them with scikit-learn.
#[test]
fn authors_adult_is_fourteen_label_coded_columns() {
    let d = load_as_authors(DatasetName::Adult);
    assert_eq!(d.inputs(), 14);
    assert_eq!(
        d.features,
        [
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
            "native-country"
        ]
    );
    assert_eq!((d.x_train.rows, d.x_test.rows), (32_561, 16_281));
    let expected = [
        0.03067055735,
        2.624297634,
        -1.063610745,
        -0.335436928,
        1.134738764,
        0.9216339465,
        -1.545255775,
        -0.2778050392,
        0.3936675268,
        0.703071345,
        0.1484528952,
        -0.216659527,
        -0.03542944697,
        0.2613699889,
    ];
    for (j, &e) in expected.iter().enumerate() {
        assert!(
            close(d.x_train.row(0)[j], e),
            "{}: {} vs {e}",
            d.features[j],
            d.x_train.row(0)[j]
        );
    }
    assert_eq!(d.coded, [1, 3, 5, 6, 7, 8, 9, 13]);
    check_standardised(&d);
}

/// The authors' Wine split (pandas' sample) and Titanic's imputation over
/// all rows before the split.
#[test]
fn authors_wine_split_and_titanic_imputation() {
    let d = load_as_authors(DatasetName::Wine);
    assert_eq!((d.x_train.rows, d.x_test.rows), (1279, 320));
    let method = load(DatasetName::Wine);
    assert_ne!(d.x_test.row(0), method.x_test.row(0));
    // Titanic: the same 12 inputs; a missing age takes the all-rows mean
    // 29.88113451, which standardises with the training mean 29.60161876.
    let t = load_as_authors(DatasetName::Titanic);
    assert_eq!(t.inputs(), 12);
    assert_eq!(t.features, load(DatasetName::Titanic).features);
    // Neighbour noise is in raw units for Titanic, model units for Wine.
    assert!(t.noise_scale[..4].iter().all(|&s| s != 1.0));
    assert!(d.noise_scale.iter().all(|&s| s == 1.0));
}

/// The sweep file's `aux` groups are checked against
/// `DatasetName::input_columns` on the coordinator, which has no data; the
/// worker splits by the loaders' own names. The two lists must agree, or a
/// group the coordinator accepts would fail on every worker.
#[test]
fn input_columns_name_the_loaders_source_columns() {
    for name in [
        DatasetName::Wine,
        DatasetName::Housing,
        DatasetName::AutoMpg,
        DatasetName::Titanic,
        DatasetName::Adult,
    ] {
        let d = load(name);
        let mut loaded: Vec<String> = d
            .groups
            .iter()
            .map(|g| sweep_worker::auxiliary::source_name(&d, g))
            .collect();
        let mut declared: Vec<String> =
            name.input_columns().iter().map(|c| c.to_string()).collect();
        loaded.sort();
        declared.sort();
        assert_eq!(loaded, declared, "{name}");
    }
}
