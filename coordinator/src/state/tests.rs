//! Unit tests of the transitions.

use super::*;

/// The token of lease attempt `n`.
fn t(n: u32) -> LeaseToken {
    LeaseToken::new(n)
}

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
    assert!(s.report_result(&w1, &"a".into(), t(1), "{}".into()).0 == Taken::Accepted);
    assert_eq!(s.counts(&"s".into()).unwrap().0, SweepState::Running);
    assert!(s.report_result(&w1, &"b".into(), t(1), "{}".into()).0 == Taken::Accepted);
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
    let (taken, writes) = s.report_result(&w1, &"a".into(), t(1), "{}".into());
    assert!(taken == Taken::Duplicate && writes.is_empty());
}

#[test]
fn an_expired_lease_is_leased_again_with_a_new_token_and_the_late_result_ignored() {
    let (mut s, w1, w2) = setup(3);
    let now = Instant::now();
    s.lease(&w1, 1, now).unwrap();
    // Renewed in time: still held.
    assert!(s
        .heartbeat(&w1, &[("a".into(), t(1))], now + Duration::from_secs(9))
        .unwrap()
        .is_empty());
    assert!(s.expire(now + Duration::from_secs(15)).is_empty());
    // Not renewed: expired, back in the queue, then leased by w2 as attempt 2.
    assert_eq!(s.expire(now + Duration::from_secs(20)).len(), 1);
    // Re-queued jobs go to the back, behind b.
    let (granted, _) = s.lease(&w2, 2, now + Duration::from_secs(20)).unwrap();
    assert_eq!(
        (granted[1].key.as_str(), granted[1].attempt.get()),
        ("a", 2)
    );
    assert_eq!(
        s.heartbeat(&w1, &[("a".into(), t(1))], now).unwrap(),
        vec![("a".into(), t(1))]
    );
    assert!(s.report_result(&w2, &"a".into(), t(2), "{}".into()).0 == Taken::Accepted);
    // w2's result is in: w1's late one is a duplicate.
    assert_eq!(
        s.report_result(&w1, &"a".into(), t(1), "{}".into()).0,
        Taken::Duplicate
    );
}

#[test]
fn a_late_result_of_an_expired_lease_is_refused_while_the_job_is_not_done() {
    let (mut s, w1, w2) = setup(3);
    let now = Instant::now();
    s.lease(&w1, 1, now).unwrap();
    s.expire(now + Duration::from_secs(20));
    // Back in the queue: w1 no longer holds it.
    assert!(matches!(
        s.report_result(&w1, &"a".into(), t(1), "{}".into()).0,
        Taken::Refused(_)
    ));
    let (granted, _) = s.lease(&w2, 2, now + Duration::from_secs(20)).unwrap();
    assert_eq!(granted[1].attempt.get(), 2);
    // Leased to w2 now: w1's attempt 1, and w1 claiming attempt 2, are refused.
    for (w, a) in [(&w1, 1), (&w1, 2), (&w2, 1), (&w2, 3)] {
        assert!(matches!(
            s.report_result(w, &"a".into(), t(a), "{}".into()).0,
            Taken::Refused(_)
        ));
    }
    assert_eq!(s.jobs[&JobKey::from("a")].state.name(), "leased");
}

#[test]
fn results_for_cancelled_or_failed_jobs_or_from_strangers_are_refused() {
    let (mut s, w1, _) = setup(1);
    let now = Instant::now();
    s.lease(&w1, 1, now).unwrap();
    s.report_failure(&w1, &"a".into(), t(1), "boom".into(), FailureKind::JOB);
    assert_eq!(s.jobs[&JobKey::from("a")].state.name(), "failed");
    assert!(matches!(
        s.report_result(&w1, &"a".into(), t(1), "{}".into()).0,
        Taken::Refused(_)
    ));
    // Never leased since the load, but from a worker nobody registered.
    let stranger = WorkerId::from("nobody");
    assert!(matches!(
        s.report_result(&stranger, &"b".into(), t(5), "{}".into()).0,
        Taken::Refused(_)
    ));
    s.cancel(&"s".into()).unwrap();
    assert!(matches!(
        s.report_result(&w1, &"b".into(), t(5), "{}".into()).0,
        Taken::Refused(_)
    ));
}

