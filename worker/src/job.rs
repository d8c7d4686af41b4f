//! One job, end to end: load the data, train `f` and `g`, fit the STL
//! surrogate where needed, and measure everything a report needs.
//!
//! A job runs on a rayon pool of one thread (dfdx's matmul asks rayon for
//! its parallelism), so a worker can run one job per core and a job's
//! arithmetic is done in the same order on every run; that thread flushes
//! subnormals to zero (see `fpu`).

use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sweep_shared::{
    DatasetName, Explanation, GInit, JobResult, JobSpec, Metrics, Objective, Protocol,
    SettingsError, Task, CODE_VERSION, LR_COLLAPSED_BELOW,
};

use crate::data::{self, DataError, Dataset, Matrix};
use crate::lime::{gnf, Lime, Neighbourhood};
use crate::linalg::NumericError;
use crate::metrics;
use crate::model::Model;
use crate::objective::Plan;
use crate::{insertion, surrogate, train};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The no-op job kind's fault switch.
    #[error("{0}")]
    Injected(String),
    #[error("invalid job: {0}")]
    Invalid(#[from] SettingsError),
    #[error(transparent)]
    Data(#[from] DataError),
    /// The STL surrogate or a LIME explanation could not be fitted.
    #[error("training failed: {0}")]
    Numeric(#[from] NumericError),
    #[error("training failed: the model's predictions are not finite")]
    NotFinite,
    #[error("training failed: cannot start the job's thread: {0}")]
    Thread(#[from] rayon::ThreadPoolBuildError),
    #[error("invalid job: {0}")]
    AuxColumn(#[from] crate::auxiliary::AuxColumnError),
}

/// Independent random streams of one seed, so that changing how much one
/// stage draws never shifts another.
#[derive(Clone, Copy)]
enum Stream {
    Init = 0,
    Shuffle = 1,
    Lime = 2,
    Neighbours = 3,
    /// ExpO's regulariser neighbourhoods.
    Regulariser = 4,
    /// The auxiliary objective's bootstrap of its error correlations.
    Bootstrap = 5,
}

fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream as u64);
    r
}

/// Loads the job's dataset from `data_dir` and runs it.
pub fn run_job(spec: &JobSpec, data_dir: &Path) -> Result<JobResult, JobError> {
    spec.validate()?;
    if let Some(noop) = &spec.noop {
        return crate::noop::simulate(spec, noop);
    }
    let dataset = data::load(
        spec.dataset,
        data_dir,
        spec.settings.synthetic_rows,
        spec.settings.protocol,
    )?;
    run_on(spec, &dataset)
}

/// Runs a job on an already loaded dataset, single-threaded.
pub fn run_on(spec: &JobSpec, dataset: &Dataset) -> Result<JobResult, JobError> {
    spec.validate()?;
    let pool = crate::fpu::job_pool()?;
    pool.install(|| run_single_threaded(spec, dataset))
}

fn run_single_threaded(spec: &JobSpec, data: &Dataset) -> Result<JobResult, JobError> {
    if spec.objective == Objective::Auxiliary {
        return run_auxiliary(spec, data);
    }
    let (model, outcome) = train_f(spec, data)?;
    measure(spec, data, model, outcome, None)
}

/// Trains the job's `f` (and `g` where its objective trains one) on `data`.
fn train_f(spec: &JobSpec, data: &Dataset) -> Result<(Model, train::TrainOutcome), JobError> {
    let s = &spec.settings;
    let mut model = Model::new(
        data.task,
        data.inputs(),
        &s.hidden,
        &mut rng(spec.seed, Stream::Init),
    );
    let plan = Plan::of(spec);
    if plan.trains_g() && s.g_init == GInit::LeastSquares {
        train::init_g_least_squares(&mut model, &data.x_train, &data.y_train, s)?;
    }
    let outcome = train::train(
        &mut model,
        &data.x_train,
        &data.y_train,
        plan,
        s,
        &mut rng(spec.seed, Stream::Shuffle),
        rng(spec.seed, Stream::Regulariser),
    )?;
    Ok((model, outcome))
}

/// The main metric of a model on the test rows: MSE for regression,
/// accuracy for classification.
fn main_metric(model: &Model, data: &Dataset) -> Result<f64, JobError> {
    let f = model.predict_f(&data.x_test);
    if f.iter().any(|v| !v.is_finite()) {
        return Err(JobError::NotFinite);
    }
    Ok(match data.task {
        Task::Regression => metrics::mse(&f, &data.y_test),
        Task::Classification => metrics::accuracy_f1(&f, &data.y_test).0,
    })
}

/// The auxiliary objective: the two STL baselines (with the group as
/// input, without it), then the trunk with its heads on the inputs without
/// the group; that network's `f` is measured as STL's is, surrogate and
/// GNF included, with the heads' errors and correlations beside.
fn run_auxiliary(spec: &JobSpec, data: &Dataset) -> Result<JobResult, JobError> {
    let s = &spec.settings;
    let split = crate::auxiliary::split_group(data, &s.aux_columns)?;
    let started = Instant::now();
    let (with_model, _) = train_f(spec, data)?;
    let with_group = main_metric(&with_model, data)?;
    let (without_model, _) = train_f(spec, &split.reduced)?;
    let without_group = main_metric(&without_model, &split.reduced)?;
    let baselines_seconds = started.elapsed().as_secs_f64();

    let reduced = &split.reduced;
    let mut init = rng(spec.seed, Stream::Init);
    let mut net = crate::auxiliary::AuxNet::new(
        data.task,
        reduced.inputs(),
        &s.hidden,
        &split.targets,
        &mut init,
    );
    let mut outcome = crate::auxiliary::train(
        &mut net,
        reduced,
        &split.targets,
        s,
        &mut rng(spec.seed, Stream::Shuffle),
    );
    outcome.seconds += baselines_seconds;
    let errors = crate::auxiliary::point_errors(
        &net,
        &reduced.x_test,
        &reduced.y_test,
        &split.targets,
        true,
    );
    let heads = crate::auxiliary::heads_report(
        &errors,
        &split.targets,
        &mut rng(spec.seed, Stream::Bootstrap),
    );
    let model = net.into_model(&mut init);
    let as_target = main_metric(&model, reduced)?;
    let aux = sweep_shared::AuxMetrics {
        main_metric: match data.task {
            Task::Regression => "mse",
            Task::Classification => "accuracy",
        }
        .to_string(),
        without_group,
        with_group,
        as_target,
        heads,
    };
    measure(spec, reduced, model, outcome, Some(aux))
}

/// Measures a trained model: fits the surrogate where the objective did
/// not train one, then the metrics, GNF, insertion and deletion, and the
/// probe predictions the job asks for.
fn measure(
    spec: &JobSpec,
    data: &Dataset,
    mut model: Model,
    outcome: train::TrainOutcome,
    aux: Option<sweep_shared::AuxMetrics>,
) -> Result<JobResult, JobError> {
    let s = &spec.settings;
    let authors = s.protocol == Protocol::AuthorsCode;
    let plan = Plan::of(spec);
    let mut train_seconds = outcome.seconds;
    // The authors' STL classification surrogate predicts hard labels.
    let hard_g = authors && spec.objective == Objective::Stl && data.task == Task::Classification;
    if !plan.trains_g() {
        let started = Instant::now();
        let f_train = model.predict_f(&data.x_train);
        let (coef, intercept) = if hard_g {
            surrogate::fit_hard_labels(&data.x_train, &f_train)?
        } else {
            surrogate::fit(data.task, &data.x_train, &f_train)?
        };
        model.set_g(&coef, intercept);
        train_seconds += started.elapsed().as_secs_f64();
    }

    let started = Instant::now();
    let f_test = model.predict_f(&data.x_test);
    let g_test = if hard_g {
        // scikit-learn's `predict`: 1 where w·x + b > 0, on the logit
        // itself (the f32 sigmoid of a tiny positive logit rounds to 0.5).
        let (coef, intercept) = model.g_coefficients();
        (0..data.x_test.rows)
            .map(|i| {
                let row = data.x_test.row(i);
                let z = intercept
                    + row
                        .iter()
                        .zip(&coef)
                        .map(|(&x, c)| f64::from(x) * c)
                        .sum::<f64>();
                f32::from(u8::from(z > 0.0))
            })
            .collect()
    } else {
        model.predict_g(&data.x_test)
    };
    if f_test.iter().chain(&g_test).any(|v| !v.is_finite()) {
        return Err(JobError::NotFinite);
    }
    let predict = |m: &crate::data::Matrix| model.predict_f(m);
    let lime = Lime::new(
        &data.groups,
        &data.x_train,
        s,
        &mut rng(spec.seed, Stream::Lime),
        &predict,
    );
    // The authors' code explains 500 test points of Adult and Housing.
    let mut gnf_settings = s.clone();
    if authors && matches!(data.name, DatasetName::Adult | DatasetName::Housing) {
        gnf_settings.gnf_max_points = gnf_settings.gnf_max_points.min(500);
    }
    let around = Neighbourhood {
        scale: &data.noise_scale,
        random_categories: authors,
        coded: &data.coded,
    };
    let gnf = gnf(
        &lime,
        &data.x_test,
        &f_test,
        &gnf_settings,
        &around,
        &mut rng(spec.seed, Stream::Neighbours),
        &predict,
    )?;

    // Insertion and deletion over GNF's points, for both explainers.
    let ins_del_started = Instant::now();
    let chosen = Matrix::new(
        gnf.chosen
            .iter()
            .flat_map(|&i| data.x_test.row(i).to_vec())
            .collect(),
        gnf.chosen.len(),
        data.x_test.cols,
    );
    let f_chosen: Vec<f32> = gnf.chosen.iter().map(|&i| f_test[i]).collect();
    let baseline = insertion::baseline(&data.x_train);
    let (q, _) = model.g_coefficients();
    let by_g = insertion::surrogate_explanations(&q, &chosen, &baseline);
    let by_grad = insertion::gradient_explanations(&model, &chosen, &baseline);
    let ins_del =
        |e: &[f64]| insertion::scores(data.task, &chosen, &f_chosen, e, &baseline, &predict);
    let (of_g, of_grad) = (ins_del(&by_g), ins_del(&by_grad));
    tracing::debug!(
        points = chosen.rows,
        inputs = chosen.cols,
        seconds = ins_del_started.elapsed().as_secs_f64(),
        train_seconds,
        "insertion and deletion measured"
    );

    let (mut mse, mut r2, mut accuracy, mut f1) = (None, None, None, None);
    match data.task {
        Task::Regression => {
            mse = Some(metrics::mse(&f_test, &data.y_test));
            r2 = Some(metrics::r2(&f_test, &data.y_test));
        }
        Task::Classification => {
            let (a, f) = if authors {
                metrics::accuracy_macro_f1(&f_test, &data.y_test)
            } else {
                metrics::accuracy_f1(&f_test, &data.y_test)
            };
            accuracy = Some(a);
            f1 = Some(f);
        }
    }
    let gf_test = metrics::gf(&f_test, &g_test);
    let gf_target = match plan {
        Plan::Constrained { gf_target } => Some(gf_target),
        _ => None,
    };
    let metrics = Metrics {
        mse,
        r2,
        accuracy,
        f1,
        gf: gf_test,
        gnf: gnf.value,
        r2_fg: metrics::r2_fg(&f_test, &g_test),
        ins_g: Some(of_g.insertion),
        del_g: Some(of_g.deletion),
        ins_grad: Some(of_grad.insertion),
        del_grad: Some(of_grad.deletion),
        mu: outcome.mu,
        constraint_met_val: gf_target.zip(outcome.val_gf).map(|(eps, v)| v <= eps),
        constraint_met_test: gf_target.map(|eps| gf_test <= eps),
        aux,
        gnf_points: gnf.points,
        epochs: outcome.epochs,
        final_lr: outcome.final_lr,
        train_seconds,
        eval_seconds: started.elapsed().as_secs_f64(),
        stop_reason: Some(outcome.stop_reason),
        lr_collapsed: outcome.final_lr < LR_COLLAPSED_BELOW,
        degenerate: train::degenerate(data.task, mse, accuracy, &data.y_test),
    };
    let (coefficients, intercept) = model.g_coefficients();
    Ok(JobResult {
        spec: spec.clone(),
        metrics,
        explanation: Explanation {
            features: data.features.clone(),
            coefficients,
            intercept,
        },
        dataset_sha256: data.sha256.clone(),
        code_version: CODE_VERSION.to_string(),
        curve: outcome.curve,
        probes: crate::probes::predict(data, &model, s.probe_rows),
    })
}
