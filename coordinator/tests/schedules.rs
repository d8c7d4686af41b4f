//! Scheduled runs against a controllable clock: the scheduler and the core
//! are the real ones on a real database; the clock moves only when a test
//! says so, and a stand-in worker completes jobs through the core with the
//! real no-op job kind.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sweep_coordinator::core::Core;
use sweep_coordinator::ids::WorkerId;
use sweep_coordinator::report::compare::Thresholds;
use sweep_coordinator::schedule::clock::ManualClock;
use sweep_coordinator::schedule::schedules::{NewSchedule, Schedules, SchedulesConfig};
use sweep_coordinator::schedule::store::ScheduleStore;
use sweep_coordinator::schedule::{rpc, webhook, Outcome, Run, Trigger};
use sweep_shared::JobSpec;

const SWEEP: &str = "version = 1\nname = \"bench\"\ndatasets = [\"friedman1\", \"moons\"]\n\
objectives = [\"stl\", \"mtl\"]\nalphas = [0.5]\nseeds = 3\n[noop]\nsleep_ms = 0\n";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Setup {
    dir: PathBuf,
    clock: Arc<ManualClock>,
    core: Core,
    scheduler: Schedules,
}

fn dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sweep-sched-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A coordinator core and scheduler on `dir`'s database, as after a start.
fn start(dir: &Path, clock: Arc<ManualClock>) -> Setup {
    // The test's webhook receiver listens on loopback.
    start_allowing(dir, clock, vec!["127.0.0.1".into()])
}

/// [`start`], webhooks allowed to reach `allow` though it is not public.
fn start_allowing(dir: &Path, clock: Arc<ManualClock>, allow: Vec<String>) -> Setup {
    let db = dir.join("state.db");
    let core = Core::start(&db, Duration::from_millis(50)).unwrap();
    let scheduler = Schedules::new(
        core.clone(),
        SchedulesConfig {
            db,
            data_dir: dir.to_path_buf(),
            reports: dir.join("reports"),
            late_after: Duration::from_secs(5),
            max_jobs: 1_000_000,
            webhook_allow: allow,
        },
        clock.clone(),
    )
    .unwrap();
    Setup {
        dir: dir.to_path_buf(),
        clock,
        core,
        scheduler,
    }
}

fn schedule(name: &str, cron: &str, webhook: Option<String>) -> NewSchedule {
    NewSchedule {
        name: name.into(),
        sweep_toml: SWEEP.into(),
        source: "bench.toml".into(),
        cron: cron.into(),
        tz: "UTC".into(),
        baseline: "previous".into(),
        thresholds: Thresholds::default(),
        metric: "gf".into(),
        webhook_secret: webhook.as_ref().map(|_| "a-schedule-secret-0123".into()),
        webhook,
        paused: false,
    }
}

/// A stand-in worker: leases every queued job and reports the no-op
/// result, every metric shifted by `shift`. Returns the jobs done.
async fn work(core: &Core, shift: f64) -> usize {
    let worker = WorkerId::from("stand-in");
    core.register(worker.clone(), "stand-in".into(), 1)
        .await
        .unwrap();
    let mut done = 0;
    loop {
        let granted = core.lease(worker.clone(), 64).await.unwrap();
        if granted.is_empty() {
            return done;
        }
        for g in granted {
            let spec: JobSpec = serde_json::from_str(&g.spec_json).unwrap();
            let result =
                sweep_worker::noop::simulate_shifted(&spec, spec.noop.as_ref().unwrap(), shift)
                    .unwrap();
            let result_json = serde_json::to_string(&result).unwrap();
            core.report_result(worker.clone(), g.key, g.attempt, result_json, spec)
                .await
                .unwrap();
            done += 1;
        }
    }
}

impl Setup {
    async fn tick_at(&self, at: &str) {
        self.clock.set(t(at));
        self.scheduler.tick().await.unwrap();
    }

    fn runs(&self, name: &str) -> Vec<Run> {
        self.scheduler.show(name).unwrap().1
    }
}

