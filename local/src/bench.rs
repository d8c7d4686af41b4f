//! `sweep-local bench`: one coordinator with its durable store and M
//! simulated workers (async clients in this process, over real gRPC on
//! loopback) doing lease → report on no-op jobs as fast as they can.
//! With `--coordinator`, the coordinator is another process (`coordinator
//! serve`), so its CPU time, read from its own `/proc/PID/stat`, is its
//! alone, and each process holds only its own side of the connections.

use std::time::{Duration, Instant};

use serde::Serialize;
use sweep_proto as pb;
use sweep_shared::JobSpec;

use sweep_coordinator::auth::Tokens;
use sweep_coordinator::server::{connect_within, InProcess, ServerConfig};
use sweep_coordinator::sweep_file::limits::DEFAULT_MAX_JOBS;

use crate::LocalError;

#[derive(Debug, Serialize)]
pub struct BenchResult {
    pub workers: usize,
    pub jobs: usize,
    pub seconds: f64,
    pub jobs_per_sec: f64,
    pub lease_p50_ms: f64,
    pub lease_p99_ms: f64,
    pub report_p50_ms: f64,
    pub report_p99_ms: f64,
    /// Idle workers connected before the sweep, and what they cost.
    pub idle_workers: usize,
    /// Process CPU (cores) while only the idle workers were connected.
    pub idle_cpu_cores: f64,
    /// `Lease` calls the idle workers made per second meanwhile.
    pub idle_lease_calls_per_sec: f64,
}

/// Idle workers for the bench: connected, leasing, with nothing queued.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    pub workers: usize,
    pub seconds: u64,
    /// Poll every this many ms with immediate answers (the old way); 0
    /// long-polls.
    pub poll_ms: u64,
}

/// A coordinator in another process: its endpoint and its pid.
#[derive(Debug, Clone)]
pub struct External {
    pub endpoint: String,
    pub pid: u32,
}

/// The CPU time (user + system), in seconds, of process `pid` (this one
/// when `None`).
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_string(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks (100 a second).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Connects `idle.workers` workers that lease with nothing queued, waits
/// until all are in, and measures the CPU of process `pid` (this one when
/// `None`) and their calls over `idle.seconds`; the workers stop when the
/// returned `IdleWorkers` is stopped.
async fn idle_workers(
    endpoint: &str,
    idle: Idle,
    pid: Option<u32>,
) -> Result<(f64, f64, IdleWorkers), LocalError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let calls = Arc::new(AtomicU64::new(0));
    let (ready_tx, mut ready) = tokio::sync::mpsc::channel(idle.workers.max(1));
    let mut tasks = Vec::with_capacity(idle.workers);
    for i in 0..idle.workers {
        let (endpoint, calls, ready_tx) = (endpoint.to_string(), calls.clone(), ready_tx.clone());
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let Ok((mut c, id)) = register(&endpoint, &format!("idle-{i}")).await else {
                return;
            };
            let _ = ready_tx.send(()).await;
            loop {
                let wait_ms = if idle.poll_ms == 0 { 20_000 } else { 0 };
                let call = c.lease(pb::LeaseRequest {
                    worker_id: id.clone(),
                    max_jobs: 1,
                    wait_ms,
                });
                let stop_now = tokio::select! {
                    r = call => {
                        if r.is_err() {
                            return;
                        }
                        false
                    }
                    _ = stopped.wait_for(|s| *s) => true,
                };
                if stop_now {
                    // A lease granted as the call was dropped goes back to
                    // the queue with the worker.
                    let request = pb::DeregisterRequest {
                        worker_id: id,
                        hand_back: vec![],
                    };
                    let _ = c.deregister(request).await;
                    return;
                }
                calls.fetch_add(1, Ordering::Relaxed);
                if idle.poll_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(idle.poll_ms)).await;
                }
            }
        }));
    }
    drop(ready_tx);
    for _ in 0..idle.workers {
        if ready.recv().await.is_none() {
            break;
        }
    }
    // Let every first call reach the coordinator before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, calls0, t0) = (
        cpu_seconds(pid),
        calls.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(idle.seconds)).await;
    let span = t0.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(pid) - cpu0) / span;
    let rate = (calls.load(Ordering::Relaxed) - calls0) as f64 / span;
    Ok((cpu, rate, IdleWorkers { stop, tasks }))
}

