//! `sweep-local` as a user runs it.

use std::process::Command;

fn sweep_local(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sweep-local"))
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
    let out = sweep_local(&[
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
