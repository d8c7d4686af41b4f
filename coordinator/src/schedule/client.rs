//! `coordinator schedule ...`: the user's side of the schedule RPCs, and
//! how their answers are shown.

use std::path::Path;

use sweep_proto as pb;

use super::at_ms;
use crate::user::ClientError;

fn time(ms: i64) -> String {
    if ms == 0 {
        "–".into()
    } else {
        at_ms(ms).format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// Reads the sweep file whose content the schedule freezes.
pub fn read_sweep(path: &Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(ClientError::file(path))
}

pub async fn add(
    client: &mut pb::Client,
    req: pb::AddScheduleRequest,
) -> Result<String, ClientError> {
    let s = client.add_schedule(req).await?.into_inner();
    Ok(format!("added {}", describe(&s)))
}

pub fn describe(s: &pb::ScheduleInfo) -> String {
    format!(
        "schedule {}: `{}` ({}), {}, baseline {}, next due {}",
        s.name,
        s.cron,
        s.tz,
        if s.enabled { "enabled" } else { "paused" },
        s.baseline,
        time(s.next_due_ms)
    )
}

pub fn show(d: &pb::ScheduleDetail) -> String {
    let s = d.schedule.clone().unwrap_or_default();
    let mut out = format!(
        "{}\nsweep: {} (sha256 {}), frozen at {}\nthresholds: {}; metric plotted over runs: {}\nwebhook: {}\n",
        describe(&s),
        s.source,
        &s.sweep_sha256[..s.sweep_sha256.len().min(12)],
        time(s.created_ms),
        s.thresholds,
        s.metric,
        if s.webhook.is_empty() { "–" } else { &s.webhook },
    );
    if d.runs.is_empty() {
        out.push_str("no runs yet\n");
        return out;
    }
    out.push_str(&format!(
        "{:>4}  {:<23}  {:<11}  {:<10}  {:<16}  {:<16}  report\n",
        "run", "due", "trigger", "outcome", "sweep", "baseline"
    ));
    for r in &d.runs {
        out.push_str(&format!(
            "{:>4}  {:<23}  {:<11}  {:<10}  {:<16}  {:<16}  {}\n",
            r.seq,
            time(r.due_ms),
            r.trigger,
            r.outcome().label(),
            if r.sweep.is_empty() { "–" } else { &r.sweep },
            if r.baseline.is_empty() {
                "–"
            } else {
                &r.baseline
            },
            if r.report_dir.is_empty() {
                "–"
            } else {
                &r.report_dir
            },
        ));
        const SHOWN: usize = 8;
        for f in r.flagged.iter().take(SHOWN) {
            out.push_str(&format!("        regressed: {f}\n"));
        }
        if r.flagged.len() > SHOWN {
            out.push_str(&format!(
                "        … and {} more (compare.md in the report)\n",
                r.flagged.len() - SHOWN
            ));
        }
        if !r.detail.is_empty() {
            out.push_str(&format!("        {}\n", r.detail));
        }
        if r.accepted_ms != 0 {
            let note = if r.accept_note.is_empty() {
                String::new()
            } else {
                format!(": {}", r.accept_note)
            };
            out.push_str(&format!(
                "        accepted as the reference at {}{note}\n",
                time(r.accepted_ms)
            ));
        }
    }
    out
}

pub fn show_json(d: &pb::ScheduleDetail) -> String {
    let s = d.schedule.clone().unwrap_or_default();
    serde_json::json!({
        "name": s.name, "cron": s.cron, "tz": s.tz, "enabled": s.enabled,
        "baseline": s.baseline, "source": s.source, "sweep_sha256": s.sweep_sha256,
        "metric": s.metric, "webhook": s.webhook,
        "next_due_ms": s.next_due_ms,
        "runs": d.runs.iter().map(|r| serde_json::json!({
            "seq": r.seq, "sweep": r.sweep, "due_ms": r.due_ms, "fired_ms": r.fired_ms,
            "trigger": r.trigger, "outcome": r.outcome().label(), "finished_ms": r.finished_ms,
            "baseline": r.baseline, "flagged": r.flagged, "detail": r.detail,
            "accepted_ms": (r.accepted_ms != 0).then_some(r.accepted_ms), "accept_note": r.accept_note,
            "report_dir": r.report_dir,
        })).collect::<Vec<_>>(),
    })
    .to_string()
}
