//! The one consumer of every state transition: a thread that owns the
//! store and the in-memory [`State`]. RPC handlers send it commands; it
//! applies a batch of them, commits all their rows in one transaction
//! (group commit: one fsync for many results), and only then replies, so
//! nothing that must survive is acknowledged before it is durable.
//!
//! Leases, heartbeats, registrations and expiries are the exception: their
//! rows ride along with the next batch's transaction (or are committed
//! when the core is idle for a tick). Losing one to a crash only means a
//! job runs again, and its result is the same (results are keyed by job,
//! so never stored twice); an fsync per lease would put a disk flush on
//! every job's critical path.
//!
//! If a commit fails, the outcome of the batch is unknown: its callers get
//! an error and the state is reloaded from the store, which is the truth.
//!
//! If the thread itself ends — a panic, or a store it can no longer read —
//! [`Core::stopped`] says why, and the server stops with an error: a
//! process whose core is gone must exit (so a supervisor restarts it), not
//! keep its port open answering "shutting down".

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::error::CoordinatorError;
use crate::ids::{JobKey, LeaseToken, SweepName, WorkerId};
use crate::metrics::Metrics;
use crate::state::seeding::{metric_value, SeedCell};
use crate::state::{
    Counts, FailureKind, Granted, JobState, State, Submitted, SweepState, Taken, Write,
};
use crate::store::{ResultRow, Store};
use crate::sweep_file::Planned;
use sweep_shared::JobSpec;

/// Commands applied in one batch at most.
const MAX_BATCH: usize = 1024;

/// What the core is asked to do; callers use the typed methods of [`Core`].
enum Command {
    Register {
        id: WorkerId,
        name: String,
        slots: u32,
    },
    Lease {
        worker: WorkerId,
        max: usize,
    },
    Heartbeat {
        worker: WorkerId,
        leases: Vec<(JobKey, LeaseToken)>,
    },
    Result {
        worker: WorkerId,
        key: JobKey,
        attempt: LeaseToken,
        result_json: String,
        /// The spec the result says it is for, checked against the job's.
        spec: Box<JobSpec>,
    },
    Failure {
        worker: WorkerId,
        key: JobKey,
        attempt: LeaseToken,
        error: String,
        kind: FailureKind,
    },
    Deregister {
        worker: WorkerId,
        hand_back: Vec<(JobKey, LeaseToken)>,
    },
    Submit(Planned),
    Status {
        name: SweepName,
    },
    List,
    Cancel {
        name: SweepName,
    },
    Results {
        name: SweepName,
    },
    Overview,
}

impl Command {
    /// Whether the reply must wait until the command's rows are on disk.
    fn must_be_durable_before_reply(&self) -> bool {
        !matches!(
            self,
            Command::Register { .. }
                | Command::Lease { .. }
                | Command::Heartbeat { .. }
                | Command::Status { .. }
                | Command::List
                | Command::Overview
        )
    }
}

enum Reply {
    Done,
    Leases(Vec<Granted>),
    Lost(Vec<(JobKey, LeaseToken)>),
    Accepted(bool),
    Taken(Taken),
    Submitted(Submitted),
    Status(SweepState, Counts),
    List(Vec<(SweepName, SweepState, Counts)>),
    Results(Vec<ResultRow>),
    Overview(Overview),
}

/// What the dashboard shows of the live state.
#[derive(Debug, Clone)]
pub struct Overview {
    pub sweeps: Vec<(SweepName, SweepState, Counts)>,
    pub workers: Vec<WorkerView>,
}

/// A worker as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct WorkerView {
    pub id: WorkerId,
    pub name: String,
    pub slots: u32,
    pub running: usize,
    /// Since its last registration, lease or heartbeat; `None` if not
    /// heard from since this coordinator started (it may be gone).
    pub last_seen: Option<Duration>,
}

/// When each worker was last heard from: liveness, kept apart from the
/// state machine (never stored; a restart forgets it until they call).
#[derive(Default)]
struct Liveness {
    seen: std::collections::HashMap<WorkerId, (u32, Instant)>,
}

type Envelope = (Command, oneshot::Sender<Result<Reply, CoordinatorError>>);

/// Awaits the core's reply to a command and takes the one variant that
/// command is answered with. `apply` is the only place replies are made, so
/// another variant is a bug in this file, never a caller's concern.
macro_rules! answer {
    ($call:expr, $pattern:pat => $value:expr) => {
        match $call.await? {
            $pattern => Ok($value),
            _ => unreachable!("apply answers each command with its own reply"),
        }
    };
}

