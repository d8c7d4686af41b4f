//! The durable store, the coordinator's single source of truth: SQLite in
//! WAL mode with `synchronous=FULL`, so a committed transaction survives a
//! `kill -9` or a power cut. The in-memory [`State`] is rebuilt from it at
//! start; every transition's rows are written in one transaction.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

use crate::ids::{JobKey, LeaseToken, SweepName, WorkerId};
use crate::state::{Job, JobState, NeededFile, State, Sweep, SweepState, Write};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY,
    toml TEXT NOT NULL,
    state TEXT NOT NULL,
    keys TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    files TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    retry_limit INTEGER NOT NULL,
    lease_timeout_ms INTEGER NOT NULL,
    worker TEXT,
    error TEXT,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    worker TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    registered_ms INTEGER NOT NULL
);
";

pub struct Store {
    conn: Connection,
}

/// One stored result, as exported.
#[derive(Debug, Clone)]
pub struct ResultRow {
    pub key: JobKey,
    pub result_json: String,
    pub worker: WorkerId,
    /// The lease whose result it is.
    pub attempt: LeaseToken,
    pub finished_ms: i64,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    pub fn open(path: &Path) -> rusqlite::Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store { conn })
    }

    /// Writes every row of a batch of transitions in one transaction.
    pub fn commit(&mut self, writes: &[Write]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let now = now_ms();
        for w in writes {
            match w {
                Write::Job(job) => {
                    let (worker, error) = match &job.state {
                        JobState::Leased { worker, .. } => (Some(worker.as_str()), None),
                        JobState::Failed { error } => (None, Some(error.as_str())),
                        _ => (None, None),
                    };
                    tx.prepare_cached(
                        "INSERT INTO jobs (key, spec, files, state, attempts, retry_limit, lease_timeout_ms, worker, error, updated_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT(key) DO UPDATE SET state = ?4, attempts = ?5, retry_limit = ?6,
                             lease_timeout_ms = ?7, worker = ?8, error = ?9, updated_ms = ?10",
                    )?
                    .execute(params![
                        job.key.as_str(),
                        job.spec_json,
                        serde_json::to_string(&job.files).expect("files serialise"),
                        job.state.name(),
                        job.attempts,
                        job.retry_limit,
                        job.lease_timeout.as_millis() as i64,
                        worker,
                        error,
                        now
                    ])?;
                }
                Write::Sweep(s) => {
                    let keys: Vec<&str> = s.keys.iter().map(|k| k.as_str()).collect();
                    tx.prepare_cached(
                        "INSERT INTO sweeps (name, toml, state, keys, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(name) DO UPDATE SET toml = ?2, state = ?3, keys = ?4, updated_ms = ?5",
                    )?
                    .execute(params![s.name.as_str(), s.toml, s.state.name(), keys.join("\n"), now])?;
                }
                Write::Result {
                    key,
                    result_json,
                    worker,
                    attempt,
                } => {
                    // The key is the primary key: a result is stored once.
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO results (key, result, worker, attempt, finished_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![key.as_str(), result_json, worker.as_str(), attempt.get(), now])?;
                }
                Write::Worker { id, name } => {
                    tx.prepare_cached("INSERT OR REPLACE INTO workers (id, name, registered_ms) VALUES (?1, ?2, ?3)")?
                        .execute(params![id.as_str(), name, now])?;
                }
            }
        }
        tx.commit()
    }

    /// Everything the in-memory view is rebuilt from.
    pub fn load(&self, now: Instant) -> rusqlite::Result<State> {
        let mut stmt = self.conn.prepare(
            "SELECT key, spec, files, state, attempts, retry_limit, lease_timeout_ms, worker, error FROM jobs",
        )?;
        let jobs = stmt
            .query_map([], |r| {
                let state: String = r.get(3)?;
                let attempts: u32 = r.get(4)?;
                let lease_timeout = Duration::from_millis(r.get::<_, i64>(6)? as u64);
                let worker: Option<String> = r.get(7)?;
                let error: Option<String> = r.get(8)?;
                let state = match state.as_str() {
                    "leased" => JobState::Leased {
                        worker: WorkerId::from(worker.unwrap_or_default()),
                        attempt: LeaseToken::new(attempts),
                        deadline: now + lease_timeout,
                    },
                    "done" => JobState::Done,
                    "failed" => JobState::Failed {
                        error: error.unwrap_or_default(),
                    },
                    "cancelled" => JobState::Cancelled,
                    _ => JobState::Queued,
                };
                let files: String = r.get(2)?;
                Ok(Job {
                    key: JobKey::from(r.get::<_, String>(0)?),
                    spec_json: r.get(1)?,
                    files: serde_json::from_str::<Vec<NeededFile>>(&files).unwrap_or_default(),
                    state,
                    attempts,
                    retry_limit: r.get(5)?,
                    lease_timeout,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT name, toml, state, keys FROM sweeps")?;
        let sweeps = stmt
            .query_map([], |r| {
                let keys: String = r.get(3)?;
                let state: String = r.get(2)?;
                Ok(Sweep {
                    name: SweepName::from(r.get::<_, String>(0)?),
                    toml: r.get(1)?,
                    state: SweepState::parse(&state).unwrap_or(SweepState::Running),
                    keys: keys
                        .split('\n')
                        .filter(|k| !k.is_empty())
                        .map(JobKey::from)
                        .collect(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self.conn.prepare("SELECT id, name FROM workers")?;
        let workers = stmt
            .query_map([], |r| {
                Ok((WorkerId::from(r.get::<_, String>(0)?), r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(State::rebuild(jobs, sweeps, workers, now))
    }

    /// The results of a sweep's jobs, in the sweep's job order.
    pub fn results(&self, keys: &[JobKey]) -> rusqlite::Result<Vec<ResultRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT result, worker, attempt, finished_ms FROM results WHERE key = ?1",
        )?;
        let mut rows = Vec::new();
        for key in keys {
            let row = stmt
                .query_row([key.as_str()], |r| {
                    Ok(ResultRow {
                        key: key.clone(),
                        result_json: r.get(0)?,
                        worker: WorkerId::from(r.get::<_, String>(1)?),
                        attempt: LeaseToken::new(r.get(2)?),
                        finished_ms: r.get(3)?,
                    })
                })
                .optional()?;
            rows.extend(row);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_reopen() {
        let dir = std::env::temp_dir().join(format!("sweep-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        let _ = std::fs::remove_file(&path);
        let mut store = Store::open(&path).unwrap();
        let mut state = store.load(Instant::now()).unwrap();
        let job = Job {
            key: "k1".into(),
            spec_json: "{\"x\":1}".into(),
            files: vec![NeededFile {
                path: "a/b.csv".into(),
                sha256: "ff".into(),
                bytes: 3,
            }],
            state: JobState::Queued,
            attempts: 0,
            retry_limit: 2,
            lease_timeout: Duration::from_millis(1500),
        };
        let sweep = Sweep {
            name: "s".into(),
            toml: "t".into(),
            state: SweepState::Running,
            keys: vec!["k1".into()],
        };
        let (_, w) = state.submit(sweep, vec![job]);
        store.commit(&w).unwrap();
        let w = state.register("w".into(), "host".into());
        store.commit(&w).unwrap();
        let (_, w) = state.lease(&"w".into(), 1, Instant::now()).unwrap();
        store.commit(&w).unwrap();
        let (_, w) = state.report_result(
            &"w".into(),
            &"k1".into(),
            LeaseToken::new(1),
            "{\"r\":2}".into(),
        );
        store.commit(&w).unwrap();
        // A duplicate insert of the result is ignored by the primary key.
        store
            .commit(&[Write::Result {
                key: "k1".into(),
                result_json: "other".into(),
                worker: "w".into(),
                attempt: LeaseToken::new(1),
            }])
            .unwrap();
        drop(store);

        let store = Store::open(&path).unwrap();
        let state = store.load(Instant::now()).unwrap();
        let (sweep_state, counts) = state.counts(&"s".into()).unwrap();
        assert_eq!((sweep_state, counts.done), (SweepState::Finished, 1));
        let job = &state.jobs[&JobKey::from("k1")];
        assert_eq!(
            (job.attempts, job.retry_limit, job.lease_timeout),
            (1, 2, Duration::from_millis(1500))
        );
        assert_eq!(job.files[0].path, "a/b.csv");
        let rows = store.results(&["k1".into()]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].result_json, "{\"r\":2}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
