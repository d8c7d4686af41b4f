//! Adaptive seeding: a sweep whose `seeds` is `{ min, max, target }` runs
//! `min` seeds per cell and adds the next seed to a cell while the 95%
//! interval of the target metric is wider than the target, up to `max`.
//!
//! Each cell knows all its candidate jobs up front (seeds `0..max`, in
//! order), so releasing one is the same as submitting it. A decision is
//! taken only when every seed released so far has ended, from their
//! results alone: the same results always lead to the same seeds, whatever
//! order they arrived in. Every decision goes into the cell's ledger (seeds
//! run, n, mean, half-width, target, what was decided), stored with the
//! transition that caused it. A cell that met its target is never
//! extended again; one stopped at `max` continues if a re-submission
//! raises `max`.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Job, JobState, NeededFile, State, SweepState, Write};
use crate::ids::{JobKey, SweepName};
use crate::report::stats;

/// How precise a cell must get, on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedRule {
    pub min: usize,
    pub max: usize,
    /// A metric key of the results (`gf`, `r2`, …).
    pub metric: String,
    pub width: Width,
}

/// The target for the 95% Student-t half-width of the cell's mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Width {
    /// At most this, in the metric's units.
    Ci95HalfWidth(f64),
    /// At most this fraction of the mean's magnitude.
    Relative(f64),
}

impl Width {
    /// The half-width to reach, given the mean (a relative target needs one).
    fn absolute(self, mean: Option<f64>) -> Option<f64> {
        match self {
            Width::Ci95HalfWidth(w) => Some(w),
            Width::Relative(r) => mean.map(|m| r * m.abs()),
        }
    }

    pub fn describe(self) -> String {
        match self {
            Width::Ci95HalfWidth(w) => format!("95% half-width ≤ {w}"),
            Width::Relative(r) => format!("95% half-width ≤ {r} × |mean|"),
        }
    }
}

/// One seed a cell may run, as the job it would submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub seed: u64,
    pub key: JobKey,
    pub spec_json: String,
    pub files: Vec<NeededFile>,
    pub retry_limit: u32,
    pub lease_timeout_ms: u64,
    /// The rule's metric in this seed's result, once it has one (`None`
    /// also for a result without it).
    #[serde(default)]
    pub value: Option<f64>,
}

impl Candidate {
    pub fn of(seed: u64, job: &Job) -> Candidate {
        Candidate {
            seed,
            key: job.key.clone(),
            spec_json: job.spec_json.clone(),
            files: job.files.clone(),
            retry_limit: job.retry_limit,
            lease_timeout_ms: job.lease_timeout.as_millis() as u64,
            value: None,
        }
    }

    pub fn job(&self) -> Job {
        Job {
            key: self.key.clone(),
            spec_json: self.spec_json.clone(),
            files: self.files.clone(),
            state: JobState::Queued,
            attempts: 0,
            retry_limit: self.retry_limit,
            lease_timeout: Duration::from_millis(self.lease_timeout_ms),
        }
    }
}

/// What a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Wider than the target: the next seed was released.
    Extend,
    /// The target was met: the cell is closed for good.
    Met,
    /// Every candidate seed has run and the target was not met.
    MaxSeeds,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Extend => "extend",
            Decision::Met => "met",
            Decision::MaxSeeds => "max seeds",
        }
    }
}

/// One decision of a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Seeds released (and ended) when it was taken.
    pub seeds_run: usize,
    /// Of those, results with a finite value of the metric.
    pub n: usize,
    pub mean: Option<f64>,
    pub half_width: Option<f64>,
    /// The absolute half-width aimed at (for a relative target, from the mean).
    pub target: Option<f64>,
    pub decision: Decision,
}

/// A cell (dataset, objective, α, grid point) of an adaptive sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedCell {
    /// The cell's name, as reports print it (`wine mtl α=0.1`); its id.
    pub label: String,
    pub dataset: String,
    pub objective: String,
    pub alpha: Option<f64>,
    pub grid: String,
    pub rule: SeedRule,
    /// Seeds in the order they are released.
    pub candidates: Vec<Candidate>,
    /// How many candidates, from the first, are in the sweep.
    pub released: usize,
    pub ledger: Vec<LedgerEntry>,
    pub stop: Option<Decision>,
}

