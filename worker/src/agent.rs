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

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sweep_proto as pb;
use sweep_shared::{DatasetName, JobSpec};
use tokio::task::JoinSet;
use tonic::Code;

use crate::data::{self, Dataset};

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub endpoint: String,
    pub token: Option<String>,
    pub slots: usize,
    pub name: String,
    /// Where fetched dataset files are cached, laid out like a data directory.
    pub cache_dir: PathBuf,
    /// Wait between lease attempts when the queue is empty.
    pub idle_poll: Duration,
}

/// A lease this worker holds.
#[derive(Debug, Clone)]
struct Held {
    attempt: u32,
    timeout: Duration,
}

struct Shared {
    config: AgentConfig,
    client: tokio::sync::Mutex<Option<pb::Client>>,
    worker_id: Mutex<String>,
    held: Mutex<HashMap<String, Held>>,
    /// Loaded datasets, so consecutive jobs on one dataset parse it once.
    datasets: Mutex<HashMap<(DatasetName, usize), Arc<Dataset>>>,
    fetching: tokio::sync::Mutex<()>,
    /// Jobs whose reports are in flight.
    reporting: Mutex<Vec<String>>,
}

/// Runs the worker until `shutdown` resolves (and its jobs finish) or
/// `hand_back` resolves (unfinished leases are returned).
pub async fn run(
    config: AgentConfig,
    shutdown: impl Future<Output = ()>,
    hand_back: impl Future<Output = ()>,
) -> Result<(), String> {
    let shared = Arc::new(Shared {
        config,
        client: tokio::sync::Mutex::new(None),
        worker_id: Mutex::new(String::new()),
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
        registered = register(&shared) => registered?,
        _ = &mut shutdown => return Ok(()),
    }
    let heartbeat = tokio::spawn(heartbeat_loop(shared.clone()));
    // Training runs in `jobs`; each finished job frees its slot at once and
    // is reported from `reports`, so the report's round trip overlaps the
    // next job. The lease stays held (and renewed) until the report lands.
    let mut jobs: JoinSet<Finished> = JoinSet::new();
    let mut reports = JoinSet::new();

    loop {
        let free = shared.config.slots.saturating_sub(jobs.len());
        let mut got = 0;
        if free > 0 {
            let leased = tokio::select! {
                leased = lease(&shared, free) => leased,
                _ = &mut shutdown => break,
            };
            match leased {
                Ok(leases) => {
                    got = leases.len();
                    for lease in leases {
                        let shared = shared.clone();
                        jobs.spawn(async move {
                            let outcome = prepare_and_run(&shared, &lease).await;
                            Finished {
                                key: lease.job_key,
                                attempt: lease.attempt,
                                outcome,
                            }
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "lease failed; retrying"),
            }
        }
        let wait = if got > 0 && jobs.len() < shared.config.slots {
            Duration::ZERO
        } else {
            shared.config.idle_poll
        };
        tokio::select! {
            _ = &mut shutdown => break,
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                if let Ok(done) = done {
                    reports.spawn(report(shared.clone(), done));
                }
            }
            Some(_) = reports.join_next(), if !reports.is_empty() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    tracing::info!(running = jobs.len(), "draining: finishing running jobs");
    let mut handed_back = Vec::new();
    loop {
        tokio::select! {
            next = jobs.join_next() => match next {
                Some(Ok(done)) => { reports.spawn(report(shared.clone(), done)); }
                Some(Err(_)) => {}
                None => break,
            },
            _ = &mut hand_back => {
                jobs.abort_all();
                while jobs.join_next().await.is_some() {}
                // Whatever is held and not being reported is handed back.
                let reporting: Vec<String> = shared.reporting.lock().unwrap().clone();
                handed_back = shared
                    .held
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| !reporting.contains(k))
                    .map(|(k, h)| pb::LeaseRef { job_key: k.clone(), attempt: h.attempt })
                    .collect();
                break;
            }
        }
    }
    while reports.join_next().await.is_some() {}
    heartbeat.abort();
    let worker_id = shared.worker_id.lock().unwrap().clone();
    if let Some(client) = shared.client.lock().await.as_mut() {
        let n = handed_back.len();
        match client
            .deregister(pb::DeregisterRequest {
                worker_id,
                hand_back: handed_back,
            })
            .await
        {
            Ok(_) => tracing::info!(handed_back = n, "deregistered"),
            Err(e) => tracing::warn!(error = %e, "deregistration failed"),
        }
    }
    Ok(())
}

/// A job whose training (or failure) is over, to be reported.
struct Finished {
    key: String,
    attempt: u32,
    outcome: Result<String, String>,
}

/// Connects and registers, retrying with backoff while the coordinator is
/// unreachable; a protocol mismatch is final.
async fn register(shared: &Shared) -> Result<(), String> {
    let c = &shared.config;
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = async {
            let mut client = pb::connect(&c.endpoint, c.token.as_deref())
                .await
                .map_err(|e| (None, e))?;
            let reply = client
                .register(pb::RegisterRequest {
                    protocol_version: pb::PROTOCOL_VERSION,
                    name: c.name.clone(),
                    slots: c.slots as u32,
                })
                .await
                .map_err(|s| (Some(s.code()), s.message().to_string()))?;
            Ok::<_, (Option<Code>, String)>((client, reply.into_inner().worker_id))
        };
        match attempt.await {
            Ok((client, id)) => {
                tracing::info!(worker = %id, endpoint = %c.endpoint, slots = c.slots, "registered");
                *shared.worker_id.lock().unwrap() = id;
                *shared.client.lock().await = Some(client);
                return Ok(());
            }
            Err((
                Some(
                    code @ (Code::FailedPrecondition
                    | Code::Unauthenticated
                    | Code::InvalidArgument),
                ),
                message,
            )) => {
                return Err(format!(
                    "the coordinator refused this worker ({code:?}): {message}"
                ));
            }
            Err((_, message)) => {
                tracing::warn!(error = %message, retry_in_ms = backoff.as_millis() as u64, "coordinator unreachable");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn client(shared: &Shared) -> Option<pb::Client> {
    shared.client.lock().await.clone()
}

/// Calls `f` until it succeeds, re-registering if the coordinator forgot
/// this worker and backing off while it is unreachable.
async fn with_retry<T, F, Fut>(shared: &Shared, what: &str, mut f: F) -> Result<T, tonic::Status>
where
    F: FnMut(pb::Client, String) -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(c) = client(shared).await else {
            return Err(tonic::Status::unavailable("not connected"));
        };
        let id = shared.worker_id.lock().unwrap().clone();
        match f(c, id).await {
            Ok(v) => return Ok(v),
            Err(s) if s.code() == Code::NotFound && s.message().contains("unknown worker") => {
                tracing::warn!("the coordinator does not know this worker; registering again");
                if let Err(e) = register(shared).await {
                    return Err(tonic::Status::failed_precondition(e));
                }
            }
            Err(s)
                if matches!(
                    s.code(),
                    Code::Unavailable
                        | Code::Unknown
                        | Code::Internal
                        | Code::Cancelled
                        | Code::DeadlineExceeded
                ) =>
            {
                tracing::warn!(error = %s.message(), call = what, retry_in_ms = backoff.as_millis() as u64, "coordinator call failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(s) => return Err(s),
        }
    }
}

async fn lease(shared: &Shared, max: usize) -> Result<Vec<pb::Lease>, tonic::Status> {
    let leases = with_retry(shared, "lease", |mut c, worker_id| async move {
        c.lease(pb::LeaseRequest {
            worker_id,
            max_jobs: max as u32,
        })
        .await
    })
    .await?
    .into_inner()
    .leases;
    let mut held = shared.held.lock().unwrap();
    for l in &leases {
        held.insert(
            l.job_key.clone(),
            Held {
                attempt: l.attempt,
                timeout: Duration::from_millis(l.lease_timeout_ms),
            },
        );
    }
    Ok(leases)
}

/// Renews every held lease at a third of the shortest lease timeout.
async fn heartbeat_loop(shared: Arc<Shared>) {
    loop {
        let (refs, interval) = {
            let held = shared.held.lock().unwrap();
            let shortest = held
                .values()
                .map(|h| h.timeout)
                .min()
                .unwrap_or(Duration::from_secs(3));
            let refs: Vec<pb::LeaseRef> = held
                .iter()
                .map(|(k, h)| pb::LeaseRef {
                    job_key: k.clone(),
                    attempt: h.attempt,
                })
                .collect();
            (
                refs,
                (shortest / 3).clamp(Duration::from_millis(50), Duration::from_secs(10)),
            )
        };
        if !refs.is_empty() {
            let result = with_retry(&shared, "heartbeat", |mut c, worker_id| {
                let leases = refs.clone();
                async move {
                    c.heartbeat(pb::HeartbeatRequest { worker_id, leases })
                        .await
                }
            })
            .await;
            match result {
                Ok(reply) => {
                    let held = shared.held.lock().unwrap();
                    // A lease reported while the heartbeat was in flight is not news.
                    for lost in reply
                        .into_inner()
                        .lost
                        .iter()
                        .filter(|l| held.contains_key(&l.job_key))
                    {
                        tracing::warn!(job = %lost.job_key, attempt = lost.attempt, "lease lost; its result will be reported anyway");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// Reports a finished job, retrying until the coordinator acknowledges.
async fn report(shared: Arc<Shared>, done: Finished) {
    let Finished {
        key,
        attempt,
        outcome,
    } = done;
    shared.reporting.lock().unwrap().push(key.clone());
    let reply = match outcome {
        Ok(result_json) => {
            with_retry(&shared, "report result", |mut c, worker_id| {
                let (job_key, result_json) = (key.clone(), result_json.clone());
                async move {
                    c.report_result(pb::ReportResultRequest {
                        worker_id,
                        job_key,
                        attempt,
                        result_json,
                    })
                    .await
                }
            })
            .await
        }
        Err(error) => {
            tracing::warn!(job = %key, %error, "job failed");
            with_retry(&shared, "report failure", |mut c, worker_id| {
                let (job_key, error) = (key.clone(), error.clone());
                async move {
                    c.report_failure(pb::ReportFailureRequest {
                        worker_id,
                        job_key,
                        attempt,
                        error,
                    })
                    .await
                }
            })
            .await
        }
    };
    match reply {
        Ok(reply) if !reply.get_ref().accepted => {
            tracing::info!(job = %key, attempt, "report not needed: the job was already done")
        }
        Ok(_) => tracing::debug!(job = %key, attempt, "reported"),
        Err(e) => tracing::error!(job = %key, error = %e, "could not report"),
    }
    shared.held.lock().unwrap().remove(&key);
    shared.reporting.lock().unwrap().retain(|k| k != &key);
}

async fn prepare_and_run(shared: &Arc<Shared>, lease: &pb::Lease) -> Result<String, String> {
    let spec: JobSpec =
        serde_json::from_str(&lease.spec_json).map_err(|e| format!("bad job spec: {e}"))?;
    if spec.noop.is_none() && !spec.dataset.is_builtin() {
        ensure_files(shared, &lease.files).await?;
    }
    let shared = shared.clone();
    let label = spec.label();
    tracing::info!(job = %lease.job_key, attempt = lease.attempt, %label, "job started");
    tokio::task::spawn_blocking(move || -> Result<String, String> {
        let result = if spec.noop.is_some() {
            crate::run_job(&spec, &shared.config.cache_dir)
        } else {
            let dataset = load_cached(&shared, &spec).map_err(|e| e.to_string())?;
            crate::run_on(&spec, &dataset)
        }
        .map_err(|e| e.to_string())?;
        Ok(serde_json::to_string(&result).expect("a result serialises"))
    })
    .await
    .map_err(|e| format!("the job's thread failed: {e}"))?
}

fn load_cached(shared: &Shared, spec: &JobSpec) -> Result<Arc<Dataset>, data::DataError> {
    let key = (spec.dataset, spec.settings.synthetic_rows);
    if let Some(d) = shared.datasets.lock().unwrap().get(&key) {
        return Ok(d.clone());
    }
    let d = Arc::new(data::load(
        spec.dataset,
        &shared.config.cache_dir,
        spec.settings.synthetic_rows,
    )?);
    shared.datasets.lock().unwrap().insert(key, d.clone());
    Ok(d)
}

/// Fetches the files this worker does not have yet, verified, once.
async fn ensure_files(shared: &Shared, files: &[pb::DataFile]) -> Result<(), String> {
    let _one_at_a_time = shared.fetching.lock().await;
    for f in files {
        let target = shared.config.cache_dir.join(&f.path);
        if verified(&target, &f.sha256) {
            continue;
        }
        let mut stream = with_retry(shared, "fetch file", |mut c, _| {
            let sha256 = f.sha256.clone();
            async move { c.fetch_file(pb::FetchFileRequest { sha256 }).await }
        })
        .await
        .map_err(|e| format!("fetching {}: {}", f.path, e.message()))?
        .into_inner();
        let mut bytes = Vec::with_capacity(f.bytes as usize);
        while let Some(chunk) = stream
            .message()
            .await
            .map_err(|e| format!("fetching {}: {}", f.path, e.message()))?
        {
            bytes.extend_from_slice(&chunk.data);
        }
        if data::sha256_hex(&bytes) != f.sha256 {
            return Err(format!(
                "fetching {}: the received bytes do not match sha256 {}",
                f.path, f.sha256
            ));
        }
        write_atomically(&target, &bytes).map_err(|e| format!("{}: {e}", target.display()))?;
        tracing::info!(file = %f.path, bytes = bytes.len(), "dataset file fetched and cached");
    }
    Ok(())
}

fn verified(path: &Path, sha256: &str) -> bool {
    std::fs::read(path)
        .map(|b| data::sha256_hex(&b) == sha256)
        .unwrap_or(false)
}

fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = target.with_extension(format!("part{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, target)
}

/// The default cache: `$XDG_CACHE_HOME/mtl-sweep/datasets`, else `~/.cache/...`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("mtl-sweep").join("datasets")
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
