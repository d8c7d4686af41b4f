//! The coordinator's state machine: every transition of a job, a sweep or a
//! worker happens here, and each returns the rows to persist, so the
//! durable store and this in-memory view change together.
//!
//! A job:
//!
//! ```text
//!            lease                   result (any issued attempt)
//!  Queued ─────────▶ Leased ─────────────────────────▶ Done
//!    ▲                 │  expiry / failure / hand-back
//!    └─────────────────┤  (attempts < retry limit, or hand-back)
//!                      ▼
//!                    Failed (attempts used up; error text kept)
//! ```
//!
//! `Queued` and `Leased` jobs of a cancelled sweep become `Cancelled`.
//! Results are deterministic functions of the job key, so a late result
//! for a job not yet done is accepted, whichever attempt produced it; once
//! done, a job never takes another result (duplicates are acknowledged and
//! ignored). Failures only count for the current lease.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::ids::{JobKey, SweepName, WorkerId};

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Queued,
    Leased {
        worker: WorkerId,
        attempt: u32,
        deadline: Instant,
    },
    Done,
    Failed {
        error: String,
    },
    Cancelled,
}

impl JobState {
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Leased { .. } => "leased",
            JobState::Done => "done",
            JobState::Failed { .. } => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed { .. } | JobState::Cancelled
        )
    }
}

/// A dataset file a job needs, as the worker fetches it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NeededFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub key: JobKey,
    pub spec_json: String,
    pub files: Vec<NeededFile>,
    pub state: JobState,
    /// Leases issued so far; the current lease's fencing token.
    pub attempts: u32,
    pub retry_limit: u32,
    pub lease_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepState {
    Running,
    Finished,
    Cancelled,
}

