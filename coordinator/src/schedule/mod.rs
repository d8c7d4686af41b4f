//! Scheduled benchmark runs: a sweep file frozen at creation, re-run on a
//! cron schedule as an ordinary sweep with fresh jobs, and compared with a
//! baseline when it ends.
//!
//! `mod.rs` holds the types and the run states with their transitions,
//! `when` the parsed cron expression, `store` their durable rows (in the
//! coordinator's database), and `schedules` the [`schedules::Schedules`]
//! that keeps them, reading the time from a `clock`; `fire` is its tick,
//! which fires due schedules and `conclude`s runs whose sweeps ended (with
//! the `history` plot and the `webhook`), and `rpc` its gRPC face.

pub mod client;
pub mod clock;
mod conclude;
mod fire;
mod history;
pub mod rpc;
pub mod schedules;
pub mod store;
pub mod webhook;
mod when;

use chrono::{DateTime, TimeZone, Utc};

use crate::error::CoordinatorError;
use crate::report::compare::{Thresholds, COMPARED};
pub use when::When;

/// What a finished run is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// Nothing: every run passes.
    None,
    /// The schedule's previous finished run.
    Previous,
    /// The schedule's last run that passed or was accepted: a lasting
    /// regression keeps being flagged until it is fixed or accepted.
    Accepted,
    /// A named sweep (an earlier run, or any sweep in the database).
    Sweep(String),
}

impl Baseline {
    pub fn parse(text: &str) -> Result<Baseline, CoordinatorError> {
        match text {
            "" | "accepted" => Ok(Baseline::Accepted),
            "previous" => Ok(Baseline::Previous),
            "none" => Ok(Baseline::None),
            name if valid_name(name) => Ok(Baseline::Sweep(name.to_string())),
            other => Err(CoordinatorError::InvalidSchedule(format!(
                "baseline: `{other}` is not `accepted`, `previous`, `none` or a sweep name"
            ))),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Baseline::None => "none".into(),
            Baseline::Previous => "previous".into(),
            Baseline::Accepted => "accepted".into(),
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
    /// The key webhook bodies are signed with; never shown.
    pub webhook_secret: Option<String>,
    pub enabled: bool,
    pub created_ms: i64,
    /// Due times up to here have been dealt with (fired, skipped or missed).
    pub checked_ms: i64,
}

/// A schedule's runs are sweeps named `<schedule>-<n>`, so its name obeys
/// the sweep names' rules, shorter.
fn valid_name(name: &str) -> bool {
    name.len() <= 64 && crate::ids::SweepName::parse(name).is_ok()
}

/// Checks a schedule's name.
pub fn check_name(name: &str) -> Result<(), CoordinatorError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(CoordinatorError::InvalidSchedule(format!(
            "name: `{name}` must be 1–64 letters, digits, `-`, `_` or `.`, and not `.` or `..`"
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

/// Milliseconds since the epoch as a UTC time.
pub fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A UTC time as milliseconds since the epoch, as the store keeps times.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
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
    /// The outcome as it travels: an enum on the wire, never a word to match.
    pub fn wire(self) -> sweep_proto::RunOutcome {
        use sweep_proto::RunOutcome as W;
        match self {
            Outcome::Skipped => W::Skipped,
            Outcome::Running => W::Running,
            Outcome::Pass => W::Pass,
            Outcome::Regression => W::Regression,
            Outcome::Failed => W::Failed,
            Outcome::Cancelled => W::Cancelled,
        }
    }

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
    /// Made the reference on purpose (`schedule accept`).
    pub accepted: Option<Acceptance>,
}

/// A run accepted as the new reference of `--baseline accepted`.
#[derive(Debug, Clone, PartialEq)]
pub struct Acceptance {
    pub at_ms: i64,
    pub note: String,
}

impl Run {
    /// Whether `--baseline accepted` compares later runs with this one.
    pub fn is_reference(&self) -> bool {
        self.outcome == Outcome::Pass || self.accepted.is_some()
    }
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
            accepted: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