/// A handle on the core; cheap to clone.
#[derive(Clone)]
pub struct Core {
    tx: mpsc::Sender<Envelope>,
    changes: watch::Receiver<u64>,
    /// Why the core's thread ended, once it has (never set by a clean stop).
    stopped: watch::Receiver<Option<String>>,
    metrics: Arc<Metrics>,
    /// Bumped after a batch that changed the state and left jobs queued:
    /// what long-polling `Lease` calls wait for.
    work: watch::Receiver<u64>,
}

impl Core {
    /// Opens the store, rebuilds the state and starts the core's thread.
    /// Leases are checked for expiry every `tick`.
    pub fn start(db: &Path, tick: Duration) -> Result<Core, CoordinatorError> {
        let store = Store::open(db)
            .map_err(|e| CoordinatorError::Store(format!("{}: {e}", db.display())))?;
        let state = store
            .load(Instant::now())
            .map_err(|e| CoordinatorError::Store(e.to_string()))?;
        tracing::info!(db = %db.display(), jobs = state.jobs.len(), sweeps = state.sweeps.len(), "state loaded");
        let (tx, rx) = mpsc::channel();
        let (changed, changes) = watch::channel(0);
        let (work_queued, work) = watch::channel(0);
        let (stop_reason, stopped) = watch::channel(None);
        let metrics = Arc::new(Metrics::new());
        let counted = metrics.clone();
        std::thread::Builder::new()
            .name("coordinator-core".into())
            .spawn(move || {
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    apply_batches_forever(store, state, rx, changed, work_queued, tick, &counted)
                }));
                let reason = match ran {
                    Ok(Ok(())) => return,
                    Ok(Err(reason)) => reason,
                    Err(panic) => format!(
                        "the coordinator's core panicked: {}",
                        panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "(no message)".into())
                    ),
                };
                tracing::error!(%reason, "the core stopped");
                let _ = stop_reason.send(Some(reason));
            })
            .map_err(|e| CoordinatorError::Store(e.to_string()))?;
        Ok(Core {
            tx,
            changes,
            stopped,
            metrics,
            work,
        })
    }

    /// The counters and histograms `/metrics` exports.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Why the core's thread ended abnormally, if it has.
    pub fn stop_reason(&self) -> Option<String> {
        self.stopped.borrow().clone()
    }

    /// Resolves with the reason if the core's thread ends abnormally; never
    /// resolves while it runs.
    pub async fn stopped(&self) -> String {
        let mut rx = self.stopped.clone();
        let reason = match rx.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            // The thread ended cleanly (its sender dropped with nothing
            // sent): nothing to report, ever.
            None => std::future::pending().await,
        }
    }

    async fn call(&self, cmd: Command) -> Result<Reply, CoordinatorError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((cmd, reply))
            .map_err(|_| CoordinatorError::ShuttingDown)?;
        rx.await.map_err(|_| CoordinatorError::ShuttingDown)?
    }

    /// Bumped after every committed change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Bumped when a batch leaves jobs queued (a submission, a lease that
    /// came back): idle workers' long polls wake on it, and on nothing else.
    pub fn work(&self) -> watch::Receiver<u64> {
        self.work.clone()
    }

    pub async fn register(
        &self,
        id: WorkerId,
        name: String,
        slots: u32,
    ) -> Result<(), CoordinatorError> {
        answer!(self.call(Command::Register { id, name, slots }), Reply::Done => ())
    }

    /// Up to `max` queued jobs, leased to `worker`.
    pub async fn lease(
        &self,
        worker: WorkerId,
        max: usize,
    ) -> Result<Vec<Granted>, CoordinatorError> {
        answer!(self.call(Command::Lease { worker, max }), Reply::Leases(g) => g)
    }

    /// Renews `worker`'s leases; answers the ones it no longer holds.
    pub async fn heartbeat(
        &self,
        worker: WorkerId,
        leases: Vec<(JobKey, LeaseToken)>,
    ) -> Result<Vec<(JobKey, LeaseToken)>, CoordinatorError> {
        answer!(self.call(Command::Heartbeat { worker, leases }), Reply::Lost(l) => l)
    }

    /// What became of the result (see [`Taken`]).
    pub async fn report_result(
        &self,
        worker: WorkerId,
        key: JobKey,
        attempt: LeaseToken,
        result_json: String,
        spec: JobSpec,
    ) -> Result<Taken, CoordinatorError> {
        let cmd = Command::Result {
            worker,
            key,
            attempt,
            result_json,
            spec: Box::new(spec),
        };
        answer!(self.call(cmd), Reply::Taken(t) => t)
    }

    /// Whether the failure was taken (false: a stale lease).
    pub async fn report_failure(
        &self,
        worker: WorkerId,
        key: JobKey,
        attempt: LeaseToken,
        error: String,
        kind: FailureKind,
    ) -> Result<bool, CoordinatorError> {
        let cmd = Command::Failure {
            worker,
            key,
            attempt,
            error,
            kind,
        };
        answer!(self.call(cmd), Reply::Accepted(a) => a)
    }

    pub async fn deregister(
        &self,
        worker: WorkerId,
        hand_back: Vec<(JobKey, LeaseToken)>,
    ) -> Result<(), CoordinatorError> {
        answer!(self.call(Command::Deregister { worker, hand_back }), Reply::Done => ())
    }

    pub async fn submit(&self, planned: Planned) -> Result<Submitted, CoordinatorError> {
        answer!(self.call(Command::Submit(planned)), Reply::Submitted(s) => s)
    }

    pub async fn status(&self, name: SweepName) -> Result<(SweepState, Counts), CoordinatorError> {
        answer!(self.call(Command::Status { name }), Reply::Status(s, c) => (s, c))
    }

    pub async fn list(&self) -> Result<Vec<(SweepName, SweepState, Counts)>, CoordinatorError> {
        answer!(self.call(Command::List), Reply::List(all) => all)
    }

    /// Cancels the sweep's remaining jobs; its state afterwards.
    pub async fn cancel(&self, name: SweepName) -> Result<(SweepState, Counts), CoordinatorError> {
        answer!(self.call(Command::Cancel { name }), Reply::Status(s, c) => (s, c))
    }

    pub async fn results(&self, name: SweepName) -> Result<Vec<ResultRow>, CoordinatorError> {
        answer!(self.call(Command::Results { name }), Reply::Results(r) => r)
    }

    /// Every sweep with its counts and every worker with its liveness.
    pub async fn overview(&self) -> Result<Overview, CoordinatorError> {
        answer!(self.call(Command::Overview), Reply::Overview(o) => o)
    }
}