/// The idle workers of a bench, until they are stopped.
struct IdleWorkers {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl IdleWorkers {
    /// Stops every idle worker and waits until each has deregistered, so
    /// that none holds a lease of the sweep submitted next.
    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

pub async fn bench(
    workers: usize,
    jobs: usize,
    idle: Idle,
    external: Option<External>,
) -> Result<BenchResult, LocalError> {
    let dir = std::env::temp_dir().join(format!("sweep-bench-{}-{}", std::process::id(), workers));
    let (server, endpoint, pid) = match &external {
        Some(e) => {
            // A wrong pid would read as zero CPU: refuse it instead.
            let stat = std::path::PathBuf::from(format!("/proc/{}/stat", e.pid));
            std::fs::metadata(&stat).map_err(|source| LocalError::File { path: stat, source })?;
            (None, e.endpoint.clone(), Some(e.pid))
        }
        None => {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            let server = InProcess::start(ServerConfig {
                db: dir.join("state.db"),
                data_dir: dir.clone(),
                tokens: Tokens::open(),
                tls: None,
                insecure: false,
                max_jobs: DEFAULT_MAX_JOBS,
                tick: Duration::from_millis(250),
                live_reports: None,
                schedules: None,
                http: None,
            })
            .await?;
            let endpoint = server.endpoint.clone();
            (Some(server), endpoint, None)
        }
    };
    let mut client = connect_within(&endpoint, Duration::from_secs(10)).await?;
    let (idle_cpu_cores, idle_lease_calls_per_sec, stop_idle) = if idle.workers > 0 {
        let (cpu, rate, stop) = idle_workers(&endpoint, idle, pid).await?;
        (cpu, rate, Some(stop))
    } else {
        (0.0, 0.0, None)
    };
    // The idle workers leave before the sweep: the throughput is the M
    // workers' alone.
    if let Some(idle) = stop_idle {
        idle.stop().await;
    }
    // A name and jobs of its own: job keys are content-addressed, so
    // against one long-lived coordinator a second run of the same sweep
    // would find every job done. The metric shift is the salt.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        % 1_000_000_000;
    let name = format!("bench-{}-{run}", std::process::id());
    let sweep = format!(
        "version = 1\nname = \"{name}\"\ndatasets = [\"friedman1\"]\nobjectives = [\"stl\"]\nseeds = {jobs}\n[noop]\nsleep_ms = 0\nmetric_shift = {run}\n"
    );
    client
        .submit_sweep(pb::SubmitSweepRequest {
            sweep_toml: sweep,
            source: "bench".into(),
        })
        .await?;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..workers {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(
            async move { simulated_worker(&endpoint, i).await },
        ));
    }
    let mut lease_ms = Vec::new();
    let mut report_ms = Vec::new();
    for t in tasks {
        let (l, r) = t.await??;
        lease_ms.extend(l);
        report_ms.extend(r);
    }
    let seconds = started.elapsed().as_secs_f64();
    let status = client
        .sweep_status(pb::SweepRef { name: name.clone() })
        .await?
        .into_inner();
    if status.done as usize != jobs {
        return Err(LocalError::Incomplete {
            done: status.done,
            jobs,
        });
    }
    if let Some(server) = server {
        server.stop().await?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(BenchResult {
        workers,
        jobs,
        seconds,
        jobs_per_sec: jobs as f64 / seconds,
        lease_p50_ms: quantile(&mut lease_ms, 0.5),
        lease_p99_ms: quantile(&mut lease_ms, 0.99),
        report_p50_ms: quantile(&mut report_ms, 0.5),
        report_p99_ms: quantile(&mut report_ms, 0.99),
        idle_workers: idle.workers,
        idle_cpu_cores,
        idle_lease_calls_per_sec,
    })
}

/// Leases one job at a time and reports its (no-op) result until the queue
/// stays empty. Returns the lease and report latencies in milliseconds.
/// Leases are not retried, so a job is never leased twice by one simulated
/// worker.
async fn simulated_worker(endpoint: &str, i: usize) -> Result<(Vec<f64>, Vec<f64>), LocalError> {
    let (mut c, id) = register(endpoint, &format!("sim-{i}")).await?;
    let (mut leases, mut reports) = (Vec::new(), Vec::new());
    loop {
        let t = Instant::now();
        let reply = c
            .lease(pb::LeaseRequest {
                worker_id: id.clone(),
                max_jobs: 1,
                wait_ms: 0,
            })
            .await
            .map_err(LocalError::call("lease"))?
            .into_inner();
        leases.push(t.elapsed().as_secs_f64() * 1e3);
        let Some(lease) = reply.leases.into_iter().next() else {
            break;
        };
        let spec: JobSpec = serde_json::from_str(&lease.spec_json)?;
        let result =
            sweep_worker::noop::simulate(&spec, spec.noop.as_ref().expect("a no-op sweep"))?;
        let result_json = serde_json::to_string(&result)?;
        let t = Instant::now();
        c.report_result(pb::ReportResultRequest {
            worker_id: id.clone(),
            job_key: lease.job_key,
            attempt: lease.attempt,
            result_json,
        })
        .await
        .map_err(LocalError::call("report"))?;
        reports.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok((leases, reports))
}

/// Connects and registers a simulated worker. A thousand clients
/// connecting at once can overflow the listen queue: connect and register
/// again until a deadline (a second registration only creates another
/// worker id).
async fn register(endpoint: &str, name: &str) -> Result<(pb::Client, String), LocalError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attempt = async {
            let mut c = connect_within(endpoint, Duration::from_secs(60)).await?;
            let request = pb::RegisterRequest {
                protocol_version: pb::PROTOCOL_VERSION,
                name: name.to_string(),
                slots: 1,
            };
            let id = c
                .register(request)
                .await
                .map_err(LocalError::call("register"))?
                .into_inner()
                .worker_id;
            Ok::<_, LocalError>((c, id))
        };
        match attempt.await {
            Ok(ok) => return Ok(ok),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}
