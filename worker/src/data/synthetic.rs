//! Built-in datasets, generated from a fixed seed so that a sweep runs with
//! no files and every job sees the same rows (the job seed never changes
//! the data).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use sweep_shared::DatasetName;

use super::prep::{preprocess, Partition, Preparation, RawTable};
use super::{sha256_hex, Dataset};

const DATA_SEED: u64 = 20_230_901;
const SPLIT: Partition = Partition::Shuffled {
    test_fraction: 0.2,
    seed: 42,
};

/// Friedman #1: `y = 10 sin(π x1 x2) + 20 (x3 − ½)² + 10 x4 + 5 x5 + ε`,
/// ten uniform inputs of which five are noise.
pub fn friedman1(rows: usize) -> Dataset {
    let names: Vec<String> = (1..=10).map(|i| format!("x{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut table = RawTable::new(&names, &[]);
    let mut rng = ChaCha8Rng::seed_from_u64(DATA_SEED);
    for _ in 0..rows {
        let x: Vec<f64> = (0..10).map(|_| rng.gen::<f64>()).collect();
        let noise: f64 = rng.sample(StandardNormal);
        let y = 10.0 * (std::f64::consts::PI * x[0] * x[1]).sin()
            + 20.0 * (x[2] - 0.5).powi(2)
            + 10.0 * x[3]
            + 5.0 * x[4]
            + noise;
        table.push(x.into_iter().map(Some).collect(), vec![], y);
    }
    finish(DatasetName::Friedman1, table, rows)
}

/// Two interleaved half-moons with noise 0.25, two pure-noise inputs and a
/// three-level categorical input that nudges the class, so the one-hot path
/// of LIME is exercised on built-in data too.
pub fn moons(rows: usize) -> Dataset {
    let mut table = RawTable::new(&["u", "v", "noise1", "noise2"], &["band"]);
    let mut rng = ChaCha8Rng::seed_from_u64(DATA_SEED + 1);
    for i in 0..rows {
        let upper = i % 2 == 0;
        let t = rng.gen::<f64>() * std::f64::consts::PI;
        let (mut u, mut v) = if upper {
            (t.cos(), t.sin())
        } else {
            (1.0 - t.cos(), 0.5 - t.sin())
        };
        u += 0.25 * rng.sample::<f64, _>(StandardNormal);
        v += 0.25 * rng.sample::<f64, _>(StandardNormal);
        let band = if rng.gen::<f64>() < 0.6 {
            if upper {
                "a"
            } else {
                "c"
            }
        } else {
            ["a", "b", "c"][rng.gen_range(0..3)]
        };
        let numeric = vec![
            Some(u),
            Some(v),
            Some(rng.sample(StandardNormal)),
            Some(rng.sample(StandardNormal)),
        ];
        table.push(
            numeric,
            vec![Some(band.to_string())],
            if upper { 0.0 } else { 1.0 },
        );
    }
    finish(DatasetName::Moons, table, rows)
}

fn finish(name: DatasetName, table: RawTable, rows: usize) -> Dataset {
    let identity = sha256_hex(format!("{name}:v1:seed={DATA_SEED}:rows={rows}").as_bytes());
    preprocess(name, table, SPLIT, identity, Preparation::default())
        .expect("synthetic data is well formed")
}
