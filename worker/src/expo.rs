//! ExpO's neighbourhood-fidelity regulariser (method.md section 2; Plumb
//! et al., NeurIPS 2020): for each of `B_r` training rows, `m = max(20, 2d)`
//! neighbours `x + N(0, σ_r² I)`, the least-squares fit `β = P·f(X)` of `f`
//! on `[X, 1]` with `P = (XᵀX)⁻¹Xᵀ` a constant, and `R = mean((f(X) − Xβ)²)`.
//!
//! The residual `f(X) − Xβ` depends only on the span of the design's
//! columns, and `span{1, x_j + σ z_j} = span{1, z_j}` for the neighbours of
//! one point `x`. So the design here is `[1, z]`, the standardised
//! perturbation, rather than `[x + σz, 1]`: the same residual, with a Gram
//! matrix near `m·I` instead of one whose columns are all nearly the
//! constant (σ = 0.1), which f32 could not invert. The unit test checks the
//! residual against a direct least-squares solve of the literal design.

use dfdx::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::linalg::{inverse_spd, NumericError};
use crate::losses::Scalar;
use crate::model::{push_row, Mat, Model};

pub type Mat3 = Tensor<(usize, usize, usize), f32, Cpu>;

/// Neighbours per point: `max(20, 2d)`.
pub fn neighbours_per_point(inputs: usize) -> usize {
    20.max(2 * inputs)
}

/// One step's neighbourhoods, with the constants of their local fits.
pub struct Neighbourhoods {
    /// (B·m, d + 1): every neighbour as a model input, constant-1 column last.
    pub x: Mat,
    /// (B, m, d + 1): each neighbourhood's design `[1, z]`.
    design: Mat3,
    /// (B, d + 1, m): its transpose.
    design_t: Mat3,
    /// (B, d + 1, d + 1): the inverse of each design's Gram matrix.
    gram_inv: Mat3,
    pub points: usize,
    pub m: usize,
}

