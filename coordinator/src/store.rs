//! The durable store, the coordinator's single source of truth: SQLite in
//! WAL mode with `synchronous=FULL`, so a committed transaction survives a
//! `kill -9` or a power cut. The in-memory [`State`] is rebuilt from it at
//! start; every transition's rows are written in one transaction.
//!
//! The schema carries a version (SQLite's `user_version`); a database of an
//! older version is migrated when opened, one of a newer one refused. A row
//! that cannot be read (an unknown state, files that do not parse) stops
//! the load with an error naming its table and key: guessing a default
//! would silently rerun, resurrect or lose work.

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
CREATE TABLE IF NOT EXISTS probe_inputs (
    sha256 TEXT PRIMARY KEY,
    features TEXT NOT NULL,
    rows INTEGER NOT NULL,
    inputs BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seed_cells (
    sweep TEXT NOT NULL,
    position INTEGER NOT NULL,
    label TEXT NOT NULL,
    cell TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (sweep, position)
);
";

/// The version of [`SCHEMA`]. 1: the tables as first released (databases
/// written before the version was kept read as 0 and have the same
/// tables). 2: `seed_cells`, the cells of adaptive sweeps (JSON, one row
/// per cell, in expansion order).
pub const SCHEMA_VERSION: i64 = 3;

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
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(unreadable(format!(
                "the database has schema version {version}, newer than this coordinator's \
                 {SCHEMA_VERSION}: use the coordinator that wrote it"
            )));
        }
        // Versions 0 (no version kept), 1 and 2 lack only tables that later
        // versions add (2: seed_cells, 3: probe_inputs): creating any
        // missing ones and stamping the version is the whole migration.
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
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
                    let result_json = keep_probe_inputs(&tx, result_json)?;
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
                Write::ClearSeedCells(sweep) => {
                    tx.prepare_cached("DELETE FROM seed_cells WHERE sweep = ?1")?
                        .execute([sweep.as_str()])?;
                }
                Write::SeedCell {
                    sweep,
                    position,
                    cell,
                } => {
                    tx.prepare_cached(
                        "INSERT INTO seed_cells (sweep, position, label, cell, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(sweep, position) DO UPDATE SET label = ?3, cell = ?4, updated_ms = ?5",
                    )?
                    .execute(params![
                        sweep.as_str(),
                        *position as i64,
                        cell.label,
                        serde_json::to_string(cell).expect("a cell serialises"),
                        now
                    ])?;
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
                let key: String = r.get(0)?;
                let bad = |what: String| bad_row("jobs", &key, what);
                let state = match (state.as_str(), worker) {
                    ("leased", Some(worker)) if !worker.is_empty() => JobState::Leased {
                        worker: WorkerId::from(worker),
                        attempt: LeaseToken::new(attempts),
                        deadline: crate::state::deadline_after(now, lease_timeout),
                    },
                    ("leased", _) => return Err(bad("leased, but to no worker".into())),
                    ("queued", _) => JobState::Queued,
                    ("done", _) => JobState::Done,
                    ("failed", _) => JobState::Failed {
                        error: error.unwrap_or_default(),
                    },
                    ("cancelled", _) => JobState::Cancelled,
                    (other, _) => return Err(bad(format!("unknown state `{other}`"))),
                };
                let files: String = r.get(2)?;
                let files = serde_json::from_str::<Vec<NeededFile>>(&files)
                    .map_err(|e| bad(format!("its files do not parse: {e}")))?;
                Ok(Job {
                    key: JobKey::from(key),
                    spec_json: r.get(1)?,
                    files,
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
                let name: String = r.get(0)?;
                let state = SweepState::parse(&state)
                    .ok_or_else(|| bad_row("sweeps", &name, format!("unknown state `{state}`")))?;
                Ok(Sweep {
                    name: SweepName::from(name),
                    toml: r.get(1)?,
                    state,
                    keys: keys
                        .split('\n')
                        .filter(|k| !k.is_empty())
                        .map(JobKey::from)
                        .collect(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT sweep, label, cell FROM seed_cells ORDER BY sweep, position")?;
        let cells = stmt
            .query_map([], |r| {
                let sweep: String = r.get(0)?;
                let label: String = r.get(1)?;
                let cell: String = r.get(2)?;
                let cell = serde_json::from_str(&cell).map_err(|e| {
                    bad_row("seed_cells", &format!("{sweep}: {label}"), e.to_string())
                })?;
                Ok((SweepName::from(sweep), cell))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self.conn.prepare("SELECT id, name FROM workers")?;
        let workers = stmt
            .query_map([], |r| {
                Ok((WorkerId::from(r.get::<_, String>(0)?), r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(State::rebuild(jobs, sweeps, workers, cells, now))
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> rusqlite::Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
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

/// The probe rows' inputs, once per input set (method.md section 5's task
/// graph reads them): a result that carries them has them moved to
/// `probe_inputs` and is stored without them. Other results pass as they are.
fn keep_probe_inputs(
    tx: &rusqlite::Transaction<'_>,
    result_json: &str,
) -> rusqlite::Result<String> {
    if !result_json.contains("\"probes\"") {
        return Ok(result_json.to_string());
    }
    let Ok(mut result) = serde_json::from_str::<sweep_shared::JobResult>(result_json) else {
        return Ok(result_json.to_string());
    };
    let Some(probes) = result.probes.as_mut().filter(|p| !p.inputs.is_empty()) else {
        return Ok(result_json.to_string());
    };
    let inputs: Vec<u8> = probes.inputs.iter().flat_map(|v| v.to_le_bytes()).collect();
    tx.prepare_cached(
        "INSERT OR IGNORE INTO probe_inputs (sha256, features, rows, inputs) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        probes.inputs_sha256,
        serde_json::to_string(&probes.features).expect("strings serialise"),
        probes.rows as i64,
        inputs
    ])?;
    probes.inputs.clear();
    Ok(serde_json::to_string(&result).expect("a result serialises"))
}

/// The inputs of one probe set: its feature names and its rows, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeInputs {
    pub features: Vec<String>,
    pub rows: usize,
    pub inputs: Vec<f32>,
}

impl Store {
    /// The probe inputs with checksum `sha256`, if a result brought them.
    pub fn probe_inputs(&self, sha256: &str) -> rusqlite::Result<Option<ProbeInputs>> {
        self.conn
            .prepare_cached("SELECT features, rows, inputs FROM probe_inputs WHERE sha256 = ?1")?
            .query_row([sha256], |r| {
                let features: String = r.get(0)?;
                let blob: Vec<u8> = r.get(2)?;
                Ok(ProbeInputs {
                    features: serde_json::from_str(&features)
                        .map_err(|e| bad_row("probe_inputs", sha256, e.to_string()))?,
                    rows: r.get::<_, i64>(1)? as usize,
                    inputs: blob
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                })
            })
            .optional()
    }
}

/// An error for a row that cannot be read, naming its table and key.
fn bad_row(table: &str, key: &str, what: String) -> rusqlite::Error {
    unreadable(format!("the {table} row `{key}` cannot be read: {what}"))
}

fn unreadable(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(std::io::Error::other(message)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sweep-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.db")
    }

    #[test]
    fn a_database_without_a_version_is_migrated_and_a_newer_one_refused() {
        let path = scratch("migrate");
        // The schema as released before versions were kept, with a row.
        let old = Connection::open(&path).unwrap();
        old.execute_batch(SCHEMA).unwrap();
        old.execute(
            "INSERT INTO jobs VALUES ('k', '{}', '[]', 'done', 1, 3, 1000, NULL, NULL, 0)",
            [],
        )
        .unwrap();
        drop(old);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let state = store.load(Instant::now()).unwrap();
        assert_eq!(state.jobs[&JobKey::from("k")].state, JobState::Done);
        drop(store);
        let newer = Connection::open(&path).unwrap();
        newer.pragma_update(None, "user_version", 99).unwrap();
        drop(newer);
        let Err(err) = Store::open(&path) else {
            panic!("a newer schema is refused");
        };
        let err = err.to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }

    #[test]
    fn a_corrupt_row_stops_the_load_naming_its_table_and_key() {
        let path = scratch("corrupt");
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO jobs VALUES ('job-7', '{}', '[]', 'bogus', 0, 3, 1000, NULL, NULL, 0)",
                [],
            )
            .unwrap();
        let err = store.load(Instant::now()).expect_err("refused").to_string();
        assert!(
            err.contains("jobs row `job-7`") && err.contains("bogus"),
            "{err}"
        );
        store
            .conn
            .execute("UPDATE jobs SET state = 'queued', files = 'not json'", [])
            .unwrap();
        let err = store.load(Instant::now()).expect_err("refused").to_string();
        assert!(err.contains("job-7") && err.contains("files"), "{err}");
        store.conn.execute("DELETE FROM jobs", []).unwrap();
        store
            .conn
            .execute("INSERT INTO sweeps VALUES ('s1', '', 'paused', '', 0)", [])
            .unwrap();
        let err = store.load(Instant::now()).expect_err("refused").to_string();
        assert!(
            err.contains("sweeps row `s1`") && err.contains("paused"),
            "{err}"
        );
    }

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
