//! `sweep-local run`: a whole sweep on one machine, in one process — the
//! coordinator on a loopback port, N local workers, a progress bar, and the
//! results written under the output directory with the database, so a
//! second run of the same file resumes where the first stopped.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use sweep_proto as pb;
use sweep_worker::agent::{self, AgentConfig};
use tokio::sync::watch;

use sweep_coordinator::auth::Tokens;
use sweep_coordinator::report::live::{LiveReports, ReportDirs};
use sweep_coordinator::server::{InProcess, ServerConfig};
use sweep_coordinator::sweep_file::limits::DEFAULT_MAX_JOBS;
use sweep_coordinator::user;

use crate::LocalError;

pub struct RunOptions {
    pub sweep: PathBuf,
    pub workers: usize,
    pub out: Option<PathBuf>,
    pub data_dir: PathBuf,
}

/// Runs the sweep file of `opts` to its end (or until `interrupted`), then
/// writes its results and report under the output directory.
pub async fn run_sweep(
    opts: RunOptions,
    interrupted: impl std::future::Future<Output = ()>,
) -> Result<(), LocalError> {
    let text = std::fs::read_to_string(&opts.sweep).map_err(LocalError::file(&opts.sweep))?;
    let name = user::sweep_name(&text, &opts.sweep.display().to_string())?;
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&name));
    std::fs::create_dir_all(&out).map_err(LocalError::file(&out))?;

    // The dashboard on a port of its own choosing, so parallel runs never clash.
    let http = std::net::TcpListener::bind("127.0.0.1:0")?;
    let dashboard = http.local_addr()?;
    let server = InProcess::start(ServerConfig {
        db: out.join("state.db"),
        data_dir: opts.data_dir.clone(),
        tokens: Tokens::open(),
        tls: None,
        insecure: false,
        max_jobs: DEFAULT_MAX_JOBS,
        tick: Duration::from_millis(100),
        // The files follow the results, so a long sweep can be looked at
        // early; the final report is written below, once.
        live_reports: Some(LiveReports {
            dirs: ReportDirs::Single(out.clone()),
            every: Duration::from_secs(10),
            final_pass: false,
        }),
        schedules: None,
        http: Some(std::sync::Arc::new(http)),
    })
    .await?;
    let endpoint = server.endpoint.clone();
    let mut client = server.client().await?;
    let submitted = user::submit(&mut client, &opts.sweep).await?;
    eprintln!(
        "sweep {}: {} jobs, {} already done, {} to run on {} local workers",
        submitted.name, submitted.jobs, submitted.already_done, submitted.to_run, opts.workers
    );
    eprintln!("dashboard on http://{dashboard}/sweeps/{}", submitted.name);

    let started = Instant::now();
    let (stop_workers, workers_stop) = watch::channel(false);
    let mut workers = Vec::new();
    for i in 0..opts.workers {
        let config = AgentConfig {
            endpoint: endpoint.clone(),
            token: None,
            tls_ca: None,
            slots: 1,
            name: format!("local-{i}"),
            // The local workers read the coordinator's own data directory.
            cache_dir: opts.data_dir.clone(),
            idle_poll: Duration::from_millis(50),
            lease_wait: Duration::from_secs(20),
        };
        let mut stop = workers_stop.clone();
        workers.push(tokio::spawn(async move {
            agent::join(
                config,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
                std::future::pending(),
            )
            .await
        }));
    }

    let finished = watch_progress(&mut client, &submitted.name, submitted.jobs);
    tokio::pin!(interrupted);
    let status = tokio::select! {
        s = finished => Some(s?),
        _ = &mut interrupted => None,
    };
    let wall = started.elapsed();
    let _ = stop_workers.send(true);
    for w in workers {
        if let Ok(Err(e)) = w.await {
            eprintln!("a local worker stopped: {e}");
        }
    }

    let results = out.join("results.jsonl");
    let n = user::export_results(&mut client, &submitted.name, &results).await?;
    server.stop().await?;
    let db = out.join("state.db");
    let report = tokio::task::spawn_blocking({
        let (name, out) = (submitted.name.clone(), out.clone());
        move || {
            sweep_coordinator::report::generate(
                &db,
                &name,
                &out,
                &sweep_coordinator::report::ALL_FORMATS,
            )
        }
    })
    .await?;
    match &report {
        Ok(w) => {
            eprintln!(
                "report: {} runs, {} failures, {} cells",
                w.runs, w.failures, w.cells
            );
            for f in &w.files {
                eprintln!("  {}", f.display());
            }
            for s in &w.skipped {
                eprintln!("  not written: {s}");
            }
            for cell in &w.degenerate {
                eprintln!("  warning: degenerate black box (worse than a constant) in {cell}");
            }
        }
        Err(e) => eprintln!("the report could not be written: {e}"),
    }
    match status {
        Some(s) => {
            eprintln!("{}", user::describe(&s));
            eprintln!(
                "ran {} jobs in {:.1} s; results: {} ({} rows); state: {}",
                // Not `to_run`: an adaptive sweep releases seeds as it goes.
                (s.done + s.failed).saturating_sub(submitted.already_done),
                wall.as_secs_f64(),
                results.display(),
                n,
                out.join("state.db").display()
            );
            if s.failed > 0 {
                return Err(LocalError::JobsFailed(s.failed));
            }
            Ok(())
        }
        None => {
            eprintln!(
                "interrupted: {n} results kept in {}; run the same command again to resume",
                out.display()
            );
            Err(LocalError::Interrupted)
        }
    }
}

