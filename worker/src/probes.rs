//! The probe rows of the sweep's task graph (method.md section 5): up to
//! `probe_rows` training rows, drawn by a fixed seed from the dataset alone,
//! so that every job of a dataset predicts the same rows and the
//! coordinator can compare the cells' black boxes on them.

use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sweep_shared::registry::sha256_hex;
use sweep_shared::Probes;

use crate::data::Dataset;
use crate::model::Model;

/// The seed of the probe rows' draw: a constant, never a job's seed.
const PROBE_SEED: u64 = 0x005E_ED9E_0BE5;

/// The indices of the probe rows among `train_rows`, ascending.
pub fn rows(train_rows: usize, probe_rows: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(PROBE_SEED);
    let mut chosen = sample(&mut rng, train_rows, probe_rows.min(train_rows)).into_vec();
    chosen.sort_unstable();
    chosen
}

/// `f` on the probe rows, with the rows' inputs, or `None` when the job asks
/// for none.
pub fn predict(data: &Dataset, model: &Model, probe_rows: usize) -> Option<Probes> {
    if probe_rows == 0 {
        return None;
    }
    let x = data
        .x_train
        .select_rows(&rows(data.x_train.rows, probe_rows));
    let predictions = model.predict_f(&x);
    let mut identity: Vec<u8> = data.features.join("\n").into_bytes();
    identity.extend(x.data.iter().flat_map(|v| v.to_le_bytes()));
    Some(Probes {
        inputs_sha256: sha256_hex(&identity),
        features: data.features.clone(),
        rows: x.rows,
        inputs: x.data,
        predictions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_rows_are_fixed_distinct_and_bounded() {
        let a = rows(1000, 200);
        assert_eq!(a, rows(1000, 200));
        assert_eq!(a.len(), 200);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[199] < 1000);
        assert_eq!(rows(50, 200), (0..50).collect::<Vec<_>>());
        assert!(rows(10, 0).is_empty());
    }
}
