//! `coordinator report --format latex`: the tables a paper takes, checked
//! against a golden file (a no-op sweep's numbers are a function of its
//! specs) and compiled with `pdflatex`.
//!
//! To accept a deliberate change of the output:
//! `UPDATE_GOLDEN=1 cargo test -p sweep-e2e --test latex`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sweep_e2e::bin;

const SWEEP: &str = "version = 1\nname = \"tex\"\ndatasets = [\"friedman1\", \"moons\"]\n\
objectives = [\"stl\", \"mtl\"]\nalphas = [0.1, 0.9]\nseeds = 20\n[noop]\nsleep_ms = 0\nnoise = 0.0005\n";

fn run(program: PathBuf, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name)
}

#[test]
fn report_tex_matches_its_golden_file_and_compiles_with_pdflatex() {
    let dir = std::env::temp_dir().join(format!("sweep-latex-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tex.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    run(
        bin("sweep-local"),
        &["run", file.to_str().unwrap(), "--workers", "2", "--out", o],
    );
    // Not among the defaults: `run` wrote no report.tex.
    assert!(!out.join("report.tex").exists());
    let db = out.join("state.db");
    let d = db.to_str().unwrap();
    for (interval, name) in [("std", "report.tex"), ("ci95", "report-ci95.tex")] {
        let tex_dir = dir.join(interval);
        let t = tex_dir.to_str().unwrap();
        run(
            bin("coordinator"),
            &[
                "report",
                "tex",
                "--db",
                d,
                "--out",
                t,
                "--format",
                "latex",
                "--interval",
                interval,
            ],
        );
        let written = std::fs::read_to_string(tex_dir.join("report.tex")).unwrap();
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(golden(name), &written).unwrap();
        }
        let want = std::fs::read_to_string(golden(name)).unwrap_or_default();
        assert!(
            written == want,
            "report.tex ({interval}) differs from tests/golden/{name}; if the change is meant, \
             run with UPDATE_GOLDEN=1\n--- written:\n{written}"
        );
        assert!(written.contains("\\toprule") && written.contains("\\bottomrule"));
        assert!(written.contains("\\textbf{"), "the best cells are bold");
        // The no-op GF scales with α: at α = 0.1 it differs from STL's,
        // and 20 seeds tell, after the adjustment.
        let marked = written
            .lines()
            .filter(|l| l.starts_with("GF &") && l.contains("$^{*}$"))
            .count();
        assert_eq!(
            marked, 2,
            "GF at α = 0.1 is marked in both tables:\n{written}"
        );

        let pdflatex = Command::new("pdflatex")
            .args(["-interaction=nonstopmode", "-halt-on-error", "report.tex"])
            .current_dir(&tex_dir)
            .output()
            .expect(
                "pdflatex runs (Debian: texlive-latex-base texlive-latex-recommended; .ci/run installs them)",
            );
        assert!(
            pdflatex.status.success(),
            "pdflatex failed: {}",
            String::from_utf8_lossy(&pdflatex.stdout)
        );
        let pdf = std::fs::metadata(tex_dir.join("report.pdf")).unwrap();
        assert!(pdf.len() > 1000, "report.pdf is {} bytes", pdf.len());
        let log = std::fs::read_to_string(tex_dir.join("report.log")).unwrap();
        assert!(
            !log.contains("Overfull \\hbox"),
            "a table runs off the page"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