impl SweepState {
    pub fn name(self) -> &'static str {
        match self {
            SweepState::Running => "running",
            SweepState::Finished => "finished",
            SweepState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(SweepState::Running),
            "finished" => Some(SweepState::Finished),
            "cancelled" => Some(SweepState::Cancelled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sweep {
    pub name: SweepName,
    pub toml: String,
    pub state: SweepState,
    pub keys: Vec<JobKey>,
}

/// A row to write in the transaction that makes a transition durable.
#[derive(Debug, Clone)]
pub enum Write {
    /// The whole row of a job, as it now is.
    Job(Job),
    /// A sweep and its job list, as they now are.
    Sweep(Sweep),
    Result {
        key: JobKey,
        result_json: String,
        worker: WorkerId,
        attempt: u32,
    },
    Worker {
        id: WorkerId,
        name: String,
    },
}

/// Counts of a sweep's jobs by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u32,
    pub queued: u32,
    pub running: u32,
    pub done: u32,
    pub failed: u32,
    pub cancelled: u32,
}

/// A lease as handed to a worker.
#[derive(Debug, Clone)]
pub struct Granted {
    pub key: JobKey,
    pub attempt: u32,
    pub spec_json: String,
    pub files: Vec<NeededFile>,
    pub lease_timeout: Duration,
}

/// What a submission did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub jobs: u32,
    pub already_done: u32,
    pub to_run: u32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StateError {
    #[error("unknown worker {0}; register again")]
    UnknownWorker(WorkerId),
    #[error("unknown sweep `{0}`")]
    UnknownSweep(SweepName),
}

#[derive(Debug, Default)]
pub struct State {
    pub jobs: HashMap<JobKey, Job>,
    pub sweeps: BTreeMap<SweepName, Sweep>,
    pub workers: HashMap<WorkerId, String>,
    queue: VecDeque<JobKey>,
    leased: HashSet<JobKey>,
    /// Sweeps each job belongs to.
    owners: HashMap<JobKey, Vec<SweepName>>,
}

impl State {
    /// Rebuilds the view from what the store holds. Leases found there are
    /// kept with a fresh deadline, so their workers can renew or report
    /// after a coordinator restart without redoing the work.
    pub fn rebuild(
        jobs: Vec<Job>,
        sweeps: Vec<Sweep>,
        workers: Vec<(WorkerId, String)>,
        now: Instant,
    ) -> Self {
        let mut state = State {
            workers: workers.into_iter().collect(),
            ..Default::default()
        };
        for mut job in jobs {
            if let JobState::Leased { deadline, .. } = &mut job.state {
                *deadline = now + job.lease_timeout;
            }
            state.index(&job);
            state.jobs.insert(job.key.clone(), job);
        }
        for sweep in sweeps {
            for key in &sweep.keys {
                state
                    .owners
                    .entry(key.clone())
                    .or_default()
                    .push(sweep.name.clone());
            }
            state.sweeps.insert(sweep.name.clone(), sweep);
        }
        state
    }

    fn index(&mut self, job: &Job) {
        match job.state {
            JobState::Queued => self.queue.push_back(job.key.clone()),
            JobState::Leased { .. } => {
                self.leased.insert(job.key.clone());
            }
            _ => {}
        }
    }

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

    /// Adds or redefines a sweep. Jobs whose keys already have a result are
    /// not run again; failed or cancelled ones are given a fresh start.
    pub fn submit(&mut self, sweep: Sweep, jobs: Vec<Job>) -> (Submitted, Vec<Write>) {
        let mut writes = Vec::new();
        let mut out = Submitted {
            jobs: jobs.len() as u32,
            already_done: 0,
            to_run: 0,
        };
        for job in jobs {
            let owners = self.owners.entry(job.key.clone()).or_default();
            if !owners.contains(&sweep.name) {
                owners.push(sweep.name.clone());
            }
            match self.jobs.get_mut(&job.key) {
                Some(existing) if existing.state == JobState::Done => out.already_done += 1,
                Some(existing)
                    if matches!(
                        existing.state,
                        JobState::Failed { .. } | JobState::Cancelled
                    ) =>
                {
                    existing.state = JobState::Queued;
                    existing.attempts = 0;
                    existing.retry_limit = job.retry_limit;
                    existing.lease_timeout = job.lease_timeout;
                    self.queue.push_back(job.key.clone());
                    writes.push(Write::Job(existing.clone()));
                    out.to_run += 1;
                }
                Some(_) => out.to_run += 1,
                None => {
                    self.queue.push_back(job.key.clone());
                    writes.push(Write::Job(job.clone()));
                    self.jobs.insert(job.key.clone(), job);
                    out.to_run += 1;
                }
            }
        }
        let mut sweep = sweep;
        sweep.state = SweepState::Running;
        self.sweeps.insert(sweep.name.clone(), sweep.clone());
        writes.push(Write::Sweep(sweep.clone()));
        writes.extend(self.settle(&[sweep.name]));
        (out, writes)
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
            job.state = JobState::Leased {
                worker: worker.clone(),
                attempt: job.attempts,
                deadline: now + job.lease_timeout,
            };
            self.leased.insert(key.clone());
            granted.push(Granted {
                key: key.clone(),
                attempt: job.attempts,
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
        leases: &[(JobKey, u32)],
        now: Instant,
    ) -> Result<Vec<(JobKey, u32)>, StateError> {
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
                    *deadline = now + timeout;
                }
                _ => lost.push((key.clone(), *attempt)),
            }
        }
        Ok(lost)
    }

    /// Records a result unless the job already has one. Returns whether it
    /// was taken.
    ///
    /// Any lease's result is taken while the job has none, even one whose
    /// attempt the coordinator does not remember: leases are committed
    /// lazily, so after a crash a worker may report an attempt the store
    /// never saw. Results are equal for equal keys, so taking it only
    /// spares running the job again.
    pub fn report_result(
        &mut self,
        worker: &WorkerId,
        key: &JobKey,
        attempt: u32,
        result_json: String,
    ) -> (bool, Vec<Write>) {
        let Some(job) = self.jobs.get_mut(key) else {
            return (false, vec![]);
        };
        if job.state == JobState::Done || attempt == 0 {
            return (false, vec![]);
        }
        job.attempts = job.attempts.max(attempt);
        job.state = JobState::Done;
        self.leased.remove(key);
        let mut writes = vec![
            Write::Result {
                key: key.clone(),
                result_json,
                worker: worker.clone(),
                attempt,
            },
            Write::Job(job.clone()),
        ];
        writes.extend(self.settle_owners_of(key));
        (true, writes)
    }

    /// A failure of the current lease: retried while attempts remain.
    pub fn report_failure(
        &mut self,
        worker: &WorkerId,
        key: &JobKey,
        attempt: u32,
        error: String,
    ) -> (bool, Vec<Write>) {
        let current = matches!(
            self.jobs.get(key).map(|j| &j.state),
            Some(JobState::Leased { worker: w, attempt: a, .. }) if w == worker && *a == attempt
        );
        if !current {
            return (false, vec![]);
        }
        (true, self.end_lease(key, Some(error), true))
    }

    /// The worker leaves, handing back unfinished leases (not counted as attempts).
    pub fn deregister(&mut self, worker: &WorkerId, hand_back: &[(JobKey, u32)]) -> Vec<Write> {
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
            writes.extend(self.end_lease(
                &key,
                Some(format!("lease expired on worker {worker}")),
                true,
            ));
        }
        writes
    }

