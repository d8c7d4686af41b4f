//! [`Schedules`]: the schedules a coordinator keeps, and what it needs to
//! run them. Adding, listing, pausing and removing are here; on every tick
//! (`fire`) it finishes the runs whose sweeps ended (`conclude`: report,
//! comparison with the baseline, `history` plot, `webhook`) and fires the
//! schedules that came due. It reads the time through a [`Clock`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::clock::Clock;
use super::store::ScheduleStore;
use super::{check_metric, check_name, ms, Baseline, Run, Schedule, When};
use crate::core::Core;
use crate::error::CoordinatorError;
use crate::ids::SweepName;
use crate::report::compare;
use crate::state::SweepState;
use crate::sweep_file;

/// A new schedule, as a user asks for it.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub name: String,
    pub sweep_toml: String,
    pub source: String,
    pub cron: String,
    pub tz: String,
    pub baseline: String,
    pub thresholds: compare::Thresholds,
    pub metric: String,
    pub webhook: Option<String>,
    pub webhook_secret: Option<String>,
    pub paused: bool,
}

pub struct SchedulesConfig {
    pub db: PathBuf,
    pub data_dir: PathBuf,
    /// Each run's report goes to `reports/<run's sweep>/`.
    pub reports: PathBuf,
    /// A due time noticed later than this is a catch-up (the coordinator
    /// was down across it).
    pub late_after: Duration,
    /// Jobs per run at most, as for submitted sweeps.
    pub max_jobs: u64,
    /// Hosts a webhook may reach though they resolve to a loopback,
    /// link-local or private address.
    pub webhook_allow: Vec<String>,
}

pub struct Schedules {
    /// Locked for one statement at a time, never across an await.
    pub(super) store: Mutex<ScheduleStore>,
    /// Held while firing, so a tick and `run-now` never start two runs.
    pub(super) firing: tokio::sync::Mutex<()>,
    pub(super) core: Core,
    pub(super) config: SchedulesConfig,
    pub(super) clock: Arc<dyn Clock>,
}

/// A schedule, its runs and its next due time.
pub type Shown = (Schedule, Vec<Run>, Option<DateTime<Utc>>);

impl Schedules {
    pub fn new(
        core: Core,
        config: SchedulesConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Schedules, CoordinatorError> {
        Ok(Schedules {
            store: Mutex::new(ScheduleStore::open(&config.db)?),
            firing: tokio::sync::Mutex::new(()),
            core,
            config,
            clock,
        })
    }

    pub(super) fn store(&self) -> std::sync::MutexGuard<'_, ScheduleStore> {
        self.store.lock().expect("schedule store lock")
    }

    pub async fn add(&self, new: NewSchedule) -> Result<Schedule, CoordinatorError> {
        check_name(&new.name)?;
        When::parse(&new.cron, &new.tz)?;
        sweep_file::parse(&new.sweep_toml, &new.source)?;
        check_metric(&new.metric)?;
        let baseline = Baseline::parse(&new.baseline)?;
        if let Baseline::Sweep(name) = &baseline {
            if self.sweep_state(name).await?.is_none() {
                return Err(CoordinatorError::InvalidSchedule(format!(
                    "baseline: no sweep named `{name}`"
                )));
            }
        }
        if let Some(url) = &new.webhook {
            // The URL itself may hold a token: never echoed back.
            super::webhook::host_of(url)
                .map_err(|e| CoordinatorError::InvalidSchedule(format!("webhook: {e}")))?;
            match &new.webhook_secret {
                Some(s) if s.trim().len() >= 16 => {}
                _ => {
                    return Err(CoordinatorError::InvalidSchedule(
                        "webhook_secret: a webhook needs a secret of at least 16 characters to \
                         sign its bodies with (schedule add --webhook-secret-file FILE)"
                            .into(),
                    ))
                }
            }
        }
        let now = ms(self.clock.now());
        let schedule = Schedule {
            sweep_sha256: Sha256::digest(new.sweep_toml.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            name: new.name,
            sweep_toml: new.sweep_toml,
            source: new.source,
            cron: new.cron,
            tz: new.tz,
            baseline,
            thresholds: new.thresholds,
            metric: new.metric,
            webhook_secret: new.webhook.as_ref().and(new.webhook_secret),
            webhook: new.webhook,
            enabled: !new.paused,
            created_ms: now,
            checked_ms: now,
        };
        self.store().add(&schedule)?;
        tracing::info!(schedule = %schedule.name, cron = %schedule.cron, tz = %schedule.tz, "schedule added");
        Ok(schedule)
    }

    pub fn list(&self) -> Result<Vec<Schedule>, CoordinatorError> {
        self.store().list()
    }

    /// A schedule, its runs (oldest first) and its next due time.
    pub fn show(&self, name: &str) -> Result<Shown, CoordinatorError> {
        let s = self.store().require(name)?;
        let next = s
            .enabled
            .then(|| {
                When::parse(&s.cron, &s.tz)
                    .ok()?
                    .next_after(self.clock.now())
            })
            .flatten();
        let runs = self.store().runs(name)?;
        Ok((s, runs, next))
    }

    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<Schedule, CoordinatorError> {
        let s = self
            .store()
            .set_enabled(name, enabled, ms(self.clock.now()))?;
        tracing::info!(schedule = %name, enabled, "schedule updated");
        Ok(s)
    }

    /// Makes run `seq` of `name` the reference of `--baseline accepted`
    /// on purpose (a regression that is the new normal), with `note`.
    pub fn accept(&self, name: &str, seq: u32, note: &str) -> Result<Run, CoordinatorError> {
        let _schedule = self.store().require(name)?;
        let mut run = self
            .store()
            .runs(name)?
            .into_iter()
            .find(|r| r.seq == seq)
            .ok_or_else(|| {
                CoordinatorError::InvalidSchedule(format!("schedule `{name}` has no run {seq}"))
            })?;
        if !run.outcome.finished() {
            return Err(CoordinatorError::Conflict(format!(
                "schedule `{name}`: run {seq} is {}; only a run that passed or regressed can be \
                 accepted (it has a full report to compare with)",
                run.outcome.name()
            )));
        }
        if note.len() > 4096 {
            return Err(CoordinatorError::InvalidSchedule(
                "note: at most 4096 bytes".into(),
            ));
        }
        run.accepted = Some(super::Acceptance {
            at_ms: ms(self.clock.now()),
            note: note.to_string(),
        });
        self.store().put_run(&run)?;
        tracing::info!(schedule = %name, run = seq, %note, "run accepted as the reference");
        Ok(run)
    }

    pub fn remove(&self, name: &str) -> Result<Schedule, CoordinatorError> {
        let s = self.store().remove(name)?;
        tracing::info!(schedule = %name, "schedule removed");
        Ok(s)
    }

    /// The state of the sweep named `name`, or `None` when there is none.
    pub(super) async fn sweep_state(
        &self,
        name: &str,
    ) -> Result<Option<SweepState>, CoordinatorError> {
        match self.core.status(SweepName::from(name)).await {
            Ok((state, _)) => Ok(Some(state)),
            Err(CoordinatorError::State(crate::state::StateError::UnknownSweep(_))) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
