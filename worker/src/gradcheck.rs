//! Tests' check of a taped loss's gradients against central finite
//! differences of the same loss computed without a tape.

use dfdx::prelude::*;

use crate::losses::Scalar;
use crate::model::{Model, ParamMut};

/// Every third weight of every parameter (`g`'s too when `with_g`): the
/// gradient `loss` gives against `(plain(w + h) − plain(w − h)) / 2h`,
/// within `abs + rel·|numeric|`. The constant-1 columns must have a zero
/// gradient.
pub fn check(
    model: &mut Model,
    with_g: bool,
    loss: Scalar,
    plain: &dyn Fn(&Model) -> f64,
    (h, abs, rel): (f32, f64, f64),
    what: &str,
) {
    let mut grads = loss.backward();
    let analytic: Vec<Vec<f32>> = model
        .params_mut(with_g)
        .iter()
        .map(|p| p.grad(&mut grads).to_vec())
        .collect();
    for (k, expected) in analytic.iter().enumerate() {
        let fixed: Vec<bool> = {
            let params = model.params_mut(with_g);
            (0..expected.len()).map(|i| params[k].is_fixed(i)).collect()
        };
        for i in (0..expected.len()).step_by(3) {
            if fixed[i] {
                assert_eq!(expected[i], 0.0, "the constant-1 column never trains");
                continue;
            }
            let mut at = |delta: f32| {
                let mut params = model.params_mut(with_g);
                let p: &mut ParamMut = &mut params[k];
                let mut buf = vec![0.0; p.len()];
                p.read(&mut buf);
                buf[i] += delta;
                p.write(&buf);
                drop(params);
                let l = plain(model);
                let mut params = model.params_mut(with_g);
                buf[i] -= delta;
                params[k].write(&buf);
                l
            };
            let numeric = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let got = f64::from(expected[i]);
            assert!(
                (numeric - got).abs() < abs + rel * numeric.abs(),
                "{what}: param {k}[{i}]: analytic {got}, numeric {numeric}"
            );
        }
    }
}

/// Moves every trainable weight (biases included) by up to ±0.1, so no
/// ReLU sits exactly at its kink: a fresh model's zero biases put a unit
/// fed only by dead units at 0, where finite differences are one-sided.
pub fn jitter(model: &mut Model, seed: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for p in model.params_mut(true).iter_mut() {
        let mut buf = vec![0.0; p.len()];
        p.read(&mut buf);
        for (i, w) in buf.iter_mut().enumerate() {
            if !p.is_fixed(i) {
                *w += rng.gen_range(-0.1..0.1);
            }
        }
        p.write(&buf);
    }
}
