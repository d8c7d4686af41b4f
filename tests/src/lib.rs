//! A sandbox for end-to-end tests: real `coordinator`, `worker` and
//! `sweep-local` processes on 127.0.0.1 (port 0), waited for with deadlines.
//!
//! The binaries are the ones `cargo test --workspace` builds next to this
//! test executable (the coordinator, worker and local packages have
//! integration tests, which makes cargo build their binaries).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A built binary of the workspace.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo test --workspace`",
        path.display()
    );
    path
}

/// The paper datasets beside the project.
pub fn shared_datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets")
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sweep-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `f` every 50 ms until it returns `Some`, failing after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every environment variable that carries a token or a CA: cleared for
/// each process a test starts, so the machine's own never leak in.
pub const TOKEN_VARS: [&str; 4] = [
    "SWEEP_TOKEN",
    "SWEEP_WORKER_TOKEN",
    "SWEEP_ADMIN_TOKEN",
    "SWEEP_TLS_CA",
];

/// A coordinator process; killed when dropped.
pub struct Coordinator {
    pub child: Child,
    pub endpoint: String,
    pub port: u16,
    pub dir: PathBuf,
    /// `http://127.0.0.1:PORT`, when started with `--http`.
    pub dashboard: Option<String>,
}

impl Coordinator {
    /// Starts `coordinator serve` on 127.0.0.1 port 0 with its state in `dir`.
    pub fn start(dir: &Path, token: Option<&str>) -> Coordinator {
        Self::start_on(dir, 0, token)
    }

    /// Starts on a given port (0 picks one), e.g. again after a crash.
    pub fn start_on(dir: &Path, port: u16, token: Option<&str>) -> Coordinator {
        let env: Vec<(&str, &str)> = token.map(|t| ("SWEEP_TOKEN", t)).into_iter().collect();
        Self::start_with(dir, port, &env, &[]).expect("the coordinator starts")
    }

