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
fn run_refuses_a_bad_sweep_file_before_starting_anything() {
    let dir = std::env::temp_dir().join(format!("sweep-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "version = 1\nname = \"b\"\ndatasets = [\"moons\"]\nobjectives = [\"mtl\"]\nalphas = [0.5, 1.5]\nseeds = 1\n").unwrap();
    let out = coordinator(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml: alphas[1]: 1.5 is outside (0, 1)"),
        "{err}"
    );
    assert!(!dir.join("out").exists(), "nothing was created");
    std::fs::remove_dir_all(&dir).unwrap();
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
