//! The one-process run (`sweep-local run`) and the reports it writes, read
//! back with Polars, then compared and regenerated with `coordinator`.

use std::process::Command;

use sweep_e2e::bin;

fn coordinator(args: &[&str]) -> std::process::Output {
    coordinator_with(args, &[])
}

fn coordinator_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    // `run` is the one command of `sweep-local`; every other is the coordinator's.
    let program = if args.first() == Some(&"run") {
        bin("sweep-local")
    } else {
        bin("coordinator")
    };
    Command::new(program)
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn run_writes_reports_whose_parquet_files_read_back() {
    use polars::prelude::*;
    let dir = std::env::temp_dir().join(format!("sweep-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("r.toml");
    std::fs::write(
        &file,
        "version = 1\nname = \"r\"\ndatasets = [\"friedman1\", \"moons\"]\nobjectives = [\"stl\", \"mtl\"]\n\
         alphas = [0.1, 0.5]\nseeds = 3\n[noop]\nsleep_ms = 0\n",
    )
    .unwrap();
    let out = dir.join("out");
    let run = coordinator(&[
        "run",
        file.to_str().unwrap(),
        "--workers",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("report: 18 runs, 0 failures, 6 cells"));

    let read = |name: &str| {
        ParquetReader::new(std::fs::File::open(out.join(name)).unwrap())
            .finish()
            .unwrap()
    };
    let runs = read("runs.parquet");
    assert_eq!(runs.height(), 2 * (3 + 2 * 3));
    let schema = runs.schema();
    for (column, dtype) in [
        ("job_key", DataType::String),
        ("dataset", DataType::String),
        ("objective", DataType::String),
        ("alpha", DataType::Float64),
        ("seed", DataType::UInt64),
        ("gf", DataType::Float64),
        ("accuracy", DataType::Float64),
        ("worker_id", DataType::String),
        ("attempt", DataType::UInt32),
        ("finished_ms", DataType::Int64),
    ] {
        assert_eq!(schema.get(column), Some(&dtype), "runs.{column}");
    }
    let cells = read("cells.parquet");
    assert_eq!(cells.height(), 6);
    for column in [
        "gf_n",
        "gf_mean",
        "gf_std",
        "gf_sem",
        "gf_ci95_low",
        "gf_ci95_high",
        "pareto",
    ] {
        assert!(cells.column(column).is_ok(), "cells.{column}");
    }
    assert_eq!(read("failures.parquet").height(), 0);
    let explanations = read("explanations.parquet");
    assert_eq!(
        explanations.height(),
        18 * 2,
        "two coefficients per no-op run"
    );
    assert!(explanations.column("cell_mean").is_ok());

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## friedman1") && md.contains("## moons"),
        "{md}"
    );
    assert!(md.contains("| | STL | α = 0.1 | α = 0.5 |"), "{md}");
    assert!(
        md.contains("| Accuracy |") && md.contains("| MSE |") && md.contains("| GF |"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("class=\"best\""));

    // One figure per dataset, as SVG and PNG, with α labels on the points.
    for dataset in ["friedman1", "moons"] {
        let svg = std::fs::read_to_string(out.join(format!("plots/{dataset}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("α=0.5") && svg.contains("Pareto front"));
        let png = std::fs::read(out.join(format!("plots/{dataset}.png"))).unwrap();
        assert_eq!(&png[1..4], b"PNG", "{dataset}.png is a PNG");
    }

    // The same sweep with every metric shifted by the no-op fault switch:
    // `compare` flags the regressions and exits with status 3; a sweep
    // compared with itself passes.
    let shifted = dir.join("shifted");
    let run = coordinator_with(
        &[
            "run",
            file.to_str().unwrap(),
            "--workers",
            "2",
            "--out",
            shifted.to_str().unwrap(),
        ],
        &[("SWEEP_NOOP_METRIC_SHIFT", "0.3")],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let cmp_dir = dir.join("cmp");
    let cmp = coordinator(&[
        "compare",
        out.to_str().unwrap(),
        shifted.join("runs.parquet").to_str().unwrap(),
        "--out",
        cmp_dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&cmp.stdout);
    assert_eq!(
        cmp.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&cmp.stderr)
    );
    assert!(
        stdout.contains("| moons stl | gf |") && stdout.contains("**regression**"),
        "{stdout}"
    );
    let compared =
        ParquetReader::new(std::fs::File::open(cmp_dir.join("compare.parquet")).unwrap())
            .finish()
            .unwrap();
    // 6 cells × 9 metrics per task: prediction ×2, gf, gnf, r2_fg, and
    // insertion and deletion of both explainers.
    assert_eq!(compared.height(), 6 * 9);
    let flags: Vec<String> = compared
        .column("flag")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|f| f.unwrap_or_default().to_string())
        .collect();
    assert!(flags.iter().all(|f| f == "regression"), "{flags:?}");
    let same = coordinator(&[
        "compare",
        out.to_str().unwrap(),
        out.to_str().unwrap(),
        "--out",
        cmp_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );

    // `report` regenerates the same files from the database alone.
    std::fs::remove_file(out.join("cells.parquet")).unwrap();
    let again = coordinator(&[
        "report",
        "r",
        "--db",
        out.join("state.db").to_str().unwrap(),
        "--format",
        "parquet",
    ]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(read("cells.parquet").height(), 6);
    std::fs::remove_dir_all(&dir).unwrap();
}
