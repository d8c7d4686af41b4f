//! Concluding runs whose sweeps ended: the report, the comparison with the
//! baseline and the outcome, then the history plot and the webhook.

use std::path::PathBuf;

use super::schedules::Schedules;
use super::{ms, Baseline, Outcome, Run};
use crate::error::CoordinatorError;
use crate::ids::SweepName;
use crate::report::{self, compare};
use crate::state::{StateError, SweepState};

impl Schedules {
    pub(super) async fn finish_runs(&self) -> Result<(), CoordinatorError> {
        let running = self.store().running()?;
        for mut run in running {
            let status = self.core.status(SweepName::from(run.sweep.as_str())).await;
            let (state, counts) = match status {
                Ok(s) => s,
                // The run's row was written but the coordinator stopped
                // before its sweep was: it can never finish, and left
                // `running` it would block its schedule (and this loop,
                // every schedule) for good.
                Err(CoordinatorError::State(StateError::UnknownSweep(_))) => {
                    run.detail = format!(
                        "its sweep `{}` was never submitted (the coordinator stopped while firing it)",
                        run.sweep
                    );
                    run.outcome = run.outcome.finish(Outcome::Failed)?;
                    run.finished_ms = Some(ms(self.clock.now()));
                    self.store().put_run(&run)?;
                    tracing::warn!(schedule = %run.schedule, run = run.seq, "a run left behind by a crash is marked failed");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let failed = counts.failed;
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
                            run.detail = e.to_string();
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
    async fn conclude(&self, run: &mut Run) -> Result<Outcome, CoordinatorError> {
        let schedule = self.store().get(&run.schedule)?;
        let baseline = match schedule.as_ref().map(|s| &s.baseline) {
            None | Some(Baseline::None) => None,
            Some(Baseline::Sweep(name)) => Some(name.clone()),
            Some(Baseline::Previous) => self
                .store()
                .runs(&run.schedule)?
                .into_iter()
                .rfind(|r| r.seq < run.seq && r.outcome.finished())
                .map(|r| r.sweep),
            Some(Baseline::Accepted) => self
                .store()
                .runs(&run.schedule)?
                .into_iter()
                .rfind(|r| r.seq < run.seq && r.is_reference())
                .map(|r| r.sweep),
        };
        let thresholds = schedule.map(|s| s.thresholds).unwrap_or_default();
        run.baseline = baseline.clone();
        let (db, sweep, dir) = (
            self.config.db.clone(),
            run.sweep.clone(),
            PathBuf::from(&run.report_dir),
        );
        let flagged =
            tokio::task::spawn_blocking(move || -> Result<Vec<String>, report::ReportError> {
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
            .await??;
        let outcome = if flagged.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Regression
        };
        run.flagged = flagged;
        Ok(outcome)
    }
}
