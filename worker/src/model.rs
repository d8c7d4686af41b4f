//! The black box `f` (an MLP) and the linear surrogate `g`, as dfdx tensors
//! with runtime sizes, so one binary serves every dataset width and hidden
//! list. Both output a real number for regression and a probability
//! (sigmoid of a final linear unit) for classification.

use dfdx::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sweep_shared::Task;

use crate::data::Matrix;

pub type Mat = Tensor<(usize, usize), f32, Cpu>;
/// A batch of rows, with or without a gradient tape.
pub type Batch<T> = Tensor<(usize, usize), f32, Cpu, T>;

/// Rows evaluated per forward pass when predicting, to bound memory.
const PREDICT_CHUNK: usize = 2048;

/// An affine layer as one matrix product, `[x, 1] · W`: the bias is W's
/// last row, fed by a constant-1 input column.
///
/// dfdx's CPU kernels for binary ops (such as a broadcast bias add) walk
/// every element through a generic N-d index forward and backward; folding
/// the bias into the matmul leaves the network with gemm and ReLU only.
/// A hidden layer carries the constant 1 on to the next layer in one extra
/// output column (weight 1 from the ones row, 0 elsewhere; `relu(1) = 1`),
/// whose gradient is zeroed so it never trains.
pub struct Dense {
    /// Shape (inputs + 1, outputs + 1) for a hidden layer, (inputs + 1, outputs) otherwise.
    pub w: Mat,
    pub inputs: usize,
    pub outputs: usize,
    /// Whether the last output column is the fixed constant 1.
    pub carries_one: bool,
}

impl Dense {
    /// Glorot-uniform weights (over the real inputs and outputs) and zero biases.
    pub fn glorot(
        dev: &Cpu,
        inputs: usize,
        outputs: usize,
        carries_one: bool,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let limit = (6.0 / (inputs + outputs) as f64).sqrt() as f32;
        let cols = outputs + usize::from(carries_one);
        let mut w = vec![0.0f32; (inputs + 1) * cols];
        for r in 0..inputs {
            for c in 0..outputs {
                w[r * cols + c] = rng.gen_range(-limit..limit);
            }
        }
        if carries_one {
            w[inputs * cols + outputs] = 1.0;
        }
        Dense {
            w: dev.tensor_from_vec(w, (inputs + 1, cols)),
            inputs,
            outputs,
            carries_one,
        }
    }

    pub fn forward<T: Tape<f32, Cpu>>(&self, x: Batch<T>) -> Batch<T> {
        x.matmul(self.w.clone())
    }

    /// The layer's weights as the optimizer sees them.
    pub fn param(&mut self) -> ParamMut<'_> {
        ParamMut {
            fixed_col: self.carries_one.then_some(self.outputs),
            w: &mut self.w,
        }
    }

    /// The weights (inputs × outputs, row-major) and the biases.
    pub fn weights_and_bias(&self) -> (Vec<f32>, Vec<f32>) {
        let cols = self.w.shape().1;
        let all = self.w.as_vec();
        let weights = (0..self.inputs)
            .flat_map(|r| all[r * cols..r * cols + self.outputs].to_vec())
            .collect();
        let bias = all[self.inputs * cols..self.inputs * cols + self.outputs].to_vec();
        (weights, bias)
    }
}

pub struct Model {
    pub task: Task,
    /// The layers of `f`: the hidden ones (each followed by ReLU), then the output unit.
    pub f: Vec<Dense>,
    pub g: Dense,
    pub dev: Cpu,
}

impl Model {
    pub fn new(task: Task, inputs: usize, hidden: &[usize], rng: &mut ChaCha8Rng) -> Self {
        let dev = Cpu::default();
        let mut f = Vec::with_capacity(hidden.len() + 1);
        let mut width = inputs;
        for &h in hidden {
            f.push(Dense::glorot(&dev, width, h, true, rng));
            width = h;
        }
        f.push(Dense::glorot(&dev, width, 1, false, rng));
        let g = Dense::glorot(&dev, inputs, 1, false, rng);
        Model { task, f, g, dev }
    }

    pub fn inputs(&self) -> usize {
        self.g.inputs
    }

    fn output<T: Tape<f32, Cpu>>(&self, z: Batch<T>) -> Batch<T> {
        match self.task {
            Task::Regression => z,
            Task::Classification => z.sigmoid(),
        }
    }

