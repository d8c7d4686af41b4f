//! The dashboard of a running sweep in a real browser (headless Chromium,
//! Debian's `chromium`), `/metrics` read by a Prometheus text-format
//! parser as the sweep runs, and `/healthz`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sweep_e2e::{scratch, wait_for, Coordinator, Worker};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium with `args` on `url`, within a deadline; its stdout.
fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing (Debian: apt-get install chromium; .ci/run installs it)"
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish with {url} within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    out
}

fn dom(profile: &Path, url: &str) -> String {
    // Time for the page's refresher to run once after the load.
    chromium(profile, &["--virtual-time-budget=2500", "--dump-dom"], url)
}

fn screenshot(profile: &Path, url: &str, png: &Path) {
    chromium(
        profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,1100",
        ],
        url,
    );
    assert!(png.metadata().unwrap().len() > 10_000, "{}", png.display());
}

/// Every `(n=…)` the page's tables show, in order.
fn counts_shown(html: &str) -> Vec<u32> {
    html.match_indices("(n=")
        .filter_map(|(i, _)| {
            let rest = &html[i + 3..];
            rest[..rest.find(')')?].parse().ok()
        })
        .collect()
}

fn scrape(url: &str) -> prometheus_parse::Scrape {
    let body = ureq::get(&format!("{url}/metrics"))
        .call()
        .expect("/metrics answers")
        .into_string()
        .unwrap();
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap()
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
        .unwrap_or_else(|| panic!("no sample {metric} {labels:?}"))
}

#[test]
fn the_dashboard_shows_a_running_sweep_and_metrics_move_with_it() {
    let dir = scratch("dashboard");
    let profile = dir.join("chromium");
    let c = Coordinator::start_with(&dir, 0, &[], &["--http", "127.0.0.1:0"]).unwrap();
    let web = c.dashboard.clone().expect("a dashboard address");
    assert!(web.starts_with("http://127.0.0.1:"), "{web}");

    let health = ureq::get(&format!("{web}/healthz")).call().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.into_string().unwrap(), "ok\n");
    let before = scrape(&web);
    assert_eq!(value(&before, "sweep_leases_granted_total", &[]), 0.0);

    // 2 cells × 16 seeds of 300 ms on one worker: about ten seconds.
    let sweep = r#"version = 1
name = "live"
datasets = ["friedman1"]
objectives = ["stl", "mtl"]
alphas = [0.5]
seeds = 16
[noop]
sleep_ms = 300
noise = 0.01
"#;
    let out = c.submit("live", sweep);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _worker = Worker::start(&c, "dash-worker");
    let done = |at_least: u64| {
        wait_for("progress", Duration::from_secs(60), || {
            let s = c.status("live");
            (s["done"].as_u64()? >= at_least).then_some(())
        })
    };
    done(4);

    let home = dom(&profile, &format!("{web}/"));
    assert!(home.contains("data-sweep=\"live\""), "{home}");
    assert!(home.contains("class=\"bar\""), "the progress bar: {home}");
    assert!(home.contains("dash-worker"), "the worker: {home}");
    assert!(home.contains("/32</td>"), "done of 32: {home}");

    let early = dom(&profile, &format!("{web}/sweeps/live"));
    assert!(early.contains("friedman1"), "{early}");
    let early_n = counts_shown(&early);
    assert!(
        !early_n.is_empty(),
        "cells with fewer seeds than planned: {early}"
    );
    screenshot(&profile, &format!("{web}/"), &dir.join("dashboard.png"));
    screenshot(
        &profile,
        &format!("{web}/sweeps/live"),
        &dir.join("dashboard-sweep.png"),
    );
    if let Some(docs) = std::env::var_os("SWEEP_DASHBOARD_SCREENSHOTS") {
        let docs = PathBuf::from(docs);
        std::fs::copy(dir.join("dashboard.png"), docs.join("dashboard.png")).unwrap();
        std::fs::copy(
            dir.join("dashboard-sweep.png"),
            docs.join("dashboard-sweep.png"),
        )
        .unwrap();
    }

    done(20);
    let later = dom(&profile, &format!("{web}/sweeps/live"));
    let later_n = counts_shown(&later);
    assert_ne!(early_n, later_n, "a table cell changed as results arrived");
    let mid = scrape(&web);
    assert!(
        value(&mid, "sweep_leases_granted_total", &[]) >= 20.0,
        "leases granted moved"
    );
    assert!(value(&mid, "sweep_results_total", &[("outcome", "accepted")]) >= 20.0);
    assert!(value(&mid, "sweep_workers_connected", &[]) >= 1.0);

    c.wait_finished("live", Duration::from_secs(60));
    let after = scrape(&web);
    assert_eq!(
        value(
            &after,
            "sweep_jobs",
            &[("sweep", "live"), ("state", "done")]
        ),
        32.0
    );
    assert_eq!(
        value(&after, "sweep_results_total", &[("outcome", "accepted")]),
        32.0
    );
    assert!(value(&after, "sweep_store_commit_seconds_count", &[]) > 0.0);
    assert!(value(&after, "sweep_lease_latency_seconds_count", &[]) > 0.0);
    let finished = dom(&profile, &format!("{web}/sweeps/live"));
    assert!(
        counts_shown(&finished).is_empty(),
        "every cell has all 16 seeds"
    );
    assert!(finished.contains("<svg"), "the trade-off plot inline");
    assert!(
        finished.contains("/sweeps/live/files/runs.parquet"),
        "downloads"
    );
    let runs = ureq::get(&format!("{web}/sweeps/live/files/runs.parquet"))
        .call()
        .unwrap();
    assert_eq!(
        runs.header("content-type"),
        Some("application/octet-stream")
    );
    let escape = ureq::get(&format!("{web}/sweeps/live/files/..%2Fstate.db")).call();
    assert!(
        matches!(escape, Err(ureq::Error::Status(404, _))),
        "only the report's own files: {escape:?}"
    );

    // A schedule's page: its run, the outcome and the history plot.
    let file = dir.join("nightly.toml");
    std::fs::write(&file, sweep_e2e::noop_sweep("nightly", 3, 20, 30.0)).unwrap();
    let ok = |args: &[&str]| {
        let out = c.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&[
        "schedule",
        "add",
        "nightly",
        "--sweep",
        file.to_str().unwrap(),
        "--cron",
        "0 2 * * *",
    ]);
    ok(&["schedule", "run-now", "nightly"]);
    let page = wait_for("the scheduled run to pass", Duration::from_secs(60), || {
        let page = ureq::get(&format!("{web}/schedules/nightly?fragment=1"))
            .call()
            .ok()?
            .into_string()
            .ok()?;
        (page.contains("pill pass") && page.contains("<svg")).then_some(page)
    });
    assert!(
        page.contains("#1") && page.contains("/sweeps/nightly-1"),
        "{page}"
    );
    let home = dom(&profile, &format!("{web}/"));
    assert!(home.contains("/schedules/nightly"), "{home}");
}
