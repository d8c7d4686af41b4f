//! Workers and their leases: registration, leasing, renewal, expiry and
//! hand-back on leaving.

use std::time::{Duration, Instant};

use super::{tally, Granted, JobState, State, StateError, Write};
use crate::ids::{JobKey, LeaseToken, WorkerId};

impl State {
    pub fn register(&mut self, id: WorkerId, name: String) -> Vec<Write> {
        self.workers.insert(id.clone(), name.clone());
        vec![Write::Worker { id, name }]
    }

    fn known(&self, worker: &WorkerId) -> Result<(), StateError> {
        if self.workers.contains_key(worker) {
            Ok(())
        } else {
            Err(StateError::UnknownWorker(worker.clone()))
        }
    }

    /// Hands out up to `max` queued jobs to `worker`.
    pub fn lease(
        &mut self,
        worker: &WorkerId,
        max: usize,
        now: Instant,
    ) -> Result<(Vec<Granted>, Vec<Write>), StateError> {
        self.known(worker)?;
        let mut granted = Vec::new();
        let mut writes = Vec::new();
        while granted.len() < max {
            let Some(key) = self.queue.pop_front() else {
                break;
            };
            let Some(job) = self.jobs.get_mut(&key) else {
                continue;
            };
            if job.state != JobState::Queued {
                continue; // a stale queue entry
            }
            job.attempts += 1;
            self.unleased_since_load.remove(&key);
            let attempt = LeaseToken::new(job.attempts);
            let leased = JobState::Leased {
                worker: worker.clone(),
                attempt,
                deadline: deadline_after(now, job.lease_timeout),
            };
            tally(&mut self.counts, &self.owners, &key, &job.state, &leased);
            job.state = leased;
            self.leased.insert(key.clone());
            granted.push(Granted {
                key: key.clone(),
                attempt,
                spec_json: job.spec_json.clone(),
                files: job.files.clone(),
                lease_timeout: job.lease_timeout,
            });
            writes.push(Write::Job(job.clone()));
        }
        Ok((granted, writes))
    }

    /// Renews the worker's leases; returns those it no longer holds.
    pub fn heartbeat(
        &mut self,
        worker: &WorkerId,
        leases: &[(JobKey, LeaseToken)],
        now: Instant,
    ) -> Result<Vec<(JobKey, LeaseToken)>, StateError> {
        self.known(worker)?;
        let mut lost = Vec::new();
        for (key, attempt) in leases {
            match self
                .jobs
                .get_mut(key)
                .map(|j| (&mut j.state, j.lease_timeout))
            {
                Some((
                    JobState::Leased {
                        worker: w,
                        attempt: a,
                        deadline,
                    },
                    timeout,
                )) if w == worker && a == attempt => {
                    *deadline = deadline_after(now, timeout);
                }
                _ => lost.push((key.clone(), *attempt)),
            }
        }
        Ok(lost)
    }

    /// The worker leaves, handing back unfinished leases (not counted as attempts).
    pub fn deregister(
        &mut self,
        worker: &WorkerId,
        hand_back: &[(JobKey, LeaseToken)],
    ) -> Vec<Write> {
        let mut writes = Vec::new();
        for (key, attempt) in hand_back {
            let held = matches!(
                self.jobs.get(key).map(|j| &j.state),
                Some(JobState::Leased { worker: w, attempt: a, .. }) if w == worker && a == attempt
            );
            if held {
                writes.extend(self.end_lease(key, None, false));
            }
        }
        // A worker deregisters after it has reported what it finished: a
        // lease it still holds is one whose grant never reached it (a call
        // dropped as it stopped). Back to the queue, not counted.
        let unknown_to_it: Vec<JobKey> = self
            .leased
            .iter()
            .filter(|k| matches!(&self.jobs[*k].state, JobState::Leased { worker: w, .. } if w == worker))
            .cloned()
            .collect();
        for key in unknown_to_it {
            writes.extend(self.end_lease(&key, None, false));
        }
        self.workers.remove(worker);
        writes
    }

    /// Ends every lease whose deadline has passed.
    pub fn expire(&mut self, now: Instant) -> Vec<Write> {
        let expired: Vec<JobKey> = self
            .leased
            .iter()
            .filter(|k| matches!(self.jobs[*k].state, JobState::Leased { deadline, .. } if deadline <= now))
            .cloned()
            .collect();
        let mut writes = Vec::new();
        for key in expired {
            let worker = match &self.jobs[&key].state {
                JobState::Leased { worker, .. } => worker.clone(),
                _ => unreachable!(),
            };
            tracing::warn!(job = %key, %worker, "lease expired");
            self.expired_leases += 1;
            writes.extend(self.end_lease(
                &key,
                Some(format!("lease expired on worker {worker}")),
                true,
            ));
        }
        writes
    }

    /// Failed at once, whatever attempts remain: the job can never succeed.
    pub(super) fn fail_now(&mut self, key: &JobKey, error: String) -> Vec<Write> {
        let job = self.jobs.get_mut(key).expect("a leased job exists");
        self.leased.remove(key);
        let failed = JobState::Failed { error };
        tally(&mut self.counts, &self.owners, key, &job.state, &failed);
        job.state = failed;
        let mut writes = vec![Write::Job(job.clone())];
        writes.extend(self.settle_owners_of(key));
        writes
    }

    /// Back to the queue, or failed when the attempts are used up.
    pub(super) fn end_lease(
        &mut self,
        key: &JobKey,
        error: Option<String>,
        counts: bool,
    ) -> Vec<Write> {
        let job = self.jobs.get_mut(key).expect("a leased job exists");
        self.leased.remove(key);
        if !counts {
            job.attempts = job.attempts.saturating_sub(1);
        }
        let next = if counts && job.attempts >= job.retry_limit {
            JobState::Failed {
                error: error.unwrap_or_default(),
            }
        } else {
            self.queue.push_back(key.clone());
            JobState::Queued
        };
        tally(&mut self.counts, &self.owners, key, &job.state, &next);
        job.state = next;
        let mut writes = vec![Write::Job(job.clone())];
        writes.extend(self.settle_owners_of(key));
        writes
    }
}

/// `now + timeout`, or a day from now if that would not fit an `Instant`:
/// a stored lease timeout from before sweep files were bounded must never
/// panic the core (it would then panic again on every restart).
pub(crate) fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}