impl SeedCell {
    /// The decision its ended seeds call for, if every released one has
    /// ended and the cell is still open. `state_of` gives a job's state.
    pub fn decide<'a>(
        &self,
        state_of: impl Fn(&JobKey) -> Option<&'a JobState>,
    ) -> Option<LedgerEntry> {
        if self.stop.is_some() {
            return None;
        }
        let released = &self.candidates[..self.released];
        let mut values = Vec::with_capacity(released.len());
        for c in released {
            match state_of(&c.key) {
                Some(JobState::Done) => values.extend(c.value.filter(|v| v.is_finite())),
                Some(JobState::Failed { .. } | JobState::Cancelled) => {}
                _ => return None,
            }
        }
        let n = values.len();
        let mean = (n >= 1).then(|| stats::mean(&values));
        let half_width = (n >= 2).then(|| {
            stats::t_quantile_975(n as u32 - 1) * (stats::variance(&values) / n as f64).sqrt()
        });
        let target = self.rule.width.absolute(mean);
        let decision = match (half_width, target) {
            (Some(h), Some(t)) if h <= t => Decision::Met,
            _ if self.released >= self.candidates.len() => Decision::MaxSeeds,
            _ => Decision::Extend,
        };
        Some(LedgerEntry {
            seeds_run: self.released,
            n,
            mean,
            half_width,
            target,
            decision,
        })
    }

    /// Takes over what `old` (the same cell, submitted before) knew: values,
    /// ledger, how far it got, and whether it is closed — if it is the same
    /// cell: the same metric, and the same jobs for the seeds it released
    /// (other settings make other jobs: then the cell starts afresh).
    fn continue_from(&mut self, old: &SeedCell) {
        let same_jobs = old.released <= self.candidates.len()
            && old.candidates[..old.released]
                .iter()
                .zip(&self.candidates)
                .all(|(a, b)| a.key == b.key);
        if !same_jobs || old.rule.metric != self.rule.metric {
            return;
        }
        let known: HashMap<&JobKey, Option<f64>> =
            old.candidates.iter().map(|c| (&c.key, c.value)).collect();
        for c in &mut self.candidates {
            if c.value.is_none() {
                c.value = known.get(&c.key).copied().flatten();
            }
        }
        self.ledger = old.ledger.clone();
        let len = self.candidates.len();
        match old.stop {
            // Met is final, whatever the new rule says.
            Some(Decision::Met) => {
                self.released = old.released.min(len);
                self.stop = Some(Decision::Met);
            }
            _ => {
                self.released = self.released.max(old.released).min(len);
                // Stopped at a `max` that did not grow: stays stopped
                // (deciding again would only repeat the ledger's last line).
                if old.stop == Some(Decision::MaxSeeds) && self.released >= len {
                    self.stop = Some(Decision::MaxSeeds);
                }
            }
        }
    }
}

/// The metric `metric` of a result, if it has a number there.
pub fn metric_value(result_json: &str, metric: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(result_json).ok()?;
    v.get("metrics")?.get(metric)?.as_f64()
}

impl State {
    /// Installs the cells of an adaptive sweep being submitted, continuing
    /// the cells of its previous submission, and returns the jobs to submit
    /// now: each cell's released seeds.
    pub(super) fn install_seeding(
        &mut self,
        name: &SweepName,
        mut cells: Vec<SeedCell>,
    ) -> Vec<Job> {
        let old = self.drop_seeding(name);
        let old: HashMap<&str, &SeedCell> = old.iter().map(|c| (c.label.as_str(), c)).collect();
        let mut jobs = Vec::new();
        for (i, cell) in cells.iter_mut().enumerate() {
            cell.released = cell.rule.min.min(cell.candidates.len());
            if let Some(previous) = old.get(cell.label.as_str()) {
                cell.continue_from(previous);
            }
            jobs.extend(cell.candidates[..cell.released].iter().map(Candidate::job));
            for c in &cell.candidates {
                self.seed_index
                    .entry(c.key.clone())
                    .or_default()
                    .push((name.clone(), i));
            }
        }
        self.seeding.insert(name.clone(), cells);
        jobs
    }

    /// Forgets a sweep's cells (a re-submission replaces them).
    pub(super) fn drop_seeding(&mut self, name: &SweepName) -> Vec<SeedCell> {
        let cells = self.seeding.remove(name).unwrap_or_default();
        for c in cells.iter().flat_map(|cell| &cell.candidates) {
            if let Some(at) = self.seed_index.get_mut(&c.key) {
                at.retain(|(s, _)| s != name);
                if at.is_empty() {
                    self.seed_index.remove(&c.key);
                }
            }
        }
        cells
    }

    /// Decides every cell of `name` (after a submission), writing each.
    pub(super) fn decide_all(&mut self, name: &SweepName) -> Vec<Write> {
        let n = self.seeding.get(name).map_or(0, Vec::len);
        let mut writes = Vec::new();
        for i in 0..n {
            self.decide_cell(name, i, &mut writes);
            let cell = self.seeding[name][i].clone();
            writes.push(Write::SeedCell {
                sweep: name.clone(),
                position: i,
                cell,
            });
        }
        writes
    }

