//! The webhook: a small JSON summary of each concluded run, POSTed to the
//! schedule's URL.

use std::time::Duration;

use super::schedules::Schedules;
use super::{at_ms, Run, Schedule};

impl Schedules {
    /// POSTs a small JSON summary of the run's outcome to the schedule's
    /// webhook; a failure is recorded in the run's detail, never retried
    /// forever.
    pub(super) async fn notify(&self, s: &Schedule, run: &Run) {
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
