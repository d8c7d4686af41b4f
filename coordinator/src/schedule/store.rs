//! Schedules and their runs, durable in the coordinator's database (its
//! own connection: WAL lets it sit beside the core's). Every change is one
//! committed statement before anyone is told it happened.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row as SqlRow};

use super::{Acceptance, Baseline, Outcome, Run, Schedule, Trigger};
use crate::error::CoordinatorError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    sweep_toml TEXT NOT NULL,
    sweep_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    cron TEXT NOT NULL,
    tz TEXT NOT NULL,
    baseline TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    metric TEXT NOT NULL,
    webhook TEXT,
    webhook_secret TEXT,
    enabled INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    checked_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_runs (
    schedule TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sweep TEXT NOT NULL,
    due_ms INTEGER NOT NULL,
    fired_ms INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    outcome TEXT NOT NULL,
    finished_ms INTEGER,
    baseline TEXT,
    flagged TEXT NOT NULL,
    detail TEXT NOT NULL,
    report_dir TEXT NOT NULL,
    accepted_ms INTEGER,
    accept_note TEXT,
    PRIMARY KEY (schedule, seq)
);
";

pub struct ScheduleStore {
    conn: Connection,
}

/// Adds each `(column, type)` that `table` lacks: the whole migration of a
/// database from before the column existed (it reads as NULL).
fn add_columns_if_missing(
    conn: &Connection,
    table: &str,
    columns: &[(&str, &str)],
) -> rusqlite::Result<()> {
    for (column, ty) in columns {
        let present = conn
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
            .exists([table, column])?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
        }
    }
    Ok(())
}

fn store_err(e: rusqlite::Error) -> CoordinatorError {
    CoordinatorError::Store(e.to_string())
}

fn schedule_row(r: &SqlRow) -> rusqlite::Result<Schedule> {
    let baseline: String = r.get(6)?;
    let thresholds: String = r.get(7)?;
    Ok(Schedule {
        name: r.get(0)?,
        sweep_toml: r.get(1)?,
        sweep_sha256: r.get(2)?,
        source: r.get(3)?,
        cron: r.get(4)?,
        tz: r.get(5)?,
        baseline: Baseline::parse(&baseline).unwrap_or(Baseline::Previous),
        thresholds: serde_json::from_str(&thresholds).unwrap_or_default(),
        metric: r.get(8)?,
        webhook: r.get(9)?,
        enabled: r.get(10)?,
        created_ms: r.get(11)?,
        checked_ms: r.get(12)?,
        webhook_secret: r.get(13)?,
    })
}

