//! The coordinator's state machine: every transition of a job, a sweep or a
//! worker happens here, and each returns the rows to persist, so the
//! durable store and this in-memory view change together.
//!
//! A job:
//!
//! ```text
//!            lease                   result (the current lease's)
//!  Queued ─────────▶ Leased ─────────────────────────▶ Done
//!    ▲                 │  expiry / failure / hand-back
//!    └─────────────────┤  (attempts < retry limit, or hand-back)
//!                      ▼
//!                    Failed (attempts used up, or a failure that can never
//!                            succeed; error text kept)
//! ```
//!
//! `Queued` and `Leased` jobs of a cancelled sweep become `Cancelled`.
//! A result is taken only from the job's current lease (its worker and
//! attempt), or, after a restart, from a registered worker's attempt the
//! store never saw (see `results`); once done, a job never takes another
//! result (duplicates are acknowledged and ignored), and a cancelled or
//! failed job takes none. Failures only count for the current lease.
//!
//! This file holds the types; the transitions are split by what they
//! concern: `sweeps` (submit, cancel, settle, counts), `leases` (workers
//! and their leases) and `results` (what workers report).

mod leases;
mod results;
pub mod seeding;
mod sweeps;
#[cfg(test)]
mod tests;

pub(crate) use leases::deadline_after;
pub use results::{FailureKind, Taken};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::ids::{JobKey, LeaseToken, SweepName, WorkerId};

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Queued,
    Leased {
        worker: WorkerId,
        attempt: LeaseToken,
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
        attempt: LeaseToken,
    },
    Worker {
        id: WorkerId,
        name: String,
    },
    /// An adaptive sweep's cell, as it now is (see `seeding`).
    SeedCell {
        sweep: SweepName,
        /// Its place in the sweep's expansion order.
        position: usize,
        cell: seeding::SeedCell,
    },
    /// Removes a sweep's cells (a re-submission writes them again).
    ClearSeedCells(SweepName),
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

impl Counts {
    /// The count a job in `state` is counted in.
    fn slot(&mut self, state: &JobState) -> &mut u32 {
        match state {
            JobState::Queued => &mut self.queued,
            JobState::Leased { .. } => &mut self.running,
            JobState::Done => &mut self.done,
            JobState::Failed { .. } => &mut self.failed,
            JobState::Cancelled => &mut self.cancelled,
        }
    }
}

/// Moves job `key` from `from`'s count to `to`'s in every sweep that owns
/// it. A free function over the two maps, so a transition can call it
/// while it holds the job itself.
fn tally(
    counts: &mut HashMap<SweepName, Counts>,
    owners: &HashMap<JobKey, Vec<SweepName>>,
    key: &JobKey,
    from: &JobState,
    to: &JobState,
) {
    for name in owners.get(key).map(Vec::as_slice).unwrap_or(&[]) {
        if let Some(c) = counts.get_mut(name) {
            *c.slot(from) -= 1;
            *c.slot(to) += 1;
        }
    }
}

/// A lease as handed to a worker.
#[derive(Debug, Clone)]
pub struct Granted {
    pub key: JobKey,
    pub attempt: LeaseToken,
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
    /// Each sweep's jobs by state, kept up to date by every transition
    /// (`tally`), so counting and settling cost O(1) in the sweep's size.
    counts: HashMap<SweepName, Counts>,
    /// Jobs the store held unfinished when the state was loaded and that
    /// this process has not leased since: only for these may a result of
    /// an attempt the store never saw arrive (a lease lost in a crash).
    unleased_since_load: HashSet<JobKey>,
    /// The cells of adaptive sweeps, in expansion order (see `seeding`).
    seeding: HashMap<SweepName, Vec<seeding::SeedCell>>,
    /// Cells (sweep, index) that list each job as a candidate seed.
    seed_index: HashMap<JobKey, Vec<(SweepName, usize)>>,
    /// Leases ended by their deadline since the state was built (`/metrics`).
    expired_leases: u64,
}

