//! The coordinator and its workers as separate processes, under the
//! failures a cluster sees: dead workers, frozen workers, a crashed
//! coordinator, re-submissions, bad input and missing credentials.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;
use sweep_e2e::{noop_sweep, scratch, wait_for, Coordinator, Worker};

const LIMIT: Duration = Duration::from_secs(60);

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keys(results: &[Value]) -> HashSet<String> {
    results
        .iter()
        .map(|r| r["job_key"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_sweep_over_three_workers_completes_with_one_result_per_job() {
    let dir = scratch("three");
    let c = Coordinator::start(&dir, None);
    stdout(&c.submit("s", &noop_sweep("three", 24, 100, 10.0)));
    let _workers: Vec<Worker> = (0..3)
        .map(|i| Worker::start(&c, &format!("w{i}")))
        .collect();
    let status = c.wait_finished("three", LIMIT);
    assert_eq!(
        (status["done"].as_u64(), status["failed"].as_u64()),
        (Some(24), Some(0))
    );
    let results = c.results("three");
    assert_eq!(results.len(), 24);
    assert_eq!(keys(&results).len(), 24, "one result per job");
    let workers: HashSet<&str> = results
        .iter()
        .map(|r| r["worker_id"].as_str().unwrap())
        .collect();
    assert!(
        workers.len() >= 2,
        "the jobs were spread over the workers: {workers:?}"
    );
}

#[test]
fn a_killed_workers_job_is_leased_again_and_completes_elsewhere() {
    let dir = scratch("kill-worker");
    let c = Coordinator::start(&dir, None);
    stdout(&c.submit("s", &noop_sweep("killed", 2, 2500, 1.0)));
    let mut a = Worker::start(&c, "a");
    wait_for("worker a to hold a job", LIMIT, || {
        (c.status("killed")["running"].as_u64() == Some(1)).then_some(())
    });
    a.kill(); // SIGKILL: no goodbye, no report
    let _b = Worker::start(&c, "b");
    let status = c.wait_finished("killed", LIMIT);
    assert_eq!(status["done"].as_u64(), Some(2));
    let results = c.results("killed");
    assert_eq!(results.len(), 2);
    assert!(
        results.iter().any(|r| r["attempt"].as_u64() >= Some(2)),
        "the killed worker's job was leased again: {results:?}"
    );
}

#[test]
fn a_frozen_workers_late_result_is_ignored() {
    let dir = scratch("sigstop");
    let c = Coordinator::start(&dir, None);
    // A lease of 3 s: long enough that worker b's heartbeats keep it on a
    // loaded machine (the whole suite runs at once), short enough to wait for.
    stdout(&c.submit("s", &noop_sweep("frozen", 1, 3000, 3.0)));
    let a = Worker::start(&c, "a");
    wait_for("worker a to hold the job", LIMIT, || {
        (c.status("frozen")["running"].as_u64() == Some(1)).then_some(())
    });
    a.signal("STOP");
    // Its heartbeats stop: the lease expires and the job is queued again.
    wait_for("the lease to expire", LIMIT, || {
        (c.status("frozen")["queued"].as_u64() == Some(1)).then_some(())
    });
    let _b = Worker::start(&c, "b");
    c.wait_finished("frozen", LIMIT);
    a.signal("CONT");
    wait_for("worker a to report its late result", LIMIT, || {
        a.log().contains("report not needed").then_some(())
    });
    let results = c.results("frozen");
    assert_eq!(results.len(), 1, "nothing duplicated");
    assert_eq!(
        results[0]["attempt"].as_u64(),
        Some(2),
        "the result of the second lease stands"
    );
}

/// A small real training sweep: deterministic, a few seconds of work.
fn tiny_training_sweep(name: &str) -> String {
    format!(
        "version = 1\nname = \"{name}\"\ndatasets = [\"friedman1\", \"moons\"]\nobjectives = [\"stl\", \"mtl\"]\n\
         alphas = [0.2, 0.8]\nseeds = 3\nlease_timeout_secs = 5\n\
         [training]\nhidden = [64, 32]\nmax_epochs = 10\npatience = 10\nsynthetic_rows = 2000\nlime_samples = 300\ngnf_max_points = 20\n"
    )
}

/// Results by job key, without the wall-clock fields.
fn science(results: &[Value]) -> HashMap<String, Value> {
    results
        .iter()
        .map(|r| {
            let mut result = r["result"].clone();
            let m = result["metrics"].as_object_mut().unwrap();
            m.remove("train_seconds");
            m.remove("eval_seconds");
            (r["job_key"].as_str().unwrap().to_string(), result)
        })
        .collect()
}

#[test]
fn a_coordinator_killed_mid_sweep_resumes_and_matches_an_undisturbed_run() {
    // Undisturbed.
    let calm_dir = scratch("calm");
    let calm = Coordinator::start(&calm_dir, None);
    stdout(&calm.submit("s", &tiny_training_sweep("tiny")));
    let w = Worker::start(&calm, "calm");
    calm.wait_finished("tiny", LIMIT);
    let expected = science(&calm.results("tiny"));
    drop(w);
    assert_eq!(expected.len(), 18);

    // Killed with SIGKILL part-way, restarted on the same state and port.
    let dir = scratch("crash");
    let mut c = Coordinator::start(&dir, None);
    stdout(&c.submit("s", &tiny_training_sweep("tiny")));
    let _w1 = Worker::start(&c, "x");
    let _w2 = Worker::start(&c, "y");
    let done = wait_for("a few results", LIMIT, || {
        let done = c.status("tiny")["done"].as_u64().unwrap();
        (done >= 3).then_some(done)
    });
    let port = c.port;
    c.kill();
    assert!(
        done < 18,
        "the coordinator died mid-sweep ({done} of 18 done)"
    );
    let c = Coordinator::start_on(&dir, port, None);
    let status = c.wait_finished("tiny", LIMIT);
    assert_eq!(status["done"].as_u64(), Some(18));
    assert_eq!(science(&c.results("tiny")), expected);
}

#[test]
fn resubmitting_runs_nothing_and_extending_runs_only_the_new_jobs() {
    let dir = scratch("resubmit");
    let c = Coordinator::start(&dir, None);
    assert!(stdout(&c.submit("a", &noop_sweep("grow", 3, 10, 10.0)))
        .contains("3 jobs, 0 already done, 3 to run"));
    let _w = Worker::start(&c, "w");
    c.wait_finished("grow", LIMIT);
    assert!(stdout(&c.submit("b", &noop_sweep("grow", 3, 10, 10.0)))
        .contains("3 jobs, 3 already done, 0 to run"));
    assert_eq!(c.status("grow")["state"], "finished");
    assert!(stdout(&c.submit("c", &noop_sweep("grow", 5, 10, 10.0)))
        .contains("5 jobs, 3 already done, 2 to run"));
    c.wait_finished("grow", LIMIT);
    let results = c.results("grow");
    assert_eq!(results.len(), 5);
    assert!(
        results.iter().all(|r| r["attempt"].as_u64() == Some(1)),
        "nothing ran twice"
    );
}

#[test]
fn bad_sweep_files_and_calls_without_the_token_are_refused() {
    let dir = scratch("refused");
    let c = Coordinator::start(&dir, Some("s3cret"));
    let with = |args: &[&str], token| c.cli_with_token(args, token);

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        noop_sweep("bad", 2, 0, 1.0).replace("seeds = 2", "seeds = 0"),
    )
    .unwrap();
    let out = with(&["submit", bad.to_str().unwrap()], Some("s3cret"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml: seeds: must be at least 1"), "{err}");

    std::fs::write(
        &bad,
        noop_sweep("bad", 2, 0, 1.0).replace("objectives", "objective"),
    )
    .unwrap();
    let err =
        String::from_utf8_lossy(&with(&["submit", bad.to_str().unwrap()], Some("s3cret")).stderr)
            .into_owned();
    assert!(err.contains("unknown field `objective`"), "{err}");

    let out = with(&["list"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a valid token is required"));
    let out = with(&["list"], Some("wrong"));
    assert!(!out.status.success());
    assert!(with(&["list"], Some("s3cret")).status.success());

    // A worker without the token is refused and says so.
    let mut w = Worker::start_with(&c, "anon", None);
    let code = wait_for("the worker to give up", LIMIT, || {
        w.child.try_wait().unwrap()
    });
    assert!(!code.success());
    assert!(w.log().contains("refused"), "{}", w.log());
    w.kill();
}

#[test]
fn a_worker_without_data_fetches_the_files_from_the_coordinator_once() {
    let dir = scratch("fetch");
    let c = Coordinator::start(&dir, None);
    let sweep = "version = 1\nname = \"mpg\"\ndatasets = [\"autompg\"]\nobjectives = [\"stl\"]\nseeds = 2\n\
                 [training]\nhidden = [8]\nmax_epochs = 2\nlime_samples = 100\ngnf_max_points = 10\n";
    stdout(&c.submit("s", sweep));
    let w = Worker::start(&c, "empty");
    let status = c.wait_finished("mpg", LIMIT);
    assert_eq!(status["done"].as_u64(), Some(2), "{}", w.log());
    let cached = dir.join("cache-empty/auto-mpg/auto-mpg.data");
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(sweep_e2e::shared_datasets().join("auto-mpg/auto-mpg.data")).unwrap()
    );
    assert_eq!(
        w.log().matches("dataset file fetched").count(),
        1,
        "fetched once: {}",
        w.log()
    );
}

#[test]
fn sigterm_lets_a_worker_finish_its_job_then_leave() {
    let dir = scratch("drain");
    let c = Coordinator::start(&dir, None);
    stdout(&c.submit("s", &noop_sweep("drain", 3, 1500, 10.0)));
    let mut w = Worker::start(&c, "w");
    wait_for("the worker to hold a job", LIMIT, || {
        (c.status("drain")["running"].as_u64() == Some(1)).then_some(())
    });
    w.signal("TERM");
    let code = wait_for("the worker to exit", LIMIT, || w.child.try_wait().unwrap());
    assert!(code.success(), "{}", w.log());
    let s = c.status("drain");
    assert_eq!(
        (s["done"].as_u64(), s["running"].as_u64()),
        (Some(1), Some(0)),
        "its job finished, no new one was taken"
    );
    assert!(w.log().contains("deregistered"), "{}", w.log());
}

#[test]
fn a_worker_whose_coordinator_is_unreachable_still_stops_on_sigterm() {
    // A port nothing listens on: the worker keeps retrying its registration.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = scratch("unreachable").join("worker.log");
    let mut child = std::process::Command::new(sweep_e2e::bin("worker"))
        .args(["join", &format!("http://127.0.0.1:{port}"), "--slots", "1"])
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for("the worker to be retrying", LIMIT, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("coordinator unreachable").then_some(())
    });
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let code = wait_for("the worker to exit", LIMIT, || child.try_wait().unwrap());
    assert!(code.success());
}

#[test]
fn a_served_sweeps_report_follows_its_results_and_is_final_at_the_end() {
    let dir = scratch("live-report");
    let c = Coordinator::start(&dir, None);
    stdout(&c.submit("s", &noop_sweep("live", 3, 2500, 30.0)));
    let _w = Worker::start(&c, "w");
    let report = dir.join("reports/live/report.md");
    // Written after the first result, while the other two still run.
    let partial = wait_for("a report mid-sweep", LIMIT, || {
        std::fs::read_to_string(&report).ok()
    });
    assert_eq!(c.status("live")["state"], "running");
    assert!(partial.contains("(n=1)"), "{partial}");
    c.wait_finished("live", LIMIT);
    wait_for("the final report", LIMIT, || {
        let text = std::fs::read_to_string(&report).ok()?;
        (!text.contains("(n=")).then_some(())
    });
    assert!(dir.join("reports/live/runs.parquet").exists());
}