impl Neighbourhoods {
    /// Draws `m` neighbours of each of `points` at `sigma`.
    pub fn sample(
        dev: &Cpu,
        points: &[&[f32]],
        sigma: f64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self, NumericError> {
        let d = points.first().map_or(0, |p| p.len());
        let (b, m, k) = (points.len(), neighbours_per_point(d), d + 1);
        let mut x = Vec::with_capacity(b * m * k);
        let mut design = Vec::with_capacity(b * m * k);
        let mut design_t = vec![0.0f32; b * k * m];
        let mut gram_inv = Vec::with_capacity(b * k * k);
        let mut neighbour = vec![0.0f32; d];
        let mut z = vec![0.0f64; m * k];
        for (p, point) in points.iter().enumerate() {
            for r in 0..m {
                for (n, &v) in neighbour.iter_mut().zip(point.iter()) {
                    let draw: f64 = rng.sample(StandardNormal);
                    *n = v + (sigma * draw) as f32;
                }
                push_row(&mut x, &neighbour);
                // The perturbation actually applied, after rounding to f32.
                z[r * k] = 1.0;
                for j in 0..d {
                    z[r * k + 1 + j] = (f64::from(neighbour[j]) - f64::from(point[j])) / sigma;
                }
            }
            let mut gram = vec![0.0f64; k * k];
            for row in z.chunks(k) {
                for i in 0..k {
                    for j in i..k {
                        gram[i * k + j] += row[i] * row[j];
                    }
                }
            }
            for i in 0..k {
                for j in 0..i {
                    gram[i * k + j] = gram[j * k + i];
                }
            }
            gram_inv.extend(inverse_spd(&gram, k)?.into_iter().map(|v| v as f32));
            for r in 0..m {
                for c in 0..k {
                    let v = z[r * k + c] as f32;
                    design.push(v);
                    design_t[p * k * m + c * m + r] = v;
                }
            }
        }
        Ok(Neighbourhoods {
            x: dev.tensor_from_vec(x, (b * m, k)),
            design: dev.tensor_from_vec(design, (b, m, k)),
            design_t: dev.tensor_from_vec(design_t, (b, k, m)),
            gram_inv: dev.tensor_from_vec(gram_inv, (b, k, k)),
            points: b,
            m,
        })
    }

    /// The residuals `f(X) − Xβ` of the local fits of `values` (one per
    /// neighbour, neighbourhood by neighbourhood), untaped: for tests.
    pub fn residuals(&self, values: Vec<f32>) -> Vec<f32> {
        let dev = self.x.device().clone();
        let f = dev.tensor_from_vec(values, (self.points, 1, self.m));
        let fit = f
            .clone()
            .matmul(self.design.clone())
            .matmul(self.gram_inv.clone())
            .matmul(self.design_t.clone());
        (f - fit).as_vec()
    }
}

/// `R` averaged over the neighbourhoods, on the tape `tape` carries.
///
/// Computed on row vectors, `r = f − ((f·Z)·G⁻¹)·Zᵀ`, because dfdx's taped
/// operand must be the left one of a product.
pub fn regulariser(model: &Model, nb: &Neighbourhoods, tape: OwnedTape<f32, Cpu>) -> Scalar {
    let f = model
        .f_forward(nb.x.clone().put_tape(tape))
        .reshape_like(&(nb.points, 1usize, nb.m));
    let (f, tape) = f.split_tape();
    let fit = f
        .clone()
        .put_tape(tape)
        .matmul(nb.design.clone())
        .matmul(nb.gram_inv.clone())
        .matmul(nb.design_t.clone());
    (fit.negate() + f).square().mean::<(), _>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The residuals of the `[1, z]` fit against the normal equations of
    /// the literal design `[x + σz, 1]`, solved in f64.
    #[test]
    fn residuals_match_a_direct_least_squares_solve() {
        let dev = Cpu::default();
        let points: Vec<Vec<f32>> = vec![vec![0.5, -1.0, 2.0], vec![3.0, 0.1, -0.7]];
        let refs: Vec<&[f32]> = points.iter().map(|p| p.as_slice()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let nb = Neighbourhoods::sample(&dev, &refs, 0.1, &mut rng).unwrap();
        assert_eq!((nb.points, nb.m), (2, 20));
        let x = nb.x.as_vec();
        // Any function of the neighbours will do: a nonlinear one.
        let values: Vec<f32> = x
            .chunks(4)
            .map(|r| (r[0] * r[1]).sin() + r[2] * r[2])
            .collect();
        let got = nb.residuals(values.clone());
        for p in 0..2 {
            let rows = &x[p * 20 * 4..(p + 1) * 20 * 4];
            let ys = &values[p * 20..(p + 1) * 20];
            // [x, 1] as in the model's batches: normal equations in f64.
            let mut a = vec![0.0f64; 16];
            let mut b = vec![0.0f64; 4];
            for (r, &y) in rows.chunks(4).zip(ys) {
                for i in 0..4 {
                    b[i] += f64::from(r[i]) * f64::from(y);
                    for j in 0..4 {
                        a[i * 4 + j] += f64::from(r[i]) * f64::from(r[j]);
                    }
                }
            }
            crate::linalg::solve_spd(&a, &mut b).unwrap();
            for (n, (r, &y)) in rows.chunks(4).zip(ys).enumerate() {
                let fit: f64 = (0..4).map(|i| f64::from(r[i]) * b[i]).sum();
                let want = f64::from(y) - fit;
                let have = f64::from(got[p * 20 + n]);
                assert!(
                    (want - have).abs() < 2e-4,
                    "point {p} neighbour {n}: direct {want}, here {have}"
                );
            }
        }
    }

    /// `R`'s gradient against central finite differences of `R` computed
    /// without a tape, for both tasks (`P` is a constant of the weights).
    #[test]
    fn gradients_match_finite_differences() {
        use sweep_shared::Task;
        for task in [Task::Regression, Task::Classification] {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let mut model = Model::new(task, 3, &[5, 4], &mut rng);
            crate::gradcheck::jitter(&mut model, 5);
            let points: Vec<Vec<f32>> = vec![vec![0.5, -1.0, 0.2], vec![-0.3, 0.8, 1.1]];
            let refs: Vec<&[f32]> = points.iter().map(|p| p.as_slice()).collect();
            let nb = Neighbourhoods::sample(&model.dev, &refs, 0.5, &mut rng).unwrap();
            let plain = |m: &Model| {
                let r = nb.residuals(m.f_forward(nb.x.clone()).as_vec());
                r.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / r.len() as f64
            };
            let (_, tape) = nb.x.clone().traced(Gradients::leaky()).split_tape();
            let loss = regulariser(&model, &nb, tape);
            assert!((f64::from(loss.array()) - plain(&model)).abs() < 1e-6);
            assert!(
                plain(&model) > 1e-6,
                "a network is not linear in its inputs"
            );
            crate::gradcheck::check(
                &mut model,
                false,
                loss,
                &plain,
                (1e-3, 2e-5, 2e-2),
                &format!("ExpO {task:?}"),
            );
        }
    }

    #[test]
    fn neighbours_are_max_20_or_twice_the_inputs() {
        assert_eq!(neighbours_per_point(8), 20);
        assert_eq!(neighbours_per_point(105), 210);
    }
}
