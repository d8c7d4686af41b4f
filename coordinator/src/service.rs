//! The gRPC service: decodes requests, hands them to the core, encodes
//! replies. No state lives here.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sweep_proto as pb;
use sweep_shared::DatasetName;
use sweep_worker::data;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::core::{Command, Core, Reply};
use crate::error::CoordinatorError;
use crate::ids::{JobKey, SweepName, WorkerId};
use crate::schedule::rpc;
use crate::schedule::scheduler::Scheduler;
use crate::state::{Counts, SweepState};
use crate::sweep_file;

/// Bytes per chunk when serving a dataset file.
const CHUNK: usize = 256 * 1024;

pub struct Service {
    core: Core,
    data_dir: PathBuf,
    /// Every servable dataset file: sha256 → path under `data_dir`.
    files: Arc<HashMap<String, PathBuf>>,
    workers_seen: AtomicU64,
    /// Absent where schedules are not served (`coordinator run`, benches).
    scheduler: Option<Arc<Scheduler>>,
}

type Stream2<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl Service {
    pub fn new(core: Core, data_dir: PathBuf) -> Self {
        let files = DatasetName::ALL
            .into_iter()
            .flat_map(|d| data::files::files(d).iter())
            .map(|f| (f.sha256.to_string(), data_dir.join(f.path)))
            .collect();
        Service {
            core,
            data_dir,
            files: Arc::new(files),
            workers_seen: AtomicU64::new(0),
            scheduler: None,
        }
    }

    pub fn with_scheduler(mut self, scheduler: Arc<Scheduler>) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    /// Pauses or resumes a schedule; its state afterwards.
    fn set_enabled(
        &self,
        schedule: pb::ScheduleRef,
        enabled: bool,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        let s = self.scheduler()?;
        s.set_enabled(&schedule.name, enabled)?;
        let shown = rpc::show(s, &schedule.name)?;
        Ok(Response::new(shown.schedule.unwrap_or_default()))
    }

    fn scheduler(&self) -> Result<&Scheduler, Status> {
        self.scheduler
            .as_deref()
            .ok_or_else(|| Status::unimplemented("this coordinator does not run schedules"))
    }

    async fn call(&self, cmd: Command) -> Result<Reply, Status> {
        self.core.call(cmd).await.map_err(Status::from)
    }

    fn new_worker_id(&self, name: &str) -> WorkerId {
        let n = self.workers_seen.fetch_add(1, Ordering::Relaxed);
        let seed = format!(
            "{name}:{n}:{}:{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        );
        let digest = Sha256::digest(seed.as_bytes());
        WorkerId(format!(
            "w-{}",
            digest[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
    }
}

fn leases(refs: Vec<pb::LeaseRef>) -> Vec<(JobKey, u32)> {
    refs.into_iter()
        .map(|l| (JobKey(l.job_key), l.attempt))
        .collect()
}

pub fn status_reply(name: &SweepName, state: SweepState, c: &Counts) -> pb::SweepStatusReply {
    pb::SweepStatusReply {
        name: name.0.clone(),
        state: state.name().into(),
        total: c.total,
        queued: c.queued,
        running: c.running,
        done: c.done,
        failed: c.failed,
        cancelled: c.cancelled,
    }
}

fn unexpected() -> Status {
    Status::internal("unexpected reply from the coordinator's core")
}

#[tonic::async_trait]
impl pb::coordinator_server::Coordinator for Service {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
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
        self.call(Command::Register {
            id: id.clone(),
            name: req.name,
        })
        .await?;
        Ok(Response::new(pb::RegisterReply { worker_id: id.0 }))
    }

    async fn lease(
        &self,
        req: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseReply>, Status> {
        let req = req.into_inner();
        let max = req.max_jobs.clamp(1, 1024) as usize;
        let Reply::Leases(granted) = self
            .call(Command::Lease {
                worker: WorkerId(req.worker_id),
                max,
            })
            .await?
        else {
            return Err(unexpected());
        };
        let leases = granted
            .into_iter()
            .map(|g| pb::Lease {
                job_key: g.key.0,
                attempt: g.attempt,
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
        let req = req.into_inner();
        let cmd = Command::Heartbeat {
            worker: WorkerId(req.worker_id),
            leases: leases(req.leases),
        };
        let Reply::Lost(lost) = self.call(cmd).await? else {
            return Err(unexpected());
        };
        let lost = lost
            .into_iter()
            .map(|(k, a)| pb::LeaseRef {
                job_key: k.0,
                attempt: a,
            })
            .collect();
        Ok(Response::new(pb::HeartbeatReply { lost }))
    }

    async fn report_result(
        &self,
        req: Request<pb::ReportResultRequest>,
    ) -> Result<Response<pb::ReportReply>, Status> {
        let req = req.into_inner();
        if serde_json::from_str::<sweep_shared::JobResult>(&req.result_json).is_err() {
            return Err(
                CoordinatorError::BadRequest("result_json is not a job result".into()).into(),
            );
        }
        let cmd = Command::Result {
            worker: WorkerId(req.worker_id),
            key: JobKey(req.job_key),
            attempt: req.attempt,
            result_json: req.result_json,
        };
        let Reply::Accepted(accepted) = self.call(cmd).await? else {
            return Err(unexpected());
        };
        Ok(Response::new(pb::ReportReply { accepted }))
    }

    async fn report_failure(
        &self,
        req: Request<pb::ReportFailureRequest>,
    ) -> Result<Response<pb::ReportReply>, Status> {
        let req = req.into_inner();
        let cmd = Command::Failure {
            worker: WorkerId(req.worker_id),
            key: JobKey(req.job_key),
            attempt: req.attempt,
            error: req.error,
        };
        let Reply::Accepted(accepted) = self.call(cmd).await? else {
            return Err(unexpected());
        };
        Ok(Response::new(pb::ReportReply { accepted }))
    }

    async fn deregister(
        &self,
        req: Request<pb::DeregisterRequest>,
    ) -> Result<Response<pb::DeregisterReply>, Status> {
        let req = req.into_inner();
        tracing::info!(worker = %req.worker_id, handed_back = req.hand_back.len(), "worker deregistered");
        self.call(Command::Deregister {
            worker: WorkerId(req.worker_id),
            hand_back: leases(req.hand_back),
        })
        .await?;
        Ok(Response::new(pb::DeregisterReply {}))
    }

    type FetchFileStream = Stream2<pb::FileChunk>;

    async fn fetch_file(
        &self,
        req: Request<pb::FetchFileRequest>,
    ) -> Result<Response<Self::FetchFileStream>, Status> {
        let sha = req.into_inner().sha256;
        let path = self
            .files
            .get(&sha)
            .cloned()
            .ok_or_else(|| CoordinatorError::UnknownFile(sha.clone()))?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| Status::not_found(format!("{}: {e}", path.display())))?;
        if data::sha256_hex(&bytes) != sha {
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
        let req = req.into_inner();
        let source = if req.source.is_empty() {
            "sweep"
        } else {
            &req.source
        };
        let plan =
            sweep_file::parse(&req.sweep_toml, source).map_err(CoordinatorError::InvalidSweep)?;
        let data_dir = self.data_dir.clone();
        let (sweep, jobs) = tokio::task::spawn_blocking(move || plan.expand(&data_dir))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| CoordinatorError::InvalidSweep(format!("{source}: {e}")))?;
        let name = sweep.name.0.clone();
        let Reply::Submitted(s) = self.call(Command::Submit { sweep, jobs }).await? else {
            return Err(unexpected());
        };
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
        let name = SweepName(req.into_inner().name);
        let Reply::Status(s, c) = self.call(Command::Status { name: name.clone() }).await? else {
            return Err(unexpected());
        };
        Ok(Response::new(status_reply(&name, s, &c)))
    }

    type WatchSweepStream = Stream2<pb::SweepStatusReply>;

    async fn watch_sweep(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<Self::WatchSweepStream>, Status> {
        let name = SweepName(req.into_inner().name);
        let core = self.core.clone();
        let mut changes = core.changes();
        // Fails now for an unknown sweep rather than in the stream.
        core.call(Command::Status { name: name.clone() })
            .await
            .map_err(Status::from)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut last = None;
            loop {
                let reply = match core.call(Command::Status { name: name.clone() }).await {
                    Ok(Reply::Status(s, c)) => status_reply(&name, s, &c),
                    Ok(_) => break,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        break;
                    }
                };
                let ended = reply.state != SweepState::Running.name();
                if last.as_ref() != Some(&reply) {
                    if tx.send(Ok(reply.clone())).await.is_err() {
                        break;
                    }
                    last = Some(reply);
                }
                if ended || changes.changed().await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn cancel_sweep(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<pb::SweepStatusReply>, Status> {
        let name = SweepName(req.into_inner().name);
        let Reply::Status(s, c) = self.call(Command::Cancel { name: name.clone() }).await? else {
            return Err(unexpected());
        };
        tracing::info!(sweep = %name, "sweep cancelled");
        Ok(Response::new(status_reply(&name, s, &c)))
    }

    async fn list_sweeps(
        &self,
        _: Request<pb::ListSweepsRequest>,
    ) -> Result<Response<pb::ListSweepsReply>, Status> {
        let Reply::List(all) = self.call(Command::List).await? else {
            return Err(unexpected());
        };
        let sweeps = all.iter().map(|(n, s, c)| status_reply(n, *s, c)).collect();
        Ok(Response::new(pb::ListSweepsReply { sweeps }))
    }

    type ListResultsStream = Stream2<pb::ResultRow>;

    async fn list_results(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<Self::ListResultsStream>, Status> {
        let name = SweepName(req.into_inner().name);
        let Reply::Results(rows) = self.call(Command::Results { name }).await? else {
            return Err(unexpected());
        };
        let rows: Vec<Result<pb::ResultRow, Status>> = rows
            .into_iter()
            .map(|r| {
                Ok(pb::ResultRow {
                    job_key: r.key.0,
                    result_json: r.result_json,
                    worker_id: r.worker.0,
                    attempt: r.attempt,
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
        Ok(Response::new(
            rpc::add(self.scheduler()?, req.into_inner()).await?,
        ))
    }

    async fn list_schedules(
        &self,
        _: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesReply>, Status> {
        Ok(Response::new(rpc::list(self.scheduler()?)?))
    }

    async fn show_schedule(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleDetail>, Status> {
        Ok(Response::new(rpc::show(
            self.scheduler()?,
            &req.into_inner().name,
        )?))
    }

    async fn pause_schedule(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        self.set_enabled(req.into_inner(), false)
    }

    async fn resume_schedule(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        self.set_enabled(req.into_inner(), true)
    }

    async fn remove_schedule(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        let removed = self.scheduler()?.remove(&req.into_inner().name)?;
        Ok(Response::new(rpc::info(&removed, None)))
    }

    async fn run_schedule_now(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleRunInfo>, Status> {
        let run = self.scheduler()?.run_now(&req.into_inner().name).await?;
        Ok(Response::new(rpc::run_info(&run)))
    }
}
