//! Hostile and careless input against real `coordinator` and `worker`
//! processes, each test in the form "the attack, then the refusal", and
//! each ending with the same coordinator serving a normal sweep.

use std::time::Duration;

use sweep_e2e::{noop_sweep, scratch, wait_for, Coordinator, Worker};
use sweep_proto as pb;
use sweep_shared::{JobResult, JobSpec};

const LIMIT: Duration = Duration::from_secs(60);
const WORKER_TOKEN: &str = "worker-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-9876543210";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Submits `toml` and returns the refusal's text; fails if it was taken.
fn refused(c: &Coordinator, name: &str, toml: &str) -> String {
    let out = c.submit(name, toml);
    assert!(!out.status.success(), "{name} was accepted");
    stderr(&out)
}

/// A normal no-op sweep runs to its end on `c` with one worker of `env`.
fn serves_a_normal_sweep(c: &Coordinator, admin: &[(&str, &str)], worker: &[(&str, &str)]) {
    let file = c.dir.join("normal.toml");
    std::fs::write(&file, noop_sweep("normal", 3, 0, 10.0)).unwrap();
    let out = c.cli_with_env(&["submit", file.to_str().unwrap()], admin);
    assert!(out.status.success(), "{}", stderr(&out));
    let w = Worker::start_env(c, "normal", worker);
    let status = wait_for("the normal sweep to finish", LIMIT, || {
        let out = c.cli_with_env(&["status", "normal", "--json"], admin);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (s["state"] == "finished").then_some(s)
    });
    assert_eq!(status["done"].as_u64(), Some(3), "{}", w.log());
}

#[test]
fn hostile_sweep_files_are_refused_and_the_coordinator_keeps_serving() {
    let dir = scratch("hostile-sweeps");
    let c = Coordinator::start_with(&dir, 0, &[], &["--max-jobs", "5000"]).unwrap();
    let base = noop_sweep("bomb", 2, 0, 10.0);

    // Found: `seeds = 100000000000` made `serve` abort allocating 800 GB.
    let err = refused(
        &c,
        "seeds",
        &base.replace("seeds = 2", "seeds = 100000000000"),
    );
    assert!(
        err.contains("seeds") && err.contains("at most 1000000"),
        "{err}"
    );
    let err = refused(
        &c,
        "alphas",
        &base.replace(
            "objectives = [\"stl\"]",
            "objectives = [\"mtl\"]\nalphas = { start = 0.000001, stop = 0.999999, step = 1e-15 }",
        ),
    );
    assert!(
        err.contains("alphas") && err.contains("at most 1000"),
        "{err}"
    );
    // The job count is bounded (here by `--max-jobs 5000`), before expansion.
    let err = refused(&c, "jobs", &base.replace("seeds = 2", "seeds = 6000"));
    assert!(
        err.contains("6000 jobs") && err.contains("at most 5000"),
        "{err}"
    );
    // Found: `lease_timeout_secs = 1e19` panicked the core at the first lease.
    let err = refused(
        &c,
        "timeout",
        &base.replace("lease_timeout_secs = 10", "lease_timeout_secs = 1e19"),
    );
    assert!(err.contains("lease_timeout_secs"), "{err}");
    // Found: a sweep named `..` wrote its reports into the database's directory.
    let err = refused(
        &c,
        "dots",
        &base.replace("name = \"bomb\"", "name = \"..\""),
    );
    assert!(err.contains("name"), "{err}");
    let err = refused(
        &c,
        "slash",
        &base.replace("name = \"bomb\"", "name = \"../../etc\""),
    );
    assert!(err.contains("name"), "{err}");
    // Found: `hidden = [1000000, 1000000]` aborted the worker.
    for (line, field) in [
        ("hidden = [1000000, 1000000]", "hidden"),
        ("max_epochs = 1000000000", "max_epochs"),
        ("lime_samples = 1000000000", "lime_samples"),
        ("synthetic_rows = 1000000000", "synthetic_rows"),
    ] {
        let toml = noop_sweep("bomb", 2, 0, 10.0)
            .replace("[noop]", &format!("[training]\n{line}\n[noop]"));
        let err = refused(&c, field, &toml);
        assert!(err.contains(field), "{line}: {err}");
    }
    let err = refused(
        &c,
        "sleep",
        &base.replace("sleep_ms = 0", "sleep_ms = 100000000000"),
    );
    assert!(err.contains("sleep_ms"), "{err}");
    // A file far beyond any sweep's size is refused by its size.
    let huge = format!("{base}\n# {}\n", "x".repeat(2 * 1024 * 1024));
    let err = refused(&c, "huge", &huge);
    assert!(err.contains("bytes"), "{err}");

    serves_a_normal_sweep(&c, &[], &[]);
}

