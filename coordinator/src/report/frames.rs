//! Stored results as Polars frames: one row per run, per failure, and per
//! (run, feature) for the explanations.

use polars::prelude::*;
use sweep_shared::{JobResult, JobSpec};

use super::groups::{group_rows, summary};
use super::{floats, ReportError};
use crate::state::Job;
use crate::store::ResultRow;

/// A stored result, parsed.
fn parse(r: &ResultRow) -> Result<JobResult, ReportError> {
    serde_json::from_str(&r.result_json).map_err(|source| ReportError::BadResult {
        key: r.key.to_string(),
        source,
    })
}

/// A metric as a column value: NaN and infinities become null, so they
/// never poison a mean.
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// A nullable float column.
fn col(name: &str, values: Vec<Option<f64>>) -> Column {
    Column::new(name.into(), values)
}

/// One row per finished job: the spec (dataset, objective, α, seed, every
/// setting), every metric, timings, worker, attempt and finish time.
pub fn runs(rows: &[ResultRow]) -> Result<DataFrame, ReportError> {
    let parsed: Vec<JobResult> = rows.iter().map(parse).collect::<Result<_, _>>()?;
    let spec = |f: &dyn Fn(&JobSpec) -> String| -> Vec<String> {
        parsed.iter().map(|r| f(&r.spec)).collect()
    };
    let metric = |f: &dyn Fn(&JobResult) -> Option<f64>| -> Vec<Option<f64>> {
        parsed.iter().map(|r| finite(f(r))).collect()
    };
    let s = |r: &JobResult| r.spec.settings.clone();
    let columns = vec![
        Column::new(
            "job_key".into(),
            rows.iter().map(|r| r.key.to_string()).collect::<Vec<_>>(),
        ),
        Column::new("dataset".into(), spec(&|s| s.dataset.to_string())),
        Column::new("objective".into(), spec(&|s| s.objective.to_string())),
        Column::new("column_label".into(), spec(&|s| s.column_label())),
        col(
            "objective_parameter",
            parsed
                .iter()
                .map(|r| r.spec.objective_parameter())
                .collect::<Vec<_>>(),
        ),
        col(
            "alpha",
            parsed.iter().map(|r| r.spec.alpha).collect::<Vec<_>>(),
        ),
        Column::new(
            "seed".into(),
            parsed.iter().map(|r| r.spec.seed).collect::<Vec<u64>>(),
        ),
        Column::new(
            "hidden".into(),
            spec(&|s| {
                s.settings
                    .hidden
                    .iter()
                    .map(|h| h.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        ),
        Column::new(
            "learning_rate".into(),
            parsed
                .iter()
                .map(|r| s(r).learning_rate)
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "batch_size".into(),
            parsed
                .iter()
                .map(|r| s(r).batch_size as u64)
                .collect::<Vec<u64>>(),
        ),
        Column::new(
            "max_epochs".into(),
            parsed
                .iter()
                .map(|r| s(r).max_epochs as u64)
                .collect::<Vec<u64>>(),
        ),
        Column::new(
            "patience".into(),
            parsed
                .iter()
                .map(|r| s(r).patience as u64)
                .collect::<Vec<u64>>(),
        ),
        Column::new("grid".into(), spec(&|s| s.grid_label())),
        Column::new(
            "protocol".into(),
            spec(&|s| text_of(&s.settings, "protocol")),
        ),
        Column::new(
            "lr_schedule".into(),
            spec(&|s| text_of(&s.settings, "lr_schedule")),
        ),
        Column::new(
            "lr_min_delta".into(),
            parsed
                .iter()
                .map(|r| s(r).lr_min_delta)
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "early_stopping_on".into(),
            spec(&|s| text_of(&s.settings, "early_stopping_on")),
        ),
        Column::new(
            "min_epochs".into(),
            parsed
                .iter()
                .map(|r| s(r).min_epochs as u64)
                .collect::<Vec<u64>>(),
        ),
        Column::new("g_init".into(), spec(&|s| text_of(&s.settings, "g_init"))),
        Column::new(
            "warmup_epochs".into(),
            parsed
                .iter()
                .map(|r| s(r).warmup_epochs as u64)
                .collect::<Vec<u64>>(),
        ),
        Column::new(
            "settings_json".into(),
            spec(&|s| serde_json::to_string(&s.settings).expect("settings serialise")),
        ),
        Column::new(
            "code_version".into(),
            parsed
                .iter()
                .map(|r| r.code_version.clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "run".into(),
            parsed
                .iter()
                .map(|r| r.spec.run.clone())
                .collect::<Vec<Option<String>>>(),
        ),
        Column::new(
            "dataset_sha256".into(),
            parsed
                .iter()
                .map(|r| r.dataset_sha256.clone())
                .collect::<Vec<_>>(),
        ),
        col("mse", metric(&|r| r.metrics.mse)),
        col("r2", metric(&|r| r.metrics.r2)),
        col("accuracy", metric(&|r| r.metrics.accuracy)),
        col("f1", metric(&|r| r.metrics.f1)),
        col("gf", metric(&|r| Some(r.metrics.gf))),
        col("gnf", metric(&|r| Some(r.metrics.gnf))),
        col("r2_fg", metric(&|r| Some(r.metrics.r2_fg))),
        col("ins_g", metric(&|r| r.metrics.ins_g)),
        col("del_g", metric(&|r| r.metrics.del_g)),
        col("ins_grad", metric(&|r| r.metrics.ins_grad)),
        col("del_grad", metric(&|r| r.metrics.del_grad)),
        col("mu", metric(&|r| r.metrics.mu)),
        Column::new(
            "constraint_met_val".into(),
            parsed
                .iter()
                .map(|r| r.metrics.constraint_met_val)
                .collect::<Vec<Option<bool>>>(),
        ),
        Column::new(
            "constraint_met_test".into(),
            parsed
                .iter()
                .map(|r| r.metrics.constraint_met_test)
                .collect::<Vec<Option<bool>>>(),
        ),
        Column::new(
            "gnf_points".into(),
            parsed
                .iter()
                .map(|r| r.metrics.gnf_points as u64)
                .collect::<Vec<u64>>(),
        ),
        col("epochs", metric(&|r| Some(r.metrics.epochs as f64))),
        col("final_lr", metric(&|r| Some(r.metrics.final_lr))),
        Column::new(
            "stop_reason".into(),
            parsed
                .iter()
                .map(|r| r.metrics.stop_reason.map(|s| s.as_str()))
                .collect::<Vec<Option<&str>>>(),
        ),
        Column::new(
            "lr_collapsed".into(),
            parsed
                .iter()
                .map(|r| r.metrics.lr_collapsed)
                .collect::<Vec<bool>>(),
        ),
        Column::new(
            "degenerate".into(),
            parsed
                .iter()
                .map(|r| r.metrics.degenerate)
                .collect::<Vec<bool>>(),
        ),
        col("train_seconds", metric(&|r| Some(r.metrics.train_seconds))),
        col("eval_seconds", metric(&|r| Some(r.metrics.eval_seconds))),
        Column::new(
            "worker_id".into(),
            rows.iter()
                .map(|r| r.worker.to_string())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "attempt".into(),
            rows.iter().map(|r| r.attempt.get()).collect::<Vec<u32>>(),
        ),
        Column::new(
            "finished_ms".into(),
            rows.iter().map(|r| r.finished_ms).collect::<Vec<i64>>(),
        ),
    ];
    Ok(DataFrame::new_infer_height(columns)?)
}

/// A setting's value as the sweep file writes it.
fn text_of(s: &sweep_shared::TrainSettings, name: &str) -> String {
    s.value_text(name).unwrap_or_default()
}

/// One row per (run, epoch): the validation losses and learning rate of
/// each epoch of training, warm-up epochs first.
pub fn curves(rows: &[ResultRow]) -> Result<DataFrame, ReportError> {
    let (mut key, mut dataset, mut objective, mut alpha, mut seed, mut grid) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut epoch, mut phase, mut prediction, mut fidelity, mut joint, mut lr) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for r in rows {
        let result = parse(r)?;
        let label = result.spec.grid_label();
        for (i, e) in result.curve.iter().enumerate() {
            key.push(r.key.to_string());
            dataset.push(result.spec.dataset.to_string());
            objective.push(result.spec.objective.to_string());
            alpha.push(result.spec.alpha);
            seed.push(result.spec.seed);
            grid.push(label.clone());
            epoch.push(i as u32);
            phase.push(if e.warmup { "warmup" } else { "train" });
            prediction.push(finite(Some(e.prediction)));
            fidelity.push(finite(e.fidelity));
            joint.push(finite(Some(e.joint)));
            lr.push(e.lr);
        }
    }
    Ok(DataFrame::new_infer_height(vec![
        Column::new("job_key".into(), key),
        Column::new("dataset".into(), dataset),
        Column::new("objective".into(), objective),
        col("alpha", alpha),
        Column::new("seed".into(), seed),
        Column::new("grid".into(), grid),
        Column::new("epoch".into(), epoch),
        Column::new("phase".into(), phase),
        col("val_prediction_loss", prediction),
        col("val_fidelity", fidelity),
        col("val_joint_loss", joint),
        Column::new("learning_rate".into(), lr),
    ])?)
}

/// One row per failed job, with the last error text.
pub fn failures(failed: &[(Job, String)]) -> Result<DataFrame, ReportError> {
    let specs: Vec<Option<JobSpec>> = failed
        .iter()
        .map(|(j, _)| serde_json::from_str(&j.spec_json).ok())
        .collect();
    let text = |f: &dyn Fn(&JobSpec) -> String| -> Vec<String> {
        specs
            .iter()
            .map(|s| s.as_ref().map(f).unwrap_or_default())
            .collect()
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new(
            "job_key".into(),
            failed
                .iter()
                .map(|(j, _)| j.key.to_string())
                .collect::<Vec<_>>(),
        ),
        Column::new("dataset".into(), text(&|s| s.dataset.to_string())),
        Column::new("objective".into(), text(&|s| s.objective.to_string())),
        col(
            "alpha",
            specs
                .iter()
                .map(|s| s.as_ref().and_then(|s| s.alpha))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "seed".into(),
            specs
                .iter()
                .map(|s| s.as_ref().map(|s| s.seed).unwrap_or(0))
                .collect::<Vec<u64>>(),
        ),
        Column::new(
            "attempts".into(),
            failed.iter().map(|(j, _)| j.attempts).collect::<Vec<u32>>(),
        ),
        Column::new(
            "error".into(),
            failed.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "spec_json".into(),
            failed
                .iter()
                .map(|(j, _)| j.spec_json.clone())
                .collect::<Vec<_>>(),
        ),
    ])?;
    Ok(frame)
}

/// One row per (run, feature): the surrogate's coefficient, with its mean
/// and standard deviation over the seeds of the cell.
pub fn explanations(rows: &[ResultRow]) -> Result<DataFrame, ReportError> {
    let (mut key, mut dataset, mut objective, mut alpha, mut seed, mut feature, mut coefficient) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for r in rows {
        let result = parse(r)?;
        for (f, c) in result
            .explanation
            .features
            .iter()
            .zip(&result.explanation.coefficients)
        {
            key.push(r.key.to_string());
            dataset.push(result.spec.dataset.to_string());
            objective.push(result.spec.objective.to_string());
            alpha.push(result.spec.alpha);
            seed.push(result.spec.seed);
            feature.push(f.clone());
            coefficient.push(finite(Some(*c)));
        }
    }
    let df = DataFrame::new_infer_height(vec![
        Column::new("job_key".into(), key),
        Column::new("dataset".into(), dataset),
        Column::new("objective".into(), objective),
        col("alpha", alpha),
        Column::new("seed".into(), seed),
        Column::new("feature".into(), feature),
        col("coefficient", coefficient),
    ])?;
    // Each coefficient's cell: the same dataset, objective, α and feature.
    let groups = group_rows(&df, &["dataset", "objective", "alpha", "feature"])?;
    let coefficient = floats(&df, "coefficient")?;
    let (mut cell_mean, mut cell_std) = (vec![None; df.height()], vec![None; df.height()]);
    for rows in &groups {
        let (_, mean, std) = summary(&coefficient, rows);
        for &i in rows {
            cell_mean[i] = mean;
            cell_std[i] = std;
        }
    }
    let mut df = df;
    df.with_column(Column::new("cell_mean".into(), cell_mean))?;
    df.with_column(Column::new("cell_std".into(), cell_std))?;
    Ok(df)
}
