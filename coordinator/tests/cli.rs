//! `coordinator` as a user runs it, where no server is needed.

use std::process::Command;

fn coordinator(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn the_shipped_sweep_files_are_valid() {
    for name in ["quickstart", "paper"] {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../sweeps/{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let plan = sweep_coordinator::sweep_file::parse(&text, name).unwrap();
        let datasets =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets");
        let (_, jobs) = plan.expand(&datasets).unwrap();
        match name {
            // 2 datasets × (3 STL + 5 α × 3 seeds).
            "quickstart" => assert_eq!(jobs.len(), 36),
            // 5 datasets × (5 STL + 9 α × 5 seeds).
            _ => assert_eq!(jobs.len(), 250),
        }
    }
}

#[test]
fn run_and_bench_point_to_sweep_local() {
    for command in ["run", "bench"] {
        let out = coordinator(&[command, "sweeps/quickstart.toml"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "`coordinator {command}` moved to `sweep-local {command}`"
            )) && err.contains(&format!("sweep-local {command} sweeps/quickstart.toml")),
            "{err}"
        );
    }
}
