//! A property test of the coordinator's state machine and its durable twin.
//!
//! Random sequences of what workers, users and the clock do (register,
//! lease, heartbeat, let time pass and expire leases, report results and
//! failures — right ones, stale ones, wrong ones —, deregister with
//! hand-back, cancel, submit / resubmit / extend / redefine a sweep, and
//! restart) are applied to a [`State`], and the rows each transition returns
//! are written to a [`Store`] the way `core` writes them: the rows of
//! registrations, leases and expiries ride along lazily, while a result, a
//! failure, a hand-back, a submission or a cancellation commits everything
//! pending before it is acknowledged; an idle tick commits too. A restart
//! reopens the store and continues with the state loaded from it, either
//! after a clean stop (pending rows committed, as the core does when its
//! channel closes) or after a crash (pending rows lost).
//!
//! After every step it checks that:
//! - the leased index is exactly the set of jobs in `Leased`, each lease's
//!   attempt is the job's attempt count, and each lease is one that was
//!   really granted, to that worker;
//! - a job, once done, never changes again (a shadow map keeps each done
//!   job's row and its accepted result, and the store's result row must
//!   stay that result);
//! - every queued job is in the lease queue exactly once, and nothing else
//!   is (see [`CHECK_QUEUE_EXACTLY_ONCE`]);
//! - a running sweep has a job that has not ended, and its counts add up;
//! - the state loaded from the store equals the in-memory state as of the
//!   last commit (jobs, sweeps with their counts, and which sweeps each job
//!   belongs to), and equals the current state whenever nothing is pending;
//!   a worker loaded from the store was registered so, durably.
//!
//! Each operation is also checked against what its doc in `state.rs` says
//! it does (which jobs it may touch and what they become).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use sweep_coordinator::ids::{JobKey, LeaseToken, SweepName, WorkerId};
use sweep_coordinator::state::{
    Counts, FailureKind, Job, JobState, NeededFile, State, StateError, Submitted, Sweep,
    SweepState, Taken, Write,
};
use sweep_coordinator::store::Store;
use sweep_coordinator::sweep_file;

/// Worker ids `w0`, `w1`, ...
const WORKERS: usize = 3;
/// Sweep names `s0`, `s1`, ...
const SWEEPS: usize = 3;
/// The job universe: one job per seed; a sweep holds a non-empty subset.
const SEEDS: u32 = 5;
/// A key no sweep has.
const NO_SUCH_JOB: &str = "no-such-job";

/// The strict queue invariant asked for: each queued job is in the queue
/// once and nothing else is. `lease` tolerates stale entries (it skips
/// them), so with `false` only "every queued job is in the queue" — the part
/// without which a job would never run — is checked.
const CHECK_QUEUE_EXACTLY_ONCE: bool = true;

/// Whether a resubmission may drop jobs from a sweep (a user editing the
/// sweep file), not only repeat or extend it.
const REDEFINE_SWEEPS_WITH_FEWER_JOBS: bool = true;

/// Fails the step with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !($cond) {
            return Err(std::fmt::format(format_args!($($fmt)+)));
        }
    };
}

// ---------------------------------------------------------------------------
// Operations

#[derive(Debug, Clone, Copy)]
enum SubmitMode {
    /// The sweep's current job set again (a plain resubmission).
    Same,
    /// The current set and more.
    Extend,
    /// Any set (may drop jobs when [`REDEFINE_SWEEPS_WITH_FEWER_JOBS`]).
    Redefine,
}

/// Who reports what, for a result or a failure.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A current lease, by its holder with its attempt: the right report.
    Current(usize),
    /// Any lease ever granted, by its holder with its attempt (maybe stale).
    Logged(usize),
    /// A current lease, reported by another worker.
    WrongWorker(usize, usize),
    /// A current lease, with another attempt number (0 included).
    WrongAttempt(usize, u32),
    /// Any job, any worker, any attempt.
    AnyJob {
        job: usize,
        worker: usize,
        attempt: u32,
    },
    /// A key no sweep has.
    UnknownJob { worker: usize, attempt: u32 },
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Register {
        worker: usize,
        name: u8,
    },
    Lease {
        worker: usize,
        max: usize,
    },
    /// Renews the worker's most recent grants, plus stale ones if `stale`.
    Heartbeat {
        worker: usize,
        stale: bool,
    },
    /// The fake clock moves; the core's expiry pass runs if `expire`, and
    /// an idle core commits what is pending if `idle`.
    Tick {
        secs: u64,
        expire: bool,
        idle: bool,
    },
    Result {
        target: Target,
        payload: u8,
    },
    Failure {
        target: Target,
    },
    /// The worker leaves, handing back every lease it was granted if `hand_back`.
    Deregister {
        worker: usize,
        hand_back: bool,
    },
    Cancel {
        sweep: usize,
    },
    Submit {
        sweep: usize,
        /// Which seeds (bit i: seed i), non-empty.
        mask: u8,
        mode: SubmitMode,
        retry_limit: u32,
        lease_secs: u64,
    },
    Restart {
        crash: bool,
    },
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        4 => (0..8usize).prop_map(Target::Current),
        1 => (0..8usize).prop_map(Target::Logged),
        1 => (0..8usize, 1..WORKERS).prop_map(|(i, shift)| Target::WrongWorker(i, shift)),
        1 => (0..8usize, 0..5u32).prop_map(|(i, attempt)| Target::WrongAttempt(i, attempt)),
        1 => (0..8usize, 0..WORKERS, 0..4u32)
            .prop_map(|(job, worker, attempt)| Target::AnyJob { job, worker, attempt }),
        1 => (0..WORKERS, 0..3u32).prop_map(|(worker, attempt)| Target::UnknownJob { worker, attempt }),
    ]
}