    /// After job `key` ended (with `result_json` if it is done): records
    /// the value in every cell that may run it, decides those cells, and
    /// writes the ones that changed.
    pub(super) fn seeding_after(&mut self, key: &JobKey, result_json: Option<&str>) -> Vec<Write> {
        let Some(mut at) = self.seed_index.get(key).cloned() else {
            return vec![];
        };
        // One order, whatever order the cells were indexed in (submission
        // order here, the store's order after a restart): cells sharing a
        // job then decide in the same order either way.
        at.sort();
        let mut writes = Vec::new();
        for (name, i) in at {
            let mut changed = false;
            if let Some(json) = result_json {
                let cell = &mut self.seeding.get_mut(&name).expect("indexed")[i];
                let value = metric_value(json, &cell.rule.metric);
                for c in cell.candidates.iter_mut().filter(|c| &c.key == key) {
                    changed |= c.value != value;
                    c.value = value;
                }
            }
            changed |= self.decide_cell(&name, i, &mut writes);
            if changed {
                let cell = self.seeding[&name][i].clone();
                writes.push(Write::SeedCell {
                    sweep: name,
                    position: i,
                    cell,
                });
            }
        }
        writes
    }

    /// Decides cell `i` of `name` as long as a decision can be taken (a
    /// released seed may already have its result); whether it changed.
    fn decide_cell(&mut self, name: &SweepName, i: usize, writes: &mut Vec<Write>) -> bool {
        let running = self
            .sweeps
            .get(name)
            .is_some_and(|s| s.state == SweepState::Running);
        let mut changed = false;
        if !running {
            return false;
        }
        loop {
            let jobs = &self.jobs;
            let cell = &self.seeding[name][i];
            let Some(entry) = cell.decide(|k| jobs.get(k).map(|j| &j.state)) else {
                break;
            };
            changed = true;
            let decision = entry.decision;
            tracing::info!(
                sweep = %name,
                cell = %cell.label,
                seeds = entry.seeds_run,
                half_width = ?entry.half_width,
                target = ?entry.target,
                decision = decision.name(),
                "adaptive seeding"
            );
            let cell = &mut self.seeding.get_mut(name).expect("decided")[i];
            cell.ledger.push(entry);
            if decision != Decision::Extend {
                cell.stop = Some(decision);
                break;
            }
            let job = cell.candidates[cell.released].job();
            cell.released += 1;
            writes.extend(self.release(name, job));
        }
        changed
    }

    /// Adds `job` to sweep `name`, as submitting it would: a job that is
    /// new is queued, a failed or cancelled one starts afresh, a done one
    /// counts as done.
    fn release(&mut self, name: &SweepName, job: Job) -> Vec<Write> {
        let key = job.key.clone();
        let mut writes = Vec::new();
        // Counted for its other sweeps before this one owns it.
        self.take_submitted(job, &mut writes);
        let owners = self.owners.entry(key.clone()).or_default();
        if !owners.contains(name) {
            owners.push(name.clone());
            if let Some(sweep) = self.sweeps.get_mut(name) {
                sweep.keys.push(key.clone());
            }
            if let Some(c) = self.counts.get_mut(name) {
                c.total += 1;
                *c.slot(&self.jobs[&key].state) += 1;
            }
        }
        writes
    }

