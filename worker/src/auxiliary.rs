//! The auxiliary objective (method.md section 4): a named group of input
//! columns is removed from the inputs and predicted instead, by one head per
//! column on the shared trunk of `f`; the loss is `L_main + Σ_a λ_a·L_a`.
//! The heads' per-point errors are then correlated with the main model's:
//! how much of the main task's error the auxiliary task explains.

use std::time::Instant;

use dfdx::prelude::*;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sweep_shared::{AuxHead, DatasetName, StopReason, Task, TrainSettings};

use crate::callbacks::Callbacks;
use crate::data::{Dataset, FeatureGroup, Matrix};
use crate::losses::{base_loss, base_loss_taped, Scalar};
use crate::model::{push_row, Dense, Mat, Model};
use crate::optim::Adam;
use crate::train::{act_on, fitted_rows, TrainOutcome};

/// A column of the group that the dataset does not have as an input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("aux: dataset {dataset}: column `{column}` {because}")]
pub struct AuxColumnError {
    pub dataset: DatasetName,
    pub column: String,
    pub because: String,
}

/// One auxiliary column as targets: a standardised number per row
/// (`classes == 0`) or a one-hot row of `classes` categories.
#[derive(Debug, Clone)]
pub struct Target {
    pub column: String,
    pub classes: usize,
    pub train: Vec<f32>,
    pub test: Vec<f32>,
}

impl Target {
    fn width(&self) -> usize {
        self.classes.max(1)
    }
}

/// A dataset with its group moved from the inputs to targets.
pub struct Split {
    pub reduced: Dataset,
    pub targets: Vec<Target>,
}

/// The column of the source file `group` was made from: its one feature, or the
/// name before `=` of a one-hot group's features (`sex=male` → `sex`).
pub fn source_name(data: &Dataset, group: &FeatureGroup) -> String {
    match *group {
        FeatureGroup::Continuous { col } => data.features[col].clone(),
        FeatureGroup::OneHot { start, .. } => data.features[start]
            .split_once('=')
            .map_or_else(|| data.features[start].clone(), |(s, _)| s.to_string()),
    }
}

/// Moves `columns` from `data`'s inputs to targets.
pub fn split_group(data: &Dataset, columns: &[String]) -> Result<Split, AuxColumnError> {
    let refuse = |column: &str, because: String| AuxColumnError {
        dataset: data.name,
        column: column.to_string(),
        because,
    };
    let names: Vec<String> = data.groups.iter().map(|g| source_name(data, g)).collect();
    let mut removed = vec![false; data.inputs()];
    let mut targets = Vec::with_capacity(columns.len());
    for column in columns {
        let Some(at) = names.iter().position(|n| n == column) else {
            return Err(refuse(
                column,
                format!("is not an input; expected one of: {}", names.join(", ")),
            ));
        };
        let (cols, classes) = match data.groups[at] {
            FeatureGroup::Continuous { col } => (col..col + 1, 0),
            FeatureGroup::OneHot { start, len } => (start..start + len, len),
        };
        if cols.clone().any(|c| removed[c]) {
            return Err(refuse(column, "is named twice".into()));
        }
        cols.clone().for_each(|c| removed[c] = true);
        targets.push(target(column, &data.x_train, &data.x_test, cols, classes));
    }
    if removed.iter().all(|&r| r) {
        return Err(refuse(&columns.join(", "), "would leave no input".into()));
    }
    let kept: Vec<usize> = (0..data.inputs()).filter(|&c| !removed[c]).collect();
    let new_index = |c: usize| kept.iter().position(|&k| k == c);
    let groups = data
        .groups
        .iter()
        .filter_map(|g| match *g {
            FeatureGroup::Continuous { col } => {
                new_index(col).map(|col| FeatureGroup::Continuous { col })
            }
            FeatureGroup::OneHot { start, len } => {
                new_index(start).map(|start| FeatureGroup::OneHot { start, len })
            }
        })
        .collect();
    let reduced = Dataset {
        features: kept.iter().map(|&c| data.features[c].clone()).collect(),
        groups,
        x_train: keep_columns(&data.x_train, &kept),
        x_test: keep_columns(&data.x_test, &kept),
        noise_scale: kept.iter().map(|&c| data.noise_scale[c]).collect(),
        coded: data.coded.iter().filter_map(|&c| new_index(c)).collect(),
        ..data.clone()
    };
    Ok(Split { reduced, targets })
}

fn keep_columns(m: &Matrix, kept: &[usize]) -> Matrix {
    let data = (0..m.rows)
        .flat_map(|i| kept.iter().map(move |&c| m.row(i)[c]))
        .collect();
    Matrix::new(data, m.rows, kept.len())
}

