//! Auxiliary targets and the task graph through real processes: a sweep
//! with the auxiliary objective and probe predictions, trained for real
//! (tiny settings) by `sweep-local run`, then `coordinator graph` on its
//! database.

use std::path::Path;
use std::process::{Command, Output};

use polars::prelude::*;
use sweep_e2e::{bin, scratch};

const SWEEP: &str = r#"version = 1
name = "ag"
datasets = ["friedman1", "moons"]
objectives = ["stl", "mtl", "auxiliary"]
alphas = [0.3, 0.7]
seeds = 2
aux = { friedman1 = ["x4", "x5"], moons = ["band"] }
[training]
hidden = [8]
max_epochs = 3
synthetic_rows = 200
lime_samples = 50
gnf_max_points = 20
probe_rows = 60
"#;

fn run_sweep(dir: &Path, name: &str, toml: &str) -> Output {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, toml).unwrap();
    Command::new(bin("sweep-local"))
        .args(["run", file.to_str().unwrap(), "--workers", "2", "--out"])
        .arg(dir.join(name))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

fn strings(df: &DataFrame, column: &str) -> Vec<String> {
    df.column(column)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect()
}

#[test]
fn auxiliary_sweep_with_probes_reports_heads_and_learns_the_graph() {
    let dir = scratch("aux-graph");
    let run = run_sweep(&dir, "ag", SWEEP);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // Per dataset: STL, 2 α and the auxiliary cell, 2 seeds each.
    assert!(
        stderr.contains("report: 16 runs, 0 failures, 8 cells"),
        "{stderr}"
    );
    let out = dir.join("ag");

    // aux.parquet: one row per auxiliary run and head, with the three main
    // metrics and an interval around each correlation.
    let aux = read(&out.join("aux.parquet"));
    let mut heads: Vec<(String, String)> = strings(&aux, "dataset")
        .into_iter()
        .zip(strings(&aux, "column"))
        .collect();
    heads.sort();
    heads.dedup();
    assert_eq!(
        heads,
        [
            ("friedman1".to_string(), "x4".to_string()),
            ("friedman1".to_string(), "x5".to_string()),
            ("moons".to_string(), "band".to_string()),
        ]
    );
    assert_eq!(aux.height(), 6, "3 heads × 2 seeds");
    let col = |name: &str| -> Vec<f64> {
        aux.column(name)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap())
            .collect()
    };
    for name in ["without_group", "with_group", "as_target", "error"] {
        assert!(col(name).iter().all(|v| v.is_finite()), "{name}");
    }
    for ((low, rho), high) in col("spearman_low")
        .iter()
        .zip(col("spearman"))
        .zip(col("spearman_high"))
    {
        assert!(
            (-1.0..=1.0).contains(&rho) && *low <= rho + 1e-9 && rho <= high + 1e-9,
            "{low} {rho} {high}"
        );
    }

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Auxiliary targets"), "{md}");
    assert!(
        md.contains("| test MSE | without the group | with it as input | with it as target |"),
        "{md}"
    );
    for head in ["| x4 | numeric", "| x5 | numeric", "| band |"] {
        assert!(md.contains(head), "{head} in {md}");
    }

    // The graph is part of the report of a sweep with probes: one section
    // per dataset, every candidate edge in graph.parquet.
    assert!(md.contains("## Task graph"), "{md}");
    // The auxiliary cells' probes lack their group's columns: they are
    // alone on their input set and left out, named.
    assert!(
        md.contains("### friedman1\n\n3 cells, 60 probe rows"),
        "{md}"
    );
    assert!(
        md.contains("Left out") && md.contains("friedman1 auxiliary"),
        "{md}"
    );
    let graph = read(&out.join("graph.parquet"));
    assert!(graph.height() > 0);
    let weights = graph.column("weight").unwrap().f64().unwrap();
    assert!(weights.iter().all(|w| (0.0..=1.0).contains(&w.unwrap())));
    for f in ["graph.svg", "graph.png"] {
        assert!(
            std::fs::metadata(out.join(f)).unwrap().len() > 0,
            "{f} is empty"
        );
    }

    // The probe rows' inputs are stored once per input set, not per
    // result: per dataset, the full inputs and the auxiliary cell's.
    let db = rusqlite::Connection::open(out.join("state.db")).unwrap();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM probe_inputs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 4);
    let with_inputs: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM results WHERE result LIKE '%\"inputs\":[%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(with_inputs, 0, "results keep only the inputs' checksum");
    let with_predictions: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM results WHERE result LIKE '%\"predictions\":[%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(with_predictions, 16);
    drop(db);

    // `coordinator graph` on the same database, for one dataset and other
    // weights, into another directory.
    let again = dir.join("again");
    let graph_run = Command::new(bin("coordinator"))
        .args(["graph", "ag", "--dataset", "moons", "--eta", "0.5", "--db"])
        .arg(out.join("state.db"))
        .arg("--out")
        .arg(&again)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&graph_run.stderr);
    assert!(graph_run.status.success(), "{stderr}");
    assert!(stderr.contains("written in"), "{stderr}");
    let moons = read(&again.join("graph.parquet"));
    assert!(strings(&moons, "dataset").iter().all(|d| d == "moons"));
    let md = std::fs::read_to_string(again.join("report.md")).unwrap();
    assert!(md.contains("### moons") && !md.contains("### friedman1\n\n3 cells"));
}

#[test]
fn graph_refuses_a_sweep_without_probes_and_bad_groups_are_named() {
    let dir = scratch("aux-graph-refusals");
    let plain = SWEEP
        .replace("name = \"ag\"", "name = \"plain\"")
        .replace(
            "objectives = [\"stl\", \"mtl\", \"auxiliary\"]",
            "objectives = [\"stl\"]",
        )
        .replace(
            "aux = { friedman1 = [\"x4\", \"x5\"], moons = [\"band\"] }\n",
            "",
        )
        .replace("probe_rows = 60\n", "")
        .replace("seeds = 2", "seeds = 1");
    let run = run_sweep(&dir, "plain", &plain);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let graph = Command::new(bin("coordinator"))
        .args(["graph", "plain", "--db"])
        .arg(dir.join("plain/state.db"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&graph.stderr);
    assert!(!graph.status.success());
    assert!(stderr.contains("probe_rows"), "says how to ask: {stderr}");

    // A group naming a column the dataset lacks, or its target, is refused
    // before anything trains, naming the dataset and the column.
    for (group, says) in [
        ("[\"x4\", \"x11\"]", "column `x11`"),
        ("[\"y\"]", "column `y`"),
    ] {
        let bad = SWEEP.replace(
            "friedman1 = [\"x4\", \"x5\"]",
            &format!("friedman1 = {group}"),
        );
        let run = run_sweep(&dir, "bad", &bad);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{group}: {stderr}");
        assert!(
            stderr.contains("friedman1") && stderr.contains(says),
            "{group}: {stderr}"
        );
        assert!(!dir.join("bad/state.db").exists(), "nothing was stored");
    }
}