    /// The cells of an adaptive sweep (empty for a fixed one).
    pub fn seed_cells(&self, name: &SweepName) -> &[SeedCell] {
        self.seeding.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(values: &[Option<f64>], released: usize, width: Width) -> SeedCell {
        SeedCell {
            label: "moons mtl α=0.5".into(),
            dataset: "moons".into(),
            objective: "mtl".into(),
            alpha: Some(0.5),
            grid: String::new(),
            rule: SeedRule {
                min: 3,
                max: values.len(),
                metric: "gf".into(),
                width,
            },
            candidates: values
                .iter()
                .enumerate()
                .map(|(i, v)| Candidate {
                    seed: i as u64,
                    key: JobKey::from(format!("k{i}")),
                    spec_json: String::new(),
                    files: vec![],
                    retry_limit: 1,
                    lease_timeout_ms: 1000,
                    value: *v,
                })
                .collect(),
            released,
            ledger: vec![],
            stop: None,
        }
    }

    #[test]
    fn waits_until_every_released_seed_has_ended() {
        let c = cell(
            &[Some(1.0), Some(1.1), None, None],
            3,
            Width::Ci95HalfWidth(1.0),
        );
        let queued = JobState::Queued;
        let done = JobState::Done;
        assert_eq!(
            c.decide(|k| Some(if k.as_str() == "k2" { &queued } else { &done })),
            None
        );
    }

    #[test]
    fn half_width_is_the_student_t_interval() {
        let c = cell(
            &[Some(1.0), Some(2.0), Some(3.0), None],
            3,
            Width::Ci95HalfWidth(2.0),
        );
        let done = JobState::Done;
        let e = c.decide(|_| Some(&done)).unwrap();
        // sd = 1, n = 3: t(0.975, 2) = 4.302653 → 4.302653 / √3.
        let expected = 4.302_652_729_749_464 / 3f64.sqrt();
        assert!((e.half_width.unwrap() - expected).abs() < 1e-9);
        assert_eq!(e.mean, Some(2.0));
        assert_eq!(e.decision, Decision::Extend, "2.484 > 2");
        let wide = Width::Ci95HalfWidth(2.5);
        let c = SeedCell {
            rule: SeedRule {
                width: wide,
                ..c.rule.clone()
            },
            ..c
        };
        assert_eq!(c.decide(|_| Some(&done)).unwrap().decision, Decision::Met);
    }

    #[test]
    fn relative_targets_scale_with_the_mean_and_max_stops() {
        let c = cell(
            &[Some(10.0), Some(10.2), Some(9.8)],
            3,
            Width::Relative(0.01),
        );
        let done = JobState::Done;
        let e = c.decide(|_| Some(&done)).unwrap();
        assert!((e.target.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(e.decision, Decision::MaxSeeds, "all 3 candidates ran");
    }

    #[test]
    fn failed_seeds_add_no_value_and_one_value_has_no_width() {
        let c = cell(
            &[Some(1.0), None, None, None],
            3,
            Width::Ci95HalfWidth(10.0),
        );
        let (done, failed) = (JobState::Done, JobState::Failed { error: "x".into() });
        let e = c
            .decide(|k| Some(if k.as_str() == "k0" { &done } else { &failed }))
            .unwrap();
        assert_eq!((e.n, e.half_width, e.decision), (1, None, Decision::Extend));
    }

    #[test]
    fn met_is_final_and_a_larger_max_reopens_a_cell_stopped_at_max() {
        let old = SeedCell {
            stop: Some(Decision::Met),
            ..cell(&[Some(1.0); 3], 3, Width::Ci95HalfWidth(1.0))
        };
        let mut new = cell(&[None; 6], 3, Width::Ci95HalfWidth(0.0));
        new.continue_from(&old);
        assert_eq!((new.released, new.stop), (3, Some(Decision::Met)));
        assert_eq!(new.candidates[0].value, Some(1.0), "values carry over");

        let old = SeedCell {
            stop: Some(Decision::MaxSeeds),
            ..cell(&[Some(1.0); 3], 3, Width::Ci95HalfWidth(1.0))
        };
        let mut same = cell(&[None; 3], 3, Width::Ci95HalfWidth(1.0));
        same.continue_from(&old);
        assert_eq!(same.stop, Some(Decision::MaxSeeds));
        let mut larger = cell(&[None; 6], 3, Width::Ci95HalfWidth(1.0));
        larger.continue_from(&old);
        assert_eq!((larger.released, larger.stop), (3, None));
    }

    #[test]
    fn a_cell_of_other_jobs_or_another_metric_starts_afresh() {
        let old = SeedCell {
            stop: Some(Decision::Met),
            ledger: vec![LedgerEntry {
                seeds_run: 3,
                n: 3,
                mean: None,
                half_width: None,
                target: None,
                decision: Decision::Met,
            }],
            ..cell(&[Some(1.0); 3], 3, Width::Ci95HalfWidth(1.0))
        };
        let mut other_jobs = cell(&[None; 6], 3, Width::Ci95HalfWidth(1.0));
        for c in &mut other_jobs.candidates {
            c.key = JobKey::from(format!("{}-more-epochs", c.key.as_str()));
        }
        other_jobs.continue_from(&old);
        assert_eq!((other_jobs.stop, other_jobs.ledger.len()), (None, 0));
        assert_eq!(other_jobs.candidates[0].value, None);
        let mut other_metric = cell(&[None; 6], 3, Width::Ci95HalfWidth(1.0));
        other_metric.rule.metric = "gnf".into();
        other_metric.continue_from(&old);
        assert_eq!(
            (other_metric.stop, other_metric.candidates[0].value),
            (None, None)
        );
    }

    #[test]
    fn metric_values_are_read_from_results() {
        let json = r#"{"metrics": {"gf": 0.25, "gnf": null}}"#;
        assert_eq!(metric_value(json, "gf"), Some(0.25));
        assert_eq!(metric_value(json, "gnf"), None);
        assert_eq!(metric_value(json, "r2"), None);
    }
}
