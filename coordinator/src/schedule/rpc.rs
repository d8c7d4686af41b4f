//! The schedule RPCs, between protobuf messages and the [`Schedules`].

use sweep_proto as pb;

use super::schedules::{NewSchedule, Schedules};
use super::{Run, Schedule};
use crate::error::CoordinatorError;
use crate::report::compare::Thresholds;

pub fn info(s: &Schedule, next_due_ms: Option<i64>) -> pb::ScheduleInfo {
    pb::ScheduleInfo {
        name: s.name.clone(),
        cron: s.cron.clone(),
        tz: s.tz.clone(),
        enabled: s.enabled,
        baseline: s.baseline.text(),
        source: s.source.clone(),
        sweep_sha256: s.sweep_sha256.clone(),
        metric: s.metric.clone(),
        webhook: s
            .webhook
            .as_deref()
            .map(super::webhook::redacted)
            .unwrap_or_default(),
        thresholds: serde_json::to_string(&s.thresholds).expect("thresholds serialise"),
        created_ms: s.created_ms,
        next_due_ms: next_due_ms.unwrap_or(0),
    }
}

pub fn run_info(r: &Run) -> pb::ScheduleRunInfo {
    pb::ScheduleRunInfo {
        seq: r.seq,
        sweep: r.sweep.clone(),
        due_ms: r.due_ms,
        fired_ms: r.fired_ms,
        trigger: r.trigger.text(),
        outcome: r.outcome.wire() as i32,
        finished_ms: r.finished_ms.unwrap_or(0),
        baseline: r.baseline.clone().unwrap_or_default(),
        flagged: r.flagged.clone(),
        detail: r.detail.clone(),
        report_dir: r.report_dir.clone(),
        accepted_ms: r.accepted.as_ref().map_or(0, |a| a.at_ms),
        accept_note: r
            .accepted
            .as_ref()
            .map(|a| a.note.clone())
            .unwrap_or_default(),
    }
}

pub async fn add(
    s: &Schedules,
    req: pb::AddScheduleRequest,
) -> Result<pb::ScheduleInfo, CoordinatorError> {
    let default = if req.threshold > 0.0 {
        req.threshold
    } else {
        Thresholds::default().default
    };
    let fdr = if req.fdr.is_empty() {
        crate::report::compare::Fdr::default()
    } else {
        req.fdr
            .parse()
            .map_err(|e: String| CoordinatorError::InvalidSchedule(format!("fdr: {e}")))?
    };
    let thresholds = Thresholds::parse(default, &req.metric_thresholds)
        .map_err(|e| CoordinatorError::InvalidSchedule(e.to_string()))?
        .with_fdr(fdr);
    let source = if req.source.is_empty() {
        "sweep".to_string()
    } else {
        req.source
    };
    let added = s
        .add(NewSchedule {
            name: req.name,
            sweep_toml: req.sweep_toml,
            source,
            cron: req.cron,
            tz: if req.tz.is_empty() {
                "UTC".into()
            } else {
                req.tz
            },
            baseline: req.baseline,
            thresholds,
            metric: if req.metric.is_empty() {
                "gf".into()
            } else {
                req.metric
            },
            webhook: Some(req.webhook).filter(|w| !w.is_empty()),
            webhook_secret: Some(req.webhook_secret).filter(|w| !w.is_empty()),
            paused: req.paused,
        })
        .await?;
    show(s, &added.name).map(|d| d.schedule.unwrap_or_default())
}

pub fn show(s: &Schedules, name: &str) -> Result<pb::ScheduleDetail, CoordinatorError> {
    let (schedule, runs, next) = s.show(name)?;
    Ok(pb::ScheduleDetail {
        schedule: Some(info(&schedule, next.map(|t| t.timestamp_millis()))),
        runs: runs.iter().map(run_info).collect(),
    })
}

pub fn list(s: &Schedules) -> Result<pb::ListSchedulesReply, CoordinatorError> {
    let schedules = s
        .list()?
        .iter()
        .map(|x| show(s, &x.name).map(|d| d.schedule.unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    Ok(pb::ListSchedulesReply { schedules })
}
