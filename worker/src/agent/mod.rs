//! `worker join`: the worker side of the coordinator's protocol.
//!
//! Registers, then keeps up to `slots` jobs running: each is leased, its
//! dataset files fetched from the coordinator once and cached (verified),
//! and trained on a blocking thread, while a separate task renews every
//! held lease so a long epoch never looks like death. Results are reported
//! with retries until the coordinator acknowledges them. While the
//! coordinator is unreachable the worker retries with backoff. On shutdown
//! it stops leasing, finishes its jobs and reports them, then deregisters;
//! a second signal hands the unfinished leases back instead.
//!
//! This file holds the main loop; `session` registers and retries calls,
//! `heartbeat` renews leases, `execute` prepares and trains one job (with
//! `files` fetching its dataset files and `cache` keeping loaded datasets),
//! and `report` reports what a job came to.

mod cache;
mod error;
mod execute;
mod files;
mod heartbeat;
mod report;
mod session;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sweep_proto as pb;
use sweep_shared::ids::{JobKey, LeaseToken, WorkerId};
use sweep_shared::{DatasetName, Protocol};
use tokio::task::JoinSet;

use crate::data::Dataset;

pub use cache::default_cache_dir;
pub use error::AgentError;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub endpoint: String,
    pub token: Option<String>,
    /// The PEM CA that signed the coordinator's certificate (https only).
    pub tls_ca: Option<Vec<u8>>,
    pub slots: usize,
    pub name: String,
    /// Where fetched dataset files are cached, laid out like a data directory.
    pub cache_dir: PathBuf,
    /// Wait before leasing again after a lease call failed.
    pub idle_poll: Duration,
    /// How long a lease call may wait on the coordinator for work (a long
    /// poll: an idle worker makes one call per this, not one per poll).
    pub lease_wait: Duration,
}

/// A lease this worker holds.
#[derive(Debug, Clone)]
struct Held {
    attempt: LeaseToken,
    timeout: Duration,
}

struct Shared {
    config: AgentConfig,
    client: tokio::sync::Mutex<Option<pb::Client>>,
    /// Named by the coordinator at registration; `None` before it.
    worker_id: Mutex<Option<WorkerId>>,
    held: Mutex<HashMap<JobKey, Held>>,
    /// Loaded datasets, so consecutive jobs on one dataset parse it once.
    datasets: Mutex<HashMap<(DatasetName, usize, Protocol), Arc<Dataset>>>,
    fetching: tokio::sync::Mutex<()>,
    /// Jobs whose reports are in flight.
    reporting: Mutex<Vec<JobKey>>,
}

/// A job whose training (or failure) is over, to be reported.
struct Finished {
    key: JobKey,
    attempt: LeaseToken,
    outcome: Result<String, AgentError>,
}