/// A gRPC client and a runtime to drive it from a plain test.
fn client(c: &Coordinator, token: Option<&str>) -> (tokio::runtime::Runtime, pb::Client) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = rt.block_on(pb::connect(&c.endpoint, token)).unwrap();
    (rt, client)
}

fn register(rt: &tokio::runtime::Runtime, c: &mut pb::Client, name: &str) -> String {
    rt.block_on(c.register(pb::RegisterRequest {
        protocol_version: pb::PROTOCOL_VERSION,
        name: name.into(),
        slots: 1,
    }))
    .unwrap()
    .into_inner()
    .worker_id
}

/// The no-op result of `spec`, as a worker reports it.
fn result_of(spec: &JobSpec) -> JobResult {
    sweep_worker::noop::simulate(spec, spec.noop.as_ref().unwrap()).unwrap()
}

fn report(
    rt: &tokio::runtime::Runtime,
    c: &mut pb::Client,
    worker_id: &str,
    job_key: &str,
    attempt: u32,
    result: &JobResult,
) -> Result<bool, tonic::Status> {
    rt.block_on(c.report_result(pb::ReportResultRequest {
        worker_id: worker_id.into(),
        job_key: job_key.into(),
        attempt,
        result_json: serde_json::to_string(result).unwrap(),
    }))
    .map(|r| r.into_inner().accepted)
}

fn refused_with(r: Result<bool, tonic::Status>, why: &str) {
    match r {
        Err(s) => {
            assert_eq!(s.code(), tonic::Code::FailedPrecondition, "{s:?}");
            assert!(s.message().contains(why), "{}", s.message());
        }
        Ok(accepted) => panic!("taken (accepted = {accepted}); expected a refusal: {why}"),
    }
}

