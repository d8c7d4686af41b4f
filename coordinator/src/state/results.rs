//! What workers report: a job's result, or the failure of its lease.

use super::{JobState, State, Write};
use crate::ids::{JobKey, LeaseToken, WorkerId};

impl State {
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
        attempt: LeaseToken,
        result_json: String,
    ) -> (bool, Vec<Write>) {
        let Some(job) = self.jobs.get_mut(key) else {
            return (false, vec![]);
        };
        // Attempt 0 is never issued: no lease of this coordinator's.
        if job.state == JobState::Done || attempt.get() == 0 {
            return (false, vec![]);
        }
        job.attempts = job.attempts.max(attempt.get());
        let was_queued = job.state == JobState::Queued;
        job.state = JobState::Done;
        self.leased.remove(key);
        if was_queued {
            // A late result for a job already back in the queue (its lease
            // expired): the queue holds only queued jobs, each once. Rare,
            // so the linear removal is cheaper than a second index.
            self.queue.retain(|k| k != key);
        }
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
        attempt: LeaseToken,
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
}