/// The targets of one column: a numeric one standardised by its training
/// rows (so its MSE is in units of its spread), a one-hot one as it is.
fn target(
    column: &str,
    train: &Matrix,
    test: &Matrix,
    cols: std::ops::Range<usize>,
    classes: usize,
) -> Target {
    let take = |m: &Matrix| -> Vec<f32> {
        (0..m.rows)
            .flat_map(|i| m.row(i)[cols.clone()].to_vec())
            .collect()
    };
    let (mut tr, mut te) = (take(train), take(test));
    if classes == 0 {
        let n = tr.len().max(1) as f64;
        let mean = tr.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = tr
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
        for v in tr.iter_mut().chain(te.iter_mut()) {
            *v = ((f64::from(*v) - mean) / sd) as f32;
        }
    }
    Target {
        column: column.to_string(),
        classes,
        train: tr,
        test: te,
    }
}

/// The shared trunk, the main head and one head per auxiliary column.
pub struct AuxNet {
    task: Task,
    trunk: Vec<Dense>,
    main: Dense,
    heads: Vec<Dense>,
    dev: Cpu,
}

impl AuxNet {
    pub fn new(
        task: Task,
        inputs: usize,
        hidden: &[usize],
        targets: &[Target],
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let mut f = Model::new(task, inputs, hidden, rng).f;
        let main = f.pop().expect("f has an output layer");
        let width = main.inputs;
        let dev = Cpu::default();
        let heads = targets
            .iter()
            .map(|t| Dense::glorot(&dev, width, t.width(), false, rng))
            .collect();
        AuxNet {
            task,
            trunk: f,
            main,
            heads,
            dev,
        }
    }

    fn trunk_forward<T: Tape<f32, Cpu>>(
        &self,
        x: Tensor<(usize, usize), f32, Cpu, T>,
    ) -> Tensor<(usize, usize), f32, Cpu, T> {
        self.trunk.iter().fold(x, |h, l| l.forward(h).relu())
    }

    fn output<T: Tape<f32, Cpu>>(
        &self,
        z: Tensor<(usize, usize), f32, Cpu, T>,
    ) -> Tensor<(usize, usize), f32, Cpu, T> {
        match self.task {
            Task::Regression => z,
            Task::Classification => z.sigmoid(),
        }
    }

    /// The taped loss of a batch: `L_main + λ·Σ_a L_a`.
    fn loss(&self, x: Mat, y: &Mat, targets: &[Mat], lambda: f32) -> Scalar {
        let rows = y.shape().0 as f32;
        let h = self.trunk_forward(x.traced(Gradients::leaky()));
        // `h` feeds every head: split off its tape and reused by id, so its
        // gradient sums over the heads before the trunk's backward runs.
        let (h, tape) = h.split_tape();
        let main = self.output(self.main.forward(h.clone().put_tape(tape)));
        let mut total = base_loss_taped(self.task, main, y);
        for (head, t) in self.heads.iter().zip(targets) {
            let (sum, tape) = total.split_tape();
            let out = head.forward(h.clone().put_tape(tape));
            // A numeric column is one standardised value; a categorical
            // one a one-hot row of at least two classes.
            let term = if t.shape().1 == 1 {
                (out - t.clone()).square().mean::<(), _>()
            } else {
                (out.log_softmax::<Axis<1>>() * t.clone()).sum::<(), _>() * (-1.0 / rows)
            };
            total = term * lambda + sum;
        }
        total
    }

    /// Untaped outputs on `m`: the main head (probabilities for
    /// classification) and each auxiliary head's raw outputs, row-major.
    fn predict(&self, m: &Matrix) -> (Vec<f32>, Vec<Vec<f32>>) {
        let mut rows = Vec::with_capacity(m.rows * (m.cols + 1));
        (0..m.rows).for_each(|i| push_row(&mut rows, m.row(i)));
        let h = self.trunk_forward(self.dev.tensor_from_vec(rows, (m.rows, m.cols + 1)));
        let main = self.output(self.main.forward(h.clone())).as_vec();
        let heads = self
            .heads
            .iter()
            .map(|l| l.forward(h.clone()).as_vec())
            .collect();
        (main, heads)
    }

    /// `f` as a black box: the trunk and the main head.
    pub fn into_model(self, rng: &mut ChaCha8Rng) -> Model {
        let inputs = self.trunk.first().map_or(self.main.inputs, |l| l.inputs);
        let mut f = self.trunk;
        f.push(self.main);
        let g = Dense::glorot(&self.dev, inputs, 1, false, rng);
        Model {
            task: self.task,
            f,
            g,
            dev: self.dev,
        }
    }