fn dues(runs: &[Run]) -> Vec<(String, &'static str)> {
    runs.iter()
        .map(|r| {
            (
                sweep_coordinator::schedule::at_ms(r.due_ms)
                    .format("%H:%M:%S")
                    .to_string(),
                r.outcome.name(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_schedule_due_every_minute_fires_at_its_due_times() {
    let d = dir("minute");
    let s = start(&d, ManualClock::new(t("2026-01-01T10:00:30Z")));
    s.scheduler
        .add(schedule("m", "* * * * *", None))
        .await
        .unwrap();
    s.tick_at("2026-01-01T10:00:59Z").await;
    assert!(s.runs("m").is_empty(), "nothing is due before 10:01");
    s.tick_at("2026-01-01T10:01:00.300Z").await;
    let runs = s.runs("m");
    assert_eq!(dues(&runs), [("10:01:00".to_string(), "running")]);
    assert_eq!(
        (runs[0].trigger, runs[0].sweep.as_str()),
        (Trigger::Cron, "m-1")
    );
    assert_eq!(work(&s.core, 0.0).await, 12);
    s.tick_at("2026-01-01T10:01:40Z").await;
    assert_eq!(dues(&s.runs("m")), [("10:01:00".to_string(), "pass")]);
    s.tick_at("2026-01-01T10:02:00.100Z").await;
    assert_eq!(
        work(&s.core, 0.0).await,
        12,
        "the second run has fresh jobs"
    );
    s.tick_at("2026-01-01T10:02:30Z").await;
    assert_eq!(
        dues(&s.runs("m")),
        [
            ("10:01:00".to_string(), "pass"),
            ("10:02:00".to_string(), "pass")
        ]
    );
    // The second run was compared with the first (unchanged code: a pass).
    let second = &s.runs("m")[1];
    assert_eq!(second.baseline.as_deref(), Some("m-1"));
    assert!(Path::new(&second.report_dir)
        .join("compare.parquet")
        .exists());
    assert!(Path::new(&second.report_dir)
        .join("history-gf.png")
        .exists());
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn an_overlapping_run_is_skipped_not_started_twice() {
    let d = dir("overlap");
    let s = start(&d, ManualClock::new(t("2026-01-01T10:00:30Z")));
    s.scheduler
        .add(schedule("o", "* * * * *", None))
        .await
        .unwrap();
    s.tick_at("2026-01-01T10:01:00.100Z").await;
    s.tick_at("2026-01-01T10:02:00.100Z").await;
    s.tick_at("2026-01-01T10:03:00.100Z").await;
    let runs = s.runs("o");
    assert_eq!(
        dues(&runs),
        [
            ("10:01:00".to_string(), "running"),
            ("10:02:00".to_string(), "skipped"),
            ("10:03:00".to_string(), "skipped")
        ]
    );
    assert!(runs[1].detail.contains("o-1"), "{}", runs[1].detail);
    let err = s.scheduler.run_now("o").await.unwrap_err().to_string();
    assert!(err.contains("still in progress"), "{err}");
    assert_eq!(work(&s.core, 0.0).await, 12);
    s.tick_at("2026-01-01T10:03:30Z").await;
    s.tick_at("2026-01-01T10:04:00.100Z").await;
    let runs = s.runs("o");
    assert_eq!(runs[0].outcome, Outcome::Pass);
    assert_eq!(
        (runs[3].outcome, runs[3].sweep.as_str()),
        (Outcome::Running, "o-4")
    );
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_coordinator_down_across_three_due_times_catches_up_once() {
    let d = dir("catchup");
    let clock = ManualClock::new(t("2026-01-01T10:00:30Z"));
    let s = start(&d, clock.clone());
    s.scheduler
        .add(schedule("c", "* * * * *", None))
        .await
        .unwrap();
    s.tick_at("2026-01-01T10:01:00.100Z").await;
    work(&s.core, 0.0).await;
    s.tick_at("2026-01-01T10:01:10Z").await;
    drop(s);

    // Down from 10:01:10 to 10:04:30: due at 10:02, 10:03 and 10:04.
    let s = start(&d, clock);
    s.tick_at("2026-01-01T10:04:30Z").await;
    s.tick_at("2026-01-01T10:04:40Z").await;
    let runs = s.runs("c");
    assert_eq!(
        dues(&runs),
        [
            ("10:01:00".to_string(), "pass"),
            ("10:04:00".to_string(), "running")
        ]
    );
    assert_eq!(runs[1].trigger, Trigger::CatchUp { missed: 3 });
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_paused_schedule_does_not_fire_and_does_not_catch_up() {
    let d = dir("paused");
    let s = start(&d, ManualClock::new(t("2026-01-01T10:00:30Z")));
    s.scheduler
        .add(schedule("p", "* * * * *", None))
        .await
        .unwrap();
    s.scheduler.set_enabled("p", false).unwrap();
    for at in ["2026-01-01T10:01:00.100Z", "2026-01-01T10:02:00.100Z"] {
        s.tick_at(at).await;
    }
    assert!(s.runs("p").is_empty());
    s.clock.set(t("2026-01-01T10:02:30Z"));
    s.scheduler.set_enabled("p", true).unwrap();
    s.tick_at("2026-01-01T10:02:40Z").await;
    assert!(
        s.runs("p").is_empty(),
        "due times while paused are not caught up"
    );
    s.tick_at("2026-01-01T10:03:00.100Z").await;
    assert_eq!(dues(&s.runs("p")), [("10:03:00".to_string(), "running")]);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_shifted_run_is_a_regression_and_the_webhook_hears_of_it() {
    let d = dir("regress");
    let s = start(&d, ManualClock::new(t("2026-01-01T10:00:30Z")));
    let (url, hook) = sweep_e2e::webhook_receiver();
    // Never due on its own: runs only when asked.
    s.scheduler
        .add(schedule("r", "0 0 1 1 *", Some(url)))
        .await
        .unwrap();
    s.scheduler.run_now("r").await.unwrap();
    work(&s.core, 0.0).await;
    s.tick_at("2026-01-01T10:00:40Z").await;
    let first = hook.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (first["outcome"].as_str(), first["run"].as_u64()),
        (Some("pass"), Some(1))
    );

    s.scheduler.run_now("r").await.unwrap();
    work(&s.core, 0.3).await;
    s.tick_at("2026-01-01T10:00:50Z").await;
    let runs = s.runs("r");
    assert_eq!(runs[1].outcome, Outcome::Regression);
    assert!(
        runs[1]
            .flagged
            .iter()
            .any(|f| f.starts_with("moons stl gf: ")),
        "{:?}",
        runs[1].flagged
    );
    let second = hook.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(second["outcome"], "regression");
    assert_eq!(second["baseline"], "r-1");
    assert!(!second["regressions"].as_array().unwrap().is_empty());
    let report = Path::new(&runs[1].report_dir);
    for file in [
        "compare.md",
        "compare.parquet",
        "report.md",
        "history-gf.svg",
    ] {
        assert!(report.join(file).exists(), "{file}");
    }
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn bad_schedules_get_clear_errors() {
    let d = dir("bad");
    let s = start(&d, ManualClock::new(t("2026-01-01T10:00:30Z")));
    let err = |n: NewSchedule| {
        let scheduler = &s.scheduler;
        async move { scheduler.add(n).await.unwrap_err().to_string() }
    };
    let mut bad = schedule("b", "61 * * * *", None);
    assert!(err(bad.clone())
        .await
        .starts_with("cron: `61 * * * *` is not valid"));
    bad.cron = "* * * * *".into();
    bad.tz = "Mars/Olympus".into();
    assert!(err(bad.clone()).await.starts_with("tz: `Mars/Olympus`"));
    bad.tz = "UTC".into();
    bad.sweep_toml = SWEEP.replace("seeds = 3", "seeds = 0");
    assert_eq!(
        err(bad.clone()).await,
        "bench.toml: seeds: must be at least 1"
    );
    bad.sweep_toml = SWEEP.into();
    bad.baseline = "nightly-0".into();
    assert_eq!(
        err(bad.clone()).await,
        "baseline: no sweep named `nightly-0`"
    );
    bad.baseline = "previous".into();
    bad.sweep_toml = SWEEP.into();
    bad.metric = "gff".into();
    assert!(err(bad.clone()).await.starts_with("metric: `gff`"));
    s.scheduler
        .add(schedule("b", "* * * * *", None))
        .await
        .unwrap();
    assert_eq!(
        err(schedule("b", "* * * * *", None)).await,
        "a schedule named `b` exists already"
    );
    assert_eq!(
        s.scheduler.run_now("nope").await.unwrap_err().to_string(),
        "no schedule named `nope`"
    );
    std::fs::remove_dir_all(&s.dir).unwrap();
}

const SECRET: &str = "a-schedule-secret-0123";

/// Runs schedule `name` (webhook `url`) once, to a pass, and returns the
/// run's detail.
async fn one_run_notified(s: &Setup, name: &str, url: String) -> String {
    s.scheduler
        .add(schedule(name, "0 0 1 1 *", Some(url)))
        .await
        .unwrap();
    s.scheduler.run_now(name).await.unwrap();
    work(&s.core, 0.0).await;
    s.tick_at("2026-01-01T10:00:40Z").await;
    s.runs(name)[0].detail.clone()
}

#[tokio::test]
async fn webhook_bodies_are_signed_failures_retried_and_redirects_never_followed() {
    let d = dir("hook-retry");
    let s = start(&d, ManualClock::new(t("2026-01-01T10:00:30Z")));
    // Two failures, then the receiver answers.
    let (url, hooks) = sweep_e2e::webhook_server(vec![500, 503]);
    let detail = one_run_notified(&s, "retry", url).await;
    assert!(
        detail.contains("webhook delivered (attempt 3 of 3)"),
        "{detail}"
    );
    let got: Vec<_> = hooks.try_iter().collect();
    assert_eq!(got.len(), 3);
    for hook in &got {
        // Anyone holding the schedule's secret can check the body's origin.
        assert_eq!(
            hook.signature.as_deref(),
            Some(webhook::signature(SECRET, &hook.body).as_str())
        );
    }
    assert_eq!(got[2].json["outcome"], "pass");

    // Found: webhooks followed redirects. A 302 is a failure, never followed
    // (the receiver would see a request to /elsewhere), and the attempts
    // stop at three.
    let (url, hooks) = sweep_e2e::webhook_server(vec![302, 302, 302, 200]);
    let detail = one_run_notified(&s, "redirect", url.clone()).await;
    assert!(
        detail.contains("webhook failed after 3 attempts: HTTP 302"),
        "{detail}"
    );
    // The detail, which every caller sees, never holds the URL.
    assert!(
        !detail.contains(&url) && !detail.contains("/hook"),
        "{detail}"
    );
    assert_eq!(hooks.try_iter().count(), 3);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_loopback_webhook_is_refused_unless_its_host_is_allowed() {
    let d = dir("hook-ssrf");
    // Found: webhooks accepted any address, so a schedule could make the
    // coordinator call services only its own network reaches.
    let s = start_allowing(&d, ManualClock::new(t("2026-01-01T10:00:30Z")), vec![]);
    let (url, hooks) = sweep_e2e::webhook_server(vec![]);
    let detail = one_run_notified(&s, "ssrf", url).await;
    assert!(
        detail.contains("refused: 127.0.0.1 resolves to 127.0.0.1, a loopback")
            && detail.contains("webhook failed after 1 attempts"),
        "{detail}"
    );
    assert_eq!(hooks.try_iter().count(), 0, "nothing reached the receiver");
    // A webhook without a secret to sign with is refused when added, and
    // the URL's path (often a token) is never shown.
    let mut unsigned = schedule(
        "unsigned",
        "0 0 1 1 *",
        Some("https://hooks.example.com/T0/secret".into()),
    );
    unsigned.webhook_secret = None;
    let err = s.scheduler.add(unsigned).await.unwrap_err().to_string();
    assert!(err.contains("webhook_secret"), "{err}");
    let shown = rpc::info(&s.scheduler.show("ssrf").unwrap().0, None);
    assert_eq!(shown.webhook, "http://127.0.0.1/…");
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_run_left_running_by_a_crash_does_not_block_its_schedule() {
    let d = dir("stale-run");
    let s = start(&d, ManualClock::new(t("2026-01-01T10:00:30Z")));
    s.scheduler
        .add(schedule("nightly", "* * * * *", None))
        .await
        .unwrap();
    // Found: the coordinator stopped after writing a run's row and before
    // submitting its sweep; the row stayed `running` and, its sweep
    // unknown, every tick failed from then on.
    let store = ScheduleStore::open(&d.join("state.db")).unwrap();
    let mut ghost = Run::new("nightly", 1, 0, 0, Trigger::Cron);
    ghost.sweep = "nightly-1".into();
    store.put_run(&ghost).unwrap();
    drop(store);
    s.tick_at("2026-01-01T10:01:00.100Z").await;
    let runs = s.runs("nightly");
    assert_eq!(runs[0].outcome, Outcome::Failed, "{:?}", runs[0]);
    assert!(
        runs[0].detail.contains("never submitted"),
        "{}",
        runs[0].detail
    );
    assert_eq!(
        dues(&runs[1..]),
        [("10:01:00".to_string(), "running")],
        "the schedule fired again"
    );
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_lasting_regression_stays_flagged_until_it_is_accepted() {
    let d = dir("accepted");
    let s = start(&d, ManualClock::new(t("2026-01-01T10:00:30Z")));
    let mut new = schedule("lasting", "0 0 1 1 *", None);
    // What a new schedule gets by default from the command line.
    new.baseline = String::new();
    s.scheduler.add(new).await.unwrap();
    let run = |shift: f64, at: &'static str| {
        let s = &s;
        async move {
            s.scheduler.run_now("lasting").await.unwrap();
            work(&s.core, shift).await;
            s.tick_at(at).await;
        }
    };
    run(0.0, "2026-01-01T10:00:40Z").await;
    run(0.3, "2026-01-01T10:00:50Z").await;
    // Found: with `previous`, this run compared with the regressed one and passed.
    run(0.3, "2026-01-01T10:01:00Z").await;
    let runs = s.runs("lasting");
    let seen = |r: &Run| (r.outcome, r.baseline.clone());
    assert_eq!(seen(&runs[0]), (Outcome::Pass, None));
    assert_eq!(
        seen(&runs[1]),
        (Outcome::Regression, Some("lasting-1".into()))
    );
    assert_eq!(
        seen(&runs[2]),
        (Outcome::Regression, Some("lasting-1".into()))
    );

    // The shift is the new normal: accepted on purpose, with a note.
    let accepted = s
        .scheduler
        .accept("lasting", 3, "the new loss is meant to cost accuracy")
        .unwrap();
    assert!(accepted.accepted.is_some());
    run(0.3, "2026-01-01T10:01:10Z").await;
    let runs = s.runs("lasting");
    assert_eq!(seen(&runs[3]), (Outcome::Pass, Some("lasting-3".into())));
    assert_eq!(
        runs[2].accepted.as_ref().map(|a| a.note.as_str()),
        Some("the new loss is meant to cost accuracy")
    );
    // The next run compares with run 4, which passed.
    run(0.0, "2026-01-01T10:01:20Z").await;
    assert_eq!(
        s.runs("lasting")[4].baseline.as_deref(),
        Some("lasting-4"),
        "run 4 passed, so it is the reference now"
    );

    // Only a finished run can be accepted, and only one that exists.
    s.scheduler.run_now("lasting").await.unwrap();
    let err = s
        .scheduler
        .accept("lasting", 6, "")
        .unwrap_err()
        .to_string();
    assert!(err.contains("run 6 is running"), "{err}");
    let err = s
        .scheduler
        .accept("lasting", 60, "")
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no run 60"), "{err}");
    std::fs::remove_dir_all(&s.dir).unwrap();
}
