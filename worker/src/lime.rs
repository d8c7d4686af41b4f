//! Global Neighbourhood Fidelity with LIME-tabular explanations, as the
//! published runs used them (method.md, "GNF with LIME"): no
//! discretisation, no feature selection, in the model's input space.
//!
//! The LIME samples do not depend on the explained point (only their
//! weights and categorical indicators do), so one sample set and one batch
//! of `f` evaluations serve every point; row 0 of each fit is the point.

use rand::seq::index;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use sweep_shared::TrainSettings;

use crate::data::{FeatureGroup, Matrix};
use crate::linalg::{weighted_ridge, NumericError};

/// LIME's ridge penalty (scikit-learn's `Ridge(alpha=1)`).
const RIDGE: f64 = 1.0;

/// The shared part of every explanation of one model.
pub struct Lime<'a> {
    groups: &'a [FeatureGroup],
    /// Training mean and population std (1 where 0) of each model input.
    mu: Vec<f64>,
    sd: Vec<f64>,
    /// Continuous model-input columns, in design order.
    continuous: Vec<usize>,
    /// `(start, len)` of each one-hot group, in design order.
    onehot: Vec<(usize, usize)>,
    /// Samples 1..S: standard-normal draws of the continuous columns
    /// (their design values) and the drawn category of each group.
    z: Vec<f64>,
    categories: Vec<usize>,
    /// `f` at samples 1..S.
    f_samples: Vec<f64>,
    kernel_width: f64,
}

impl<'a> Lime<'a> {
    /// Draws the samples and evaluates `f` on them once.
    pub fn new(
        groups: &'a [FeatureGroup],
        x_train: &Matrix,
        s: &TrainSettings,
        rng: &mut ChaCha8Rng,
        f: &dyn Fn(&Matrix) -> Vec<f32>,
    ) -> Self {
        let cols = x_train.cols;
        let n = x_train.rows as f64;
        let mut mu = vec![0.0; cols];
        let mut sd = vec![0.0; cols];
        for i in 0..x_train.rows {
            for (j, &v) in x_train.row(i).iter().enumerate() {
                mu[j] += f64::from(v);
            }
        }
        mu.iter_mut().for_each(|m| *m /= n);
        for i in 0..x_train.rows {
            for (j, &v) in x_train.row(i).iter().enumerate() {
                sd[j] += (f64::from(v) - mu[j]).powi(2);
            }
        }
        sd.iter_mut().for_each(|v| {
            *v = (*v / n).sqrt();
            if *v == 0.0 {
                *v = 1.0;
            }
        });

        let mut continuous = Vec::new();
        let mut onehot = Vec::new();
        for g in groups {
            match *g {
                FeatureGroup::Continuous { col } => continuous.push(col),
                FeatureGroup::OneHot { start, len } => onehot.push((start, len)),
            }
        }
        // Training frequency of each category of each group.
        let frequencies: Vec<Vec<f64>> = onehot
            .iter()
            .map(|&(start, len)| {
                let mut counts = vec![0.0; len];
                for i in 0..x_train.rows {
                    if let Some(c) = category(&x_train.row(i)[start..start + len]) {
                        counts[c] += 1.0;
                    }
                }
                counts
            })
            .collect();

        let others = s.lime_samples - 1;
        let mut z = Vec::with_capacity(others * continuous.len());
        let mut categories = Vec::with_capacity(others * onehot.len());
        let mut samples = Vec::with_capacity(others * cols);
        for _ in 0..others {
            let mut row = vec![0.0f32; cols];
            for &col in &continuous {
                let draw: f64 = rng.sample(StandardNormal);
                z.push(draw);
                row[col] = (mu[col] + sd[col] * draw) as f32;
            }
            for (&(start, _), freq) in onehot.iter().zip(&frequencies) {
                let c = draw_weighted(rng, freq);
                categories.push(c);
                row[start + c] = 1.0;
            }
            samples.extend(row);
        }
        let f_samples = f(&Matrix::new(samples, others, cols))
            .into_iter()
            .map(f64::from)
            .collect();
        let design_cols = continuous.len() + onehot.len();
        Lime {
            groups,
            mu,
            sd,
            continuous,
            onehot,
            z,
            categories,
            f_samples,
            kernel_width: s.lime_kernel_factor * (design_cols as f64).sqrt(),
        }
    }