fn apply_batches_forever(
    mut store: Store,
    mut state: State,
    rx: mpsc::Receiver<Envelope>,
    changed: watch::Sender<u64>,
    work: watch::Sender<u64>,
    tick: Duration,
    metrics: &Metrics,
) -> Result<(), String> {
    let mut last_expiry = Instant::now();
    let mut liveness = Liveness::default();
    // Rows not yet committed whose replies have gone out (see the module doc).
    let mut writes: Vec<Write> = Vec::new();
    loop {
        let mut batch = Vec::new();
        let idle = match rx.recv_timeout(tick) {
            Ok(first) => {
                batch.push(first);
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => true,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return store
                    .commit(&writes)
                    .map_err(|e| format!("the final commit failed: {e}"));
            }
        };
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        let before = writes.len();
        if now.duration_since(last_expiry) >= tick {
            let before = state.expired_leases();
            writes.extend(state.expire(now));
            metrics
                .leases_expired
                .inc_by(state.expired_leases() - before);
            last_expiry = now;
        }
        let mut replies = Vec::with_capacity(batch.len());
        let mut durable_first = false;
        for (cmd, reply) in batch {
            durable_first |= cmd.must_be_durable_before_reply();
            let outcome = apply(
                &mut state,
                &store,
                cmd,
                now,
                &mut writes,
                &mut liveness,
                metrics,
            );
            replies.push((reply, outcome));
        }
        let changed_state = writes.len() > before;
        if !durable_first {
            for (reply, outcome) in replies.drain(..) {
                let _ = reply.send(outcome);
            }
        }
        if !writes.is_empty() && (durable_first || idle || writes.len() >= MAX_BATCH) {
            let committing = Instant::now();
            let committed = store.commit(&writes);
            Metrics::observe(&metrics.commit_latency, committing.elapsed());
            if let Err(e) = committed {
                tracing::error!(error = %e, "commit failed; reloading the state from the store");
                for (reply, _) in replies {
                    let _ = reply.send(Err(CoordinatorError::Store(e.to_string())));
                }
                match store.load(Instant::now()) {
                    Ok(reloaded) => state = reloaded,
                    Err(e) => {
                        return Err(format!(
                            "a commit failed and the state cannot be reloaded: {e}"
                        ));
                    }
                }
                writes.clear();
                continue;
            }
            writes.clear();
        }
        if changed_state {
            changed.send_modify(|v| *v += 1);
            if state.has_queued() {
                work.send_modify(|v| *v += 1);
            }
        }
        for (reply, outcome) in replies {
            let _ = reply.send(outcome);
        }
    }
}

