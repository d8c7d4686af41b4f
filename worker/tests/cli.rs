//! `worker` as a user runs it: a real process, its stdout JSON and its
//! errors.

use std::process::{Command, Output};

use serde_json::Value;

fn worker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_worker"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the worker binary runs")
}

/// A small but complete job: every stage (training, surrogate, LIME) runs.
const SMALL: [&str; 10] = [
    "--hidden",
    "32,16",
    "--max-epochs",
    "4",
    "--synthetic-rows",
    "300",
    "--lime-samples",
    "300",
    "--gnf-max-points",
    "40",
];

fn train(args: &[&str]) -> Value {
    let mut all = vec!["train"];
    all.extend_from_slice(args);
    all.extend_from_slice(&SMALL);
    let out = worker(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

fn without_timings(mut v: Value) -> Value {
    let m = v["metrics"].as_object_mut().unwrap();
    m.remove("train_seconds").expect("timings are reported");
    m.remove("eval_seconds").expect("timings are reported");
    v
}

#[test]
fn the_same_job_gives_identical_results_in_two_processes() {
    let args = [
        "--dataset",
        "moons",
        "--objective",
        "mtl",
        "--alpha",
        "0.3",
        "--seed",
        "7",
    ];
    let a = without_timings(train(&args));
    let b = without_timings(train(&args));
    assert_eq!(a, b);
    let m = &a["metrics"];
    for key in ["accuracy", "f1", "gf", "gnf", "r2_fg", "epochs", "final_lr"] {
        assert!(m[key].is_number(), "metrics.{key} missing in {m}");
    }
    assert!(
        m.get("mse").is_none(),
        "no regression metric for a classification task"
    );
    assert_eq!(a["spec"]["alpha"], 0.3);
    assert_eq!(a["explanation"]["features"].as_array().unwrap().len(), 7);
    // Another seed is another run.
    let c = without_timings(train(&[
        "--dataset",
        "moons",
        "--objective",
        "mtl",
        "--alpha",
        "0.3",
        "--seed",
        "8",
    ]));
    assert_ne!(a["metrics"], c["metrics"]);
}

#[test]
fn stl_on_regression_reports_mse_and_r2_and_a_fitted_surrogate() {
    let v = train(&[
        "--dataset",
        "friedman1",
        "--objective",
        "stl",
        "--seed",
        "0",
    ]);
    let m = &v["metrics"];
    assert!(
        m["mse"].as_f64().unwrap() > 0.0 && m["r2"].as_f64().unwrap() < 1.0,
        "{m}"
    );
    // The post-hoc OLS surrogate explains f well on Friedman #1 but not perfectly.
    let r2_fg = m["r2_fg"].as_f64().unwrap();
    assert!(r2_fg > 0.3 && r2_fg < 1.0, "{m}");
    assert!(v["spec"]["alpha"].is_null());
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let out = worker(&[
        "train",
        "--dataset",
        "mnist",
        "--objective",
        "mtl",
        "--alpha",
        "0.5",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dataset `mnist`"));

    let out = worker(&[
        "train",
        "--dataset",
        "moons",
        "--objective",
        "mtl",
        "--alpha",
        "1.5",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("alpha: 1.5 is outside (0, 1)"));

    let out = worker(&[
        "train",
        "--dataset",
        "wine",
        "--objective",
        "stl",
        "--data-dir",
        "/nonexistent",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/wine-quality/winequality-red.csv"),
        "{err}"
    );
}

#[test]
fn bench_step_prints_its_figures() {
    let out = worker(&[
        "bench-step",
        "--inputs",
        "4",
        "--hidden",
        "16,8",
        "--batch",
        "8",
        "--steps",
        "50",
    ]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["us_per_step"].as_f64().unwrap() > 0.0);
    assert_eq!(v["hidden"], serde_json::json!([16, 8]));
}

/// ExpO, ID-ExpO (both tasks) and the constrained objective: the same job
/// in two processes gives the same bits, and each says what it measured.
#[test]
fn each_new_objective_is_deterministic_across_processes() {
    let jobs: [&[&str]; 5] = [
        &[
            "--objective",
            "expo",
            "--alpha",
            "0.5",
            "--dataset",
            "friedman1",
        ],
        &[
            "--objective",
            "idexpo",
            "--alpha",
            "0.5",
            "--dataset",
            "moons",
        ],
        &[
            "--objective",
            "idexpo",
            "--alpha",
            "0.5",
            "--set",
            "idexpo_explainer=gradient",
            "--dataset",
            "moons",
        ],
        &[
            "--objective",
            "idexpo",
            "--alpha",
            "0.5",
            "--dataset",
            "friedman1",
        ],
        &[
            "--objective",
            "constrained",
            "--set",
            "gf_target=0.05",
            "--dataset",
            "moons",
        ],
    ];
    for args in jobs {
        let a = without_timings(train(args));
        let b = without_timings(train(args));
        assert_eq!(a, b, "{args:?}");
        let m = &a["metrics"];
        assert!(m["gf"].is_number() && m["ins_g"].is_number(), "{m}");
        if args[1] == "constrained" {
            assert!(m["mu"].as_f64().unwrap() >= 0.0, "{m}");
            assert!(m["constraint_met_val"].is_boolean(), "{m}");
            assert!(m["constraint_met_test"].is_boolean(), "{m}");
            assert!(a["spec"]["alpha"].is_null());
        } else {
            assert!(m.get("mu").is_none(), "{m}");
        }
    }
}

/// Bad settings of the new objectives are refused, naming the field.
#[test]
fn bad_objective_settings_are_refused_by_name() {
    let cases: [(&[&str], &str); 4] = [
        (&["--objective", "constrained"], "gf_target: required"),
        (
            &[
                "--objective",
                "expo",
                "--alpha",
                "0.5",
                "--set",
                "expo_lambda=-1",
            ],
            "expo_lambda:",
        ),
        (
            &[
                "--objective",
                "idexpo",
                "--alpha",
                "0.5",
                "--set",
                "idexpo_tau=-2",
            ],
            "idexpo_tau:",
        ),
        (
            &[
                "--objective",
                "idexpo",
                "--alpha",
                "0.5",
                "--set",
                "idexpo_explainer=shap",
            ],
            "idexpo_explainer",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["train", "--dataset", "moons"];
        all.extend_from_slice(args);
        let out = worker(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
