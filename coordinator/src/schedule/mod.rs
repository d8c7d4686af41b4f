//! Scheduled benchmark runs: a sweep file frozen at creation, re-run on a
//! cron schedule as an ordinary sweep with fresh jobs, and compared with a
//! baseline when it ends.
//!
//! `mod.rs` holds the types and the run states with their transitions,
//! `store` their durable rows (in the coordinator's database), and
//! `scheduler` the loop that fires due schedules and finishes runs, and
//! `rpc` its gRPC face.

pub mod client;
pub mod rpc;
pub mod scheduler;
pub mod store;

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;

use crate::error::CoordinatorError;
use crate::report::compare::{Thresholds, COMPARED};

/// What a finished run is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// Nothing: every run passes.
    None,
    /// The schedule's previous finished run.
    Previous,
    /// A named sweep (an earlier run, or any sweep in the database).
    Sweep(String),
}

impl Baseline {
    pub fn parse(text: &str) -> Result<Baseline, CoordinatorError> {
        match text {
            "" | "previous" => Ok(Baseline::Previous),
            "none" => Ok(Baseline::None),
            name if valid_name(name) => Ok(Baseline::Sweep(name.to_string())),
            other => Err(CoordinatorError::InvalidSchedule(format!(
                "baseline: `{other}` is not `previous`, `none` or a sweep name"
            ))),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Baseline::None => "none".into(),
            Baseline::Previous => "previous".into(),
            Baseline::Sweep(name) => name.clone(),
        }
    }
}

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub name: String,
    /// The sweep file's content at creation: later edits change nothing.
    pub sweep_toml: String,
    pub sweep_sha256: String,
    /// Where the file was read from, for people.
    pub source: String,
    pub cron: String,
    pub tz: String,
    pub baseline: Baseline,
    pub thresholds: Thresholds,
    /// The metric plotted over runs.
    pub metric: String,
    pub webhook: Option<String>,
    pub enabled: bool,
    pub created_ms: i64,
    /// Due times up to here have been dealt with (fired, skipped or missed).
    pub checked_ms: i64,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Checks a schedule's name.
pub fn check_name(name: &str) -> Result<(), CoordinatorError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(CoordinatorError::InvalidSchedule(format!(
            "name: `{name}` must be 1–64 letters, digits, `-`, `_` or `.`"
        )))
    }
}

/// Checks the metric plotted over runs.
pub fn check_metric(metric: &str) -> Result<(), CoordinatorError> {
    if COMPARED.iter().any(|(m, _)| *m == metric) {
        Ok(())
    } else {
        let known: Vec<&str> = COMPARED.iter().map(|(m, _)| *m).collect();
        Err(CoordinatorError::InvalidSchedule(format!(
            "metric: `{metric}` is not one of {}",
            known.join(", ")
        )))
    }
}

/// A parsed cron expression in its time zone. Five fields (minute hour
/// day-of-month month day-of-week) as in crontab, or six with seconds
/// first.
#[derive(Debug, Clone)]
pub struct When {
    cron: Cron,
    tz: Tz,
}

impl When {
    pub fn parse(cron: &str, tz: &str) -> Result<When, CoordinatorError> {
        let parsed = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(cron)
            .map_err(|e| {
                CoordinatorError::InvalidSchedule(format!("cron: `{cron}` is not valid: {e}"))
            })?;
        let tz = Tz::from_str(tz).map_err(|_| {
            CoordinatorError::InvalidSchedule(format!(
                "tz: `{tz}` is not an IANA time zone such as UTC or Europe/Paris"
            ))
        })?;
        Ok(When { cron: parsed, tz })
    }

    /// The due times in `(after, upto]`: the latest, and how many there
    /// are (counted up to `cap`).
    pub fn due(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
        cap: usize,
    ) -> (Option<DateTime<Utc>>, usize) {
        // croner keeps the sub-second part of the time it starts from, so
        // whole seconds go in: due times are whole seconds.
        let (after, upto) = (whole_seconds(after), whole_seconds(upto));
        if upto <= after {
            return (None, 0);
        }
        let latest = self
            .cron
            .find_previous_occurrence(&upto.with_timezone(&self.tz), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| *t > after);
        if latest.is_none() {
            return (None, 0);
        }
        let count = self
            .cron
            .iter_after(after.with_timezone(&self.tz))
            .take_while(|t| t.with_timezone(&Utc) <= upto)
            .take(cap)
            .count();
        (latest, count.max(1))
    }

    /// The next due time after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    at_ms(t.timestamp() * 1000)
}

/// Milliseconds since the epoch as a UTC time.
pub fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Where a scheduled run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Its due time came while the coordinator was up.
    Cron,
    /// The coordinator was down across `missed` due times; this one run
    /// stands for all of them.
    CatchUp { missed: u32 },
    /// `schedule run-now`.
    Manual,
}

impl Trigger {
    pub fn text(self) -> String {
        match self {
            Trigger::Cron => "cron".into(),
            Trigger::CatchUp { missed } => format!("catch-up:{missed}"),
            Trigger::Manual => "manual".into(),
        }
    }

    pub fn parse(text: &str) -> Trigger {
        match text.strip_prefix("catch-up:") {
            Some(n) => Trigger::CatchUp {
                missed: n.parse().unwrap_or(1),
            },
            None if text == "manual" => Trigger::Manual,
            None => Trigger::Cron,
        }
    }
}