fn apply(
    state: &mut State,
    store: &Store,
    cmd: Command,
    now: Instant,
    writes: &mut Vec<Write>,
    liveness: &mut Liveness,
    metrics: &Metrics,
) -> Result<Reply, CoordinatorError> {
    Ok(match cmd {
        Command::Register { id, name, slots } => {
            liveness.seen.insert(id.clone(), (slots, now));
            writes.extend(state.register(id, name));
            Reply::Done
        }
        Command::Lease { worker, max } => {
            let (granted, w) = state.lease(&worker, max, now)?;
            if let Some(seen) = liveness.seen.get_mut(&worker) {
                seen.1 = now;
            }
            metrics.leases_granted.inc_by(granted.len() as u64);
            writes.extend(w);
            Reply::Leases(granted)
        }
        Command::Heartbeat { worker, leases } => {
            let lost = state.heartbeat(&worker, &leases, now)?;
            // A worker from before a restart is known from its heartbeat.
            liveness.seen.entry(worker).or_insert((0, now)).1 = now;
            Reply::Lost(lost)
        }
        Command::Result {
            worker,
            key,
            attempt,
            result_json,
            spec,
        } => {
            // Reports key on the job's stored spec; a result claiming
            // another is misfiled (or forged) and never stored.
            let same_spec = state.jobs.get(&key).is_none_or(|job| {
                serde_json::from_str::<JobSpec>(&job.spec_json).is_ok_and(|s| s == *spec)
            });
            let (taken, w) = if same_spec {
                state.report_result(&worker, &key, attempt, result_json)
            } else {
                (
                    Taken::Refused("the result is for another job's spec"),
                    vec![],
                )
            };
            metrics.result(match taken {
                Taken::Accepted => "accepted",
                Taken::Duplicate => "duplicate",
                Taken::Refused(_) => "refused",
            });
            match taken {
                Taken::Accepted => {}
                Taken::Duplicate => {
                    tracing::info!(job = %key, %worker, %attempt, "duplicate result ignored")
                }
                Taken::Refused(why) => {
                    tracing::warn!(job = %key, %worker, %attempt, why, "result refused")
                }
            }
            writes.extend(w);
            Reply::Taken(taken)
        }
        Command::Failure {
            worker,
            key,
            attempt,
            error,
            kind,
        } => {
            let (accepted, w) = state.report_failure(&worker, &key, attempt, error.clone(), kind);
            if accepted {
                tracing::warn!(job = %key, %worker, %attempt, %error, "job failed");
            }
            writes.extend(w);
            Reply::Accepted(accepted)
        }
        Command::Deregister { worker, hand_back } => {
            liveness.seen.remove(&worker);
            writes.extend(state.deregister(&worker, &hand_back));
            Reply::Done
        }
        Command::Submit(Planned { sweep, jobs, cells }) if cells.is_empty() => {
            let (submitted, w) = state.submit(sweep, jobs);
            writes.extend(w);
            Reply::Submitted(submitted)
        }
        Command::Submit(Planned {
            sweep, mut cells, ..
        }) => {
            known_seed_values(state, store, writes, &mut cells)?;
            let (submitted, w) = state.submit_seeded(sweep, cells);
            writes.extend(w);
            Reply::Submitted(submitted)
        }
        Command::Status { name } => {
            let (s, c) = state.counts(&name)?;
            Reply::Status(s, c)
        }
        Command::List => Reply::List(
            state
                .sweeps
                .keys()
                .map(|name| {
                    let (s, c) = state.counts(name).expect("listed sweeps exist");
                    (name.clone(), s, c)
                })
                .collect(),
        ),
        Command::Cancel { name } => {
            writes.extend(state.cancel(&name)?);
            let (s, c) = state.counts(&name)?;
            Reply::Status(s, c)
        }
        Command::Overview => {
            let mut running: std::collections::HashMap<&WorkerId, usize> = Default::default();
            for key in state.leased_keys() {
                if let crate::state::JobState::Leased { worker, .. } = &state.jobs[key].state {
                    *running.entry(worker).or_default() += 1;
                }
            }
            let mut workers: Vec<WorkerView> = state
                .workers
                .iter()
                .map(|(id, name)| {
                    let seen = liveness.seen.get(id).copied();
                    WorkerView {
                        id: id.clone(),
                        name: name.clone(),
                        slots: seen.map_or(0, |(slots, _)| slots),
                        running: running.get(id).copied().unwrap_or(0),
                        last_seen: seen.map(|(_, last)| now.saturating_duration_since(last)),
                    }
                })
                .collect();
            workers.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            let sweeps = state
                .sweeps
                .keys()
                .map(|name| {
                    let (s, c) = state.counts(name).expect("listed sweeps exist");
                    (name.clone(), s, c)
                })
                .collect();
            Reply::Overview(Overview { sweeps, workers })
        }
        Command::Results { name } => {
            let keys = state
                .sweeps
                .get(&name)
                .map(|s| s.keys.clone())
                .ok_or(crate::state::StateError::UnknownSweep(name))?;
            Reply::Results(
                store
                    .results(&keys)
                    .map_err(|e| CoordinatorError::Store(e.to_string()))?,
            )
        }
    })
}

