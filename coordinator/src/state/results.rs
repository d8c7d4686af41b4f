//! What workers report: a job's result, or the failure of its lease.

use super::{tally, JobState, State, Write};
use crate::ids::{JobKey, LeaseToken, WorkerId};

/// What became of a reported result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Stored: the job is done.
    Accepted,
    /// The job already had its result; this one is acknowledged and
    /// dropped (a retried report, or a second lease's result).
    Duplicate,
    /// Not from a lease that may report: nothing is stored.
    Refused(&'static str),
}

/// How a reported failure is to be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureKind {
    /// Worth another lease (a crash, an I/O error); `false` for a job that
    /// can never succeed (a bad spec, a refused file), which fails at once.
    pub retryable: bool,
    /// Whether this attempt counts toward the retry limit (`false` for a
    /// failure of the worker's host, not of the job).
    pub counts_toward_limit: bool,
}

impl FailureKind {
    /// A failure of the job's own making: retried while attempts remain.
    pub const JOB: FailureKind = FailureKind {
        retryable: true,
        counts_toward_limit: true,
    };
}

impl State {
    /// Records a result if it comes from a lease that may report one.
    ///
    /// That is the current lease, by its holder and attempt; or — because
    /// leases are committed lazily, so after a crash a worker may report an
    /// attempt the store never saw — a lease of a registered worker whose
    /// attempt is above every attempt the store knows, for a job the store
    /// held unfinished at the load and not leased again since. A job
    /// submitted to this process takes results from its leases only. A job that is done takes
    /// no second result; a cancelled or failed job takes none.
    pub fn report_result(
        &mut self,
        worker: &WorkerId,
        key: &JobKey,
        attempt: LeaseToken,
        result_json: String,
    ) -> (Taken, Vec<Write>) {
        let registered = self.workers.contains_key(worker);
        let unseen_since_load = self.unleased_since_load.contains(key);
        let Some(job) = self.jobs.get_mut(key) else {
            return (Taken::Refused("no such job"), vec![]);
        };
        let from_before_the_load = registered && unseen_since_load && attempt.get() > job.attempts;
        let verdict = match &job.state {
            JobState::Done => Taken::Duplicate,
            JobState::Cancelled => Taken::Refused("the job was cancelled"),
            JobState::Failed { .. } => Taken::Refused("the job has failed for good"),
            JobState::Leased {
                worker: w,
                attempt: a,
                ..
            } if w == worker && *a == attempt => Taken::Accepted,
            JobState::Leased { .. } | JobState::Queued if from_before_the_load => Taken::Accepted,
            JobState::Leased { .. } => Taken::Refused("not the job's current lease"),
            JobState::Queued if !registered => Taken::Refused("unknown worker"),
            JobState::Queued => Taken::Refused("the job is not leased to this worker"),
        };
        if verdict != Taken::Accepted {
            return (verdict, vec![]);
        }
        job.attempts = job.attempts.max(attempt.get());
        let was_queued = job.state == JobState::Queued;
        tally(
            &mut self.counts,
            &self.owners,
            key,
            &job.state,
            &JobState::Done,
        );
        job.state = JobState::Done;
        self.leased.remove(key);
        if was_queued {
            // A result for a job back in the queue after a restart: the
            // queue holds only queued jobs, each once. Rare, so the linear
            // removal is cheaper than a second index.
            self.queue.retain(|k| k != key);
        }
        let job_row = Write::Job(job.clone());
        // An adaptive sweep's cells take the seed's value (and may decide)
        // before the result moves into its row.
        let seeding = self.seeding_after(key, Some(&result_json));
        let mut writes = vec![
            Write::Result {
                key: key.clone(),
                result_json,
                worker: worker.clone(),
                attempt,
            },
            job_row,
        ];
        writes.extend(seeding);
        writes.extend(self.settle_owners_of(key));
        (Taken::Accepted, writes)
    }

    /// A failure of the current lease: retried while attempts remain,
    /// unless `kind` says it never can succeed.
    pub fn report_failure(
        &mut self,
        worker: &WorkerId,
        key: &JobKey,
        attempt: LeaseToken,
        error: String,
        kind: FailureKind,
    ) -> (bool, Vec<Write>) {
        let current = matches!(
            self.jobs.get(key).map(|j| &j.state),
            Some(JobState::Leased { worker: w, attempt: a, .. }) if w == worker && *a == attempt
        );
        if !current {
            return (false, vec![]);
        }
        if !kind.retryable {
            return (true, self.fail_now(key, error));
        }
        (
            true,
            self.end_lease(key, Some(error), kind.counts_toward_limit),
        )
    }
}
