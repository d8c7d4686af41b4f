//! The Kubernetes manifests against the Kubernetes OpenAPI schemas, offline
//! (`kubernetes-validate` from PyPI, which carries the schemas; `.ci/run`
//! installs it): unknown fields, wrong types and missing required fields
//! are errors (`--strict`).

use std::path::{Path, PathBuf};
use std::process::Command;

use sweep_e2e::scratch;

fn validate(file: &Path) -> (bool, String) {
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(file)
        .output()
        .expect("kubernetes-validate runs (pip install kubernetes-validate; .ci/run installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_kubernetes_manifests_match_the_schemas_and_probe_healthz() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s/sweep.yaml");
    let (ok, text) = validate(&manifest);
    assert!(ok, "{text}");
    for kind in [
        "persistentvolumeclaim/sweep-state",
        "deployment/sweep-coordinator",
        "service/sweep-coordinator",
        "deployment/sweep-worker",
    ] {
        assert!(
            text.contains(&format!("passed for resource {kind}")),
            "{kind}: {text}"
        );
    }
    let yaml = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        yaml.contains("httpGet: { path: /healthz, port: http }"),
        "probes"
    );
    assert!(
        yaml.contains("\"--http\", \"0.0.0.0:8080\""),
        "the dashboard port"
    );

    // The check can fail: a misspelt field and a wrong type are refused.
    let dir = scratch("k8s");
    for (what, broken) in [
        (
            "an unknown field",
            yaml.replace("readinessProbe:", "readinesProbe:"),
        ),
        (
            "a wrong type",
            yaml.replace("replicas: 4", "replicas: four"),
        ),
    ] {
        let file = dir.join("broken.yaml");
        std::fs::write(&file, broken).unwrap();
        let (ok, text) = validate(&file);
        assert!(!ok, "{what} passed: {text}");
    }
}