fn submit_op() -> impl Strategy<Value = Op> {
    let mode = prop_oneof![
        Just(SubmitMode::Same),
        Just(SubmitMode::Extend),
        Just(SubmitMode::Redefine),
    ];
    (
        0..SWEEPS,
        1..(1u8 << SEEDS),
        mode,
        1..4u32,
        prop_oneof![Just(5u64), Just(10u64)],
    )
        .prop_map(|(sweep, mask, mode, retry_limit, lease_secs)| Op::Submit {
            sweep,
            mask,
            mode,
            retry_limit,
            lease_secs,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..WORKERS, 0..2u8).prop_map(|(worker, name)| Op::Register { worker, name }),
        4 => (0..WORKERS, 0..4usize).prop_map(|(worker, max)| Op::Lease { worker, max }),
        2 => (0..WORKERS, any::<bool>()).prop_map(|(worker, stale)| Op::Heartbeat { worker, stale }),
        3 => (0..13u64, any::<bool>(), any::<bool>())
            .prop_map(|(secs, expire, idle)| Op::Tick { secs, expire, idle }),
        4 => (target(), 0..3u8).prop_map(|(target, payload)| Op::Result { target, payload }),
        2 => target().prop_map(|target| Op::Failure { target }),
        1 => (0..WORKERS, any::<bool>())
            .prop_map(|(worker, hand_back)| Op::Deregister { worker, hand_back }),
        1 => (0..SWEEPS).prop_map(|sweep| Op::Cancel { sweep }),
        3 => submit_op(),
        1 => any::<bool>().prop_map(|crash| Op::Restart { crash }),
    ]
}

// ---------------------------------------------------------------------------
// What is compared: everything observable but lease deadlines (a restart
// gives fresh ones) and the queue's order (a restart rebuilds it).

#[derive(Debug, Clone, PartialEq)]
struct JobView {
    state: &'static str,
    lease: Option<(WorkerId, u32)>,
    error: Option<String>,
    attempts: u32,
    retry_limit: u32,
    lease_timeout: Duration,
    spec_json: String,
    files: Vec<NeededFile>,
}

impl JobView {
    fn of(job: &Job) -> JobView {
        let (lease, error) = match &job.state {
            JobState::Leased {
                worker, attempt, ..
            } => (Some((worker.clone(), attempt.get())), None),
            JobState::Failed { error } => (None, Some(error.clone())),
            _ => (None, None),
        };
        JobView {
            state: job.state.name(),
            lease,
            error,
            attempts: job.attempts,
            retry_limit: job.retry_limit,
            lease_timeout: job.lease_timeout,
            spec_json: job.spec_json.clone(),
            files: job.files.clone(),
        }
    }

    fn ended(&self) -> bool {
        matches!(self.state, "done" | "failed" | "cancelled")
    }
}

#[derive(Debug, Clone, PartialEq)]
struct SweepView {
    state: SweepState,
    keys: Vec<JobKey>,
    toml: String,
    /// `None` if a key has no job (which `check` reports).
    counts: Option<Counts>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    jobs: BTreeMap<JobKey, JobView>,
    sweeps: BTreeMap<SweepName, SweepView>,
    owners: BTreeMap<JobKey, BTreeSet<SweepName>>,
}

fn snapshot(state: &State) -> Snapshot {
    let jobs: BTreeMap<JobKey, JobView> = state
        .jobs
        .iter()
        .map(|(k, j)| (k.clone(), JobView::of(j)))
        .collect();
    let sweeps: BTreeMap<SweepName, SweepView> = state
        .sweeps
        .iter()
        .map(|(name, s)| {
            let counts = if s.keys.iter().all(|k| state.jobs.contains_key(k)) {
                state.counts(name).ok().map(|(_, c)| c)
            } else {
                None
            };
            let view = SweepView {
                state: s.state,
                keys: s.keys.clone(),
                toml: s.toml.clone(),
                counts,
            };
            (name.clone(), view)
        })
        .collect();
    let owners: BTreeMap<JobKey, BTreeSet<SweepName>> = state
        .jobs
        .keys()
        .map(|k| {
            let sweeps: BTreeSet<SweepName> = state.owners_of(k).iter().cloned().collect();
            (k.clone(), sweeps)
        })
        .collect();
    Snapshot {
        jobs,
        sweeps,
        owners,
    }
}

fn diff<K: Ord + Debug, V: PartialEq + Debug>(
    what: &str,
    (left_name, left): (&str, &BTreeMap<K, V>),
    (right_name, right): (&str, &BTreeMap<K, V>),
) -> Result<(), String> {
    for (k, l) in left {
        match right.get(k) {
            Some(r) if r == l => {}
            r => {
                return Err(format!(
                    "{what} {k:?}: {left_name} {l:?}, but {right_name} {r:?}"
                ))
            }
        }
    }
    for (k, r) in right {
        if !left.contains_key(k) {
            return Err(format!(
                "{what} {k:?}: {left_name} none, but {right_name} {r:?}"
            ));
        }
    }
    Ok(())
}

fn compare(left: (&str, &Snapshot), right: (&str, &Snapshot)) -> Result<(), String> {
    let ((ln, l), (rn, r)) = (left, right);
    diff("job", (ln, &l.jobs), (rn, &r.jobs))?;
    diff("sweep", (ln, &l.sweeps), (rn, &r.sweeps))?;
    diff("owning sweeps of job", (ln, &l.owners), (rn, &r.owners))
}

