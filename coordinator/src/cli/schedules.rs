//! `coordinator schedule ...`: the schedule subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sweep_coordinator::schedule::client;
use sweep_proto as pb;

use super::conn::{status, Conn};

#[derive(Subcommand)]
// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum ScheduleAction {
    /// Freeze a sweep file into a schedule that re-runs it with fresh jobs.
    Add(ScheduleAddArgs),
    /// List the schedules with their next due time.
    List,
    /// A schedule and its runs' history: outcome, flagged cells, reports.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop firing (due times while paused are not caught up).
    Pause { name: String },
    /// Fire again from now on.
    Resume { name: String },
    /// Delete the schedule (its runs' sweeps and reports are kept).
    Remove { name: String },
    /// Start a run now, unless one is in progress.
    RunNow { name: String },
    /// Make a finished run the reference of `--baseline accepted` (a regression that is the new normal).
    Accept {
        name: String,
        run: u32,
        /// Why, kept with the acceptance.
        #[arg(long, default_value = "")]
        note: String,
    },
}

#[derive(Args)]
pub struct ScheduleAddArgs {
    name: String,
    /// The sweep file; its content is frozen into the schedule.
    #[arg(long)]
    sweep: PathBuf,
    /// Five fields as in crontab (`0 2 * * *`: 02:00 daily), or six with seconds first.
    #[arg(long)]
    cron: String,
    /// The IANA time zone the cron expression is read in.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// What each run is compared with: `accepted` (the last run that passed or was accepted), `previous`, `none` or a sweep name.
    #[arg(long, default_value = "accepted")]
    baseline: String,
    /// Relative change flagged when significant.
    #[arg(long, default_value_t = 0.05)]
    threshold: f64,
    /// A metric's own threshold, as METRIC=VALUE; repeatable.
    #[arg(long = "metric-threshold")]
    metric_threshold: Vec<String>,
    /// Multiple-testing correction across each comparison's tests: none, bh or holm.
    #[arg(long, default_value = "bh")]
    fdr: String,
    /// The metric plotted over runs.
    #[arg(long, default_value = "gf")]
    metric: String,
    /// POSTed a JSON summary of each outcome, signed (X-Signature: sha256=HMAC of the body).
    #[arg(long, requires = "webhook_secret_file")]
    webhook: Option<String>,
    /// A file holding the key webhook bodies are signed with (16 characters or more).
    #[arg(long)]
    webhook_secret_file: Option<std::path::PathBuf>,
    /// Add it paused.
    #[arg(long)]
    paused: bool,
}

pub async fn schedule(action: ScheduleAction, conn: &Conn) -> anyhow::Result<ExitCode> {
    let mut c = conn.connect().await?;
    let by_name = |name: String| pb::ScheduleRef { name };
    let text = match action {
        ScheduleAction::Add(a) => {
            let req = pb::AddScheduleRequest {
                name: a.name,
                sweep_toml: client::read_sweep(&a.sweep)?,
                source: a.sweep.display().to_string(),
                cron: a.cron,
                tz: a.tz,
                baseline: a.baseline,
                threshold: a.threshold,
                fdr: a.fdr,
                metric_thresholds: a.metric_threshold,
                metric: a.metric,
                webhook: a.webhook.unwrap_or_default(),
                webhook_secret: match &a.webhook_secret_file {
                    Some(p) => std::fs::read_to_string(p)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
                        .trim()
                        .to_string(),
                    None => String::new(),
                },
                paused: a.paused,
            };
            client::add(&mut c, req).await?
        }
        ScheduleAction::List => {
            let all = c
                .list_schedules(pb::ListSchedulesRequest {})
                .await
                .map_err(status)?
                .into_inner();
            if all.schedules.is_empty() {
                "no schedules".to_string()
            } else {
                all.schedules
                    .iter()
                    .map(client::describe)
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        ScheduleAction::Show { name, json } => {
            let d = c
                .show_schedule(by_name(name))
                .await
                .map_err(status)?
                .into_inner();
            if json {
                client::show_json(&d)
            } else {
                client::show(&d).trim_end().to_string()
            }
        }
        ScheduleAction::Pause { name } => {
            let s = c.pause_schedule(by_name(name)).await.map_err(status)?;
            client::describe(s.get_ref())
        }
        ScheduleAction::Resume { name } => {
            let s = c.resume_schedule(by_name(name)).await.map_err(status)?;
            client::describe(s.get_ref())
        }
        ScheduleAction::Remove { name } => {
            let s = c.remove_schedule(by_name(name)).await.map_err(status)?;
            format!("removed schedule {}", s.get_ref().name)
        }
        ScheduleAction::Accept { name, run, note } => {
            let r = c
                .accept_schedule_run(pb::AcceptRunRequest {
                    schedule: name.clone(),
                    seq: run,
                    note,
                })
                .await
                .map_err(status)?
                .into_inner();
            format!(
                "schedule {name}: run {} ({}) is the reference of later runs",
                r.seq, r.sweep
            )
        }
        ScheduleAction::RunNow { name } => {
            let r = c
                .run_schedule_now(by_name(name.clone()))
                .await
                .map_err(status)?
                .into_inner();
            if r.outcome() == pb::RunOutcome::Failed {
                anyhow::bail!(
                    "schedule {name}: run {} failed to start: {}",
                    r.seq,
                    r.detail
                );
            }
            format!(
                "schedule {name}: run {} started as sweep {}",
                r.seq, r.sweep
            )
        }
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
