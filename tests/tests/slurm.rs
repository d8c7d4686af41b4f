//! `deploy/slurm/workers.sbatch` on a real one-node Slurm cluster
//! (`deploy/slurm/test-cluster/`, Debian's slurm-wlm and munge; needs
//! root, as `.ci/run` is): a 2-task array of workers finishes a sweep with
//! every job done once, and a batch shell sent SIGTERM the way `--signal=
//! B:TERM@300` sends it drains its worker: the running job finishes and
//! reports, nothing is lost.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sweep_e2e::{bin, noop_sweep, scratch, wait_for, Coordinator};

const ADMIN: &str = "admin-token-for-the-slurm-test";
const WORKER: &str = "worker-token-for-the-slurm-test";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The cluster, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    conf: String,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let out = Command::new(repo().join("deploy/slurm/test-cluster/start.sh"))
            .arg(dir)
            .output()
            .expect("start.sh runs");
        // The guard first: a failed start still stops what did start.
        let cluster = Cluster {
            dir: dir.to_path_buf(),
            conf: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        };
        assert!(
            out.status.success(),
            "the Slurm test cluster did not start (Debian: slurm-wlm munge, as root; .ci/run installs them): {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(dir.join("slurmd.log")).unwrap_or_default()
        );
        cluster
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Cancels the jobs, waits for them to end, then stops the daemons.
        let _ = Command::new(repo().join("deploy/slurm/test-cluster/stop.sh"))
            .arg(&self.dir)
            .status();
    }
}

fn admin(c: &Coordinator, args: &[&str]) -> Value {
    let out = c.cli_with_env(args, &[("SWEEP_ADMIN_TOKEN", ADMIN)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn status(c: &Coordinator, sweep: &str) -> Value {
    admin(c, &["status", sweep, "--json"])
}

/// Every result of `sweep`, as the export writes them.
fn results(c: &Coordinator, sweep: &str) -> Vec<Value> {
    let file = c.dir.join(format!("{sweep}.jsonl"));
    admin(c, &["results", sweep, "--out", file.to_str().unwrap()]);
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn submit(c: &Coordinator, name: &str, toml: &str) {
    let path = c.dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    let out = c.cli_with_env(
        &["submit", path.to_str().unwrap()],
        &[("SWEEP_ADMIN_TOKEN", ADMIN)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_slurm_array_of_workers_finishes_a_sweep_and_a_terminated_task_drains() {
    let dir = scratch("slurm");
    // The coordinator first, so that it outlives the cluster (locals drop
    // in reverse): draining workers can still report while Slurm stops.
    let c = Coordinator::start_with(
        &dir,
        0,
        &[("SWEEP_WORKER_TOKEN", WORKER), ("SWEEP_ADMIN_TOKEN", ADMIN)],
        &[],
    )
    .unwrap();
    let cluster = Cluster::start(&dir.join("cluster"));
    // The token from a file of mode 600, never on sbatch's command line.
    let token_file = dir.join("worker.token");
    std::fs::write(&token_file, WORKER).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    submit(&c, "first", &noop_sweep("first", 12, 200, 30.0));
    let bin_dir = bin("worker").parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let submitted = cluster.run(
        "sbatch",
        &[
            "--parsable",
            "--array=0-1",
            "--cpus-per-task=1",
            "--time=20",
            &format!("--output={}/slurm-%A_%a.out", dir.display()),
            &format!(
                "--export=ALL,PATH={path},RUST_LOG=info,SWEEP_COORDINATOR={},SWEEP_WORKER_TOKEN_FILE={}",
                c.endpoint,
                token_file.display()
            ),
            repo().join("deploy/slurm/workers.sbatch").to_str().unwrap(),
        ],
    );
    let job = submitted.trim().split(';').next().unwrap().to_string();
    let s = wait_for(
        "the first sweep to finish",
        Duration::from_secs(120),
        || {
            let s = status(&c, "first");
            (s["state"] != "running").then_some(s)
        },
    );
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(12), Some(0)),
        "{s}"
    );
    let first = results(&c, "first");
    assert_eq!(first.len(), 12);
    assert!(
        first.iter().all(|r| r["attempt"] == 1),
        "every job done once: {first:?}"
    );
    let workers: std::collections::BTreeSet<&str> = first
        .iter()
        .filter_map(|r| r["worker_id"].as_str())
        .collect();
    assert_eq!(workers.len(), 2, "both array tasks worked: {workers:?}");

    // Jobs of 5 s: each task runs one; TERM the batch shell of task 0.
    submit(&c, "second", &noop_sweep("second", 4, 5000, 60.0));
    wait_for("two jobs running", Duration::from_secs(60), || {
        (status(&c, "second")["running"].as_u64()? == 2).then_some(())
    });
    cluster.run(
        "scancel",
        &["--batch", "--signal=TERM", &format!("{job}_0")],
    );
    let log0 = dir.join(format!("slurm-{job}_0.out"));
    wait_for("task 0 to drain and end", Duration::from_secs(60), || {
        let log = std::fs::read_to_string(&log0).unwrap_or_default();
        let queued = cluster.run("squeue", &["-h", "-j", &format!("{job}_0")]);
        (log.contains("draining") && queued.trim().is_empty()).then_some(())
    });
    let s = wait_for(
        "the second sweep to finish",
        Duration::from_secs(120),
        || {
            let s = status(&c, "second");
            (s["state"] != "running").then_some(s)
        },
    );
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(4), Some(0)),
        "{s}"
    );
    let second = results(&c, "second");
    assert!(
        second.iter().all(|r| r["attempt"] == 1),
        "the drained job finished and reported; nothing ran twice: {second:?}"
    );
    let drained: std::collections::BTreeSet<&str> = second
        .iter()
        .filter_map(|r| r["worker_id"].as_str())
        .collect();
    assert_eq!(
        drained.len(),
        2,
        "task 0's running job is among the results: {second:?}"
    );
    let log = std::fs::read_to_string(&log0).unwrap();
    assert!(log.contains("draining"), "{log}");
    drop(cluster);
}