/// Jobs a step had no business with are as they were.
fn unchanged_except(
    before: &BTreeMap<JobKey, JobView>,
    after: &BTreeMap<JobKey, JobView>,
    except: &BTreeSet<JobKey>,
) -> Result<(), String> {
    for (k, was) in before {
        if except.contains(k) {
            continue;
        }
        match after.get(k) {
            Some(now) if now == was => {}
            now => {
                let why = "though the step had no business with it";
                return Err(format!("job {k} changed {why}: {was:?} became {now:?}"));
            }
        }
    }
    for k in after.keys() {
        ensure!(
            before.contains_key(k) || except.contains(k),
            "job {k} appeared from nowhere"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The harness

fn worker_id(i: usize) -> WorkerId {
    WorkerId::from(format!("w{}", i % WORKERS))
}

fn worker_index(id: &WorkerId) -> usize {
    id.as_str()
        .strip_prefix('w')
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn sweep_name(i: usize) -> SweepName {
    SweepName::from(format!("s{}", i % SWEEPS))
}

/// The jobs in key order, so that a case replays the same way.
fn sorted_jobs(state: &State) -> Vec<(&JobKey, &Job)> {
    let sorted: BTreeMap<&JobKey, &Job> = state.jobs.iter().collect();
    sorted.into_iter().collect()
}

/// Whether `worker` holds the job's current lease with this attempt.
fn holds(state: &State, worker: &WorkerId, key: &JobKey, attempt: u32) -> bool {
    matches!(
        state.jobs.get(key).map(|j| &j.state),
        Some(JobState::Leased { worker: w, attempt: a, .. }) if w == worker && a.get() == attempt
    )
}

/// A sweep and its jobs as a submission builds them: a sweep file parsed
/// and expanded (no-op jobs on a built-in dataset, so no data is needed).
fn build_sweep(
    name: &SweepName,
    mask: u8,
    retry_limit: u32,
    lease_secs: u64,
) -> Result<(Sweep, Vec<Job>), String> {
    let seeds: Vec<u64> = (0..SEEDS)
        .filter(|&i| (mask & (1u8 << i)) != 0)
        .map(u64::from)
        .collect();
    let text = format!(
        "version = 1\nname = \"{name}\"\ndatasets = [\"friedman1\"]\nobjectives = [\"stl\"]\n\
         seeds = {seeds:?}\nretry_limit = {retry_limit}\nlease_timeout_secs = {lease_secs}.0\n\
         [noop]\nsleep_ms = 0\n"
    );
    let plan = sweep_file::parse(&text, "generated.toml").map_err(|e| e.to_string())?;
    plan.expand(Path::new("/nonexistent"))
        .map_err(|e| e.to_string())
}

#[derive(Debug, Clone)]
struct Lease {
    key: JobKey,
    worker: WorkerId,
    attempt: u32,
}

#[derive(Debug, Clone)]
struct DoneRecord {
    result_json: String,
    worker: WorkerId,
    attempt: u32,
    /// The job's row when it was done, which it must keep.
    view: JobView,
}

static NEXT_DB: AtomicU64 = AtomicU64::new(0);

struct Harness {
    /// A named in-memory database, shared by the connections of this
    /// process: a restart opens a new connection before closing the old one,
    /// so the data outlives it, with no fsync per commit.
    uri: String,
    store: Store,
    state: State,
    now: Instant,
    /// Rows of lazily committed transitions not yet written.
    pending: Vec<Write>,
    /// The in-memory state as of the last commit: what the store must hold.
    durable: Snapshot,
    /// Every worker registration committed, with its latest name.
    committed_workers: BTreeMap<WorkerId, String>,
    /// Every lease granted, in order (the workers' view of their leases).
    grants: Vec<Lease>,
    /// The shadow of done jobs.
    done: BTreeMap<JobKey, DoneRecord>,
    /// Each sweep's seeds as last submitted.
    sweep_masks: [Option<u8>; SWEEPS],
}

impl Harness {
    fn new() -> Result<Harness, String> {
        let uri = format!(
            "file:sweep-state-machine-{}-{}?mode=memory&cache=shared",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let store = Store::open(Path::new(&uri)).map_err(|e| format!("open {uri}: {e}"))?;
        let now = Instant::now();
        let state = store.load(now).map_err(|e| format!("load: {e}"))?;
        Ok(Harness {
            uri,
            store,
            state,
            now,
            pending: Vec::new(),
            durable: Snapshot::default(),
            committed_workers: BTreeMap::new(),
            grants: Vec::new(),
            done: BTreeMap::new(),
            sweep_masks: [None; SWEEPS],
        })
    }

    /// Commits what is pending, as the core does before acknowledging a
    /// command that must be durable (and when idle).
    fn commit(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.store
            .commit(&self.pending)
            .map_err(|e| format!("commit: {e}"))?;
        for w in &self.pending {
            if let Write::Worker { id, name } = w {
                self.committed_workers.insert(id.clone(), name.clone());
            }
        }
        self.pending.clear();
        self.durable = snapshot(&self.state);
        Ok(())
    }

    fn current_leases(&self) -> Vec<Lease> {
        sorted_jobs(&self.state)
            .into_iter()
            .filter_map(|(k, j)| match &j.state {
                JobState::Leased {
                    worker, attempt, ..
                } => Some(Lease {
                    key: k.clone(),
                    worker: worker.clone(),
                    attempt: attempt.get(),
                }),
                _ => None,
            })
            .collect()
    }

    fn any_job(&self, job: usize, worker: usize, attempt: u32) -> Lease {
        let keys: BTreeSet<JobKey> = self.state.jobs.keys().cloned().collect();
        let n = keys.len().max(1);
        let key = keys
            .into_iter()
            .nth(job % n)
            .unwrap_or_else(|| JobKey::from(NO_SUCH_JOB));
        Lease {
            key,
            worker: worker_id(worker),
            attempt,
        }
    }

    /// A current lease if there is one, else one ever granted, else any job.
    fn some_lease(&self, i: usize) -> Lease {
        let current = self.current_leases();
        let pick = |list: &[Lease]| list.get(i % list.len().max(1)).cloned();
        pick(current.as_slice())
            .or_else(|| pick(self.grants.as_slice()))
            .unwrap_or_else(|| self.any_job(i, i, 1))
    }

    fn resolve(&self, target: Target) -> Lease {
        match target {
            Target::Current(i) => self.some_lease(i),
            Target::Logged(i) => self
                .grants
                .get(i % self.grants.len().max(1))
                .cloned()
                .unwrap_or_else(|| self.any_job(i, i, 1)),
            Target::WrongWorker(i, shift) => {
                let l = self.some_lease(i);
                let worker = worker_id(worker_index(&l.worker) + shift);
                Lease { worker, ..l }
            }
            Target::WrongAttempt(i, attempt) => {
                let l = self.some_lease(i);
                let attempt = if attempt == l.attempt {
                    attempt + 1
                } else {
                    attempt
                };
                Lease { attempt, ..l }
            }
            Target::AnyJob {
                job,
                worker,
                attempt,
            } => self.any_job(job, worker, attempt),
            Target::UnknownJob { worker, attempt } => Lease {
                key: JobKey::from(NO_SUCH_JOB),
                worker: worker_id(worker),
                attempt,
            },
        }
    }

    fn apply(&mut self, op: Op) -> Result<(), String> {
        match op {
            Op::Register { worker, name } => {
                let id = worker_id(worker);
                let name = format!("host-{name}");
                let writes = self.state.register(id.clone(), name.clone());
                ensure!(
                    self.state.workers.get(&id) == Some(&name),
                    "{id} is not registered as {name} after registering"
                );
                ensure!(writes.len() == 1, "a registration wrote {writes:?}");
                self.pending.extend(writes);
            }

            Op::Lease { worker, max } => {
                let id = worker_id(worker);
                let known = self.state.workers.contains_key(&id);
                let queued: BTreeMap<JobKey, u32> = self
                    .state
                    .jobs
                    .iter()
                    .filter(|(_, j)| j.state == JobState::Queued)
                    .map(|(k, j)| (k.clone(), j.attempts))
                    .collect();
                let before = snapshot(&self.state).jobs;
                match self.state.lease(&id, max, self.now) {
                    Err(e) => {
                        ensure!(!known, "registered {id} was refused a lease: {e}");
                        let want = StateError::UnknownWorker(id.clone());
                        ensure!(e == want, "lease by unknown {id}: {e:?}, not {want:?}");
                        unchanged_except(&before, &snapshot(&self.state).jobs, &BTreeSet::new())?;
                    }
                    Ok((granted, writes)) => {
                        ensure!(known, "unregistered {id} was granted {granted:?}");
                        ensure!(
                            granted.len() == max.min(queued.len()),
                            "asked for {max} with {} queued, granted {}",
                            queued.len(),
                            granted.len()
                        );
                        let keys: BTreeSet<JobKey> =
                            granted.iter().map(|g| g.key.clone()).collect();
                        ensure!(
                            keys.len() == granted.len(),
                            "a job granted twice: {granted:?}"
                        );
                        for g in &granted {
                            let Some(&attempts) = queued.get(&g.key) else {
                                return Err(format!("{} was granted but was not queued", g.key));
                            };
                            ensure!(
                                g.attempt.get() == attempts + 1,
                                "{} granted as attempt {} after {attempts} attempts",
                                g.key,
                                g.attempt
                            );
                            let job = &self.state.jobs[&g.key];
                            let want = JobState::Leased {
                                worker: id.clone(),
                                attempt: g.attempt,
                                deadline: self.now + job.lease_timeout,
                            };
                            ensure!(job.state == want, "{} granted, but {:?}", g.key, job.state);
                            ensure!(
                                job.attempts == g.attempt.get()
                                    && g.lease_timeout == job.lease_timeout
                                    && g.spec_json == job.spec_json
                                    && g.files == job.files,
                                "grant {g:?} does not match job {job:?}"
                            );
                            self.grants.push(Lease {
                                key: g.key.clone(),
                                worker: id.clone(),
                                attempt: g.attempt.get(),
                            });
                        }
                        ensure!(
                            writes.len() == granted.len(),
                            "{} grants wrote {} rows",
                            granted.len(),
                            writes.len()
                        );
                        unchanged_except(&before, &snapshot(&self.state).jobs, &keys)?;
                        self.pending.extend(writes);
                    }
                }
            }

            Op::Heartbeat { worker, stale } => {
                let id = worker_id(worker);
                let known = self.state.workers.contains_key(&id);
                let mut leases: Vec<(JobKey, LeaseToken)> = self
                    .grants
                    .iter()
                    .rev()
                    .filter(|l| l.worker == id)
                    .take(4)
                    .map(|l| (l.key.clone(), LeaseToken::new(l.attempt)))
                    .collect();
                if stale {
                    leases.push((JobKey::from(NO_SUCH_JOB), LeaseToken::new(1)));
                    if let Some(l) = self.grants.first() {
                        leases.push((l.key.clone(), LeaseToken::new(l.attempt + 7)));
                    }
                }
                let held: Vec<bool> = leases
                    .iter()
                    .map(|(k, a)| holds(&self.state, &id, k, a.get()))
                    .collect();
                let predicted: Vec<(JobKey, LeaseToken)> = leases
                    .iter()
                    .zip(&held)
                    .filter(|(_, held)| !**held)
                    .map(|(l, _)| l.clone())
                    .collect();
                let before = snapshot(&self.state).jobs;
                match self.state.heartbeat(&id, &leases, self.now) {
                    Err(e) => {
                        ensure!(!known, "registered {id}'s heartbeat refused: {e}");
                        let want = StateError::UnknownWorker(id.clone());
                        ensure!(e == want, "heartbeat of unknown {id}: {e:?}, not {want:?}");
                    }
                    Ok(lost) => {
                        ensure!(known, "unregistered {id}'s heartbeat taken");
                        ensure!(
                            lost == predicted,
                            "heartbeat {leases:?} of {id}: lost {lost:?}, expected {predicted:?}"
                        );
                        for ((k, _), held) in leases.iter().zip(&held) {
                            if *held {
                                let job = &self.state.jobs[k];
                                let renewed = matches!(
                                    job.state,
                                    JobState::Leased { deadline, .. }
                                        if deadline == self.now + job.lease_timeout
                                );
                                ensure!(
                                    renewed,
                                    "{k} not renewed by the heartbeat: {:?}",
                                    job.state
                                );
                            }
                        }
                    }
                }
                unchanged_except(&before, &snapshot(&self.state).jobs, &BTreeSet::new())?;
            }

            Op::Tick { secs, expire, idle } => {
                self.now += Duration::from_secs(secs);
                let now = self.now;
                if expire {
                    let due: Vec<(JobKey, WorkerId, u32, u32)> = sorted_jobs(&self.state)
                        .into_iter()
                        .filter_map(|(k, j)| match &j.state {
                            JobState::Leased {
                                worker, deadline, ..
                            } if *deadline <= now => {
                                Some((k.clone(), worker.clone(), j.attempts, j.retry_limit))
                            }
                            _ => None,
                        })
                        .collect();
                    let before = snapshot(&self.state).jobs;
                    let writes = self.state.expire(now);
                    for (k, w, attempts, retry_limit) in &due {
                        let job = &self.state.jobs[k];
                        let want = if attempts >= retry_limit {
                            JobState::Failed {
                                error: format!("lease expired on worker {w}"),
                            }
                        } else {
                            JobState::Queued
                        };
                        ensure!(
                            job.state == want && job.attempts == *attempts,
                            "{k}'s lease expired after {attempts} of {retry_limit} attempts: \
                             {:?} with {} attempts, expected {want:?}",
                            job.state,
                            job.attempts
                        );
                    }
                    let overdue = self.state.jobs.values().any(
                        |j| matches!(j.state, JobState::Leased { deadline, .. } if deadline <= now),
                    );
                    ensure!(!overdue, "a lease past its deadline survived the expiry");
                    let keys: BTreeSet<JobKey> = due.iter().map(|d| d.0.clone()).collect();
                    unchanged_except(&before, &snapshot(&self.state).jobs, &keys)?;
                    self.pending.extend(writes);
                }
                if idle {
                    self.commit()?;
                }
            }

            Op::Result { target, payload } => {
                let Lease {
                    key,
                    worker,
                    attempt,
                } = self.resolve(target);
                let before = snapshot(&self.state).jobs;
                let pre = self
                    .state
                    .jobs
                    .get(&key)
                    .map(|j| (j.state.clone(), j.attempts));
                // The doc: a result is taken from the current lease; or,
                // for a job unfinished at the load and not leased since, from a
                // registered worker's attempt above every stored one. Done,
                // cancelled and failed jobs take none.
                let registered = self.state.workers.contains_key(&worker);
                let unseen = self.state.unleased_since_load(&key);
                let predicted = match &pre {
                    Some((
                        JobState::Leased {
                            worker: w,
                            attempt: a,
                            ..
                        },
                        _,
                    )) if *w == worker && a.get() == attempt => true,
                    Some((JobState::Leased { .. } | JobState::Queued, attempts)) => {
                        registered && unseen && attempt > *attempts
                    }
                    _ => false,
                };
                let result_json = format!("{{\"job\":\"{key}\",\"payload\":{payload}}}");
                let (taken, writes) = self.state.report_result(
                    &worker,
                    &key,
                    LeaseToken::new(attempt),
                    result_json.clone(),
                );
                let accepted = taken == Taken::Accepted;
                ensure!(
                    (taken == Taken::Duplicate) == matches!(&pre, Some((JobState::Done, _))),
                    "result for {key} (job was {pre:?}): {taken:?}"
                );
                ensure!(
                    accepted == predicted,
                    "result for {key} from {worker} attempt {attempt} (job was {pre:?}): \
                     accepted {accepted}, expected {predicted}"
                );
                let mut touched = BTreeSet::new();
                if accepted {
                    let attempts_before = pre.as_ref().map_or(0, |p| p.1);
                    let job = &self.state.jobs[&key];
                    ensure!(
                        job.state == JobState::Done,
                        "{key} took a result but is {:?}",
                        job.state
                    );
                    ensure!(
                        job.attempts == attempts_before.max(attempt),
                        "{key} done by attempt {attempt} after {attempts_before}: {} attempts",
                        job.attempts
                    );
                    let written = writes.iter().any(|w| {
                        matches!(w, Write::Result { key: k, result_json: r, worker: by, attempt: a }
                            if *k == key && *r == result_json && *by == worker && a.get() == attempt)
                    });
                    ensure!(
                        written,
                        "the result for {key} is not among the rows {writes:?}"
                    );
                    let view = JobView::of(job);
                    self.done.insert(
                        key.clone(),
                        DoneRecord {
                            result_json,
                            worker,
                            attempt,
                            view,
                        },
                    );
                    touched.insert(key);
                } else {
                    ensure!(writes.is_empty(), "an ignored result wrote {writes:?}");
                }
                unchanged_except(&before, &snapshot(&self.state).jobs, &touched)?;
                self.pending.extend(writes);
                self.commit()?;
            }

            Op::Failure { target } => {
                let Lease {
                    key,
                    worker,
                    attempt,
                } = self.resolve(target);
                let before = snapshot(&self.state).jobs;
                let pre = self.state.jobs.get(&key).cloned();
                // The doc: failures only count for the current lease.
                let predicted = holds(&self.state, &worker, &key, attempt);
                let error = format!("boom on {worker} attempt {attempt}");
                let (accepted, writes) = self.state.report_failure(
                    &worker,
                    &key,
                    LeaseToken::new(attempt),
                    error.clone(),
                    FailureKind::JOB,
                );
                ensure!(
                    accepted == predicted,
                    "failure of {key} from {worker} attempt {attempt} (job was {:?}): \
                     accepted {accepted}, expected {predicted}",
                    pre.as_ref().map(|j| &j.state)
                );
                let mut touched = BTreeSet::new();
                if accepted {
                    let Some(pre) = pre else {
                        return Err(format!("a failure of unknown {key} was accepted"));
                    };
                    let job = &self.state.jobs[&key];
                    let want = if pre.attempts >= pre.retry_limit {
                        JobState::Failed { error }
                    } else {
                        JobState::Queued
                    };
                    ensure!(
                        job.state == want && job.attempts == pre.attempts,
                        "{key} failed after {} of {} attempts: {:?} with {} attempts, expected {want:?}",
                        pre.attempts,
                        pre.retry_limit,
                        job.state,
                        job.attempts
                    );
                    touched.insert(key);
                } else {
                    ensure!(writes.is_empty(), "an ignored failure wrote {writes:?}");
                }
                unchanged_except(&before, &snapshot(&self.state).jobs, &touched)?;
                self.pending.extend(writes);
                self.commit()?;
            }

            Op::Deregister { worker, hand_back } => {
                let id = worker_id(worker);
                let list: Vec<(JobKey, LeaseToken)> = if hand_back {
                    self.grants
                        .iter()
                        .filter(|l| l.worker == id)
                        .map(|l| (l.key.clone(), LeaseToken::new(l.attempt)))
                        .collect()
                } else {
                    Vec::new()
                };
                // Every lease the worker still holds goes back, handed back
                // or not: a worker leaves after reporting what it finished,
                // so one it did not hand back is a grant it never received.
                let held: BTreeMap<JobKey, u32> = self
                    .grants
                    .iter()
                    .filter(|l| l.worker == id && holds(&self.state, &id, &l.key, l.attempt))
                    .map(|l| (l.key.clone(), self.state.jobs[&l.key].attempts))
                    .collect();
                let before = snapshot(&self.state).jobs;
                let writes = self.state.deregister(&id, &list);
                ensure!(
                    !self.state.workers.contains_key(&id),
                    "{id} still registered after leaving"
                );
                for (k, attempts) in &held {
                    let job = &self.state.jobs[k];
                    ensure!(
                        job.state == JobState::Queued && job.attempts + 1 == *attempts,
                        "{k} handed back after {attempts} attempts: {:?} with {} attempts, \
                         expected queued with the attempt given back",
                        job.state,
                        job.attempts
                    );
                }
                let keys: BTreeSet<JobKey> = held.keys().cloned().collect();
                unchanged_except(&before, &snapshot(&self.state).jobs, &keys)?;
                self.pending.extend(writes);
                self.commit()?;
            }

            Op::Cancel { sweep } => {
                let name = sweep_name(sweep);
                let sweeps_before: BTreeMap<SweepName, Sweep> = self.state.sweeps.clone();
                let before = snapshot(&self.state).jobs;
                match self.state.cancel(&name) {
                    Err(e) => {
                        let want = StateError::UnknownSweep(name.clone());
                        ensure!(
                            !sweeps_before.contains_key(&name) && e == want,
                            "cancel of {name}: {e:?}"
                        );
                        unchanged_except(&before, &snapshot(&self.state).jobs, &BTreeSet::new())?;
                    }
                    Ok(writes) => {
                        let Some(pre) = sweeps_before.get(&name) else {
                            return Err(format!("cancel of unknown sweep {name} succeeded"));
                        };
                        let after = snapshot(&self.state).jobs;
                        let state = self.state.sweeps[&name].state;
                        let mut cancelled = BTreeSet::new();
                        if pre.state != SweepState::Running {
                            ensure!(
                                writes.is_empty(),
                                "cancel of a {:?} sweep wrote {writes:?}",
                                pre.state
                            );
                            ensure!(
                                state == pre.state,
                                "cancel turned a {:?} sweep {state:?}",
                                pre.state
                            );
                        } else {
                            ensure!(
                                state == SweepState::Cancelled,
                                "cancelled {name} is {state:?}"
                            );
                            // The doc: its jobs not needed by another running sweep stop.
                            for key in &pre.keys {
                                let wanted = sweeps_before.values().any(|s| {
                                    s.name != name
                                        && s.state == SweepState::Running
                                        && s.keys.contains(key)
                                });
                                let Some(was) = before.get(key) else {
                                    return Err(format!("sweep {name}'s job {key} does not exist"));
                                };
                                if !wanted && matches!(was.state, "queued" | "leased") {
                                    let now = &after[key];
                                    ensure!(
                                        now.state == "cancelled" && now.attempts == was.attempts,
                                        "{key} of cancelled {name}, wanted by no other running \
                                         sweep, was {was:?} and is {now:?}"
                                    );
                                    cancelled.insert(key.clone());
                                }
                            }
                        }
                        unchanged_except(&before, &after, &cancelled)?;
                        for (n, s) in &sweeps_before {
                            if *n != name {
                                let now = self.state.sweeps[n].state;
                                ensure!(
                                    now == s.state,
                                    "cancelling {name} turned sweep {n} from {:?} to {now:?}",
                                    s.state
                                );
                            }
                        }
                        self.pending.extend(writes);
                        self.commit()?;
                    }
                }
            }

            Op::Submit {
                sweep,
                mask,
                mode,
                retry_limit,
                lease_secs,
            } => {
                let name = sweep_name(sweep);
                let mask = match (mode, self.sweep_masks[sweep % SWEEPS]) {
                    (SubmitMode::Same, Some(current)) => current,
                    (SubmitMode::Extend, Some(current)) => current | mask,
                    (SubmitMode::Redefine, Some(current)) if !REDEFINE_SWEEPS_WITH_FEWER_JOBS => {
                        current | mask
                    }
                    _ => mask,
                };
                let (sweep_def, jobs) = build_sweep(&name, mask, retry_limit, lease_secs)?;
                ensure!(
                    jobs.len() == mask.count_ones() as usize && sweep_def.keys.len() == jobs.len(),
                    "seeds {mask:#b} expanded to {} jobs and {} keys",
                    jobs.len(),
                    sweep_def.keys.len()
                );
                let before = snapshot(&self.state).jobs;
                let sweeps_before: BTreeMap<SweepName, SweepState> = self
                    .state
                    .sweeps
                    .iter()
                    .map(|(n, s)| (n.clone(), s.state))
                    .collect();
                let already_done = jobs
                    .iter()
                    .filter(|j| before.get(&j.key).is_some_and(|v| v.state == "done"))
                    .count() as u32;
                let (out, writes) = self.state.submit(sweep_def.clone(), jobs.clone());
                let n = jobs.len() as u32;
                let want = Submitted {
                    jobs: n,
                    already_done,
                    to_run: n - already_done,
                };
                ensure!(
                    out == want,
                    "submission of {name}: {out:?}, expected {want:?}"
                );
                let after = snapshot(&self.state);
                let mut touched = BTreeSet::new();
                for job in &jobs {
                    let Some(now) = after.jobs.get(&job.key) else {
                        return Err(format!("submitted job {} does not exist", job.key));
                    };
                    match before.get(&job.key) {
                        None => {
                            let fresh = JobView::of(job);
                            ensure!(
                                *now == fresh,
                                "new job {}: {now:?}, expected {fresh:?}",
                                job.key
                            );
                            touched.insert(job.key.clone());
                        }
                        Some(was) if matches!(was.state, "failed" | "cancelled") => {
                            let fresh = JobView {
                                state: "queued",
                                lease: None,
                                error: None,
                                attempts: 0,
                                retry_limit: job.retry_limit,
                                lease_timeout: job.lease_timeout,
                                ..was.clone()
                            };
                            ensure!(
                                *now == fresh,
                                "resubmitted {} job {}: {now:?}, expected a fresh start {fresh:?}",
                                was.state,
                                job.key
                            );
                            touched.insert(job.key.clone());
                        }
                        Some(was) => ensure!(
                            now == was,
                            "resubmitted {} job {} changed: {was:?} became {now:?}",
                            was.state,
                            job.key
                        ),
                    }
                }
                unchanged_except(&before, &after.jobs, &touched)?;
                let Some(sv) = after.sweeps.get(&name) else {
                    return Err(format!("submitted sweep {name} does not exist"));
                };
                ensure!(
                    sv.keys == sweep_def.keys && sv.toml == sweep_def.toml,
                    "sweep {name} is not as submitted: {sv:?}"
                );
                let all_ended = sweep_def
                    .keys
                    .iter()
                    .all(|k| after.jobs.get(k).is_some_and(JobView::ended));
                let want = if all_ended {
                    SweepState::Finished
                } else {
                    SweepState::Running
                };
                ensure!(
                    sv.state == want,
                    "submitted sweep {name} is {:?}, expected {want:?}",
                    sv.state
                );
                for (n, was) in &sweeps_before {
                    if *n != name {
                        let now = after.sweeps[n].state;
                        ensure!(
                            now == *was,
                            "submitting {name} turned sweep {n} from {was:?} to {now:?}"
                        );
                    }
                }
                self.sweep_masks[sweep % SWEEPS] = Some(mask);
                self.pending.extend(writes);
                self.commit()?;
            }

            Op::Restart { crash } => {
                if crash {
                    // What was acknowledged without being durable is lost.
                    self.pending.clear();
                } else {
                    // The core's final commit when its channel closes.
                    self.commit()?;
                }
                let fresh = Store::open(Path::new(&self.uri))
                    .map_err(|e| format!("reopen {}: {e}", self.uri))?;
                drop(std::mem::replace(&mut self.store, fresh));
                self.state = self
                    .store
                    .load(self.now)
                    .map_err(|e| format!("load after restart: {e}"))?;
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        let st = &self.state;
        let jobs = sorted_jobs(st);

        // The counts kept by the transitions are the counts of the jobs.
        for name in st.sweeps.keys() {
            let kept = st.counts(name).map_err(|e| e.to_string())?.1;
            let walked = st.counts_by_walking(name);
            ensure!(
                kept == walked,
                "sweep {name}: counts kept {kept:?}, counted {walked:?}"
            );
        }

        // The leased index is the set of leased jobs, and each lease is real.
        let indexed: BTreeSet<JobKey> = st.leased_keys().cloned().collect();
        let leased: BTreeSet<JobKey> = st
            .jobs
            .iter()
            .filter(|(_, j)| matches!(j.state, JobState::Leased { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        ensure!(
            indexed == leased,
            "the leased index {indexed:?} is not the set of leased jobs {leased:?}"
        );
        for (k, j) in &jobs {
            if let JobState::Leased {
                worker, attempt, ..
            } = &j.state
            {
                ensure!(
                    attempt.get() == j.attempts,
                    "{k} is leased as attempt {attempt} but has {} attempts",
                    j.attempts
                );
                let granted = self
                    .grants
                    .iter()
                    .any(|l| l.key == **k && l.worker == *worker && l.attempt == attempt.get());
                ensure!(
                    granted,
                    "{k} is leased to {worker} as attempt {attempt}, which was never granted"
                );
            }
        }

        // Done jobs never change, and their results stay as accepted.
        for (k, rec) in &self.done {
            let Some(job) = st.jobs.get(k) else {
                return Err(format!("done job {k} is gone"));
            };
            let now = JobView::of(job);
            ensure!(
                now == rec.view,
                "done job {k} changed: {:?} became {now:?}",
                rec.view
            );
        }
        for (k, j) in &jobs {
            ensure!(
                j.state != JobState::Done || self.done.contains_key(*k),
                "{k} is done without an accepted result"
            );
        }
        let keys: Vec<JobKey> = self.done.keys().cloned().collect();
        let rows = self
            .store
            .results(&keys)
            .map_err(|e| format!("results: {e}"))?;
        ensure!(
            rows.len() == keys.len(),
            "{} done jobs but {} stored results: {rows:?}",
            keys.len(),
            rows.len()
        );
        for row in &rows {
            let rec = &self.done[&row.key];
            ensure!(
                row.result_json == rec.result_json
                    && row.worker == rec.worker
                    && row.attempt.get() == rec.attempt,
                "stored result {row:?} is not the accepted {rec:?}"
            );
        }

        // The queue: every queued job in it, once, and nothing else.
        let mut entries: BTreeMap<JobKey, usize> = BTreeMap::new();
        for k in st.queue_entries() {
            *entries.entry(k.clone()).or_default() += 1;
        }
        for (k, j) in &jobs {
            ensure!(
                j.state != JobState::Queued || entries.contains_key(*k),
                "queued {k} is not in the lease queue: it would never run"
            );
        }
        if CHECK_QUEUE_EXACTLY_ONCE {
            for (k, n) in &entries {
                let state = st.jobs.get(k).map(|j| j.state.name());
                ensure!(
                    state == Some("queued"),
                    "{k} is in the lease queue but is {state:?}"
                );
                ensure!(*n == 1, "{k} is in the lease queue {n} times");
            }
        }

        // Sweeps: their jobs exist, their counts add up, and a running
        // sweep still has a job to run.
        for (name, s) in &st.sweeps {
            for k in &s.keys {
                ensure!(
                    st.jobs.contains_key(k),
                    "sweep {name}'s job {k} does not exist"
                );
            }
            let (state, c) = st.counts(name).map_err(|e| e.to_string())?;
            ensure!(
                state == s.state,
                "counts of {name} say {state:?}, the sweep {:?}",
                s.state
            );
            ensure!(
                c.total as usize == s.keys.len()
                    && c.queued + c.running + c.done + c.failed + c.cancelled == c.total,
                "counts of {name} do not add up: {c:?} for {} jobs",
                s.keys.len()
            );
            if s.state == SweepState::Running {
                let open = s.keys.iter().any(|k| {
                    matches!(st.jobs[k].state, JobState::Queued | JobState::Leased { .. })
                });
                ensure!(
                    open,
                    "sweep {name} is running but every job of it has ended: {c:?}"
                );
            }
        }

        // The store holds the state as of the last commit.
        let reloaded = self
            .store
            .load(self.now)
            .map_err(|e| format!("load: {e}"))?;
        let stored = snapshot(&reloaded);
        compare(
            ("as of the last commit", &self.durable),
            ("reloaded from the store", &stored),
        )?;
        if self.pending.is_empty() {
            compare(
                ("in memory", &snapshot(st)),
                ("reloaded from the store", &stored),
            )?;
            for (id, name) in &st.workers {
                ensure!(
                    reloaded.workers.get(id) == Some(name),
                    "worker {id} ({name}) reloaded as {:?}",
                    reloaded.workers.get(id)
                );
            }
        }
        for (id, name) in &reloaded.workers {
            ensure!(
                self.committed_workers.get(id) == Some(name),
                "worker {id} reloaded as {name}, but its committed registration is {:?}",
                self.committed_workers.get(id)
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn transitions_keep_the_invariants_and_the_store_in_step(
        first in submit_op(),
        rest in proptest::collection::vec(op(), 0..40),
    ) {
        let mut h = Harness::new()
            .map_err(|e| TestCaseError::fail(format!("setting up: {e}")))?;
        h.check()
            .map_err(|e| TestCaseError::fail(format!("before any step: {e}")))?;
        for (i, op) in std::iter::once(&first).chain(rest.iter()).enumerate() {
            h.apply(*op)
                .and_then(|()| h.check())
                .map_err(|e| TestCaseError::fail(format!("step {i}, {op:?}: {e}")))?;
        }
    }
}