#[test]
fn results_are_taken_only_from_the_lease_holder_and_for_the_jobs_own_spec() {
    let dir = scratch("forged");
    let c = Coordinator::start(&dir, None);
    assert!(c
        .submit("f", &noop_sweep("forged", 2, 0, 600.0))
        .status
        .success());
    let (rt, mut grpc) = client(&c, None);
    let a = register(&rt, &mut grpc, "a");
    let b = register(&rt, &mut grpc, "b");
    let lease = rt
        .block_on(grpc.lease(pb::LeaseRequest {
            worker_id: a.clone(),
            max_jobs: 1,
            wait_ms: 0,
        }))
        .unwrap()
        .into_inner()
        .leases
        .remove(0);
    let spec: JobSpec = serde_json::from_str(&lease.spec_json).unwrap();
    let key = lease.job_key.clone();
    let good = result_of(&spec);

    // Found: any worker id, registered or not, any attempt, was taken.
    refused_with(
        report(&rt, &mut grpc, "ghost", &key, 1, &good),
        "not the job's current lease",
    );
    refused_with(
        report(&rt, &mut grpc, &b, &key, 1, &good),
        "not the job's current lease",
    );
    refused_with(
        report(&rt, &mut grpc, &a, &key, 2, &good),
        "not the job's current lease",
    );
    // Found: reports took dataset, α and seed from the result's own spec.
    let mut misfiled = good.clone();
    misfiled.spec.seed += 1000;
    refused_with(
        report(&rt, &mut grpc, &a, &key, 1, &misfiled),
        "another job's spec",
    );
    refused_with(
        report(&rt, &mut grpc, &a, "no-such-job", 1, &good),
        "no such job",
    );

    // Found: a non-finite metric made the result be refused, so the job
    // failed later as "lease expired". It is stored, as null.
    let mut undefined = good.clone();
    undefined.metrics.gf = f64::NAN;
    undefined.metrics.r2_fg = f64::INFINITY;
    assert!(report(&rt, &mut grpc, &a, &key, 1, &undefined).unwrap());
    // A retried report is acknowledged, not stored twice.
    assert!(!report(&rt, &mut grpc, &a, &key, 1, &good).unwrap());
    let results = c.results("forged");
    assert_eq!(results.len(), 1);
    assert!(
        results[0]["result"]["metrics"]["gf"].is_null(),
        "{}",
        results[0]
    );

    // A cancelled sweep's job takes no result, whoever leased it.
    let second = rt
        .block_on(grpc.lease(pb::LeaseRequest {
            worker_id: b.clone(),
            max_jobs: 1,
            wait_ms: 0,
        }))
        .unwrap()
        .into_inner()
        .leases
        .remove(0);
    let second_spec: JobSpec = serde_json::from_str(&second.spec_json).unwrap();
    assert!(c.cli(&["cancel", "forged"]).status.success());
    refused_with(
        report(
            &rt,
            &mut grpc,
            &b,
            &second.job_key,
            second.attempt,
            &result_of(&second_spec),
        ),
        "cancelled",
    );
    drop(grpc);
    drop(rt);

    serves_a_normal_sweep(&c, &[], &[]);
}

