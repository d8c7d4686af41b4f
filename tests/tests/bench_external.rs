//! `sweep-local bench --coordinator`: the simulated workers in one process,
//! a real `coordinator serve` in another, its CPU read from its own
//! /proc/PID/stat. Two runs against one coordinator each do all their jobs
//! (job keys are content-addressed, so the second must not find the
//! first's done).

use std::process::Command;

use sweep_e2e::{bin, scratch, Coordinator};

#[test]
fn bench_against_a_coordinator_in_another_process() {
    let dir = scratch("bench-external");
    let c = Coordinator::start(&dir, None);
    let pid = c.child.id().to_string();
    for run in 0..2 {
        let out = Command::new(bin("sweep-local"))
            .args(["bench", "--workers", "4", "--jobs", "300"])
            .args(["--idle-workers", "50", "--idle-seconds", "1"])
            .args(["--coordinator", &c.endpoint, "--coordinator-pid", &pid])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "run {run}: {stderr}");
        let line = String::from_utf8_lossy(&out.stdout);
        let r: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(r["jobs"], 300, "{r}");
        assert_eq!(r["idle_workers"], 50, "{r}");
        // Every job was leased and reported in this run: a run that found
        // them done would have no report latencies.
        assert!(r["report_p50_ms"].as_f64().unwrap() > 0.0, "run {run}: {r}");
        let cpu = r["idle_cpu_cores"].as_f64().unwrap();
        assert!(cpu.is_finite() && cpu >= 0.0, "{r}");
    }
    // A pid that is no process is refused, not read as zero CPU.
    let wrong = Command::new(bin("sweep-local"))
        .args([
            "bench",
            "--coordinator",
            &c.endpoint,
            "--coordinator-pid",
            "999999999",
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("/proc/999999999/stat"));
    // The bench needs both flags or neither.
    let half = Command::new(bin("sweep-local"))
        .args(["bench", "--coordinator", &c.endpoint])
        .output()
        .unwrap();
    assert!(!half.status.success());
    assert!(String::from_utf8_lossy(&half.stderr).contains("--coordinator-pid"));
}
