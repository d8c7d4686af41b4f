//! The gRPC service: decodes requests, hands them to the core, encodes
//! replies. No state lives here.
//!
//! This file holds the service and its worker and sweep RPCs; `status`
//! builds a sweep's status replies and the stream of them, and `schedules`
//! answers the schedule RPCs.

mod schedules;
mod status;

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sweep_proto as pb;
use sweep_shared::registry;
use sweep_shared::DatasetName;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::auth::{Role, Tokens};
use crate::core::Core;
use crate::error::CoordinatorError;
use crate::ids::{JobKey, LeaseToken, SweepName, WorkerId};
use crate::schedule::schedules::Schedules;
use crate::state::{FailureKind, Taken};
use crate::sweep_file;
pub use status::status_reply;

/// A failure's text is kept up to this many bytes.
const MAX_ERROR_BYTES: usize = 8 * 1024;

/// `text` cut to at most `max` bytes, on a character boundary.
fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Bytes per chunk when serving a dataset file.
const CHUNK: usize = 256 * 1024;

/// Resolves once `stopping` turns true; never if its sender is gone (a
/// service built without `with_stopping` still long-polls).
async fn drained(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    if stopping.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The longest a `Lease` call waits for work before answering with none.
pub const MAX_LEASE_WAIT: Duration = Duration::from_secs(30);

pub struct Service {
    core: Core,
    data_dir: PathBuf,
    /// Every servable dataset file: sha256 → path under `data_dir`.
    files: Arc<HashMap<String, PathBuf>>,
    workers_seen: AtomicU64,
    /// Jobs per sweep at most (`serve --max-jobs`).
    max_jobs: u64,
    /// Which token each call needs.
    tokens: Tokens,
    /// Absent where schedules are not served (`sweep-local run`, benches).
    scheduler: Option<Arc<Schedules>>,
    /// Turns true when the server starts to drain: long polls answer at once.
    stopping: tokio::sync::watch::Receiver<bool>,
}

type Stream2<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl Service {
    pub fn new(core: Core, data_dir: PathBuf) -> Self {
        let files = DatasetName::ALL
            .into_iter()
            .flat_map(|d| registry::files(d).iter())
            .map(|f| (f.sha256.to_string(), data_dir.join(f.path)))
            .collect();
        Service {
            core,
            data_dir,
            files: Arc::new(files),
            workers_seen: AtomicU64::new(0),
            max_jobs: sweep_file::limits::DEFAULT_MAX_JOBS,
            tokens: Tokens::open(),
            scheduler: None,
            stopping: tokio::sync::watch::channel(false).1,
        }
    }

    /// Long polls end (with no work) once `stopping` turns true, so a
    /// draining server does not wait out every idle worker's call.
    pub fn with_stopping(mut self, stopping: tokio::sync::watch::Receiver<bool>) -> Self {
        self.stopping = stopping;
        self
    }

    pub fn with_tokens(mut self, tokens: Tokens) -> Self {
        self.tokens = tokens;
        self
    }

    pub fn with_max_jobs(mut self, max_jobs: u64) -> Self {
        self.max_jobs = max_jobs;
        self
    }

    pub fn with_scheduler(mut self, scheduler: Arc<Schedules>) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    fn new_worker_id(&self, name: &str) -> WorkerId {
        let n = self.workers_seen.fetch_add(1, Ordering::Relaxed);
        let seed = format!(
            "{name}:{n}:{}:{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        );
        let digest = Sha256::digest(seed.as_bytes());
        WorkerId::from(format!(
            "w-{}",
            digest[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
    }
}

/// The leases a request names; the wire's attempt number is their token.
fn leases(refs: Vec<pb::LeaseRef>) -> Vec<(JobKey, LeaseToken)> {
    refs.into_iter()
        .map(|l| (JobKey::from(l.job_key), LeaseToken::new(l.attempt)))
        .collect()
}

#[tonic::async_trait]
impl pb::coordinator_server::Coordinator for Service {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        self.tokens.require(&req, Role::Worker)?;
        let req = req.into_inner();
        if req.protocol_version != sweep_proto::PROTOCOL_VERSION {
            return Err(CoordinatorError::ProtocolMismatch {
                got: req.protocol_version,
                want: sweep_proto::PROTOCOL_VERSION,
            }
            .into());
        }
        let id = self.new_worker_id(&req.name);
        tracing::info!(worker = %id, name = %req.name, slots = req.slots, "worker registered");
        self.core.register(id.clone(), req.name, req.slots).await?;
        Ok(Response::new(pb::RegisterReply {
            worker_id: id.into_string(),
        }))
    }

    async fn lease(
        &self,
        req: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseReply>, Status> {
        self.tokens.require(&req, Role::Worker)?;
        let req = req.into_inner();
        let max = req.max_jobs.clamp(1, 1024) as usize;
        let worker = WorkerId::from(req.worker_id);
        // A long poll: with nothing queued, wait for work (a submission, a
        // lease that came back) up to the bound, so idle workers cost
        // nothing between calls. Marked seen before each attempt, so work
        // queued between the attempt and the wait still wakes it.
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(u64::from(req.wait_ms)).min(MAX_LEASE_WAIT);
        let mut work = self.core.work();
        let mut stopping = self.stopping.clone();
        let (granted, asked) = loop {
            work.borrow_and_update();
            let asked = std::time::Instant::now();
            let granted = self.core.lease(worker.clone(), max).await?;
            if !granted.is_empty() || tokio::time::Instant::now() >= deadline || *stopping.borrow()
            {
                break (granted, asked);
            }
            tokio::select! {
                changed = work.changed() => if changed.is_err() { break (granted, asked) },
                _ = tokio::time::sleep_until(deadline) => break (granted, asked),
                _ = drained(&mut stopping) => break (granted, asked),
            }
        };
        self.core.metrics().lease_calls.inc();
        if !granted.is_empty() {
            // The latency of handing out work, not of waiting for it.
            crate::metrics::Metrics::observe(&self.core.metrics().lease_latency, asked.elapsed());
        }
        let leases = granted
            .into_iter()
            .map(|g| pb::Lease {
                job_key: g.key.into_string(),
                attempt: g.attempt.get(),
                spec_json: g.spec_json,
                lease_timeout_ms: g.lease_timeout.as_millis() as u64,
                files: g
                    .files
                    .into_iter()
                    .map(|f| pb::DataFile {
                        path: f.path,
                        sha256: f.sha256,
                        bytes: f.bytes,
                    })
                    .collect(),
            })
            .collect();
        Ok(Response::new(pb::LeaseReply { leases }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatReply>, Status> {
        self.tokens.require(&req, Role::Worker)?;
        let req = req.into_inner();
        let lost = self
            .core
            .heartbeat(WorkerId::from(req.worker_id), leases(req.leases))
            .await?;
        let lost = lost
            .into_iter()
            .map(|(k, a)| pb::LeaseRef {
                job_key: k.into_string(),
                attempt: a.get(),
            })
            .collect();
        Ok(Response::new(pb::HeartbeatReply { lost }))
    }

    async fn report_result(
        &self,
        req: Request<pb::ReportResultRequest>,
    ) -> Result<Response<pb::ReportReply>, Status> {
        self.tokens.require(&req, Role::Worker)?;
        let req = req.into_inner();
        let result =
            serde_json::from_str::<sweep_shared::JobResult>(&req.result_json).map_err(|e| {
                CoordinatorError::BadRequest(format!("result_json is not a job result: {e}"))
            })?;
        let taken = self
            .core
            .report_result(
                WorkerId::from(req.worker_id),
                JobKey::from(req.job_key.clone()),
                LeaseToken::new(req.attempt),
                req.result_json,
                result.spec,
            )
            .await?;
        match taken {
            Taken::Accepted => Ok(Response::new(pb::ReportReply { accepted: true })),
            Taken::Duplicate => Ok(Response::new(pb::ReportReply { accepted: false })),
            Taken::Refused(why) => Err(Status::failed_precondition(format!(
                "result for job {} attempt {} refused: {why}",
                req.job_key, req.attempt
            ))),
        }
    }

    async fn report_failure(
        &self,
        req: Request<pb::ReportFailureRequest>,
    ) -> Result<Response<pb::ReportReply>, Status> {
        self.tokens.require(&req, Role::Worker)?;
        let req = req.into_inner();
        let accepted = self
            .core
            .report_failure(
                WorkerId::from(req.worker_id),
                JobKey::from(req.job_key),
                LeaseToken::new(req.attempt),
                clip(req.error, MAX_ERROR_BYTES),
                FailureKind {
                    retryable: req.retryable.unwrap_or(true),
                    counts_toward_limit: req.counts_toward_limit.unwrap_or(true),
                },
            )
            .await?;
        Ok(Response::new(pb::ReportReply { accepted }))
    }

    async fn deregister(
        &self,
        req: Request<pb::DeregisterRequest>,
    ) -> Result<Response<pb::DeregisterReply>, Status> {
        self.tokens.require(&req, Role::Worker)?;
        let req = req.into_inner();
        tracing::info!(worker = %req.worker_id, handed_back = req.hand_back.len(), "worker deregistered");
        self.core
            .deregister(WorkerId::from(req.worker_id), leases(req.hand_back))
            .await?;
        Ok(Response::new(pb::DeregisterReply {}))
    }

    type FetchFileStream = Stream2<pb::FileChunk>;

    async fn fetch_file(
        &self,
        req: Request<pb::FetchFileRequest>,
    ) -> Result<Response<Self::FetchFileStream>, Status> {
        self.tokens.require(&req, Role::Worker)?;
        let sha = req.into_inner().sha256;
        let path = self
            .files
            .get(&sha)
            .cloned()
            .ok_or_else(|| CoordinatorError::UnknownFile(sha.clone()))?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| Status::not_found(format!("{}: {e}", path.display())))?;
        if registry::sha256_hex(&bytes) != sha {
            return Err(Status::data_loss(format!(
                "{}: the coordinator's copy does not match its checksum",
                path.display()
            )));
        }
        let chunks: Vec<Result<pb::FileChunk, Status>> = bytes
            .chunks(CHUNK)
            .map(|c| Ok(pb::FileChunk { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn submit_sweep(
        &self,
        req: Request<pb::SubmitSweepRequest>,
    ) -> Result<Response<pb::SubmitSweepReply>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        let req = req.into_inner();
        let source = if req.source.is_empty() {
            "sweep"
        } else {
            &req.source
        };
        let source = source.chars().take(256).collect::<String>();
        let data_dir = self.data_dir.clone();
        let max_jobs = self.max_jobs;
        let planned = tokio::task::spawn_blocking(move || {
            sweep_file::plan_jobs(&req.sweep_toml, &source, None, &data_dir, max_jobs)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(CoordinatorError::from)?;
        let name = planned.sweep.name.to_string();
        let s = self.core.submit(planned).await?;
        tracing::info!(sweep = %name, jobs = s.jobs, already_done = s.already_done, to_run = s.to_run, "sweep submitted");
        Ok(Response::new(pb::SubmitSweepReply {
            name,
            jobs: s.jobs,
            already_done: s.already_done,
            to_run: s.to_run,
        }))
    }

    async fn sweep_status(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<pb::SweepStatusReply>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        let name = SweepName::from(req.into_inner().name);
        let (s, c) = self.core.status(name.clone()).await?;
        Ok(Response::new(status_reply(&name, s, &c)))
    }

    type WatchSweepStream = Stream2<pb::SweepStatusReply>;

    async fn watch_sweep(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<Self::WatchSweepStream>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        let name = SweepName::from(req.into_inner().name);
        Ok(Response::new(status::watch(self.core.clone(), name).await?))
    }

    async fn cancel_sweep(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<pb::SweepStatusReply>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        let name = SweepName::from(req.into_inner().name);
        let (s, c) = self.core.cancel(name.clone()).await?;
        tracing::info!(sweep = %name, "sweep cancelled");
        Ok(Response::new(status_reply(&name, s, &c)))
    }

    async fn list_sweeps(
        &self,
        req: Request<pb::ListSweepsRequest>,
    ) -> Result<Response<pb::ListSweepsReply>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        let all = self.core.list().await?;
        let sweeps = all.iter().map(|(n, s, c)| status_reply(n, *s, c)).collect();
        Ok(Response::new(pb::ListSweepsReply { sweeps }))
    }

    type ListResultsStream = Stream2<pb::ResultRow>;

    async fn list_results(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<Self::ListResultsStream>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        let name = SweepName::from(req.into_inner().name);
        let rows = self.core.results(name).await?;
        let rows: Vec<Result<pb::ResultRow, Status>> = rows
            .into_iter()
            .map(|r| {
                Ok(pb::ResultRow {
                    job_key: r.key.into_string(),
                    result_json: r.result_json,
                    worker_id: r.worker.into_string(),
                    attempt: r.attempt.get(),
                    finished_ms: r.finished_ms,
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(rows))))
    }

    async fn add_schedule(
        &self,
        req: Request<pb::AddScheduleRequest>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        self.add_schedule_rpc(req).await
    }

    async fn list_schedules(
        &self,
        req: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesReply>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        self.list_schedules_rpc(req)
    }

    async fn show_schedule(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleDetail>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        self.show_schedule_rpc(req)
    }

    async fn pause_schedule(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        self.set_enabled(req.into_inner(), false)
    }

    async fn resume_schedule(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        self.set_enabled(req.into_inner(), true)
    }

    async fn remove_schedule(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        self.remove_schedule_rpc(req)
    }

    async fn run_schedule_now(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleRunInfo>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        self.run_schedule_now_rpc(req).await
    }

    async fn accept_schedule_run(
        &self,
        req: Request<pb::AcceptRunRequest>,
    ) -> Result<Response<pb::ScheduleRunInfo>, Status> {
        self.tokens.require(&req, Role::Admin)?;
        self.accept_schedule_run_rpc(req)
    }
}
