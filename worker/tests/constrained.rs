//! The constrained objective on a built-in dataset (issue 12's check):
//! with `gf_target = 0.01` it ends within the target on validation, and
//! predicts no worse than the MTL cell whose GF is closest to the GF it
//! reached.

use std::path::Path;

use sweep_shared::{
    DatasetName, EarlyStoppingOn, GInit, JobResult, JobSpec, LrSchedule, Objective, TrainSettings,
};

/// The protocol of `sweeps/objectives.toml` (40 epochs at a constant
/// learning rate, `g` from the least-squares fit, η_μ = 10; its comments
/// say why), on a smaller network so the test stays short.
fn settings() -> TrainSettings {
    TrainSettings {
        hidden: vec![64, 64],
        max_epochs: 40,
        lr_schedule: LrSchedule::None,
        early_stopping_on: EarlyStoppingOn::None,
        g_init: GInit::LeastSquares,
        dual_lr: 10.0,
        gnf_max_points: 50,
        lime_samples: 300,
        ..TrainSettings::default()
    }
}

fn run(objective: Objective, alpha: Option<f64>, seed: u64, s: &TrainSettings) -> JobResult {
    let spec = JobSpec {
        dataset: DatasetName::Friedman1,
        objective,
        alpha,
        seed,
        settings: s.clone(),
        noop: None,
        run: None,
        grid: Vec::new(),
    };
    sweep_worker::run_job(&spec, Path::new("/nonexistent")).expect("a built-in dataset trains")
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn constrained_meets_its_target_and_predicts_as_well_as_the_nearest_mtl_cell() {
    let seeds = [0u64, 1];
    let eps = 0.01;
    let constrained = TrainSettings {
        gf_target: Some(eps),
        ..settings()
    };
    let runs: Vec<JobResult> = seeds
        .iter()
        .map(|&s| run(Objective::Constrained, None, s, &constrained))
        .collect();
    for r in &runs {
        let last = r.curve.last().expect("a curve");
        let val_gf = last.fidelity.expect("g trains");
        eprintln!(
            "seed {}: validation GF {val_gf:.5}, test GF {:.5}, μ {:.3}, MSE {:.4}",
            r.spec.seed,
            r.metrics.gf,
            r.metrics.mu.unwrap(),
            r.metrics.mse.unwrap()
        );
        assert!(
            val_gf <= eps * 1.1,
            "validation GF {val_gf} above {eps} × 1.1"
        );
        assert_eq!(r.metrics.constraint_met_val, Some(val_gf <= eps));
    }
    let achieved = mean(&runs.iter().map(|r| r.metrics.gf).collect::<Vec<_>>());
    let mse = mean(
        &runs
            .iter()
            .map(|r| r.metrics.mse.unwrap())
            .collect::<Vec<_>>(),
    );
    // The MTL cells of the same dataset: the one whose mean GF is closest.
    let mut nearest: Option<(f64, f64, f64)> = None;
    for alpha in [0.1, 0.3, 0.5, 0.7, 0.9] {
        let cell: Vec<JobResult> = seeds
            .iter()
            .map(|&s| run(Objective::Mtl, Some(alpha), s, &settings()))
            .collect();
        let gf = mean(&cell.iter().map(|r| r.metrics.gf).collect::<Vec<_>>());
        let cell_mse = mean(
            &cell
                .iter()
                .map(|r| r.metrics.mse.unwrap())
                .collect::<Vec<_>>(),
        );
        eprintln!("mtl α={alpha}: GF {gf:.5}, MSE {cell_mse:.4}");
        if nearest.is_none_or(|(_, g, _)| (gf - achieved).abs() < (g - achieved).abs()) {
            nearest = Some((alpha, gf, cell_mse));
        }
    }
    let (alpha, gf, cell_mse) = nearest.unwrap();
    eprintln!("constrained: GF {achieved:.5}, MSE {mse:.4}; nearest MTL α={alpha}: GF {gf:.5}, MSE {cell_mse:.4}");
    assert!(
        mse <= cell_mse,
        "constrained MSE {mse} is worse than MTL α={alpha}'s {cell_mse} (GF {gf} against {achieved})"
    );
}