#[test]
fn each_roles_token_is_denied_the_other_roles_calls() {
    let dir = scratch("roles");
    let env = [
        ("SWEEP_WORKER_TOKEN", WORKER_TOKEN),
        ("SWEEP_ADMIN_TOKEN", ADMIN_TOKEN),
    ];
    let c = Coordinator::start_with(&dir, 0, &env, &[]).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(&file, noop_sweep("roles", 2, 0, 10.0)).unwrap();
    let submit = |env: &[(&str, &str)]| c.cli_with_env(&["submit", file.to_str().unwrap()], env);

    // The gRPC health service needs no token, and tells only that.
    let health = c.cli_with_env(&["health"], &[]);
    assert!(health.status.success(), "{}", stderr(&health));
    assert_eq!(String::from_utf8_lossy(&health.stdout).trim(), "SERVING");
    // No token, a wrong one: unauthenticated.
    let err = stderr(&submit(&[]));
    assert!(err.contains("a valid token is required"), "{err}");
    let err = stderr(&submit(&[("SWEEP_TOKEN", "guess")]));
    assert!(err.contains("a valid token is required"), "{err}");
    // Found: workers and users shared one token, so a worker could submit,
    // cancel and read every result. Now the worker's token is denied.
    for args in [
        vec!["submit", file.to_str().unwrap()],
        vec!["list"],
        vec!["cancel", "roles"],
        vec!["schedule", "list"],
    ] {
        let out = c.cli_with_env(&args, &[("SWEEP_ADMIN_TOKEN", WORKER_TOKEN)]);
        assert!(
            !out.status.success(),
            "{args:?} passed with the worker token"
        );
        assert!(
            stderr(&out).contains("needs the admin token"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // And the admin's token cannot join as a worker.
    let mut w = Worker::start_env(&c, "usurper", &[("SWEEP_WORKER_TOKEN", ADMIN_TOKEN)]);
    let code = wait_for("the worker to be refused", LIMIT, || {
        w.child.try_wait().unwrap()
    });
    assert!(!code.success());
    assert!(w.log().contains("needs the worker token"), "{}", w.log());
    w.kill();

    serves_a_normal_sweep(
        &c,
        &[("SWEEP_ADMIN_TOKEN", ADMIN_TOKEN)],
        &[("SWEEP_WORKER_TOKEN", WORKER_TOKEN)],
    );
    // The simple mode: one SWEEP_TOKEN for both roles keeps working.
    let dir = scratch("roles-shared");
    let c = Coordinator::start_with(&dir, 0, &[("SWEEP_TOKEN", WORKER_TOKEN)], &[]).unwrap();
    serves_a_normal_sweep(
        &c,
        &[("SWEEP_TOKEN", WORKER_TOKEN)],
        &[("SWEEP_TOKEN", WORKER_TOKEN)],
    );
}

#[test]
fn empty_lone_or_missing_tokens_and_plaintext_off_loopback_are_refused_at_start() {
    let dir = scratch("start-refusals");
    // Found: an empty `--token-file` counted as a token.
    let empty = dir.join("empty.token");
    std::fs::write(&empty, "\n").unwrap();
    let log = Coordinator::start_with(&dir, 0, &[], &["--token-file", empty.to_str().unwrap()])
        .err()
        .expect("an empty token file is refused");
    assert!(log.contains("the token file is empty"), "{log}");
    let log = Coordinator::start_with(&dir, 0, &[("SWEEP_TOKEN", "")], &[])
        .err()
        .expect("an empty SWEEP_TOKEN is refused");
    assert!(log.contains("set but empty"), "{log}");
    let log = Coordinator::start_with(&dir, 0, &[("SWEEP_WORKER_TOKEN", WORKER_TOKEN)], &[])
        .err()
        .expect("a worker token alone is refused");
    assert!(log.contains("only a worker token is set"), "{log}");
    // Off loopback: tokens and TLS are required. Refused before binding,
    // so nothing here listens beyond 127.0.0.1.
    let log = Coordinator::start_with(&dir, 0, &[], &["--listen", "0.0.0.0:0"])
        .err()
        .expect("no tokens off loopback");
    assert!(log.contains("without tokens"), "{log}");
    let log = Coordinator::start_with(
        &dir,
        0,
        &[("SWEEP_TOKEN", WORKER_TOKEN)],
        &["--listen", "0.0.0.0:0"],
    )
    .err()
    .expect("plaintext off loopback");
    assert!(log.contains("refusing to serve plaintext"), "{log}");

    // A worker refuses an empty token too, naming it.
    let c = Coordinator::start(&dir, None);
    let mut w = Worker::start_env(&c, "empty", &[("SWEEP_WORKER_TOKEN", " ")]);
    let code = wait_for("the worker to refuse", LIMIT, || {
        w.child.try_wait().unwrap()
    });
    assert!(!code.success());
    assert!(
        w.log().contains("SWEEP_WORKER_TOKEN is set but empty"),
        "{}",
        w.log()
    );
    w.kill();
    serves_a_normal_sweep(&c, &[], &[]);
}

/// A CA, and a server certificate for 127.0.0.1 it signed, as PEM files
/// in `dir`; returns (ca, cert, key) paths.
fn certificates(dir: &std::path::Path) -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sweep test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    let write = |name: &str, pem: String| {
        let p = dir.join(name);
        std::fs::write(&p, pem).unwrap();
        p.to_str().unwrap().to_string()
    };
    (
        write("ca.pem", ca_cert.pem()),
        write("server.pem", server_cert.pem()),
        write("server.key", server_key.serialize_pem()),
    )
}

#[test]
fn a_sweep_runs_over_tls_with_a_self_signed_ca() {
    let dir = scratch("tls");
    let (ca, cert, key) = certificates(&dir);
    let env = [("SWEEP_TOKEN", ADMIN_TOKEN)];
    let c =
        Coordinator::start_with(&dir, 0, &env, &["--tls-cert", &cert, "--tls-key", &key]).unwrap();
    assert!(
        c.endpoint.starts_with("https://127.0.0.1:"),
        "{}",
        c.endpoint
    );
    let with_ca = [("SWEEP_TOKEN", ADMIN_TOKEN), ("SWEEP_TLS_CA", ca.as_str())];

    // Without the CA the client refuses to guess; with another CA the
    // handshake fails; in plaintext the TLS port does not answer.
    let out = c.cli_with_env(&["list"], &env);
    assert!(stderr(&out).contains("needs the CA"), "{}", stderr(&out));
    let other = scratch("tls-other");
    let (other_ca, _, _) = certificates(&other);
    let out = c.cli_with_env(
        &["list"],
        &[
            ("SWEEP_TOKEN", ADMIN_TOKEN),
            ("SWEEP_TLS_CA", other_ca.as_str()),
        ],
    );
    assert!(
        !out.status.success(),
        "a certificate of another CA was trusted"
    );
    let plain = c.endpoint.replace("https://", "http://");
    let out = std::process::Command::new(sweep_e2e::bin("coordinator"))
        .args(["list", "--endpoint", &plain])
        .env("SWEEP_TOKEN", ADMIN_TOKEN)
        .env_remove("SWEEP_TLS_CA")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "plaintext was answered on the TLS port"
    );

    let health = c.cli_with_env(&["health"], &[("SWEEP_TLS_CA", ca.as_str())]);
    assert_eq!(String::from_utf8_lossy(&health.stdout).trim(), "SERVING");
    serves_a_normal_sweep(&c, &with_ca, &with_ca);
}

#[test]
fn a_panicking_job_fails_and_releases_its_lease() {
    let dir = scratch("panic");
    let c = Coordinator::start(&dir, None);
    // A lease timeout of ten minutes: only the panic's report can end the
    // job within the test's deadline.
    let sweep = noop_sweep("panics", 1, 0, 600.0).replace("retry_limit = 5", "retry_limit = 2");
    assert!(c.submit("p", &sweep).status.success());
    let w = Worker::start_env(&c, "crashy", &[("SWEEP_NOOP_PANIC", "1")]);
    let status = wait_for("the panicking job to fail", LIMIT, || {
        let s = c.status("panics");
        (s["state"] == "finished").then_some(s)
    });
    assert_eq!(
        (status["failed"].as_u64(), status["running"].as_u64()),
        (Some(1), Some(0)),
        "{status} {}",
        w.log()
    );
    assert!(w.log().contains("panicked"), "{}", w.log());
    drop(w);
    serves_a_normal_sweep(&c, &[], &[]);
}

#[test]
fn a_corrupt_store_row_stops_the_coordinator_naming_it_and_an_old_timeout_cannot_wedge_it() {
    let dir = scratch("corrupt");
    let mut c = Coordinator::start(&dir, None);
    assert!(c
        .submit("w", &noop_sweep("waiting", 2, 0, 10.0))
        .status
        .success());
    c.kill();
    let db = dir.join("state.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    // Found: an unknown state was read as `queued`, silently rerunning work.
    conn.execute(
        "UPDATE jobs SET state = 'bogus' WHERE rowid = (SELECT MIN(rowid) FROM jobs)",
        [],
    )
    .unwrap();
    let log = Coordinator::start_with(&dir, 0, &[], &[])
        .err()
        .expect("a corrupt row is refused");
    assert!(
        log.contains("the jobs row `") && log.contains("unknown state `bogus`"),
        "{log}"
    );
    // Found: a stored `lease_timeout_secs = 1e19` panicked the core at every
    // start. Rows from before the bound are clamped, never a panic.
    conn.execute(
        "UPDATE jobs SET state = 'queued', lease_timeout_ms = 9223372036854775807",
        [],
    )
    .unwrap();
    drop(conn);
    let c = Coordinator::start(&dir, None);
    let w = Worker::start(&c, "after");
    let status = c.wait_finished("waiting", LIMIT);
    assert_eq!(status["done"].as_u64(), Some(2), "{}", w.log());
    drop(w);
    serves_a_normal_sweep(&c, &[], &[]);
}