    /// Starts with `env` set (every `SWEEP_*` token variable is cleared
    /// first) and `args` added; the error is its log when it exits (or
    /// hangs) before printing its address.
    pub fn start_with(
        dir: &Path,
        port: u16,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Coordinator, String> {
        let mut cmd = Command::new(bin("coordinator"));
        let log = dir.join(format!("coordinator-{port}.log"));
        cmd.arg("serve");
        if !args.contains(&"--listen") {
            cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
        }
        cmd.args([
            "--tick-ms",
            "50",
            "--schedule-tick-ms",
            "100",
            "--report-every-secs",
            "1",
            "--db",
        ])
        .arg(dir.join("state.db"))
        .arg("--data-dir")
        .arg(shared_datasets())
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
        for var in TOKEN_VARS {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("the coordinator binary runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            for _ in 0..2 {
                let mut line = String::new();
                if out.read_line(&mut line).unwrap_or(0) == 0 || tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(endpoint) = line.trim().strip_prefix("coordinator listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::fs::read_to_string(&log).unwrap_or_default());
        };
        let endpoint = endpoint.to_string();
        let port = endpoint.rsplit(':').next().unwrap().parse().unwrap();
        let dashboard = if args.contains(&"--http") {
            let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
            let url = line
                .trim()
                .strip_prefix("dashboard on ")
                .map(|u| u.trim_end_matches('/').to_string());
            if url.is_none() {
                let _ = child.kill();
                return Err(format!("no dashboard line: {line}"));
            }
            url
        } else {
            None
        };
        Ok(Coordinator {
            child,
            endpoint,
            port,
            dir: dir.to_path_buf(),
            dashboard,
        })
    }

    /// Runs a user command against this coordinator.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_token(args, None)
    }

    pub fn cli_with_token(&self, args: &[&str], token: Option<&str>) -> Output {
        let env: Vec<(&str, &str)> = token.map(|t| ("SWEEP_TOKEN", t)).into_iter().collect();
        self.cli_with_env(args, &env)
    }

    /// Runs a user command with `env` set (token variables cleared first).
    pub fn cli_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(bin("coordinator"));
        cmd.args(args)
            .args(["--endpoint", &self.endpoint])
            .env("RUST_LOG", "warn");
        for var in TOKEN_VARS {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        cmd.output().unwrap()
    }

    /// Writes `toml` to a file and submits it; returns the command's output.
    pub fn submit(&self, name: &str, toml: &str) -> Output {
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml).unwrap();
        self.cli(&["submit", path.to_str().unwrap()])
    }

    pub fn status(&self, sweep: &str) -> Value {
        let out = self.cli(&["status", sweep, "--json"]);
        assert!(
            out.status.success(),
            "status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn wait_finished(&self, sweep: &str, limit: Duration) -> Value {
        wait_for(&format!("sweep {sweep} to finish"), limit, || {
            let s = self.status(sweep);
            (s["state"] != "running").then_some(s)
        })
    }

    /// The sweep's results: one JSON object per job.
    pub fn results(&self, sweep: &str) -> Vec<Value> {
        let file = self.dir.join(format!("{sweep}-results.jsonl"));
        let out = self.cli(&["results", sweep, "--out", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "results: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A worker process; killed when dropped.
pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

impl Worker {
    pub fn start(coordinator: &Coordinator, name: &str) -> Worker {
        Self::start_with(coordinator, name, None)
    }

    /// A worker with extra environment, e.g. the no-op fault switch.
    pub fn start_env(coordinator: &Coordinator, name: &str, env: &[(&str, &str)]) -> Worker {
        Self::spawn(coordinator, name, None, env)
    }

    pub fn start_with(coordinator: &Coordinator, name: &str, token: Option<&str>) -> Worker {
        Self::spawn(coordinator, name, token, &[])
    }

    fn spawn(
        coordinator: &Coordinator,
        name: &str,
        token: Option<&str>,
        env: &[(&str, &str)],
    ) -> Worker {
        let log = coordinator.dir.join(format!("worker-{name}.log"));
        let mut cmd = Command::new(bin("worker"));
        cmd.args([
            "join",
            &coordinator.endpoint,
            "--slots",
            "1",
            "--name",
            name,
            "--cache-dir",
        ])
        .arg(coordinator.dir.join(format!("cache-{name}")))
        .env("RUST_LOG", "info")
        .env_remove("SWEEP_NOOP_METRIC_SHIFT");
        for var in TOKEN_VARS {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(t) = token {
            cmd.env("SWEEP_TOKEN", t);
        }
        Worker {
            child: cmd.spawn().expect("the worker starts"),
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{signal}");
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A no-op sweep file: `seeds` jobs that each sleep `sleep_ms`.
pub fn noop_sweep(name: &str, seeds: u32, sleep_ms: u64, lease_timeout_secs: f64) -> String {
    format!(
        "version = 1\nname = \"{name}\"\ndatasets = [\"friedman1\"]\nobjectives = [\"stl\"]\nseeds = {seeds}\n\
         retry_limit = 5\nlease_timeout_secs = {lease_timeout_secs}\n[noop]\nsleep_ms = {sleep_ms}\n"
    )
}

/// An HTTP receiver on 127.0.0.1 that hands each request's body over.
pub fn webhook_receiver() -> (String, mpsc::Receiver<serde_json::Value>) {
    let (url, hooks) = webhook_server(Vec::new());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for hook in hooks {
            if tx.send(hook.json).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// One request a [`webhook_server`] received.
#[derive(Debug, Clone)]
pub struct Hook {
    /// The `X-Signature` header, if sent.
    pub signature: Option<String>,
    pub body: String,
    pub json: serde_json::Value,
    /// The status it was answered with.
    pub status: u16,
}

/// An HTTP server on 127.0.0.1 port 0 that answers the n-th request with
/// `statuses[n]` (200 once they run out; a 3xx carries a `location` to
/// `/elsewhere`), and hands every request over.
pub fn webhook_server(statuses: Vec<u16>) -> (String, mpsc::Receiver<Hook>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut signature) = (0, None);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if lower.starts_with("x-signature:") {
                    signature = Some(line["x-signature:".len()..].trim().to_string());
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let status = statuses.get(n).copied().unwrap_or(200);
            let extra = if (300..400).contains(&status) {
                "location: /elsewhere\r\n"
            } else {
                ""
            };
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status} X\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
            let body = String::from_utf8(body).unwrap();
            let hook = Hook {
                signature,
                json: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                body,
                status,
            };
            if tx.send(hook).is_err() {
                return;
            }
        }
    });
    (url, rx)
}