/// Runs the worker until `shutdown` resolves (and its jobs finish) or
/// `hand_back` resolves (unfinished leases are returned).
pub async fn join(
    config: AgentConfig,
    shutdown: impl Future<Output = ()>,
    hand_back: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let shared = Arc::new(Shared {
        config,
        client: tokio::sync::Mutex::new(None),
        worker_id: Mutex::new(None),
        held: Mutex::new(HashMap::new()),
        datasets: Mutex::new(HashMap::new()),
        fetching: tokio::sync::Mutex::new(()),
        reporting: Mutex::new(Vec::new()),
    });
    tokio::pin!(shutdown);
    tokio::pin!(hand_back);
    // Registration and leasing retry while the coordinator is unreachable;
    // a stop request must still end the worker then.
    tokio::select! {
        registered = session::register(&shared) => registered?,
        _ = &mut shutdown => return Ok(()),
    }
    let heartbeat = tokio::spawn(heartbeat::heartbeat_loop(shared.clone()));
    // Training runs in `jobs`; each finished job frees its slot at once and
    // is reported from `reports`, so the report's round trip overlaps the
    // next job. The lease stays held (and renewed) until the report lands.
    let mut jobs: JoinSet<Finished> = JoinSet::new();
    let mut reports = JoinSet::new();

    // At most one lease call in flight, kept across the loop's turns: a job
    // that finishes while it waits is reported at once, and the call is
    // never dropped halfway (its jobs would be leased to no one until their
    // deadline), except when the worker stops.
    let mut leasing: Option<Pin<Box<dyn Future<Output = LeaseOutcome> + Send + '_>>> = None;
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        let free = shared.config.slots.saturating_sub(jobs.len());
        if free > 0 && leasing.is_none() && retry_at.is_none() {
            leasing = Some(Box::pin(lease(&shared, free)));
        }
        tokio::select! {
            _ = &mut shutdown => break,
            leased = async { leasing.as_mut().expect("guarded").await }, if leasing.is_some() => {
                leasing = None;
                match leased {
                    Ok(leases) => {
                        for lease in leases {
                            let shared = shared.clone();
                            jobs.spawn(async move {
                                // In a task of its own, so a panic anywhere in
                                // the job becomes its failure report (and its
                                // lease is released) instead of a lost slot
                                // whose lease is renewed forever.
                                let run = {
                                    let (shared, lease) = (shared.clone(), lease.clone());
                                    tokio::spawn(async move {
                                        execute::prepare_and_run(&shared, &lease).await
                                    })
                                };
                                let outcome = run
                                    .await
                                    .unwrap_or_else(|source| Err(AgentError::JobThread { source }));
                                Finished {
                                    key: JobKey::from(lease.job_key),
                                    attempt: LeaseToken::new(lease.attempt),
                                    outcome,
                                }
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "lease failed; retrying");
                        retry_at = Some(tokio::time::Instant::now() + shared.config.idle_poll);
                    }
                }
            }
            _ = async { tokio::time::sleep_until(retry_at.expect("guarded")).await }, if retry_at.is_some() => {
                retry_at = None;
            }
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                if let Ok(done) = done {
                    reports.spawn(report::report(shared.clone(), done));
                }
            }
            Some(_) = reports.join_next(), if !reports.is_empty() => {}
        }
    }
    drop(leasing);

    tracing::info!(running = jobs.len(), "draining: finishing running jobs");
    let mut handed_back = Vec::new();
    loop {
        tokio::select! {
            next = jobs.join_next() => match next {
                Some(Ok(done)) => { reports.spawn(report::report(shared.clone(), done)); }
                Some(Err(_)) => {}
                None => break,
            },
            _ = &mut hand_back => {
                jobs.abort_all();
                while jobs.join_next().await.is_some() {}
                // Whatever is held and not being reported is handed back.
                let reporting: Vec<JobKey> = shared.reporting.lock().unwrap().clone();
                handed_back = shared
                    .held
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| !reporting.contains(k))
                    .map(|(k, h)| pb::LeaseRef { job_key: k.to_string(), attempt: h.attempt.get() })
                    .collect();
                break;
            }
        }
    }
    while reports.join_next().await.is_some() {}
    heartbeat.abort();
    session::deregister(&shared, handed_back).await;
    Ok(())
}

type LeaseOutcome = Result<Vec<pb::Lease>, tonic::Status>;

/// Leases up to `max` jobs and holds them, waiting on the coordinator up to
/// `lease_wait` for work to arrive.
async fn lease(shared: &Shared, max: usize) -> LeaseOutcome {
    let wait_ms = shared
        .config
        .lease_wait
        .as_millis()
        .min(u128::from(u32::MAX)) as u32;
    let leases = session::with_retry(shared, "lease", |mut c, worker_id| async move {
        c.lease(pb::LeaseRequest {
            worker_id,
            max_jobs: max as u32,
            wait_ms,
        })
        .await
    })
    .await?
    .into_inner()
    .leases;
    let mut held = shared.held.lock().unwrap();
    for l in &leases {
        held.insert(
            JobKey::from(l.job_key.as_str()),
            Held {
                attempt: LeaseToken::new(l.attempt),
                timeout: Duration::from_millis(l.lease_timeout_ms),
            },
        );
    }
    Ok(leases)
}