/// Fills in the values of candidate seeds that already have a result (run
/// for another sweep, or before a re-submission), which the cells need to
/// decide; results arriving later reach the cells as they are taken. A
/// result taken earlier in this batch is not in the store yet: it is read
/// from the batch's pending rows.
fn known_seed_values(
    state: &State,
    store: &Store,
    pending: &[Write],
    cells: &mut [SeedCell],
) -> Result<(), CoordinatorError> {
    let done: std::collections::HashSet<&JobKey> = cells
        .iter()
        .flat_map(|c| &c.candidates)
        .filter(|c| {
            state
                .jobs
                .get(&c.key)
                .is_some_and(|j| j.state == JobState::Done)
        })
        .map(|c| &c.key)
        .collect();
    if done.is_empty() {
        return Ok(());
    }
    let mut results: std::collections::HashMap<JobKey, String> = pending
        .iter()
        .filter_map(|w| match w {
            Write::Result {
                key, result_json, ..
            } if done.contains(key) => Some((key.clone(), result_json.clone())),
            _ => None,
        })
        .collect();
    let stored: Vec<JobKey> = done
        .iter()
        .filter(|k| !results.contains_key(**k))
        .map(|k| (*k).clone())
        .collect();
    for row in store
        .results(&stored)
        .map_err(|e| CoordinatorError::Store(e.to_string()))?
    {
        results.insert(row.key, row.result_json);
    }
    for cell in cells {
        for c in &mut cell.candidates {
            if let Some(json) = results.get(&c.key) {
                c.value = metric_value(json, &cell.rule.metric);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::seeding::{Candidate, SeedRule, Width};
    use crate::state::{Job, Sweep};

    #[test]
    fn a_seed_done_earlier_in_the_same_batch_has_its_value_before_the_store_does() {
        let dir = std::env::temp_dir().join(format!("sweep-core-known-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("state.db")).unwrap();
        let mut state = State::default();
        let job = Job {
            key: "k0".into(),
            spec_json: "{}".into(),
            files: vec![],
            state: JobState::Queued,
            attempts: 0,
            retry_limit: 1,
            lease_timeout: Duration::from_secs(10),
        };
        let sweep = Sweep {
            name: "fixed".into(),
            toml: String::new(),
            state: SweepState::Running,
            keys: vec!["k0".into()],
        };
        let mut pending = state.submit(sweep, vec![job.clone()]).1;
        pending.extend(state.register("w".into(), "w".into()));
        pending.extend(state.lease(&"w".into(), 1, Instant::now()).unwrap().1);
        let json = r#"{"metrics": {"gf": 0.5}}"#.to_string();
        pending.extend(
            state
                .report_result(&"w".into(), &"k0".into(), LeaseToken::new(1), json)
                .1,
        );
        // Nothing committed yet: the result is only among the pending rows.
        let mut cells = vec![crate::state::seeding::SeedCell {
            label: "c".into(),
            dataset: "friedman1".into(),
            objective: "stl".into(),
            alpha: None,
            grid: String::new(),
            rule: SeedRule {
                min: 2,
                max: 2,
                metric: "gf".into(),
                width: Width::Relative(0.1),
            },
            candidates: vec![Candidate::of(0, &job)],
            released: 0,
            ledger: vec![],
            stop: None,
        }];
        known_seed_values(&state, &store, &pending, &mut cells).unwrap();
        assert_eq!(cells[0].candidates[0].value, Some(0.5));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
