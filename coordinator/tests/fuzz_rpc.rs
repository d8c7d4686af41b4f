//! Random byte strings as the payload of every RPC, sent to a real
//! coordinator over gRPC: each is answered with a status (most "failed to
//! decode", some a field's refusal), the server never panics or drops the
//! connection, and afterwards it still runs a normal sweep.

use std::time::Duration;

use bytes::{Buf, BufMut};
use proptest::prelude::*;
use sweep_coordinator::auth::Tokens;
use sweep_coordinator::server::{InProcess, ServerConfig};
use sweep_coordinator::sweep_file::limits::DEFAULT_MAX_JOBS;
use sweep_proto as pb;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Code, Status};

/// Cases in all, spread over the methods; CI runs at least 10,000.
const CASES: u32 = 10_000;

/// Every method, and whether it answers with a stream.
const METHODS: [(&str, bool); 21] = [
    ("Register", false),
    ("Lease", false),
    ("Heartbeat", false),
    ("ReportResult", false),
    ("ReportFailure", false),
    ("Deregister", false),
    ("FetchFile", true),
    ("SubmitSweep", false),
    ("SweepStatus", false),
    ("WatchSweep", true),
    ("CancelSweep", false),
    ("ListSweeps", false),
    ("ListResults", true),
    ("AddSchedule", false),
    ("ListSchedules", false),
    ("ShowSchedule", false),
    ("PauseSchedule", false),
    ("ResumeSchedule", false),
    ("RemoveSchedule", false),
    ("RunScheduleNow", false),
    ("AcceptScheduleRun", false),
];

/// Sends and receives messages as the raw bytes they are.
#[derive(Clone, Default)]
struct Raw;

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

/// Calls `method` with `payload`; the status code it ends with (`Ok` when
/// it was answered).
async fn call(channel: tonic::transport::Channel, method: usize, payload: Vec<u8>) -> Code {
    let (name, streaming) = METHODS[method];
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the server stays up");
    let path = PathAndQuery::from_maybe_shared(format!("/sweep.v1.Coordinator/{name}")).unwrap();
    let request = tonic::Request::new(payload);
    let outcome = if streaming {
        match grpc.server_streaming(request, path, Raw).await {
            Ok(mut stream) => {
                // A stream of status replies may go on: its first is enough.
                match tokio::time::timeout(Duration::from_millis(200), stream.get_mut().message())
                    .await
                {
                    Ok(Err(s)) => Err(s),
                    _ => Ok(()),
                }
            }
            Err(s) => Err(s),
        }
    } else {
        grpc.unary(request, path, Raw).await.map(|_| ())
    };
    match outcome {
        Ok(()) => Code::Ok,
        Err(s) => {
            assert!(
                !s.message().is_empty(),
                "{name}: a status without a message"
            );
            s.code()
        }
    }
}

#[test]
fn random_payloads_of_every_method_are_answered_and_the_server_keeps_serving() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("sweep-fuzz-rpc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server = rt
        .block_on(InProcess::start(ServerConfig {
            db: dir.join("state.db"),
            data_dir: dir.clone(),
            tokens: Tokens::open(),
            tls: None,
            insecure: false,
            max_jobs: DEFAULT_MAX_JOBS,
            tick: Duration::from_millis(50),
            live_reports: None,
            schedules: Some(sweep_coordinator::server::ScheduleConfig {
                tick: Duration::from_secs(3600),
                reports: dir.join("reports"),
                webhook_allow: vec![],
            }),
            http: None,
        }))
        .unwrap();
    let channel = rt.block_on(async {
        // Waits until the server answers.
        let _ = server.client().await.unwrap();
        tonic::transport::Endpoint::from_shared(server.endpoint.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    });
    let codes = std::cell::RefCell::new(std::collections::BTreeMap::new());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(0..METHODS.len(), prop::collection::vec(any::<u8>(), 0..256)),
            |(method, payload)| {
                let code = rt.block_on(call(channel.clone(), method, payload));
                // Never the code of a handler that panicked or a dropped
                // connection.
                prop_assert!(
                    !matches!(code, Code::Unknown | Code::Unavailable | Code::Cancelled),
                    "{}: {code:?}",
                    METHODS[method].0
                );
                *codes
                    .borrow_mut()
                    .entry(format!("{code:?}"))
                    .or_insert(0u32) += 1;
                Ok(())
            },
        )
        .unwrap();
    println!(
        "status codes over {CASES} random payloads: {:?}",
        codes.borrow()
    );

    // And a normal sweep still runs, through the same server.
    rt.block_on(async {
        let mut c = server.client().await.unwrap();
        let toml = "version = 1\nname = \"after\"\ndatasets = [\"friedman1\"]\nobjectives = [\"stl\"]\nseeds = 3\n[noop]\nsleep_ms = 0\n";
        c.submit_sweep(pb::SubmitSweepRequest {
            sweep_toml: toml.into(),
            source: "after.toml".into(),
        })
        .await
        .unwrap();
        let id = c
            .register(pb::RegisterRequest {
                protocol_version: pb::PROTOCOL_VERSION,
                name: "after".into(),
                slots: 1,
            })
            .await
            .unwrap()
            .into_inner()
            .worker_id;
        let leases = c
            .lease(pb::LeaseRequest {
                worker_id: id.clone(),
                max_jobs: 10,
                wait_ms: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .leases;
        assert_eq!(leases.len(), 3);
        for l in leases {
            let spec: sweep_shared::JobSpec = serde_json::from_str(&l.spec_json).unwrap();
            let result = sweep_worker::noop::simulate(&spec, spec.noop.as_ref().unwrap()).unwrap();
            let reply = c
                .report_result(pb::ReportResultRequest {
                    worker_id: id.clone(),
                    job_key: l.job_key,
                    attempt: l.attempt,
                    result_json: serde_json::to_string(&result).unwrap(),
                })
                .await
                .unwrap();
            assert!(reply.into_inner().accepted);
        }
        let status = c
            .sweep_status(pb::SweepRef {
                name: "after".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.done, 3);
    });
    rt.block_on(server.stop()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