    fn params(&mut self) -> Vec<crate::model::ParamMut<'_>> {
        self.trunk
            .iter_mut()
            .chain(std::iter::once(&mut self.main))
            .chain(self.heads.iter_mut())
            .map(Dense::param)
            .collect()
    }
}

/// Per-point errors on a set: the main model's (absolute error, or
/// cross-entropy for classification) and each head's (absolute error of
/// the standardised value, or cross-entropy of the category), and each
/// head's mean error (standardised MSE, or mean cross-entropy).
pub struct PointErrors {
    pub main: Vec<f64>,
    /// The main head's mean base loss (what STL's validation watches).
    pub main_loss: f64,
    pub heads: Vec<Vec<f64>>,
    pub head_error: Vec<f64>,
}

pub fn point_errors(
    net: &AuxNet,
    x: &Matrix,
    y: &[f32],
    targets: &[Target],
    test: bool,
) -> PointErrors {
    let (main, outs) = net.predict(x);
    let main_loss = main
        .iter()
        .zip(y)
        .map(|(&p, &t)| base_loss(net.task, p.into(), t.into()))
        .sum::<f64>()
        / y.len().max(1) as f64;
    let main_err = main
        .iter()
        .zip(y)
        .map(|(&p, &t)| match net.task {
            Task::Regression => (f64::from(p) - f64::from(t)).abs(),
            Task::Classification => base_loss(net.task, p.into(), t.into()),
        })
        .collect();
    let mut heads = Vec::new();
    let mut head_error = Vec::new();
    for (out, t) in outs.iter().zip(targets) {
        let truth = if test { &t.test } else { &t.train };
        let w = t.width();
        let errs: Vec<f64> = (0..x.rows)
            .map(|i| {
                let o = &out[i * w..(i + 1) * w];
                let tr = &truth[i * w..(i + 1) * w];
                if t.classes == 0 {
                    (f64::from(o[0]) - f64::from(tr[0])).abs()
                } else {
                    let max = o.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                    let lse = f64::from(max)
                        + o.iter()
                            .map(|&v| f64::from(v - max).exp())
                            .sum::<f64>()
                            .ln();
                    let k = tr.iter().position(|&v| v > 0.5).unwrap_or(0);
                    lse - f64::from(o[k])
                }
            })
            .collect();
        let n = errs.len().max(1) as f64;
        head_error.push(if t.classes == 0 {
            errs.iter().map(|e| e * e).sum::<f64>() / n
        } else {
            errs.iter().sum::<f64>() / n
        });
        heads.push(errs);
    }
    PointErrors {
        main: main_err,
        main_loss,
        heads,
        head_error,
    }
}

/// Trains the network as `train::train` trains STL: Adam over mini-batches
/// reshuffled every epoch, validation rows from the end of the training
/// rows, the same early stopping and plateau schedule, on the validation
/// value of the whole loss.
pub fn train(
    net: &mut AuxNet,
    data: &Dataset,
    targets: &[Target],
    s: &TrainSettings,
    rng: &mut ChaCha8Rng,
) -> TrainOutcome {
    let start = Instant::now();
    let x = &data.x_train;
    let n_fit = fitted_rows(x.rows, s);
    let x_val = x.rows_range(n_fit..x.rows);
    let val_targets: Vec<Target> = targets
        .iter()
        .map(|t| Target {
            train: t.train[n_fit * t.width()..].to_vec(),
            ..t.clone()
        })
        .collect();
    let lambda = s.aux_lambda as f32;
    let mut adam = Adam::new(&net.params(), s.learning_rate, s.beta1, s.beta2, s.epsilon);
    let mut callbacks = Callbacks::new(s);
    let mut order: Vec<usize> = (0..n_fit).collect();
    let mut stop_reason = StopReason::MaxEpochs;
    let mut best = None;
    let mut curve = Vec::new();
    let (mut xb, mut yb) = (Vec::new(), Vec::new());
    for epoch in 0..s.max_epochs {
        order.shuffle(rng);
        for chunk in order.chunks(s.batch_size) {
            xb.clear();
            yb.clear();
            let mut tb: Vec<Vec<f32>> = vec![Vec::new(); targets.len()];
            for &i in chunk {
                push_row(&mut xb, x.row(i));
                yb.push(data.y_train[i]);
                for (b, t) in tb.iter_mut().zip(targets) {
                    let w = t.width();
                    b.extend_from_slice(&t.train[i * w..(i + 1) * w]);
                }
            }
            let rows = chunk.len();
            let xt = net.dev.tensor_from_vec(xb.clone(), (rows, x.cols + 1));
            let yt = net.dev.tensor_from_vec(yb.clone(), (rows, 1));
            let tt: Vec<Mat> = tb
                .into_iter()
                .zip(targets)
                .map(|(b, t)| net.dev.tensor_from_vec(b, (rows, t.width())))
                .collect();
            let mut grads = net.loss(xt, &yt, &tt, lambda).backward();
            adam.step(&mut net.params(), &mut grads);
        }
        let lr = adam.lr;
        let errs = point_errors(net, &x_val, &data.y_train[n_fit..], &val_targets, false);
        let prediction = errs.main_loss;
        let watched = prediction + f64::from(lambda) * errs.head_error.iter().sum::<f64>();
        curve.push(sweep_shared::EpochRecord {
            prediction,
            fidelity: None,
            joint: watched,
            lr,
            warmup: false,
        });
        if act_on(callbacks.epoch_end(epoch, watched), s, &mut adam, &mut best) {
            stop_reason = StopReason::EarlyStopping;
            break;
        }
    }
    if let Some(best) = best {
        adam.restore(&best, &mut net.params());
    }
    TrainOutcome {
        epochs: curve.len(),
        final_lr: adam.lr,
        seconds: start.elapsed().as_secs_f64(),
        stop_reason,
        curve,
        mu: None,
        val_gf: None,
    }
}

