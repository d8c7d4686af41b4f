//! Logs a file can hold: no terminal escape codes when stderr is a file,
//! and one JSON object per line with `--log-format json`.

use sweep_e2e::{noop_sweep, scratch, Coordinator, Worker};

#[test]
fn logs_written_to_files_hold_no_escape_codes_and_json_lines_parse() {
    let dir = scratch("logs");
    let c = Coordinator::start_with(&dir, 0, &[], &["--log-format", "json"]).unwrap();
    assert!(c
        .submit("s", &noop_sweep("logged", 2, 0, 10.0))
        .status
        .success());
    let w = Worker::start(&c, "w");
    c.wait_finished("logged", std::time::Duration::from_secs(60));
    drop(w);
    let worker_log = std::fs::read_to_string(dir.join("worker-w.log")).unwrap();
    assert!(worker_log.contains("registered"), "{worker_log}");
    assert!(!worker_log.contains('\u{1b}'), "escape codes in a log file");
    let log = std::fs::read_to_string(dir.join("coordinator-0.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "sweep finished" && l["level"] == "INFO"),
        "{log}"
    );
}