    fn design_cols(&self) -> usize {
        self.continuous.len() + self.onehot.len()
    }

    /// The LIME explanation of `f` around `x` (with `fx = f(x)`): ridge
    /// coefficients over the design columns and an intercept.
    pub fn explain(&self, x: &[f32], fx: f64) -> Result<(Vec<f64>, f64), NumericError> {
        let p = self.design_cols();
        let nc = self.continuous.len();
        let x_design: Vec<f64> = self
            .continuous
            .iter()
            .map(|&c| (f64::from(x[c]) - self.mu[c]) / self.sd[c])
            .collect();
        let x_cats: Vec<Option<usize>> = self
            .onehot
            .iter()
            .map(|&(s, l)| category(&x[s..s + l]))
            .collect();

        let others = self.f_samples.len();
        let mut design = Vec::with_capacity((others + 1) * p);
        let mut weights = Vec::with_capacity(others + 1);
        let mut targets = Vec::with_capacity(others + 1);
        // Row 0: x itself, at distance 0, its indicators all 1.
        design.extend_from_slice(&x_design);
        design.extend(std::iter::repeat_n(1.0, self.onehot.len()));
        weights.push(1.0);
        targets.push(fx);
        let kw2 = self.kernel_width * self.kernel_width;
        for k in 0..others {
            let z = &self.z[k * nc..(k + 1) * nc];
            let cats = &self.categories[k * self.onehot.len()..(k + 1) * self.onehot.len()];
            let mut d2 = 0.0;
            for (zj, xj) in z.iter().zip(&x_design) {
                design.push(*zj);
                d2 += (zj - xj).powi(2);
            }
            for (c, xc) in cats.iter().zip(&x_cats) {
                let same = Some(*c) == *xc;
                design.push(f64::from(same));
                if !same {
                    d2 += 1.0;
                }
            }
            weights.push((-d2 / kw2).exp().sqrt());
            targets.push(self.f_samples[k]);
        }
        weighted_ridge(design.chunks(p), &targets, &weights, RIDGE, p)
    }

    /// `ĝ_x(v)` for a row `v` that shares `x`'s categories.
    fn apply(&self, coef: &[f64], intercept: f64, v: &[f32]) -> f64 {
        let nc = self.continuous.len();
        intercept + self.continuous_part(coef, v) + coef[nc..].iter().sum::<f64>()
    }

    /// The continuous columns' share of `ĝ_x(v)`.
    fn continuous_part(&self, coef: &[f64], v: &[f32]) -> f64 {
        self.continuous
            .iter()
            .zip(coef)
            .map(|(&c, b)| b * (f64::from(v[c]) - self.mu[c]) / self.sd[c])
            .sum()
    }

    /// `ĝ_x(v)` for any row `v`: a group's coefficient counts where `v`
    /// has `x`'s category (its design indicator is 1), not otherwise.
    fn apply_at(&self, coef: &[f64], intercept: f64, x: &[f32], v: &[f32]) -> f64 {
        let nc = self.continuous.len();
        let cont = self.continuous_part(coef, v);
        let same: f64 = self
            .onehot
            .iter()
            .zip(&coef[nc..])
            .filter(|((start, len), _)| {
                category(&x[*start..start + len]) == category(&v[*start..start + len])
            })
            .map(|(_, b)| b)
            .sum();
        intercept + cont + same
    }
}

/// How GNF's neighbours of a point are drawn.
pub struct Neighbourhood<'a> {
    /// Per model input, the factor applied to `gnf_sigma · ε` (1 under
    /// method.md; see `Dataset::noise_scale`).
    pub scale: &'a [f32],
    /// Every categorical input (one-hot group, label code) takes a value
    /// drawn uniformly from those of the evaluated points, as the authors'
    /// code does; otherwise it keeps the point's.
    pub random_categories: bool,
    /// Continuous inputs that are label codes: categorical for the draw.
    pub coded: &'a [usize],
}

