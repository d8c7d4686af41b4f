//! `worker bench-step`: the cost of one training step (forward, backward
//! and Adam) of the joint model, single-threaded, as a median over steps.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sweep_shared::Task;

use crate::model::Model;
use crate::optim::Adam;

#[derive(Debug, Serialize)]
pub struct StepBench {
    pub inputs: usize,
    pub hidden: Vec<usize>,
    pub batch: usize,
    pub task: Task,
    pub steps: usize,
    pub us_per_step: f64,
    pub us_p10: f64,
    pub us_p90: f64,
}

pub fn bench_step(
    inputs: usize,
    hidden: &[usize],
    batch: usize,
    task: Task,
    steps: usize,
) -> StepBench {
    let pool = crate::fpu::job_pool().expect("one thread");
    pool.install(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut model = Model::new(task, inputs, hidden, &mut rng);
        let mut x = Vec::with_capacity(batch * (inputs + 1));
        for _ in 0..batch {
            let row: Vec<f32> = (0..inputs).map(|_| rng.gen_range(-1.0..1.0)).collect();
            crate::model::push_row(&mut x, &row);
        }
        let y: Vec<f32> = (0..batch).map(|i| (i % 2) as f32).collect();
        let mut adam = Adam::new(&model.params_mut(true), 1e-3, 0.9, 0.999, 1e-7);
        let mut times = Vec::with_capacity(steps);
        for i in 0..steps + steps / 10 {
            let started = Instant::now();
            crate::train::step(&mut model, &mut adam, x.clone(), y.clone(), Some(0.5));
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
            steps,
            us_per_step: q(0.5),
            us_p10: q(0.1),
            us_p90: q(0.9),
        }
    })
}