    /// `f` on a batch of rows that end in the constant-1 column (see [`Model::batch`]).
    pub fn f_forward<T: Tape<f32, Cpu>>(&self, x: Batch<T>) -> Batch<T> {
        let last = self.f.len() - 1;
        let mut h = x;
        for (i, layer) in self.f.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = h.relu();
            }
        }
        self.output(h)
    }

    /// `g` on a batch of rows that end in the constant-1 column.
    pub fn g_forward<T: Tape<f32, Cpu>>(&self, x: Batch<T>) -> Batch<T> {
        self.output(self.g.forward(x))
    }

    /// The rows of `m` as a batch, each followed by the constant-1 column.
    pub fn batch(&self, m: &Matrix) -> Mat {
        let mut data = Vec::with_capacity(m.rows * (m.cols + 1));
        for i in 0..m.rows {
            push_row(&mut data, m.row(i));
        }
        self.dev.tensor_from_vec(data, (m.rows, m.cols + 1))
    }

    /// `f` on every row of `m` (probabilities for classification).
    pub fn predict_f(&self, m: &Matrix) -> Vec<f32> {
        self.predict(m, |x| self.f_forward(x))
    }

    /// `g` on every row of `m`.
    pub fn predict_g(&self, m: &Matrix) -> Vec<f32> {
        self.predict(m, |x| self.g_forward(x))
    }

    fn predict(&self, m: &Matrix, forward: impl Fn(Mat) -> Mat) -> Vec<f32> {
        let mut out = Vec::with_capacity(m.rows);
        for start in (0..m.rows).step_by(PREDICT_CHUNK) {
            let chunk = m.rows_range(start..(start + PREDICT_CHUNK).min(m.rows));
            out.extend(forward(self.batch(&chunk)).as_vec());
        }
        out
    }

    /// Parameters in a fixed order: `f`'s layers, then `g` when it is trained.
    pub fn params_mut(&mut self, with_g: bool) -> Vec<ParamMut<'_>> {
        let g = with_g.then_some(&mut self.g);
        self.f.iter_mut().chain(g).map(Dense::param).collect()
    }

    /// The surrogate's coefficients and intercept.
    pub fn g_coefficients(&self) -> (Vec<f64>, f64) {
        let (w, b) = self.g.weights_and_bias();
        (w.into_iter().map(f64::from).collect(), f64::from(b[0]))
    }

    pub fn set_g(&mut self, coefficients: &[f64], intercept: f64) {
        let w: Vec<f32> = coefficients
            .iter()
            .chain([&intercept])
            .map(|&c| c as f32)
            .collect();
        self.g.w.copy_from(&w);
    }
}

/// Appends a model-input row and its constant-1 column to a batch buffer.
pub fn push_row(batch: &mut Vec<f32>, row: &[f32]) {
    batch.extend_from_slice(row);
    batch.push(1.0);
}

/// A weight matrix seen by the optimizer as a flat slice.
pub struct ParamMut<'a> {
    w: &'a mut Mat,
    /// The column that carries the constant 1 and never trains.
    fixed_col: Option<usize>,
}

impl<'a> ParamMut<'a> {
    /// A parameter that trains in full.
    pub fn new(w: &'a mut Mat) -> Self {
        ParamMut { w, fixed_col: None }
    }

    pub fn len(&self) -> usize {
        self.w.shape().num_elements()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether flat element `i` is part of the fixed constant-1 column.
    pub fn is_fixed(&self, i: usize) -> bool {
        self.fixed_col == Some(i % self.w.shape().1)
    }

    pub fn read(&self, dst: &mut [f32]) {
        self.w.copy_into(dst)
    }

    pub fn write(&mut self, src: &[f32]) {
        self.w.copy_from(src)
    }

    /// The gradient of this parameter, borrowed from `grads` without a
    /// copy; zero on the fixed column, so Adam leaves it alone.
    pub fn grad<'g>(&self, grads: &'g mut Gradients<f32, Cpu>) -> &'g [f32] {
        let buf = grads
            .get_or_alloc_mut(&*self.w)
            .expect("allocating a gradient on the CPU cannot fail");
        if let Some(col) = self.fixed_col {
            let cols = self.w.shape().1;
            buf.iter_mut()
                .skip(col)
                .step_by(cols)
                .for_each(|g| *g = 0.0);
        }
        buf
    }
}
