//! Firing: the tick that finishes ended runs and fires (or skips) the
//! schedules that came due, `run-now`, and the loop that ticks.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::schedules::Schedules;
use super::{at_ms, ms, Outcome, Run, Schedule, Trigger, When};
use crate::error::CoordinatorError;
use crate::sweep_file;

impl Schedules {
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
        let (text, source, run) = (s.sweep_toml.clone(), s.source.clone(), sweep.to_string());
        let data_dir = self.config.data_dir.clone();
        let max_jobs = self.config.max_jobs;
        let planned = tokio::task::spawn_blocking(move || {
            sweep_file::plan_jobs(&text, &source, Some(&run), &data_dir, max_jobs)
        })
        .await
        .map_err(|e| CoordinatorError::BadRequest(e.to_string()))??;
        Ok(self.core.submit(planned).await?.jobs)
    }

    /// Ticks every `every` until `stop` turns true.
    pub async fn tick_until(
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