    /// Back to the queue, or failed when the attempts are used up.
    fn end_lease(&mut self, key: &JobKey, error: Option<String>, counts: bool) -> Vec<Write> {
        let job = self.jobs.get_mut(key).expect("a leased job exists");
        self.leased.remove(key);
        if !counts {
            job.attempts = job.attempts.saturating_sub(1);
        }
        if counts && job.attempts >= job.retry_limit {
            job.state = JobState::Failed {
                error: error.unwrap_or_default(),
            };
        } else {
            job.state = JobState::Queued;
            self.queue.push_back(key.clone());
        }
        let mut writes = vec![Write::Job(job.clone())];
        writes.extend(self.settle_owners_of(key));
        writes
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
                job.state = JobState::Cancelled;
                self.leased.remove(&key);
                writes.push(Write::Job(job.clone()));
            }
        }
        Ok(writes)
    }

    fn settle_owners_of(&mut self, key: &JobKey) -> Vec<Write> {
        let owners = self.owners.get(key).cloned().unwrap_or_default();
        self.settle(&owners)
    }

    /// Marks running sweeps whose jobs have all ended as finished.
    fn settle(&mut self, names: &[SweepName]) -> Vec<Write> {
        let mut writes = Vec::new();
        for name in names {
            let Some(sweep) = self.sweeps.get(name) else {
                continue;
            };
            if sweep.state == SweepState::Running
                && sweep.keys.iter().all(|k| self.jobs[k].state.is_terminal())
            {
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
        let mut c = Counts {
            total: sweep.keys.len() as u32,
            ..Default::default()
        };
        for key in &sweep.keys {
            match self.jobs[key].state {
                JobState::Queued => c.queued += 1,
                JobState::Leased { .. } => c.running += 1,
                JobState::Done => c.done += 1,
                JobState::Failed { .. } => c.failed += 1,
                JobState::Cancelled => c.cancelled += 1,
            }
        }
        Ok((sweep.state, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(key: &str, retry_limit: u32) -> Job {
        Job {
            key: key.into(),
            spec_json: "{}".into(),
            files: vec![],
            state: JobState::Queued,
            attempts: 0,
            retry_limit,
            lease_timeout: Duration::from_secs(10),
        }
    }

    fn sweep(name: &str, keys: &[&str]) -> Sweep {
        Sweep {
            name: name.into(),
            toml: String::new(),
            state: SweepState::Running,
            keys: keys.iter().map(|k| JobKey::from(*k)).collect(),
        }
    }

    fn setup(retry_limit: u32) -> (State, WorkerId, WorkerId) {
        let mut s = State::default();
        s.submit(
            sweep("s", &["a", "b"]),
            vec![job("a", retry_limit), job("b", retry_limit)],
        );
        let (w1, w2) = (WorkerId::from("w1"), WorkerId::from("w2"));
        s.register(w1.clone(), "one".into());
        s.register(w2.clone(), "two".into());
        (s, w1, w2)
    }

    #[test]
    fn a_sweep_finishes_when_every_job_has_one_result() {
        let (mut s, w1, _) = setup(3);
        let now = Instant::now();
        let (granted, _) = s.lease(&w1, 10, now).unwrap();
        assert_eq!(granted.len(), 2);
        assert!(s.report_result(&w1, &"a".into(), 1, "{}".into()).0);
        assert_eq!(s.counts(&"s".into()).unwrap().0, SweepState::Running);
        assert!(s.report_result(&w1, &"b".into(), 1, "{}".into()).0);
        assert_eq!(
            s.counts(&"s".into()).unwrap(),
            (
                SweepState::Finished,
                Counts {
                    total: 2,
                    done: 2,
                    ..Default::default()
                }
            )
        );
        // A duplicate report is acknowledged and ignored.
        let (accepted, writes) = s.report_result(&w1, &"a".into(), 1, "{}".into());
        assert!(!accepted && writes.is_empty());
    }

    #[test]
    fn an_expired_lease_is_leased_again_with_a_new_token_and_the_late_result_ignored() {
        let (mut s, w1, w2) = setup(3);
        let now = Instant::now();
        s.lease(&w1, 1, now).unwrap();
        // Renewed in time: still held.
        assert!(s
            .heartbeat(&w1, &[("a".into(), 1)], now + Duration::from_secs(9))
            .unwrap()
            .is_empty());
        assert!(s.expire(now + Duration::from_secs(15)).is_empty());
        // Not renewed: expired, back in the queue, then leased by w2 as attempt 2.
        assert_eq!(s.expire(now + Duration::from_secs(20)).len(), 1);
        // Re-queued jobs go to the back, behind b.
        let (granted, _) = s.lease(&w2, 2, now + Duration::from_secs(20)).unwrap();
        assert_eq!((granted[1].key.0.as_str(), granted[1].attempt), ("a", 2));
        assert_eq!(
            s.heartbeat(&w1, &[("a".into(), 1)], now).unwrap(),
            vec![("a".into(), 1)]
        );
        assert!(s.report_result(&w2, &"a".into(), 2, "{}".into()).0);
        assert!(!s.report_result(&w1, &"a".into(), 1, "{}".into()).0);
    }

    #[test]
    fn a_result_from_a_lease_lost_in_a_crash_is_taken() {
        // The lease of attempt 1 never reached the store: after the
        // restart, the job is queued with no attempts.
        let (mut s, w1, w2) = setup(3);
        assert!(s.report_result(&w1, &"a".into(), 1, "{}".into()).0);
        // The job is done: it is not leased again, and the attempt stands.
        let (granted, _) = s.lease(&w2, 10, Instant::now()).unwrap();
        assert!(granted.iter().all(|g| g.key.0 != "a"));
        assert_eq!(s.jobs[&JobKey::from("a")].attempts, 1);
    }

    #[test]
    fn failures_retry_up_to_the_limit_then_keep_the_error() {
        let (mut s, w1, _) = setup(2);
        let now = Instant::now();
        for attempt in 1..=2 {
            let (granted, _) = s.lease(&w1, 1, now).unwrap();
            assert_eq!(
                (granted[0].key.0.as_str(), granted[0].attempt),
                ("a", attempt)
            );
            assert!(
                s.report_failure(&w1, &"a".into(), attempt, format!("boom {attempt}"))
                    .0
            );
            // The other job is queued behind; take it out of the way once.
            if attempt == 1 {
                let (b, _) = s.lease(&w1, 1, now).unwrap();
                assert_eq!(b[0].key.0, "b");
            }
        }
        assert_eq!(
            s.jobs[&JobKey::from("a")].state,
            JobState::Failed {
                error: "boom 2".into()
            }
        );
        // A stale failure report changes nothing.
        assert!(!s.report_failure(&w1, &"b".into(), 7, "late".into()).0);
    }

    #[test]
    fn handed_back_leases_do_not_count_as_attempts() {
        let (mut s, w1, w2) = setup(1);
        let now = Instant::now();
        s.lease(&w1, 1, now).unwrap();
        s.deregister(&w1, &[("a".into(), 1)]);
        assert!(matches!(
            s.lease(&w1, 1, now),
            Err(StateError::UnknownWorker(_))
        ));
        let (granted, _) = s.lease(&w2, 2, now).unwrap();
        let a = granted.iter().find(|g| g.key.0 == "a").unwrap();
        assert_eq!(a.attempt, 1, "the hand-back gave the attempt back");
    }

    #[test]
    fn resubmission_runs_only_what_has_no_result() {
        let (mut s, w1, _) = setup(3);
        let now = Instant::now();
        s.lease(&w1, 2, now).unwrap();
        s.report_result(&w1, &"a".into(), 1, "{}".into());
        s.report_result(&w1, &"b".into(), 1, "{}".into());
        let (out, _) = s.submit(sweep("s", &["a", "b"]), vec![job("a", 3), job("b", 3)]);
        assert_eq!(
            out,
            Submitted {
                jobs: 2,
                already_done: 2,
                to_run: 0
            }
        );
        assert_eq!(s.counts(&"s".into()).unwrap().0, SweepState::Finished);
        let (out, _) = s.submit(
            sweep("s", &["a", "b", "c"]),
            vec![job("a", 3), job("b", 3), job("c", 3)],
        );
        assert_eq!(
            out,
            Submitted {
                jobs: 3,
                already_done: 2,
                to_run: 1
            }
        );
        let (granted, _) = s.lease(&w1, 5, now).unwrap();
        assert_eq!(
            granted.iter().map(|g| g.key.0.as_str()).collect::<Vec<_>>(),
            ["c"]
        );
    }

    #[test]
    fn cancel_stops_queued_and_leased_jobs() {
        let (mut s, w1, _) = setup(3);
        s.lease(&w1, 1, Instant::now()).unwrap();
        s.cancel(&"s".into()).unwrap();
        let (state, c) = s.counts(&"s".into()).unwrap();
        assert_eq!((state, c.cancelled), (SweepState::Cancelled, 2));
        assert!(s.lease(&w1, 5, Instant::now()).unwrap().0.is_empty());
        assert!(matches!(
            s.cancel(&"nope".into()),
            Err(StateError::UnknownSweep(_))
        ));
    }

    #[test]
    fn a_rebuilt_state_keeps_leases_with_fresh_deadlines_and_the_queue() {
        let (mut s, w1, _) = setup(3);
        let now = Instant::now();
        s.lease(&w1, 1, now).unwrap();
        let jobs: Vec<Job> = s.jobs.values().cloned().collect();
        let sweeps: Vec<Sweep> = s.sweeps.values().cloned().collect();
        let later = now + Duration::from_secs(100);
        let mut r = State::rebuild(jobs, sweeps, vec![(w1.clone(), "one".into())], later);
        assert!(r
            .heartbeat(&w1, &[("a".into(), 1)], later)
            .unwrap()
            .is_empty());
        assert!(r.expire(later + Duration::from_secs(5)).is_empty());
        let (granted, _) = r.lease(&w1, 5, later).unwrap();
        assert_eq!(
            granted.iter().map(|g| g.key.0.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
    }
}
