//! Sweep transitions: submission, cancellation, finishing once every job
//! has ended, and the counts by state.

use std::collections::HashSet;

use super::seeding::SeedCell;
use super::{tally, Counts, Job, JobState, State, StateError, Submitted, Sweep, SweepState, Write};
use crate::ids::{JobKey, SweepName};

impl State {
    /// Adds or redefines a sweep. Jobs whose keys already have a result are
    /// not run again; failed or cancelled ones are given a fresh start.
    pub fn submit(&mut self, sweep: Sweep, jobs: Vec<Job>) -> (Submitted, Vec<Write>) {
        let name = sweep.name.clone();
        let mut writes = Vec::new();
        if !self.drop_seeding(&name).is_empty() {
            writes.push(Write::ClearSeedCells(name.clone()));
        }
        let (out, w) = self.submit_jobs(sweep, jobs);
        writes.extend(w);
        writes.extend(self.settle(&[name]));
        (out, writes)
    }

    /// Submits an adaptive sweep: the cells' released seeds are its jobs
    /// (continuing the cells of an earlier submission of the same name),
    /// then every cell decides, since some seeds may already have results.
    pub fn submit_seeded(
        &mut self,
        mut sweep: Sweep,
        cells: Vec<SeedCell>,
    ) -> (Submitted, Vec<Write>) {
        let name = sweep.name.clone();
        let jobs = self.install_seeding(&name, cells);
        sweep.keys = jobs.iter().map(|j| j.key.clone()).collect();
        let mut writes = vec![Write::ClearSeedCells(name.clone())];
        let (out, w) = self.submit_jobs(sweep, jobs);
        writes.extend(w);
        writes.extend(self.decide_all(&name));
        writes.extend(self.settle(&[name]));
        (out, writes)
    }

    /// The jobs of a submission, without settling.
    fn submit_jobs(&mut self, sweep: Sweep, jobs: Vec<Job>) -> (Submitted, Vec<Write>) {
        let mut writes = Vec::new();
        // A redefined sweep no longer owns the jobs it dropped: the owners
        // index must say what the stored sweeps' keys say, or a restart
        // would change which jobs a later cancellation stops.
        if let Some(previous) = self.sweeps.get(&sweep.name) {
            let kept: HashSet<&JobKey> = sweep.keys.iter().collect();
            for dropped in previous.keys.iter().filter(|k| !kept.contains(k)) {
                if let Some(owners) = self.owners.get_mut(dropped) {
                    owners.retain(|s| s != &sweep.name);
                }
            }
        }
        // Recounted below from its new key list; until then no transition
        // may count against its old one.
        self.counts.remove(&sweep.name);
        let mut out = Submitted {
            jobs: jobs.len() as u32,
            already_done: 0,
            to_run: 0,
        };
        for job in jobs {
            let key = job.key.clone();
            // Taken before this sweep owns it: its counts are rebuilt below.
            match self.take_submitted(job, &mut writes) {
                true => out.already_done += 1,
                false => out.to_run += 1,
            }
            let owners = self.owners.entry(key).or_default();
            if !owners.contains(&sweep.name) {
                owners.push(sweep.name.clone());
            }
        }
        let mut sweep = sweep;
        sweep.state = SweepState::Running;
        self.sweeps.insert(sweep.name.clone(), sweep.clone());
        self.recount(&sweep.name);
        writes.push(Write::Sweep(sweep));
        (out, writes)
    }

    /// Cancels a sweep: its jobs not needed by another running sweep stop.
    pub fn cancel(&mut self, name: &SweepName) -> Result<Vec<Write>, StateError> {
        let sweep = self
            .sweeps
            .get_mut(name)
            .ok_or_else(|| StateError::UnknownSweep(name.clone()))?;
        if sweep.state != SweepState::Running {
            return Ok(vec![]);
        }
        sweep.state = SweepState::Cancelled;
        let keys = sweep.keys.clone();
        let mut writes = vec![Write::Sweep(sweep.clone())];
        let mut unqueued = HashSet::new();
        for key in keys {
            let still_wanted = self.owners[&key].iter().any(|s| {
                s != name
                    && self
                        .sweeps
                        .get(s)
                        .is_some_and(|s| s.state == SweepState::Running)
            });
            let job = self.jobs.get_mut(&key).expect("a sweep's job exists");
            if !still_wanted && matches!(job.state, JobState::Queued | JobState::Leased { .. }) {
                if job.state == JobState::Queued {
                    unqueued.insert(key.clone());
                }
                tally(
                    &mut self.counts,
                    &self.owners,
                    &key,
                    &job.state,
                    &JobState::Cancelled,
                );
                job.state = JobState::Cancelled;
                self.leased.remove(&key);
                writes.push(Write::Job(job.clone()));
            }
        }
        // The queue holds only queued jobs, each once: a resubmission after
        // a cancellation queues them again.
        if !unqueued.is_empty() {
            self.queue.retain(|k| !unqueued.contains(k));
        }
        Ok(writes)
    }

    /// After job `key` ended: the adaptive cells that wait on it decide
    /// (and may release seeds), then its sweeps finish if nothing is open.
    /// A submitted job, as the state takes it: a new one is queued, a
    /// failed or cancelled one starts afresh with the submission's limits
    /// (counted in its owners' counts), a queued or leased one is left as it
    /// is. Whether it is already done.
    pub(super) fn take_submitted(&mut self, job: Job, writes: &mut Vec<Write>) -> bool {
        match self.jobs.get_mut(&job.key) {
            Some(existing) if existing.state == JobState::Done => return true,
            Some(existing)
                if matches!(
                    existing.state,
                    JobState::Failed { .. } | JobState::Cancelled
                ) =>
            {
                tally(
                    &mut self.counts,
                    &self.owners,
                    &job.key,
                    &existing.state,
                    &JobState::Queued,
                );
                existing.state = JobState::Queued;
                existing.attempts = 0;
                existing.retry_limit = job.retry_limit;
                existing.lease_timeout = job.lease_timeout;
                self.queue.push_back(job.key.clone());
                writes.push(Write::Job(existing.clone()));
            }
            Some(_) => {}
            None => {
                self.queue.push_back(job.key.clone());
                writes.push(Write::Job(job.clone()));
                self.jobs.insert(job.key.clone(), job);
            }
        }
        false
    }

    pub(super) fn settle_owners_of(&mut self, key: &JobKey) -> Vec<Write> {
        let mut writes = self.seeding_after(key, None);
        let owners = self.owners.get(key).cloned().unwrap_or_default();
        writes.extend(self.settle(&owners));
        writes
    }

    /// Marks running sweeps whose jobs have all ended as finished.
    pub(super) fn settle(&mut self, names: &[SweepName]) -> Vec<Write> {
        let mut writes = Vec::new();
        for name in names {
            let Some(sweep) = self.sweeps.get(name) else {
                continue;
            };
            let open = self.counts.get(name).map_or(0, |c| c.queued + c.running);
            if sweep.state == SweepState::Running && open == 0 {
                let sweep = self.sweeps.get_mut(name).unwrap();
                sweep.state = SweepState::Finished;
                tracing::info!(sweep = %name, "sweep finished");
                writes.push(Write::Sweep(sweep.clone()));
            }
        }
        writes
    }

    pub fn counts(&self, name: &SweepName) -> Result<(SweepState, Counts), StateError> {
        let sweep = self
            .sweeps
            .get(name)
            .ok_or_else(|| StateError::UnknownSweep(name.clone()))?;
        let c = self.counts.get(name).cloned().unwrap_or_default();
        Ok((sweep.state, c))
    }
}
