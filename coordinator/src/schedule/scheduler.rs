//! The scheduler: on every tick it finishes the runs whose sweeps ended
//! (report, comparison with the baseline, history plot, webhook) and fires
//! the schedules that came due. No external cron: the coordinator keeps
//! time itself, through a [`Clock`] that tests control.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::store::ScheduleStore;
use super::{at_ms, check_metric, check_name, Baseline, Outcome, Run, Schedule, Trigger, When};
use crate::core::{Command, Core, Reply};
use crate::error::CoordinatorError;
use crate::ids::SweepName;
use crate::report::{self, compare, plots};
use crate::state::SweepState;
use crate::sweep_file;

/// Where the scheduler reads the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to, for tests.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(t: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(t)))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = t;
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().expect("clock lock");
        *t += chrono::Duration::from_std(by).expect("a short duration");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

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
    pub paused: bool,
}

pub struct SchedulerConfig {
    pub db: PathBuf,
    pub data_dir: PathBuf,
    /// Each run's report goes to `reports/<run's sweep>/`.
    pub reports: PathBuf,
    /// A due time noticed later than this is a catch-up (the coordinator
    /// was down across it).
    pub late_after: Duration,
}

pub struct Scheduler {
    /// Locked for one statement at a time, never across an await.
    store: Mutex<ScheduleStore>,
    /// Held while firing, so a tick and `run-now` never start two runs.
    firing: tokio::sync::Mutex<()>,
    core: Core,
    config: SchedulerConfig,
    clock: Arc<dyn Clock>,
}

