//! Long-poll leases: an idle worker makes one `Lease` call per wait, not
//! one per poll, and work submitted while it waits reaches it at once.

use std::time::{Duration, Instant};

use sweep_e2e::{noop_sweep, scratch, wait_for, Coordinator, Worker};

fn lease_calls(web: &str) -> f64 {
    let body = ureq::get(&format!("{web}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix("sweep_lease_calls_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("sweep_lease_calls_total")
}

#[test]
fn an_idle_worker_waits_on_one_call_and_wakes_when_work_arrives() {
    let dir = scratch("long-poll");
    let c = Coordinator::start_with(&dir, 0, &[], &["--http", "127.0.0.1:0"]).unwrap();
    let web = c.dashboard.clone().unwrap();
    let worker = Worker::start(&c, "idle");
    wait_for("the worker to register", Duration::from_secs(30), || {
        worker.log().contains("registered").then_some(())
    });
    let before = lease_calls(&web);
    // Three seconds idle: a 200 ms poll would be 15 calls.
    std::thread::sleep(Duration::from_secs(3));
    let idle = lease_calls(&web) - before;
    assert!(idle <= 1.0, "{idle} lease calls answered while idle");

    let submitted = Instant::now();
    let out = c.submit("wake", &noop_sweep("wake", 1, 0, 30.0));
    assert!(out.status.success());
    c.wait_finished("wake", Duration::from_secs(30));
    let took = submitted.elapsed();
    // Not a timing assertion on the code's speed: the bound is the 20 s
    // wait the worker asked for, which a missed wake-up would run into.
    assert!(
        took < Duration::from_secs(10),
        "woken by the submission: {took:?}"
    );
    eprintln!("idle lease calls in 3 s: {idle}; submission to result: {took:?}");
}