fn run_row(r: &SqlRow) -> rusqlite::Result<Run> {
    let trigger: String = r.get(5)?;
    let outcome: String = r.get(6)?;
    let flagged: String = r.get(9)?;
    Ok(Run {
        schedule: r.get(0)?,
        seq: r.get(1)?,
        sweep: r.get(2)?,
        due_ms: r.get(3)?,
        fired_ms: r.get(4)?,
        trigger: Trigger::parse(&trigger),
        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Failed),
        finished_ms: r.get(7)?,
        baseline: r.get(8)?,
        flagged: serde_json::from_str(&flagged).unwrap_or_default(),
        detail: r.get(10)?,
        report_dir: r.get(11)?,
        accepted: match r.get::<_, Option<i64>>(12)? {
            Some(at_ms) => Some(Acceptance {
                at_ms,
                note: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

const SCHEDULE_COLUMNS: &str = "name, sweep_toml, sweep_sha256, source, cron, tz, baseline, \
     thresholds, metric, webhook, enabled, created_ms, checked_ms, webhook_secret";
const RUN_COLUMNS: &str = "schedule, seq, sweep, due_ms, fired_ms, trigger, outcome, \
     finished_ms, baseline, flagged, detail, report_dir, accepted_ms, accept_note";

impl ScheduleStore {
    pub fn open(path: &Path) -> Result<ScheduleStore, CoordinatorError> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.execute_batch(SCHEMA)?;
            // A database from before webhooks were signed gains the
            // column; its schedules' webhooks are signed with an empty key
            // until they are added again with a secret.
            add_columns_if_missing(&conn, "schedules", &[("webhook_secret", "TEXT")])?;
            // And before runs could be accepted.
            add_columns_if_missing(
                &conn,
                "schedule_runs",
                &[("accepted_ms", "INTEGER"), ("accept_note", "TEXT")],
            )?;
            Ok(conn)
        };
        open()
            .map(|conn| ScheduleStore { conn })
            .map_err(|e| CoordinatorError::Store(format!("{}: {e}", path.display())))
    }

    pub fn add(&self, s: &Schedule) -> Result<(), CoordinatorError> {
        if self.get(&s.name)?.is_some() {
            return Err(CoordinatorError::ScheduleExists(s.name.clone()));
        }
        self.conn
            .execute(
                &format!(
                    "INSERT INTO schedules ({SCHEDULE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                params![
                    s.name,
                    s.sweep_toml,
                    s.sweep_sha256,
                    s.source,
                    s.cron,
                    s.tz,
                    s.baseline.text(),
                    serde_json::to_string(&s.thresholds).expect("thresholds serialise"),
                    s.metric,
                    s.webhook,
                    s.enabled,
                    s.created_ms,
                    s.checked_ms,
                    s.webhook_secret
                ],
            )
            .map_err(store_err)?;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<Option<Schedule>, CoordinatorError> {
        self.conn
            .query_row(
                &format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = ?1"),
                [name],
                schedule_row,
            )
            .optional()
            .map_err(store_err)
    }

    pub fn require(&self, name: &str) -> Result<Schedule, CoordinatorError> {
        self.get(name)?
            .ok_or_else(|| CoordinatorError::UnknownSchedule(name.to_string()))
    }

    pub fn list(&self) -> Result<Vec<Schedule>, CoordinatorError> {
        self.all(
            &format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name"),
            [],
            schedule_row,
        )
    }

    /// Every row a query gives, mapped.
    fn all<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        map: fn(&SqlRow) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, CoordinatorError> {
        let mut stmt = self.conn.prepare(sql).map_err(store_err)?;
        let rows = stmt
            .query_map(params, map)
            .map_err(store_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(store_err);
        rows
    }

    /// Pauses or resumes; a resumed schedule does not catch up on the due
    /// times it was paused across (`checked_ms` moves to `now_ms`).
    pub fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        now_ms: i64,
    ) -> Result<Schedule, CoordinatorError> {
        let s = self.require(name)?;
        let checked = if enabled && !s.enabled {
            now_ms
        } else {
            s.checked_ms
        };
        self.conn
            .execute(
                "UPDATE schedules SET enabled = ?2, checked_ms = ?3 WHERE name = ?1",
                params![name, enabled, checked],
            )
            .map_err(store_err)?;
        self.require(name)
    }

    pub fn set_checked(&self, name: &str, checked_ms: i64) -> Result<(), CoordinatorError> {
        self.conn
            .execute(
                "UPDATE schedules SET checked_ms = ?2 WHERE name = ?1",
                params![name, checked_ms],
            )
            .map_err(store_err)?;
        Ok(())
    }

    /// Removes a schedule; its runs' history and sweeps are kept.
    pub fn remove(&self, name: &str) -> Result<Schedule, CoordinatorError> {
        let s = self.require(name)?;
        self.conn
            .execute("DELETE FROM schedules WHERE name = ?1", [name])
            .map_err(store_err)?;
        Ok(s)
    }

    pub fn next_seq(&self, schedule: &str) -> Result<u32, CoordinatorError> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM schedule_runs WHERE schedule = ?1",
                [schedule],
                |r| r.get(0),
            )
            .map_err(store_err)
    }

    /// Inserts or replaces a run's row.
    pub fn put_run(&self, run: &Run) -> Result<(), CoordinatorError> {
        self.conn
            .execute(
                &format!(
                    "INSERT OR REPLACE INTO schedule_runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                params![
                    run.schedule,
                    run.seq,
                    run.sweep,
                    run.due_ms,
                    run.fired_ms,
                    run.trigger.text(),
                    run.outcome.name(),
                    run.finished_ms,
                    run.baseline,
                    serde_json::to_string(&run.flagged).expect("strings serialise"),
                    run.detail,
                    run.report_dir,
                    run.accepted.as_ref().map(|a| a.at_ms),
                    run.accepted.as_ref().map(|a| a.note.clone())
                ],
            )
            .map_err(store_err)?;
        Ok(())
    }

    /// A schedule's runs, oldest first.
    pub fn runs(&self, schedule: &str) -> Result<Vec<Run>, CoordinatorError> {
        self.all(
            &format!("SELECT {RUN_COLUMNS} FROM schedule_runs WHERE schedule = ?1 ORDER BY seq"),
            [schedule],
            run_row,
        )
    }

    /// Every run still in progress, of any schedule.
    pub fn running(&self) -> Result<Vec<Run>, CoordinatorError> {
        self.all(
            &format!(
                "SELECT {RUN_COLUMNS} FROM schedule_runs WHERE outcome = 'running' ORDER BY schedule, seq"
            ),
            [],
            run_row,
        )
    }
}
