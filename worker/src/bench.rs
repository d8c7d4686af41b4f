//! `worker bench-step`: the cost of one training step (forward, backward
//! and Adam) of one objective's model, single-threaded, as a median over
//! steps, with the rows each step evaluates (ExpO and ID-ExpO evaluate `f`
//! on more rows than the batch).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sweep_shared::{Objective, Task, TrainSettings};

use crate::data::Matrix;
use crate::model::Model;
use crate::objective::{Plan, StepLoss};
use crate::optim::Adam;

/// Training rows ExpO draws its regulariser batch from.
const POOL_ROWS: usize = 1024;

#[derive(Debug, Serialize)]
pub struct StepBench {
    pub inputs: usize,
    pub hidden: Vec<usize>,
    pub batch: usize,
    pub task: Task,
    pub objective: Objective,
    /// Rows `f` is evaluated on per step: the batch, plus ExpO's `B_r·m`
    /// neighbours or ID-ExpO's `2·d` soft inputs per batch row and the batch again.
    pub rows_per_step: usize,
    pub steps: usize,
    pub us_per_step: f64,
    pub us_p10: f64,
    pub us_p90: f64,
    /// The median step time divided by `rows_per_step`.
    pub us_per_row: f64,
}

pub fn bench_step(
    inputs: usize,
    hidden: &[usize],
    batch: usize,
    task: Task,
    steps: usize,
    objective: Objective,
) -> StepBench {
    let pool = crate::fpu::job_pool().expect("one thread");
    pool.install(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut model = Model::new(task, inputs, hidden, &mut rng);
        let pool_x: Vec<f32> = (0..POOL_ROWS * inputs)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let pool_x = Matrix::new(pool_x, POOL_ROWS, inputs);
        let pool_y: Vec<f32> = (0..POOL_ROWS).map(|i| (i % 2) as f32).collect();
        let mut x = Vec::with_capacity(batch * (inputs + 1));
        for i in 0..batch {
            crate::model::push_row(&mut x, pool_x.row(i % POOL_ROWS));
        }
        let y: Vec<f32> = (0..batch).map(|i| pool_y[i % POOL_ROWS]).collect();
        let settings = TrainSettings {
            gf_target: Some(0.01),
            ..TrainSettings::default()
        };
        let plan = Plan::new(objective, 0.5, 0.01);
        let rows_per_step = batch
            + match objective {
                Objective::Expo => settings.expo_batch * crate::expo::neighbours_per_point(inputs),
                Objective::Idexpo => batch * (2 * inputs + 1),
                _ => 0,
            };
        let mut loss = StepLoss::new(
            plan,
            &settings,
            (&pool_x, &pool_y, POOL_ROWS),
            ChaCha8Rng::seed_from_u64(1),
        );
        let weights = loss.weights(1.0);
        let mut adam = Adam::new(&model.params_mut(plan.trains_g()), 1e-3, 0.9, 0.999, 1e-7);
        let mut times = Vec::with_capacity(steps);
        for i in 0..steps + steps / 10 {
            let started = Instant::now();
            crate::train::step(
                &mut model,
                &mut adam,
                &mut loss,
                (&x, &y),
                (&pool_x, POOL_ROWS),
                weights,
            )
            .expect("random neighbourhoods have a least-squares fit");
            // The first tenth warms caches and the allocator up.
            if i >= steps / 10 {
                times.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
        times.sort_by(f64::total_cmp);
        let q = |f: f64| times[((times.len() - 1) as f64 * f).round() as usize];
        StepBench {
            inputs,
            hidden: hidden.to_vec(),
            batch,
            task,
            objective,
            rows_per_step,
            steps,
            us_per_step: q(0.5),
            us_p10: q(0.1),
            us_p90: q(0.9),
            us_per_row: q(0.5) / rows_per_step as f64,
        }
    })
}