#[test]
fn a_failure_that_can_never_succeed_fails_at_once() {
    let (mut s, w1, _) = setup(5);
    s.lease(&w1, 1, Instant::now()).unwrap();
    let permanent = FailureKind {
        retryable: false,
        counts_toward_limit: true,
    };
    assert!(
        s.report_failure(&w1, &"a".into(), t(1), "bad spec".into(), permanent)
            .0
    );
    assert_eq!(
        s.jobs[&JobKey::from("a")].state,
        JobState::Failed {
            error: "bad spec".into()
        }
    );
}

#[test]
fn a_result_from_a_lease_lost_in_a_crash_is_taken() {
    // The lease of attempt 1 never reached the store: after the
    // restart, the job is queued with no attempts (and not leased since).
    let (s, w1, w2) = setup(3);
    let mut s = State::rebuild(
        s.jobs.into_values().collect(),
        s.sweeps.into_values().collect(),
        s.workers.into_iter().collect(),
        vec![],
        Instant::now(),
    );
    assert!(s.report_result(&w1, &"a".into(), t(1), "{}".into()).0 == Taken::Accepted);
    // The job is done: it is not leased again, and the attempt stands.
    let (granted, _) = s.lease(&w2, 10, Instant::now()).unwrap();
    assert!(granted.iter().all(|g| g.key.as_str() != "a"));
    assert_eq!(s.jobs[&JobKey::from("a")].attempts, 1);
}

#[test]
fn a_job_submitted_since_the_load_takes_results_from_its_leases_only() {
    // No crash in between: a registered worker cannot claim a queued job.
    let (mut s, w1, _) = setup(3);
    assert!(matches!(
        s.report_result(&w1, &"a".into(), t(1), "{}".into()).0,
        Taken::Refused(_)
    ));
}

#[test]
fn failures_retry_up_to_the_limit_then_keep_the_error() {
    let (mut s, w1, _) = setup(2);
    let now = Instant::now();
    for attempt in 1..=2 {
        let (granted, _) = s.lease(&w1, 1, now).unwrap();
        assert_eq!(
            (granted[0].key.as_str(), granted[0].attempt.get()),
            ("a", attempt)
        );
        assert!(
            s.report_failure(
                &w1,
                &"a".into(),
                t(attempt),
                format!("boom {attempt}"),
                FailureKind::JOB
            )
            .0
        );
        // The other job is queued behind; take it out of the way once.
        if attempt == 1 {
            let (b, _) = s.lease(&w1, 1, now).unwrap();
            assert_eq!(b[0].key.as_str(), "b");
        }
    }
    assert_eq!(
        s.jobs[&JobKey::from("a")].state,
        JobState::Failed {
            error: "boom 2".into()
        }
    );
    // A stale failure report changes nothing.
    assert!(
        !s.report_failure(&w1, &"b".into(), t(7), "late".into(), FailureKind::JOB)
            .0
    );
}

#[test]
fn handed_back_leases_do_not_count_as_attempts() {
    let (mut s, w1, w2) = setup(1);
    let now = Instant::now();
    s.lease(&w1, 1, now).unwrap();
    s.deregister(&w1, &[("a".into(), t(1))]);
    assert!(matches!(
        s.lease(&w1, 1, now),
        Err(StateError::UnknownWorker(_))
    ));
    let (granted, _) = s.lease(&w2, 2, now).unwrap();
    let a = granted.iter().find(|g| g.key.as_str() == "a").unwrap();
    assert_eq!(a.attempt.get(), 1, "the hand-back gave the attempt back");
}

#[test]
fn resubmission_runs_only_what_has_no_result() {
    let (mut s, w1, _) = setup(3);
    let now = Instant::now();
    s.lease(&w1, 2, now).unwrap();
    s.report_result(&w1, &"a".into(), t(1), "{}".into());
    s.report_result(&w1, &"b".into(), t(1), "{}".into());
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
        granted.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
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
    let mut r = State::rebuild(
        jobs,
        sweeps,
        vec![(w1.clone(), "one".into())],
        vec![],
        later,
    );
    assert!(r
        .heartbeat(&w1, &[("a".into(), t(1))], later)
        .unwrap()
        .is_empty());
    assert!(r.expire(later + Duration::from_secs(5)).is_empty());
    let (granted, _) = r.lease(&w1, 5, later).unwrap();
    assert_eq!(
        granted.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
}
