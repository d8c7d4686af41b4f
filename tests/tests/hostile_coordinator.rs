//! A real `worker join` against a coordinator that lies: its lease names
//! dataset files outside the worker's cache (an absolute path, a `..`
//! escape) with checksums that match the bytes it serves. The worker must
//! refuse the lease's files, write nothing, and report the job as failed.
//!
//! The coordinator here is a stand-in gRPC server on 127.0.0.1 port 0,
//! answering as a compromised or man-in-the-middle coordinator would.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sweep_e2e::{bin, scratch, wait_for, TOKEN_VARS};
use sweep_proto as pb;
use sweep_shared::{DatasetName, JobSpec, Objective, TrainSettings};
use tonic::{Request, Response, Status};

type Stream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

/// Serves one lease whose files are `files`, their bytes `payload`; keeps
/// every failure a worker reports.
struct Liar {
    files: Vec<pb::DataFile>,
    payload: Vec<u8>,
    leased: Mutex<bool>,
    failures: Arc<Mutex<Vec<String>>>,
}

fn no<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in this test"))
}

#[tonic::async_trait]
impl pb::coordinator_server::Coordinator for Liar {
    async fn register(
        &self,
        _: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        Ok(Response::new(pb::RegisterReply {
            worker_id: "w-liar".into(),
        }))
    }
    async fn lease(
        &self,
        _: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseReply>, Status> {
        let mut leased = self.leased.lock().unwrap();
        if *leased {
            return Ok(Response::new(pb::LeaseReply { leases: vec![] }));
        }
        *leased = true;
        let spec = JobSpec {
            dataset: DatasetName::Wine,
            objective: Objective::Stl,
            alpha: None,
            seed: 0,
            settings: TrainSettings::default(),
            noop: None,
            run: None,
            grid: Vec::new(),
        };
        Ok(Response::new(pb::LeaseReply {
            leases: vec![pb::Lease {
                job_key: "k-liar".into(),
                attempt: 1,
                spec_json: serde_json::to_string(&spec).unwrap(),
                lease_timeout_ms: 60_000,
                files: self.files.clone(),
            }],
        }))
    }
    async fn heartbeat(
        &self,
        _: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatReply>, Status> {
        Ok(Response::new(pb::HeartbeatReply { lost: vec![] }))
    }
    async fn report_result(
        &self,
        _: Request<pb::ReportResultRequest>,
    ) -> Result<Response<pb::ReportReply>, Status> {
        Ok(Response::new(pb::ReportReply { accepted: true }))
    }
    async fn report_failure(
        &self,
        req: Request<pb::ReportFailureRequest>,
    ) -> Result<Response<pb::ReportReply>, Status> {
        let req = req.into_inner();
        // Kept with its class: a refused file can never succeed elsewhere.
        let class = match req.retryable {
            Some(false) => "not retryable",
            Some(true) => "retryable",
            None => "unclassified",
        };
        self.failures
            .lock()
            .unwrap()
            .push(format!("{} [{class}]", req.error));
        Ok(Response::new(pb::ReportReply { accepted: true }))
    }
    async fn deregister(
        &self,
        _: Request<pb::DeregisterRequest>,
    ) -> Result<Response<pb::DeregisterReply>, Status> {
        Ok(Response::new(pb::DeregisterReply {}))
    }
    type FetchFileStream = Stream<pb::FileChunk>;
    async fn fetch_file(
        &self,
        _: Request<pb::FetchFileRequest>,
    ) -> Result<Response<Self::FetchFileStream>, Status> {
        let chunk = pb::FileChunk {
            data: self.payload.clone(),
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(chunk)]))))
    }
    async fn submit_sweep(
        &self,
        _: Request<pb::SubmitSweepRequest>,
    ) -> Result<Response<pb::SubmitSweepReply>, Status> {
        no()
    }
    async fn sweep_status(
        &self,
        _: Request<pb::SweepRef>,
    ) -> Result<Response<pb::SweepStatusReply>, Status> {
        no()
    }
    type WatchSweepStream = Stream<pb::SweepStatusReply>;
    async fn watch_sweep(
        &self,
        _: Request<pb::SweepRef>,
    ) -> Result<Response<Self::WatchSweepStream>, Status> {
        no()
    }
    async fn cancel_sweep(
        &self,
        _: Request<pb::SweepRef>,
    ) -> Result<Response<pb::SweepStatusReply>, Status> {
        no()
    }
    async fn list_sweeps(
        &self,
        _: Request<pb::ListSweepsRequest>,
    ) -> Result<Response<pb::ListSweepsReply>, Status> {
        no()
    }
    type ListResultsStream = Stream<pb::ResultRow>;
    async fn list_results(
        &self,
        _: Request<pb::SweepRef>,
    ) -> Result<Response<Self::ListResultsStream>, Status> {
        no()
    }
    async fn add_schedule(
        &self,
        _: Request<pb::AddScheduleRequest>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        no()
    }
    async fn list_schedules(
        &self,
        _: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesReply>, Status> {
        no()
    }
    async fn show_schedule(
        &self,
        _: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleDetail>, Status> {
        no()
    }
    async fn pause_schedule(
        &self,
        _: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        no()
    }
    async fn resume_schedule(
        &self,
        _: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        no()
    }
    async fn remove_schedule(
        &self,
        _: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        no()
    }
    async fn run_schedule_now(
        &self,
        _: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleRunInfo>, Status> {
        no()
    }
    async fn accept_schedule_run(
        &self,
        _: Request<pb::AcceptRunRequest>,
    ) -> Result<Response<pb::ScheduleRunInfo>, Status> {
        no()
    }
}

/// Starts the liar with `files`, runs `worker join` against it until the
/// job's failure is reported, and returns that failure's text.
fn failure_of_a_lease_naming(dir: &std::path::Path, files: Vec<pb::DataFile>) -> String {
    let payload = b"written by a hostile coordinator\n".to_vec();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let liar = Liar {
        files,
        payload,
        leased: Mutex::new(false),
        failures: failures.clone(),
    };
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(pb::coordinator_server::CoordinatorServer::new(liar))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut cmd = std::process::Command::new(bin("worker"));
    cmd.args([
        "join",
        &endpoint,
        "--slots",
        "1",
        "--name",
        "victim",
        "--cache-dir",
    ])
    .arg(dir.join("cache"))
    .env("RUST_LOG", "warn")
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    for var in TOKEN_VARS {
        cmd.env_remove(var);
    }
    let mut worker = cmd.spawn().unwrap();
    let failure = wait_for(
        "the worker to report the job as failed",
        Duration::from_secs(60),
        || failures.lock().unwrap().first().cloned(),
    );
    let _ = worker.kill();
    let _ = worker.wait();
    failure
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_lease_cannot_make_a_worker_write_outside_its_cache() {
    let dir = scratch("hostile");
    let payload = b"written by a hostile coordinator\n";
    let outside = dir.join("PWNED-absolute");
    let escape = "../PWNED-escape";
    let file = |path: String| pb::DataFile {
        path,
        sha256: sha256_hex(payload),
        bytes: payload.len() as u64,
    };
    let failure = failure_of_a_lease_naming(
        &dir,
        vec![
            file(outside.to_str().unwrap().to_string()),
            file(escape.to_string()),
        ],
    );
    assert!(
        failure.contains("not a known dataset file; refused")
            && failure.ends_with("[not retryable]"),
        "{failure}"
    );
    assert!(!outside.exists(), "{} was written", outside.display());
    assert!(
        !dir.join("PWNED-escape").exists(),
        "the `..` escape was written"
    );
    let cached = std::fs::read_dir(dir.join("cache"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(cached, 0, "nothing was written for the lease");
    std::fs::remove_dir_all(&dir).unwrap();
}