/// A run's state. `Skipped` and the finished states are final; `Running`
/// moves to one of them through [`Outcome::finish`], the only transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Due while the previous run was still going: not started.
    Skipped,
    Running,
    /// Finished and within the thresholds of its baseline (or without one).
    Pass,
    /// Finished with a flagged regression against its baseline.
    Regression,
    /// Jobs failed, or the sweep could not be submitted or compared.
    Failed,
    /// The run's sweep was cancelled.
    Cancelled,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Skipped => "skipped",
            Outcome::Running => "running",
            Outcome::Pass => "pass",
            Outcome::Regression => "regression",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        [
            Outcome::Skipped,
            Outcome::Running,
            Outcome::Pass,
            Outcome::Regression,
            Outcome::Failed,
            Outcome::Cancelled,
        ]
        .into_iter()
        .find(|o| o.name() == text)
    }

    /// The transition out of `Running`; anything else is a bug.
    pub fn finish(self, to: Outcome) -> Result<Outcome, CoordinatorError> {
        let to_final = !matches!(to, Outcome::Running | Outcome::Skipped);
        if self == Outcome::Running && to_final {
            Ok(to)
        } else {
            Err(CoordinatorError::Conflict(format!(
                "a scheduled run cannot go from {} to {}",
                self.name(),
                to.name()
            )))
        }
    }

    /// Whether a run with this outcome finished its sweep (and so can be a
    /// baseline).
    pub fn finished(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::Regression)
    }
}

/// One firing of a schedule, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub schedule: String,
    pub seq: u32,
    /// The run's sweep (empty when skipped).
    pub sweep: String,
    pub due_ms: i64,
    pub fired_ms: i64,
    pub trigger: Trigger,
    pub outcome: Outcome,
    pub finished_ms: Option<i64>,
    /// The sweep it was compared with.
    pub baseline: Option<String>,
    /// `cell metric: a → b` for each flagged regression.
    pub flagged: Vec<String>,
    /// Why it was skipped or failed, or where the webhook failed.
    pub detail: String,
    pub report_dir: String,
}

impl Run {
    /// A run of `schedule` fired at `fired_ms` for its due time `due_ms`,
    /// running, with nothing else known yet.
    pub fn new(schedule: &str, seq: u32, due_ms: i64, fired_ms: i64, trigger: Trigger) -> Run {
        Run {
            schedule: schedule.to_string(),
            seq,
            sweep: String::new(),
            due_ms,
            fired_ms,
            trigger,
            outcome: Outcome::Running,
            finished_ms: None,
            baseline: None,
            flagged: vec![],
            detail: String::new(),
            report_dir: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn due_times_in_a_window_give_the_latest_and_their_count() {
        let every_minute = When::parse("* * * * *", "UTC").unwrap();
        let (latest, n) =
            every_minute.due(t("2026-01-01T00:00:30Z"), t("2026-01-01T00:03:10Z"), 100);
        assert_eq!((latest, n), (Some(t("2026-01-01T00:03:00Z")), 3));
        let (latest, n) =
            every_minute.due(t("2026-01-01T00:03:00Z"), t("2026-01-01T00:03:59Z"), 100);
        assert_eq!((latest, n), (None, 0), "the slot at :03 was dealt with");
        // Found in a real run: ticks at sub-second offsets found the same
        // slot again a second later.
        let every_30s = When::parse("*/30 * * * * *", "UTC").unwrap();
        let (latest, _) = every_30s.due(
            t("2026-01-01T00:00:29.700Z"),
            t("2026-01-01T00:00:30.512Z"),
            100,
        );
        assert_eq!(latest, Some(t("2026-01-01T00:00:30Z")));
        let again = every_30s.due(
            t("2026-01-01T00:00:30.512Z"),
            t("2026-01-01T00:00:31.530Z"),
            100,
        );
        assert_eq!(again, (None, 0));
        // Nightly at 02:00 in Paris is 01:00 UTC in winter.
        let nightly = When::parse("0 2 * * *", "Europe/Paris").unwrap();
        assert_eq!(
            nightly.next_after(t("2026-01-01T00:00:00Z")),
            Some(t("2026-01-01T01:00:00Z"))
        );
        // Six fields: seconds first.
        let every_5s = When::parse("*/5 * * * * *", "UTC").unwrap();
        assert_eq!(
            every_5s
                .due(t("2026-01-01T00:00:00Z"), t("2026-01-01T00:00:12Z"), 100)
                .1,
            2
        );
    }

    #[test]
    fn bad_cron_expressions_and_zones_are_named() {
        let e = When::parse("61 * * * *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("cron: `61 * * * *` is not valid"), "{e}");
        let e = When::parse("* * *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("cron: `* * *`"), "{e}");
        let e = When::parse("* * * * *", "Mars/Olympus")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("tz: `Mars/Olympus`"), "{e}");
    }

    #[test]
    fn only_a_running_run_finishes() {
        assert_eq!(
            Outcome::Running.finish(Outcome::Pass).unwrap(),
            Outcome::Pass
        );
        assert!(Outcome::Running.finish(Outcome::Skipped).is_err());
        assert!(Outcome::Pass.finish(Outcome::Regression).is_err());
        assert!(Outcome::Skipped.finish(Outcome::Pass).is_err());
        for o in [
            "skipped",
            "running",
            "pass",
            "regression",
            "failed",
            "cancelled",
        ] {
            assert_eq!(Outcome::parse(o).unwrap().name(), o);
        }
    }
}