/// A schedule, its runs and its next due time.
pub type Shown = (Schedule, Vec<Run>, Option<DateTime<Utc>>);

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl Scheduler {
    pub fn new(
        core: Core,
        config: SchedulerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Scheduler, CoordinatorError> {
        Ok(Scheduler {
            store: Mutex::new(ScheduleStore::open(&config.db)?),
            firing: tokio::sync::Mutex::new(()),
            core,
            config,
            clock,
        })
    }

    fn store(&self) -> std::sync::MutexGuard<'_, ScheduleStore> {
        self.store.lock().expect("schedule store lock")
    }

    pub async fn add(&self, new: NewSchedule) -> Result<Schedule, CoordinatorError> {
        check_name(&new.name)?;
        When::parse(&new.cron, &new.tz)?;
        sweep_file::parse(&new.sweep_toml, &new.source).map_err(CoordinatorError::InvalidSweep)?;
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
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(CoordinatorError::InvalidSchedule(format!(
                    "webhook: `{url}` is not an http:// or https:// URL"
                )));
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

    pub fn remove(&self, name: &str) -> Result<Schedule, CoordinatorError> {
        let s = self.store().remove(name)?;
        tracing::info!(schedule = %name, "schedule removed");
        Ok(s)
    }

    /// Starts a run now, unless one is in progress.
    pub async fn run_now(&self, name: &str) -> Result<Run, CoordinatorError> {
        let _firing = self.firing.lock().await;
        let s = self.store().require(name)?;
        if let Some(r) = self.in_progress(name)? {
            return Err(CoordinatorError::Conflict(format!(
                "schedule `{name}`: run {} ({}) is still in progress",
                r.seq, r.sweep
            )));
        }
        let now = self.clock.now();
        self.fire(&s, now, now, Trigger::Manual).await
    }

    fn in_progress(&self, name: &str) -> Result<Option<Run>, CoordinatorError> {
        Ok(self
            .store()
            .running()?
            .into_iter()
            .find(|r| r.schedule == name))
    }

    /// One pass: finish ended runs, then fire (or skip) due schedules.
    pub async fn tick(&self) -> Result<(), CoordinatorError> {
        let _firing = self.firing.lock().await;
        self.finish_runs().await?;
        let now = self.clock.now();
        let schedules = self.store().list()?;
        for s in schedules.into_iter().filter(|s| s.enabled) {
            let Ok(when) = When::parse(&s.cron, &s.tz) else {
                continue;
            };
            let (Some(due), count) = when.due(at_ms(s.checked_ms), now, 10_000) else {
                continue;
            };
            let late = (now - due).to_std().unwrap_or_default() > self.config.late_after;
            let trigger = if count > 1 || late {
                Trigger::CatchUp {
                    missed: count as u32,
                }
            } else {
                Trigger::Cron
            };
            let already = self.store().runs(&s.name)?;
            match self.in_progress(&s.name)? {
                // Fired just before a crash that kept `checked_ms` from
                // moving: never twice for one due time.
                _ if already.iter().any(|r| r.due_ms == ms(due)) => {}
                Some(running) => {
                    let seq = self.store().next_seq(&s.name)?;
                    let mut skipped = Run::new(&s.name, seq, ms(due), ms(now), trigger);
                    skipped.outcome = Outcome::Skipped;
                    skipped.finished_ms = Some(ms(now));
                    skipped.detail = format!(
                        "run {} ({}) was still in progress",
                        running.seq, running.sweep
                    );
                    self.store().put_run(&skipped)?;
                    tracing::info!(schedule = %s.name, due = %due, running = %running.sweep, "due run skipped: the previous one is still in progress");
                }
                None => {
                    self.fire(&s, due, now, trigger).await?;
                }
            }
            // Every due time up to now is dealt with, however many there were.
            self.store().set_checked(&s.name, ms(now))?;
        }
        Ok(())
    }

    /// Submits the frozen sweep as a new run with fresh job keys.
    async fn fire(
        &self,
        s: &Schedule,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
        trigger: Trigger,
    ) -> Result<Run, CoordinatorError> {
        let seq = self.store().next_seq(&s.name)?;
        let mut sweep = format!("{}-{seq}", s.name);
        if self.sweep_state(&sweep).await?.is_some() {
            // A user's sweep holds the name: never extend it by accident.
            sweep = format!("{sweep}-{}", ms(now));
        }
        let mut run = Run::new(&s.name, seq, ms(due), ms(now), trigger);
        run.report_dir = self.config.reports.join(&sweep).display().to_string();
        run.sweep = sweep.clone();
        self.store().put_run(&run)?;
        match self.submit(s, &sweep).await {
            Ok(jobs) => {
                tracing::info!(schedule = %s.name, run = seq, %sweep, jobs, trigger = %trigger.text(), "scheduled run started");
            }
            Err(e) => {
                tracing::warn!(schedule = %s.name, run = seq, error = %e, "scheduled run could not start");
                run.outcome = run.outcome.finish(Outcome::Failed)?;
                run.finished_ms = Some(ms(now));
                run.detail = e.to_string();
                self.store().put_run(&run)?;
                self.notify(s, &run).await;
            }
        }
        Ok(run)
    }

    async fn submit(&self, s: &Schedule, sweep: &str) -> Result<u32, CoordinatorError> {
        let plan = sweep_file::parse(&s.sweep_toml, &s.source)
            .map_err(CoordinatorError::InvalidSweep)?
            .scheduled_run(sweep);
        let data_dir = self.config.data_dir.clone();
        let (sweep, jobs) = tokio::task::spawn_blocking(move || plan.expand(&data_dir))
            .await
            .map_err(|e| CoordinatorError::BadRequest(e.to_string()))?
            .map_err(CoordinatorError::InvalidSweep)?;
        match self.core.call(Command::Submit { sweep, jobs }).await? {
            Reply::Submitted(s) => Ok(s.jobs),
            _ => Err(CoordinatorError::BadRequest("unexpected reply".into())),
        }
    }

    async fn sweep_state(&self, name: &str) -> Result<Option<SweepState>, CoordinatorError> {
        match self
            .core
            .call(Command::Status {
                name: SweepName(name.to_string()),
            })
            .await
        {
            Ok(Reply::Status(state, _)) => Ok(Some(state)),
            Err(CoordinatorError::State(crate::state::StateError::UnknownSweep(_))) => Ok(None),
            Err(e) => Err(e),
            Ok(_) => Err(CoordinatorError::BadRequest("unexpected reply".into())),
        }
    }

    async fn finish_runs(&self) -> Result<(), CoordinatorError> {
        let running = self.store().running()?;
        for mut run in running {
            let (state, failed) = match self
                .core
                .call(Command::Status {
                    name: SweepName(run.sweep.clone()),
                })
                .await?
            {
                Reply::Status(state, counts) => (state, counts.failed),
                _ => continue,
            };
            let outcome = match state {
                SweepState::Running => continue,
                SweepState::Cancelled => Outcome::Cancelled,
                SweepState::Finished => {
                    match self.conclude(&mut run).await {
                        Ok(o) if failed > 0 => {
                            run.detail = format!("{failed} jobs failed");
                            // A failed job leaves holes: not a clean pass.
                            if o == Outcome::Regression {
                                o
                            } else {
                                Outcome::Failed
                            }
                        }
                        Ok(o) => o,
                        Err(e) => {
                            run.detail = e;
                            Outcome::Failed
                        }
                    }
                }
            };
            run.outcome = run.outcome.finish(outcome)?;
            run.finished_ms = Some(ms(self.clock.now()));
            let schedule = self.store().get(&run.schedule)?;
            // Every file is in place before the outcome is recorded.
            if let Some(s) = schedule.as_ref().filter(|_| run.outcome.finished()) {
                if let Err(e) = self.history_plot(s, &run).await {
                    tracing::warn!(schedule = %s.name, error = %e, "history plot not written");
                }
            }
            self.store().put_run(&run)?;
            match outcome {
                Outcome::Regression => tracing::warn!(
                    schedule = %run.schedule, run = run.seq, sweep = %run.sweep,
                    baseline = run.baseline.as_deref().unwrap_or(""),
                    flagged = %run.flagged.join("; "),
                    "scheduled run regressed"
                ),
                o => {
                    tracing::info!(schedule = %run.schedule, run = run.seq, outcome = o.name(), "scheduled run finished")
                }
            }
            if let Some(s) = schedule {
                self.notify(&s, &run).await;
            }
        }
        Ok(())
    }

    /// Writes the run's report and compares it with its baseline.
    async fn conclude(&self, run: &mut Run) -> Result<Outcome, String> {
        let schedule = self.store().get(&run.schedule).map_err(|e| e.to_string())?;
        let baseline = match schedule.as_ref().map(|s| &s.baseline) {
            None | Some(Baseline::None) => None,
            Some(Baseline::Sweep(name)) => Some(name.clone()),
            Some(Baseline::Previous) => self
                .store()
                .runs(&run.schedule)
                .map_err(|e| e.to_string())?
                .into_iter()
                .rfind(|r| r.seq < run.seq && r.outcome.finished())
                .map(|r| r.sweep),
        };
        let thresholds = schedule.map(|s| s.thresholds).unwrap_or_default();
        run.baseline = baseline.clone();
        let (db, sweep, dir) = (
            self.config.db.clone(),
            run.sweep.clone(),
            PathBuf::from(&run.report_dir),
        );
        let flagged = tokio::task::spawn_blocking(move || -> Result<Vec<String>, String> {
            report::generate(&db, &sweep, &dir, &report::ALL_FORMATS)?;
            let Some(base) = baseline else {
                return Ok(vec![]);
            };
            let a = report::runs_in_db(&db, &base)?;
            let b = report::runs_in_db(&db, &sweep)?;
            let c = compare::compare(&base, &a, &sweep, &b, &thresholds)?;
            c.write(&dir, &thresholds)?;
            Ok(c.regressions()
                .iter()
                .map(|r| {
                    format!(
                        "{} {}: {:.4} → {:.4}{}",
                        r.cell(),
                        r.metric,
                        r.mean_a,
                        r.mean_b,
                        r.p_value
                            .map(|p| format!(" (p={})", compare::p_text(p)))
                            .unwrap_or_default()
                    )
                })
                .collect())
        })
        .await
        .map_err(|e| e.to_string())??;
        let outcome = if flagged.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Regression
        };
        run.flagged = flagged;
        Ok(outcome)
    }

    /// POSTs a small JSON summary of the run's outcome to the schedule's
    /// webhook; a failure is recorded in the run's detail, never retried
    /// forever.
    async fn notify(&self, s: &Schedule, run: &Run) {
        let Some(url) = s.webhook.clone() else {
            return;
        };
        let body = summary(run).to_string();
        let sent = tokio::task::spawn_blocking(move || {
            ureq::post(&url)
                .timeout(Duration::from_secs(10))
                .set("content-type", "application/json")
                .send_string(&body)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        if let Err(e) = sent {
            tracing::warn!(schedule = %s.name, run = run.seq, error = %e, "webhook failed");
            let mut run = run.clone();
            run.detail = format!("{} webhook failed: {e}", run.detail)
                .trim()
                .to_string();
            if let Err(e) = self.store().put_run(&run) {
                tracing::warn!(error = %e, "cannot record the webhook failure");
            }
        }
    }

    /// Plots the schedule's metric over its finished runs into the run's
    /// report directory.
    async fn history_plot(&self, s: &Schedule, upto: &Run) -> Result<(), String> {
        let runs: Vec<Run> = self
            .store()
            .runs(&s.name)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|r| r.seq <= upto.seq && (r.outcome.finished() || r.seq == upto.seq))
            .collect();
        let (db, metric, stem) = (
            self.config.db.clone(),
            s.metric.clone(),
            PathBuf::from(&upto.report_dir).join(format!("history-{}", s.metric)),
        );
        tokio::task::spawn_blocking(move || {
            let mut labels = Vec::new();
            // dataset → cell → one value per run.
            let mut panels: BTreeMap<String, BTreeMap<String, Vec<Option<f64>>>> = BTreeMap::new();
            for (i, r) in runs.iter().enumerate() {
                labels.push(format!("#{}", r.seq));
                let Ok(frame) = report::runs_in_db(&db, &r.sweep) else {
                    continue;
                };
                let cells = report::cells::aggregate(&frame)?;
                let dataset = report::strings(&cells, "dataset")?;
                let objective = report::strings(&cells, "objective")?;
                let alpha = report::floats(&cells, "alpha")?;
                let values = report::floats(&cells, &format!("{metric}_mean"))?;
                for c in 0..cells.height() {
                    let cell = match alpha[c] {
                        Some(a) => format!("α={a}"),
                        None => objective[c].to_uppercase(),
                    };
                    let series = panels
                        .entry(dataset[c].clone())
                        .or_default()
                        .entry(cell)
                        .or_insert_with(|| vec![None; runs.len()]);
                    series[i] = values[c];
                }
            }
            let panels: Vec<(String, Vec<plots::Series>)> = panels
                .into_iter()
                .map(|(d, cells)| {
                    let series = cells
                        .into_iter()
                        .filter(|(_, v)| v.iter().any(Option::is_some))
                        .map(|(label, values)| plots::Series { label, values })
                        .collect();
                    (d, series)
                })
                .collect();
            plots::write_history(&stem, &metric, &labels, &panels).map(|_| ())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Ticks every `every` until `stop` turns true.
    pub async fn run(
        self: Arc<Self>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "scheduler tick failed");
            }
        }
    }
}

/// The JSON a webhook receives.
pub fn summary(run: &Run) -> serde_json::Value {
    serde_json::json!({
        "schedule": run.schedule,
        "run": run.seq,
        "sweep": run.sweep,
        "outcome": run.outcome.name(),
        "trigger": run.trigger.text(),
        "due": at_ms(run.due_ms).to_rfc3339(),
        "finished": run.finished_ms.map(|t| at_ms(t).to_rfc3339()),
        "baseline": run.baseline,
        "regressions": run.flagged,
        "detail": run.detail,
        "report": run.report_dir,
    })
}