/// The outcome of a GNF measurement.
pub struct Gnf {
    pub value: f64,
    pub points: usize,
    /// The test rows evaluated (all, or the seeded subset), ascending: the
    /// insertion and deletion scores are taken over the same ones.
    pub chosen: Vec<usize>,
}

/// GNF of `f` over `x_test`: the mean over evaluated points of the mean
/// squared gap between each point's LIME explanation and `f` at
/// `neighbours` perturbations of the point's continuous columns.
pub fn gnf(
    lime: &Lime<'_>,
    x_test: &Matrix,
    f_test: &[f32],
    s: &TrainSettings,
    around: &Neighbourhood<'_>,
    rng: &mut ChaCha8Rng,
    f: &dyn Fn(&Matrix) -> Vec<f32>,
) -> Result<Gnf, NumericError> {
    let points: Vec<usize> = if x_test.rows <= s.gnf_max_points {
        (0..x_test.rows).collect()
    } else {
        let mut chosen = index::sample(rng, x_test.rows, s.gnf_max_points).into_vec();
        chosen.sort_unstable();
        chosen
    };
    let k = s.gnf_neighbours;
    // Each categorical input's values among the evaluated points, in
    // order of first appearance: what a random category is drawn from.
    let levels = |cols: std::ops::Range<usize>| {
        let mut seen: Vec<Vec<f32>> = Vec::new();
        for &i in &points {
            let v = x_test.row(i)[cols.clone()].to_vec();
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
        seen
    };
    let drawn: Vec<(std::ops::Range<usize>, Vec<Vec<f32>>)> = if around.random_categories {
        lime.groups
            .iter()
            .filter_map(|g| match *g {
                FeatureGroup::OneHot { start, len } => Some(start..start + len),
                FeatureGroup::Continuous { col } if around.coded.contains(&col) => {
                    Some(col..col + 1)
                }
                FeatureGroup::Continuous { .. } => None,
            })
            .map(|cols| (cols.clone(), levels(cols)))
            .collect()
    } else {
        Vec::new()
    };
    let mut neighbours = Vec::with_capacity(points.len() * k * x_test.cols);
    let mut fits = Vec::with_capacity(points.len());
    for &i in &points {
        let x = x_test.row(i);
        fits.push(lime.explain(x, f64::from(f_test[i]))?);
        for _ in 0..k {
            let mut v = x.to_vec();
            for g in lime.groups {
                if let FeatureGroup::Continuous { col } = *g {
                    if around.random_categories && around.coded.contains(&col) {
                        continue;
                    }
                    let e: f64 = rng.sample(StandardNormal);
                    v[col] += (s.gnf_sigma * e) as f32 * around.scale[col];
                }
            }
            for (cols, values) in &drawn {
                let pick = rng.gen_range(0..values.len());
                v[cols.clone()].copy_from_slice(&values[pick]);
            }
            neighbours.extend(v);
        }
    }
    let neighbours = Matrix::new(neighbours, points.len() * k, x_test.cols);
    let f_neighbours = f(&neighbours);
    let mut total = 0.0;
    for (p, (coef, intercept)) in fits.iter().enumerate() {
        let mut nf = 0.0;
        for (j, &fj) in f_neighbours.iter().enumerate().skip(p * k).take(k) {
            let g = if around.random_categories {
                lime.apply_at(coef, *intercept, x_test.row(points[p]), neighbours.row(j))
            } else {
                lime.apply(coef, *intercept, neighbours.row(j))
            };
            nf += (g - f64::from(fj)).powi(2);
        }
        total += nf / k as f64;
    }
    Ok(Gnf {
        value: total / points.len() as f64,
        points: points.len(),
        chosen: points,
    })
}

/// The hot category of a one-hot slice (none for an unseen category).
fn category(onehot: &[f32]) -> Option<usize> {
    onehot.iter().position(|&v| v > 0.5)
}

fn draw_weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.gen::<f64>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The ridge fit LIME uses (centred, as scikit-learn does) against the
    /// augmented weighted normal equations solved directly, with the
    /// intercept unpenalised.
    #[test]
    fn lime_fit_matches_direct_weighted_least_squares() {
        let groups = [
            FeatureGroup::Continuous { col: 0 },
            FeatureGroup::Continuous { col: 1 },
            FeatureGroup::OneHot { start: 2, len: 3 },
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let rows = 50;
        let mut data = Vec::new();
        for i in 0..rows {
            data.push(rng.sample::<f64, _>(StandardNormal) as f32);
            data.push(rng.sample::<f64, _>(StandardNormal) as f32 * 2.0 + 1.0);
            let mut oh = [0.0f32; 3];
            oh[i % 3] = 1.0;
            data.extend(oh);
        }
        let train = Matrix::new(data, rows, 5);
        let f = |m: &Matrix| -> Vec<f32> {
            (0..m.rows)
                .map(|i| {
                    let r = m.row(i);
                    (r[0] * r[0] + 0.5 * r[1] + 2.0 * r[3]).tanh()
                })
                .collect()
        };
        let s = TrainSettings {
            lime_samples: 200,
            ..Default::default()
        };
        let lime = Lime::new(&groups, &train, &s, &mut rng, &f);
        let x = train.row(4).to_vec();
        let fx = f64::from(f(&Matrix::new(x.clone(), 1, 5))[0]);
        let (coef, intercept) = lime.explain(&x, fx).unwrap();

        // Rebuild the design, weights and targets independently.
        let p = 3;
        let xd = [
            (f64::from(x[0]) - lime.mu[0]) / lime.sd[0],
            (f64::from(x[1]) - lime.mu[1]) / lime.sd[1],
        ];
        let xc = category(&x[2..5]);
        let mut rows_d = vec![vec![1.0, xd[0], xd[1], 1.0]];
        let mut ws = vec![1.0];
        let mut ys = vec![fx];
        for k in 0..lime.f_samples.len() {
            let same = Some(lime.categories[k]) == xc;
            let r = [lime.z[2 * k], lime.z[2 * k + 1], f64::from(same)];
            let d2 = (r[0] - xd[0]).powi(2) + (r[1] - xd[1]).powi(2) + if same { 0.0 } else { 1.0 };
            ws.push((-d2 / (0.75f64.powi(2) * 3.0)).exp().sqrt());
            rows_d.push(vec![1.0, r[0], r[1], r[2]]);
            ys.push(lime.f_samples[k]);
        }
        // (XᵀWX + diag(0, 1, 1, 1)) β = XᵀWy, by Gaussian elimination.
        let q = p + 1;
        let mut a = vec![vec![0.0; q + 1]; q];
        for ((r, &w), &y) in rows_d.iter().zip(&ws).zip(&ys) {
            for i in 0..q {
                for j in 0..q {
                    a[i][j] += w * r[i] * r[j];
                }
                a[i][q] += w * r[i] * y;
            }
        }
        for (i, row) in a.iter_mut().enumerate().skip(1) {
            row[i] += 1.0;
        }
        for col in 0..q {
            let pivot = (col..q)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap();
            a.swap(col, pivot);
            let pivot_row = a[col].clone();
            for (r, row) in a.iter_mut().enumerate() {
                if r != col {
                    let factor = row[col] / pivot_row[col];
                    for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                        *x -= factor * p;
                    }
                }
            }
        }
        let beta: Vec<f64> = (0..q).map(|i| a[i][q] / a[i][i]).collect();
        assert!(
            (beta[0] - intercept).abs() < 1e-9,
            "{} vs {intercept}",
            beta[0]
        );
        for j in 0..p {
            assert!(
                (beta[j + 1] - coef[j]).abs() < 1e-9,
                "coef {j}: {} vs {}",
                beta[j + 1],
                coef[j]
            );
        }
    }
}
