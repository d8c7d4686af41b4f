//! The no-op job kind: a sleep and a fake result derived from a hash of the
//! spec. It exercises everything around training (leases, retries, result
//! storage, reports) at any speed, for tests and load benchmarks.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use sha2::{Digest, Sha256};
use sweep_shared::{Explanation, JobResult, JobSpec, Metrics, NoopJob, Task, CODE_VERSION};

use crate::job::JobError;

pub fn simulate(spec: &JobSpec, noop: &NoopJob) -> Result<JobResult, JobError> {
    // The crash switch, for the tests of a job that panics: the panic must
    // become the job's failure report and release its lease.
    if std::env::var_os("SWEEP_NOOP_PANIC").is_some_and(|v| v == "1") {
        panic!("SWEEP_NOOP_PANIC is set: this no-op job panics");
    }
    simulate_shifted(spec, noop, fault_shift())
}

/// [`simulate`] with `extra` added to every metric, as the fault switch does.
pub fn simulate_shifted(spec: &JobSpec, noop: &NoopJob, extra: f64) -> Result<JobResult, JobError> {
    std::thread::sleep(Duration::from_millis(noop.sleep_ms));
    if let Some(error) = &noop.fail_with {
        return Err(JobError::Injected(error.clone()));
    }
    // Like training, the fake result does not depend on a scheduled run's id.
    let unscheduled = JobSpec {
        run: None,
        ..spec.clone()
    };
    let digest = Sha256::digest(serde_json::to_vec(&unscheduled).expect("a spec serialises"));
    // Eight numbers in [0, 1) from the digest.
    let u: Vec<f64> = digest
        .chunks(4)
        .map(|c| f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])) / 4_294_967_296.0)
        .collect();
    let shift = noop.metric_shift + extra;
    // Seed noise: one Gaussian draw per metric, from the spec's digest.
    let mut rng = ChaCha8Rng::from_seed(digest.into());
    let mut noise = || -> f64 {
        if noop.noise == 0.0 {
            return 0.0;
        }
        let z: f64 = rng.sample(StandardNormal);
        let scale = if noop.noise_scales_with_alpha {
            spec.alpha.unwrap_or(1.0)
        } else {
            1.0
        };
        noop.noise * scale * z
    };
    let regression = spec.dataset.task() == Task::Regression;
    let metrics = Metrics {
        mse: regression.then(|| 0.2 + 0.1 * u[0] + shift + noise()),
        r2: regression.then(|| 0.8 - 0.1 * u[0] - shift + noise()),
        accuracy: (!regression).then(|| 0.8 + 0.1 * u[0] - shift + noise()),
        f1: (!regression).then(|| 0.7 + 0.1 * u[1] - shift + noise()),
        gf: 0.01 * u[2] * spec.alpha.unwrap_or(1.0) + shift + noise(),
        gnf: 0.01 * u[3] + shift + noise(),
        r2_fg: 0.9 + 0.1 * u[4] - shift + noise(),
        ins_g: Some(0.6 + 0.1 * u[6] - shift + noise()),
        del_g: Some(0.3 + 0.1 * u[7] + shift + noise()),
        ins_grad: Some(0.55 + 0.1 * u[7] - shift + noise()),
        del_grad: Some(0.35 + 0.1 * u[6] + shift + noise()),
        mu: None,
        constraint_met_val: None,
        constraint_met_test: None,
        aux: None,
        gnf_points: 100,
        epochs: 1 + (u[5] * 10.0) as usize,
        final_lr: spec.settings.learning_rate,
        train_seconds: noop.sleep_ms as f64 / 1000.0,
        eval_seconds: 0.0,
        stop_reason: None,
        lr_collapsed: false,
        degenerate: false,
    };
    Ok(JobResult {
        spec: spec.clone(),
        metrics,
        explanation: Explanation {
            features: vec!["x1".into(), "x2".into()],
            coefficients: vec![u[6] - 0.5, u[7] - 0.5],
            intercept: 0.0,
        },
        dataset_sha256: String::new(),
        code_version: CODE_VERSION.to_string(),
        curve: Vec::new(),
        // A no-op job has no black box to probe.
        probes: None,
    })
}

/// The fault switch for regression tests of scheduled runs: a worker
/// started with `SWEEP_NOOP_METRIC_SHIFT=x` adds `x` to every no-op
/// metric, as a code change that makes results worse would, without the
/// (frozen) sweep file changing.
fn fault_shift() -> f64 {
    std::env::var("SWEEP_NOOP_METRIC_SHIFT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
