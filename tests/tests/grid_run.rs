//! A sweep with a `[grid]`, trained for real (tiny settings) in one
//! process: the cells, the report and the curves show every grid point.

use std::process::Command;

use polars::prelude::*;
use sweep_e2e::bin;

#[test]
fn a_grid_sweep_reports_each_point_with_its_stl_column() {
    let dir = std::env::temp_dir().join(format!("sweep-grid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("g.toml");
    std::fs::write(
        &file,
        r#"version = 1
name = "g"
datasets = ["friedman1"]
objectives = ["stl", "mtl"]
alphas = [0.5]
seeds = 2
[training]
hidden = [8]
max_epochs = 3
synthetic_rows = 200
lime_samples = 50
gnf_max_points = 20
[grid]
g_init = ["glorot", "least-squares"]
"#,
    )
    .unwrap();
    let out = dir.join("out");
    let run = Command::new(bin("sweep-local"))
        .args(["run", file.to_str().unwrap(), "--workers", "2", "--out"])
        .arg(&out)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // STL ignores g_init: 2 seeds; MTL: 2 points × 2 seeds.
    assert!(
        stderr.contains("report: 6 runs, 0 failures, 3 cells"),
        "{stderr}"
    );

    let read = |name: &str| {
        ParquetReader::new(std::fs::File::open(out.join(name)).unwrap())
            .finish()
            .unwrap()
    };
    let cells = read("cells.parquet");
    let grid: Vec<Option<&str>> = cells
        .column("grid")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    let g_init: Vec<Option<&str>> = cells
        .column("g_init")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    let mut points: Vec<_> = grid.iter().zip(&g_init).collect();
    points.sort();
    assert_eq!(
        points,
        [
            (&Some(""), &None),
            (&Some("g_init=glorot"), &Some("glorot")),
            (&Some("g_init=least-squares"), &Some("least-squares")),
        ]
    );
    assert!(cells.column("degenerate_n").is_ok());

    // report.html stands alone: its plots are inline, not beside it.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<figure class=\"plot\"").count(),
        2,
        "one per grid point"
    );
    assert!(
        html.contains("<svg") && !html.contains("<img"),
        "inline SVG"
    );

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for point in ["g_init=glorot", "g_init=least-squares"] {
        let heading = format!("## friedman1 · {point}\n\n| | STL | α = 0.5 |");
        assert!(md.contains(&heading), "{heading} in {md}");
    }
    for stem in ["friedman1-g_init_glorot", "friedman1-g_init_least-squares"] {
        assert!(out.join(format!("plots/{stem}.svg")).exists(), "{stem}.svg");
    }

    let runs = read("runs.parquet");
    let reasons: Vec<Option<&str>> = runs
        .column("stop_reason")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| matches!(r, Some("early_stopping" | "max_epochs"))),
        "{reasons:?}"
    );
    for column in [
        "grid",
        "g_init",
        "lr_schedule",
        "lr_min_delta",
        "degenerate",
        "lr_collapsed",
    ] {
        assert!(runs.column(column).is_ok(), "runs.{column}");
    }
    // Every epoch of every run, with its validation losses.
    let curves = read("curves.parquet");
    let epochs: f64 = runs.column("epochs").unwrap().f64().unwrap().sum().unwrap();
    assert_eq!(curves.height() as f64, epochs);
    assert!(curves.column("val_joint_loss").is_ok() && curves.column("learning_rate").is_ok());
}