impl State {
    /// Rebuilds the view from what the store holds. Leases found there are
    /// kept with a fresh deadline, so their workers can renew or report
    /// after a coordinator restart without redoing the work.
    pub fn rebuild(
        jobs: Vec<Job>,
        sweeps: Vec<Sweep>,
        workers: Vec<(WorkerId, String)>,
        cells: Vec<(SweepName, seeding::SeedCell)>,
        now: Instant,
    ) -> Self {
        let mut state = State {
            workers: workers.into_iter().collect(),
            ..Default::default()
        };
        for mut job in jobs {
            if let JobState::Leased { deadline, .. } = &mut job.state {
                *deadline = leases::deadline_after(now, job.lease_timeout);
            }
            state.index(&job);
            if !job.state.is_terminal() {
                state.unleased_since_load.insert(job.key.clone());
            }
            state.jobs.insert(job.key.clone(), job);
        }
        for (name, cell) in cells {
            let cells = state.seeding.entry(name.clone()).or_default();
            for c in &cell.candidates {
                state
                    .seed_index
                    .entry(c.key.clone())
                    .or_default()
                    .push((name.clone(), cells.len()));
            }
            cells.push(cell);
        }
        for mut sweep in sweeps {
            // Seeds released since the sweep's row was last written are in
            // its cells' rows (releasing one does not rewrite the sweep).
            if let Some(cells) = state.seeding.get(&sweep.name) {
                let listed: HashSet<JobKey> = sweep.keys.iter().cloned().collect();
                for cell in cells {
                    for c in &cell.candidates[..cell.released] {
                        if !listed.contains(&c.key) {
                            sweep.keys.push(c.key.clone());
                        }
                    }
                }
            }
            for key in &sweep.keys {
                state
                    .owners
                    .entry(key.clone())
                    .or_default()
                    .push(sweep.name.clone());
            }
            state.sweeps.insert(sweep.name.clone(), sweep);
        }
        let names: Vec<SweepName> = state.sweeps.keys().cloned().collect();
        for name in names {
            state.recount(&name);
        }
        state
    }

    /// Counts `name`'s jobs by walking them: at load and on submission,
    /// which touch every job anyway.
    fn recount(&mut self, name: &SweepName) {
        let counts = self.counts_by_walking(name);
        self.counts.insert(name.clone(), counts);
    }

    /// `name`'s counts from its jobs, walked (see [`State::counts`]).
    #[doc(hidden)]
    pub fn counts_by_walking(&self, name: &SweepName) -> Counts {
        let Some(sweep) = self.sweeps.get(name) else {
            return Counts::default();
        };
        let mut c = Counts {
            total: sweep.keys.len() as u32,
            ..Default::default()
        };
        for key in &sweep.keys {
            *c.slot(&self.jobs[key].state) += 1;
        }
        c
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

    // Read-only views of the private indexes, for the property test
    // `tests/state_machine.rs` alone: it checks them against the jobs and
    // against a state reloaded from the store. Nothing else should use them.

    /// Whether a job may be waiting in the lease queue (stale entries
    /// included: a lease call that finds only those empties it).
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Leases that expired since this state was built.
    pub fn expired_leases(&self) -> u64 {
        self.expired_leases
    }

    /// The lease queue, front first, stale entries included.
    #[doc(hidden)]
    pub fn queue_entries(&self) -> impl Iterator<Item = &JobKey> + '_ {
        self.queue.iter()
    }

    /// The jobs indexed as leased.
    #[doc(hidden)]
    pub fn leased_keys(&self) -> impl Iterator<Item = &JobKey> + '_ {
        self.leased.iter()
    }

    /// Whether `key` was unfinished at the load and not leased since.
    #[doc(hidden)]
    pub fn unleased_since_load(&self, key: &JobKey) -> bool {
        self.unleased_since_load.contains(key)
    }

    /// The sweeps `key` is counted as belonging to.
    #[doc(hidden)]
    pub fn owners_of(&self, key: &JobKey) -> &[SweepName] {
        self.owners.get(key).map(Vec::as_slice).unwrap_or(&[])
    }
}