/// Shows done / running / failed with an ETA until the sweep ends.
async fn watch_progress(
    client: &mut pb::Client,
    name: &str,
    total: u32,
) -> Result<pb::SweepStatusReply, LocalError> {
    let bar = ProgressBar::new(u64::from(total)).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut stream = client
        .watch_sweep(pb::SweepRef {
            name: name.to_string(),
        })
        .await?
        .into_inner();
    // Without a terminal the bar is hidden: a log file gets one line every
    // `LINE_EVERY` instead.
    let lines = !std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut tick = tokio::time::interval(LINE_EVERY);
    tick.reset();
    let mut last: Option<pb::SweepStatusReply> = None;
    let mut first_ended = None;
    loop {
        tokio::select! {
            next = stream.message() => {
                let Some(s) = next? else { break };
                let ended = s.done + s.failed + s.cancelled;
                first_ended.get_or_insert(ended);
                // An adaptive sweep grows as its cells release seeds.
                bar.set_length(u64::from(s.total));
                bar.set_position(u64::from(ended));
                bar.set_message(format!(
                    "done {} · running {} · failed {}",
                    s.done, s.running, s.failed
                ));
                last = Some(s);
            }
            _ = tick.tick(), if lines => {
                if let Some(s) = &last {
                    eprintln!("{}", progress_line(s, started.elapsed(), first_ended.unwrap_or(0)));
                }
            }
        }
    }
    bar.finish_and_clear();
    last.ok_or(LocalError::ProgressClosed)
}

/// How often a progress line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// `quickstart: 19/36 done, 2 running, ETA 0m15s`, the ETA from the rate
/// since this run started (`ended_at_start` jobs had ended before).
fn progress_line(s: &pb::SweepStatusReply, elapsed: Duration, ended_at_start: u32) -> String {
    let ended = s.done + s.failed + s.cancelled;
    let mut line = format!(
        "{}: {}/{} done, {} running",
        s.name, s.done, s.total, s.running
    );
    if s.failed > 0 {
        line.push_str(&format!(", {} failed", s.failed));
    }
    let rate = f64::from(ended.saturating_sub(ended_at_start)) / elapsed.as_secs_f64().max(1e-9);
    if rate > 0.0 {
        let eta = f64::from(s.total.saturating_sub(ended)) / rate;
        line.push_str(&format!(
            ", ETA {}m{:02}s",
            (eta / 60.0) as u64,
            eta as u64 % 60
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_says_what_is_done_and_when_the_rest_will_be() {
        let s = pb::SweepStatusReply {
            name: "quickstart".into(),
            total: 36,
            done: 19,
            running: 2,
            ..Default::default()
        };
        // 19 jobs in 16.8 s: 17 more take 15 s.
        assert_eq!(
            progress_line(&s, Duration::from_secs_f64(16.8), 0),
            "quickstart: 19/36 done, 2 running, ETA 0m15s"
        );
    }
}
