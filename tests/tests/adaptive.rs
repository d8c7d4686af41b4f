//! An adaptive sweep end to end in `sweep-local run`: seeds are added to
//! the noisy cells only, and the report says per cell how many ran and
//! whether the target was met.

use std::process::Command;

use polars::prelude::*;
use sweep_e2e::{bin, scratch};

#[test]
fn an_adaptive_sweep_adds_seeds_where_needed_and_the_report_says_so() {
    let dir = scratch("adaptive");
    let file = dir.join("a.toml");
    // GF's seed noise is α: the α = 0.002 cell meets the target with its
    // first five seeds, α = 0.05 needs a few more, α = 0.9 would need
    // about two thousand.
    std::fs::write(
        &file,
        r#"version = 1
name = "a"
datasets = ["friedman1"]
objectives = ["mtl"]
alphas = [0.002, 0.05, 0.9]
seeds = { min = 5, max = 12, target = { metric = "gf", ci95_half_width = 0.04 } }
[noop]
noise = 1.0
noise_scales_with_alpha = true
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

    let read = |name: &str| {
        ParquetReader::new(std::fs::File::open(out.join(name)).unwrap())
            .finish()
            .unwrap()
    };
    let cells = read("cells.parquet");
    let met: Vec<Option<bool>> = cells
        .column("seeds_target_met")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .collect();
    let n: Vec<Option<u32>> = cells
        .column("gf_n")
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(met, [Some(true), Some(true), Some(false)], "{cells}");
    assert_eq!(n[0], Some(5), "the quiet cell stopped at min: {cells}");
    assert!(n[1] > Some(5), "the middle cell needed more seeds: {cells}");
    assert_eq!(n[2], Some(12), "the noisiest ran to max: {cells}");

    let ledger = read("seed_ledger.parquet");
    let decisions: Vec<Option<&str>> = ledger
        .column("decision")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    // One decision per seed past min, plus each cell's last.
    let expected = 3 + (n[1].unwrap() - 5) + (12 - 5);
    assert_eq!(decisions.len() as u32, expected, "{ledger}");
    assert_eq!(decisions.last().unwrap(), &Some("max seeds"));

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Adaptive seeding"), "{md}");
    assert!(
        md.contains("| friedman1 mtl α=0.002 | 5 | 5 |") && md.contains("| met |"),
        "{md}"
    );
    assert!(md.contains("| max seeds |"), "{md}");
    assert!(md.contains("2 of 3 cells met the target"), "{md}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h2>Adaptive seeding</h2>"));
}