/// Resamples of the bootstrap interval of a correlation.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// Each head's test error and the Spearman correlation of its per-point
/// error with the main model's, with a percentile bootstrap 95% interval.
pub fn heads_report(
    errors: &PointErrors,
    targets: &[Target],
    rng: &mut ChaCha8Rng,
) -> Vec<AuxHead> {
    errors
        .heads
        .iter()
        .zip(targets)
        .zip(&errors.head_error)
        .map(|((errs, t), &error)| {
            let rho = spearman(&errors.main, errs);
            let (low, high) = bootstrap(&errors.main, errs, rng);
            AuxHead {
                column: t.column.clone(),
                categorical: t.classes > 0,
                error,
                spearman: rho,
                spearman_low: low,
                spearman_high: high,
            }
        })
        .collect()
}

/// Ranks from 1, ties given their average rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        idx[i..=j].iter().for_each(|&k| out[k] = rank);
        i = j + 1;
    }
    out
}

/// Spearman's ρ: Pearson's correlation of the ranks; NaN when either side
/// is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// The 2.5th and 97.5th percentiles of ρ over resamples of the points.
fn bootstrap(a: &[f64], b: &[f64], rng: &mut ChaCha8Rng) -> (f64, f64) {
    let n = a.len();
    if n < 2 {
        return (f64::NAN, f64::NAN);
    }
    let (mut ra, mut rb) = (vec![0.0; n], vec![0.0; n]);
    let mut rhos: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            for k in 0..n {
                let i = rng.gen_range(0..n);
                ra[k] = a[i];
                rb[k] = b[i];
            }
            spearman(&ra, &rb)
        })
        .filter(|r| r.is_finite())
        .collect();
    if rhos.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    rhos.sort_by(f64::total_cmp);
    let at = |q: f64| rhos[((q * (rhos.len() - 1) as f64).round() as usize).min(rhos.len() - 1)];
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_a_monotone_map_is_one_and_ties_average() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [1.0, 8.0, 27.0, 64.0, 125.0];
        assert!((spearman(&a, &b) - 1.0).abs() < 1e-12);
        let rev: Vec<f64> = b.iter().rev().copied().collect();
        assert!((spearman(&a, &rev) + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // scipy.stats.spearmanr([1,2,3,4,5,6], [2,1,4,3,6,5]).statistic
        let s = spearman(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[2.0, 1.0, 4.0, 3.0, 6.0, 5.0],
        );
        assert!((s - 0.8285714285714285).abs() < 1e-12, "{s}");
    }

    #[test]
    fn bootstrap_interval_holds_the_estimate_and_repeats_with_the_seed() {
        use rand::SeedableRng;
        let a: Vec<f64> = (0..200).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|&v| v + 60.0 * ((v * 0.7).sin())).collect();
        let rho = spearman(&a, &b);
        let (lo, hi) = bootstrap(&a, &b, &mut ChaCha8Rng::seed_from_u64(3));
        assert!(lo < rho && rho < hi && hi - lo < 0.5, "{lo} {rho} {hi}");
        assert_eq!(
            (lo, hi),
            bootstrap(&a, &b, &mut ChaCha8Rng::seed_from_u64(3))
        );
    }
}
