//! `sweep-local bench`: one coordinator with its durable store and M
//! simulated workers (async clients in this process, over real gRPC on
//! loopback) doing lease → report on no-op jobs as fast as they can.

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
}

pub async fn bench(workers: usize, jobs: usize) -> Result<BenchResult, LocalError> {
    let dir = std::env::temp_dir().join(format!("sweep-bench-{}-{}", std::process::id(), workers));
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
    let mut client = server.client().await?;
    let sweep = format!(
        "version = 1\nname = \"bench\"\ndatasets = [\"friedman1\"]\nobjectives = [\"stl\"]\nseeds = {jobs}\n[noop]\nsleep_ms = 0\n"
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
        .sweep_status(pb::SweepRef {
            name: "bench".into(),
        })
        .await?
        .into_inner();
    if status.done as usize != jobs {
        return Err(LocalError::Incomplete {
            done: status.done,
            jobs,
        });
    }
    server.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(BenchResult {
        workers,
        jobs,
        seconds,
        jobs_per_sec: jobs as f64 / seconds,
        lease_p50_ms: quantile(&mut lease_ms, 0.5),
        lease_p99_ms: quantile(&mut lease_ms, 0.99),
        report_p50_ms: quantile(&mut report_ms, 0.5),
        report_p99_ms: quantile(&mut report_ms, 0.99),
    })
}

/// Leases one job at a time and reports its (no-op) result until the queue
/// stays empty. Returns the lease and report latencies in milliseconds.
async fn simulated_worker(endpoint: &str, i: usize) -> Result<(Vec<f64>, Vec<f64>), LocalError> {
    // A thousand clients connecting at once can overflow the listen queue:
    // connect and register again until a deadline (a second registration
    // only creates another worker id). Leases are not retried, so a job is
    // never leased twice by one simulated worker.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut c, id) = loop {
        let attempt = async {
            let mut c = connect_within(endpoint, Duration::from_secs(60)).await?;
            let request = pb::RegisterRequest {
                protocol_version: pb::PROTOCOL_VERSION,
                name: format!("sim-{i}"),
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
            Ok(ok) => break ok,
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let (mut leases, mut reports) = (Vec::new(), Vec::new());
    loop {
        let t = Instant::now();
        let reply = c
            .lease(pb::LeaseRequest {
                worker_id: id.clone(),
                max_jobs: 1,
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

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}
