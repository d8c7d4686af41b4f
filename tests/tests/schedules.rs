//! Scheduled runs with the real binaries: `coordinator serve`, `worker
//! join`, and `coordinator schedule ...` as a user types it.

use std::time::Duration;

use sweep_e2e::{scratch, wait_for, webhook_receiver, Coordinator, Worker};

const SWEEP: &str = "version = 1\nname = \"bench\"\ndatasets = [\"friedman1\", \"moons\"]\n\
objectives = [\"stl\", \"mtl\"]\nalphas = [0.5]\nseeds = 3\n[noop]\nsleep_ms = 20\n";

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until run `seq` of `schedule` has an outcome other than running.
fn wait_outcome(c: &Coordinator, schedule: &str, seq: usize) -> serde_json::Value {
    wait_for(
        &format!("run {seq} of {schedule} to finish"),
        Duration::from_secs(60),
        || {
            let shown: serde_json::Value =
                serde_json::from_str(&ok(c.cli(&["schedule", "show", schedule, "--json"])))
                    .unwrap();
            let run = shown["runs"].get(seq - 1)?.clone();
            (run["outcome"] != "running").then_some(run)
        },
    )
}

#[test]
fn a_scheduled_run_with_shifted_metrics_is_flagged_and_announced() {
    let dir = scratch("schedule-e2e");
    // The test's webhook receiver is on loopback, which only an allowed
    // host may reach.
    let c = Coordinator::start_with(&dir, 0, &[], &["--webhook-allow-host", "127.0.0.1"]).unwrap();
    let secret = dir.join("webhook.secret");
    std::fs::write(&secret, "a-schedule-secret-0123\n").unwrap();
    let sweep = dir.join("bench.toml");
    std::fs::write(&sweep, SWEEP).unwrap();
    let (url, hook) = webhook_receiver();

    // Bad input is refused with the field named.
    let bad = c.cli(&[
        "schedule",
        "add",
        "nightly",
        "--sweep",
        sweep.to_str().unwrap(),
        "--cron",
        "0 25 * * *",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cron: `0 25 * * *` is not valid"));

    let added = ok(c.cli(&[
        "schedule",
        "add",
        "nightly",
        "--sweep",
        sweep.to_str().unwrap(),
        "--cron",
        "0 2 * * *",
        "--tz",
        "Europe/Paris",
        "--webhook",
        &url,
        "--webhook-secret-file",
        secret.to_str().unwrap(),
    ]));
    assert!(
        added.contains("schedule nightly: `0 2 * * *` (Europe/Paris), enabled"),
        "{added}"
    );
    // Editing the file later changes nothing: the schedule froze it.
    std::fs::write(&sweep, SWEEP.replace("seeds = 3", "seeds = 1")).unwrap();

    let _w = Worker::start(&c, "w1");
    assert!(
        ok(c.cli(&["schedule", "run-now", "nightly"])).contains("run 1 started as sweep nightly-1")
    );
    let first = wait_outcome(&c, "nightly", 1);
    assert_eq!(first["outcome"], "pass");
    let pass = hook.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(pass["outcome"], "pass");
    assert_eq!(
        c.status("nightly-1")["total"],
        12,
        "the frozen file has 3 seeds"
    );

    // A worker whose no-op metrics are shifted, as a bad code change would.
    drop(_w);
    let _bad = Worker::start_env(&c, "w2", &[("SWEEP_NOOP_METRIC_SHIFT", "0.3")]);
    ok(c.cli(&["schedule", "run-now", "nightly"]));
    let second = wait_outcome(&c, "nightly", 2);
    assert_eq!(second["outcome"], "regression");
    assert_eq!(second["baseline"], "nightly-1");
    let alert = hook.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(alert["outcome"], "regression");
    assert!(!alert["regressions"].as_array().unwrap().is_empty());

    let shown = ok(c.cli(&["schedule", "show", "nightly"]));
    println!("{shown}");
    assert!(
        shown.contains("pass") && shown.contains("regression"),
        "{shown}"
    );
    assert!(
        shown.contains("regressed: friedman1 mtl α=0.5 mse: "),
        "{shown}"
    );
    assert!(
        shown.contains("… and 28 more (compare.md in the report)"),
        "{shown}"
    );
    let flagged = second["flagged"].as_array().unwrap();
    assert!(flagged
        .iter()
        .any(|f| f.as_str().unwrap().starts_with("moons stl gf: ")));
    let report = std::path::PathBuf::from(second["report_dir"].as_str().unwrap());
    for file in [
        "report.md",
        "compare.md",
        "compare.parquet",
        "history-gf.png",
        "plots/moons.png",
    ] {
        assert!(
            report.join(file).exists(),
            "{}",
            report.join(file).display()
        );
    }

    // The regression is the new normal: accepted, and shown as such.
    let accepted = ok(c.cli(&[
        "schedule",
        "accept",
        "nightly",
        "2",
        "--note",
        "slower on purpose",
    ]));
    assert!(
        accepted.contains("run 2 (nightly-2) is the reference"),
        "{accepted}"
    );
    let shown = ok(c.cli(&["schedule", "show", "nightly"]));
    assert!(
        shown.contains("accepted as the reference at") && shown.contains(": slower on purpose"),
        "{shown}"
    );

    ok(c.cli(&["schedule", "pause", "nightly"]));
    assert!(ok(c.cli(&["schedule", "list"])).contains("paused"));
    ok(c.cli(&["schedule", "remove", "nightly"]));
    let gone = c.cli(&["schedule", "show", "nightly"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no schedule named `nightly`"));
    drop(c);
    std::fs::remove_dir_all(&dir).unwrap();
}
