//! How often `compare` flags a difference between two sweeps of the same
//! code and the same distribution: a 50-cell no-op grid with seed noise,
//! run twice on disjoint seeds, 400 times over. Every flag is false. With
//! 450 tests per comparison, raw p < 0.05 flags something almost every
//! time; Benjamini–Hochberg keeps the rate of comparisons flagging
//! anything within q (for tests that are all null, the false discovery
//! rate is the chance of any false flag), up to sampling error.

use sweep_coordinator::ids::{JobKey, LeaseToken, WorkerId};
use sweep_coordinator::report::compare::{self, Fdr, Flag, Thresholds};
use sweep_coordinator::report::frames;
use sweep_coordinator::store::ResultRow;
use sweep_shared::{DatasetName, JobSpec, NoopJob, Objective, TrainSettings};

const REPETITIONS: u64 = 400;
const CELLS: usize = 50;
const SEEDS: u64 = 5;
const Q: f64 = compare::SIGNIFICANCE;

/// The runs of one sweep: every α of the grid, seeds `seeds`.
fn sweep(seeds: std::ops::Range<u64>) -> polars::prelude::DataFrame {
    let mut rows = Vec::new();
    for cell in 0..CELLS {
        let alpha = 0.01 + 0.02 * cell as f64;
        for seed in seeds.clone() {
            let spec = JobSpec {
                dataset: DatasetName::Friedman1,
                objective: Objective::Mtl,
                alpha: Some(alpha),
                seed,
                settings: TrainSettings::default(),
                noop: Some(NoopJob {
                    sleep_ms: 0,
                    metric_shift: 0.0,
                    fail_with: None,
                    noise: 0.05,
                    noise_scales_with_alpha: false,
                }),
                run: None,
                grid: Vec::new(),
            };
            let result = sweep_worker::noop::simulate(&spec, spec.noop.as_ref().unwrap()).unwrap();
            rows.push(ResultRow {
                key: JobKey::from(format!("{cell}-{seed}")),
                result_json: serde_json::to_string(&result).unwrap(),
                worker: WorkerId::from("w"),
                attempt: LeaseToken::new(1),
                finished_ms: 0,
            });
        }
    }
    frames::runs(&rows).unwrap()
}

#[test]
fn benjamini_hochberg_keeps_false_flags_within_q_where_raw_p_flags_most_comparisons() {
    // A relative threshold of 0: flags rest on significance alone.
    let thresholds = |fdr| Thresholds::parse(0.0, &[]).unwrap().with_fdr(fdr);
    let (mut raw, mut bh, mut holm, mut tests) = (0u64, 0u64, 0u64, 0usize);
    for rep in 0..REPETITIONS {
        let base = rep * 2 * SEEDS;
        let a = sweep(base..base + SEEDS);
        let b = sweep(base + SEEDS..base + 2 * SEEDS);
        let mut flags_any = |fdr| {
            let c = compare::compare("a", &a, "b", &b, &thresholds(fdr)).unwrap();
            tests = c.rows.len();
            c.rows.iter().any(|r| r.flag != Flag::Unchanged)
        };
        raw += u64::from(flags_any(Fdr::None));
        bh += u64::from(flags_any(Fdr::Bh));
        holm += u64::from(flags_any(Fdr::Holm));
    }
    let n = REPETITIONS as f64;
    let rate = |k: u64| k as f64 / n;
    let bound = Q + 2.0 * (Q * (1.0 - Q) / n).sqrt();
    println!(
        "{REPETITIONS} comparisons of {tests} tests each: any flag with raw p {:.3}, with BH {:.3}, with Holm {:.3} (bound {bound:.4})",
        rate(raw),
        rate(bh),
        rate(holm)
    );
    assert_eq!(tests, CELLS * 9, "9 metrics per regression cell");
    assert!(
        rate(bh) <= bound,
        "BH flagged {:.3} of the comparisons",
        rate(bh)
    );
    assert!(rate(holm) <= bound, "Holm flagged {:.3}", rate(holm));
    assert!(rate(raw) > 0.5, "raw p flagged only {:.3}", rate(raw));
}
