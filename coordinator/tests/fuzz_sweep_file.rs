//! Fuzzing the sweep-file parser: random text, and valid files with one
//! field set to a hostile value. Nothing panics, nothing expands past the
//! job limit, and every refusal names the file (and the field, when one
//! field was changed).

use proptest::prelude::*;
use sweep_coordinator::sweep_file;

/// Cases per target; CI runs at least 10,000 of each.
const CASES: u32 = 10_000;
/// Jobs at most in a fuzzed sweep, so each case stays fast.
const MAX_JOBS: u64 = 2_000;

const VALID: &str = "version = 1
name = \"fuzz\"
datasets = [\"friedman1\"]
objectives = [\"stl\", \"mtl\"]
alphas = [0.5]
seeds = 2
retry_limit = 3
lease_timeout_secs = 10

[training]
hidden = [8]
max_epochs = 2

[noop]
sleep_ms = 0
";

/// Fields a hostile file may set, with where they live.
const FIELDS: [(&str, &str); 16] = [
    ("", "name"),
    ("", "seeds"),
    ("", "alphas"),
    ("", "retry_limit"),
    ("", "lease_timeout_secs"),
    ("", "datasets"),
    ("", "objectives"),
    ("training", "hidden"),
    ("training", "max_epochs"),
    ("training", "batch_size"),
    ("training", "learning_rate"),
    ("training", "lime_samples"),
    ("training", "synthetic_rows"),
    ("training", "gnf_max_points"),
    ("noop", "sleep_ms"),
    ("noop", "metric_shift"),
];

/// TOML values chosen to hit bounds, types and overflow.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<u32>().prop_map(|v| v.to_string()),
        any::<f64>()
            .prop_filter("TOML writes finite floats", |v| v.is_finite())
            .prop_map(|v| format!("{v:?}")),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("1e19".to_string()),
        Just("100000000000".to_string()),
        "[a-z./]{0,12}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec(any::<u32>(), 0..6).prop_map(|v| format!("{v:?}")),
        (any::<f64>(), any::<f64>(), any::<f64>()).prop_map(|(a, b, c)| {
            let f = |x: f64| {
                if x.is_finite() {
                    format!("{x:?}")
                } else {
                    "0.5".into()
                }
            };
            format!("{{ start = {}, stop = {}, step = {} }}", f(a), f(b), f(c))
        }),
        Just("{ min = 3 }".to_string()),
        Just("true".to_string()),
    ]
}

/// `VALID` with `key` (in `table`) set to `v`, replacing its line or
/// adding it to the table.
fn with_field(table: &str, key: &str, v: &str) -> String {
    let line = format!("{key} = {v}");
    let mut out = String::new();
    let mut current = "";
    let mut done = false;
    for l in VALID.lines() {
        if let Some(t) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if !done && current == table {
                out.push_str(&line);
                out.push('\n');
                done = true;
            }
            current = if t == "training" { "training" } else { "noop" };
        }
        if current == table && l.split('=').next().map(str::trim) == Some(key) {
            out.push_str(&line);
            out.push('\n');
            done = true;
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    if !done {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn plan(text: &str) -> Result<usize, String> {
    sweep_file::plan_jobs(text, "fuzz.toml", None, std::path::Path::new("."), MAX_JOBS)
        .map(|p| p.jobs.len() + p.cells.iter().map(|c| c.candidates.len()).sum::<usize>())
        .map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics_and_every_refusal_names_the_file(text in "\\PC{0,400}") {
        if let Err(e) = plan(&text) {
            prop_assert!(e.contains("fuzz.toml"), "{e}");
        }
    }

    #[test]
    fn one_hostile_field_is_refused_by_name_or_stays_within_bounds(
        field in 0..FIELDS.len(),
        v in value(),
    ) {
        let (table, key) = FIELDS[field];
        let text = with_field(table, key, &v);
        match plan(&text) {
            Ok(jobs) => prop_assert!(jobs as u64 <= MAX_JOBS),
            // The job count is a product of several fields: its refusal
            // names the count and the limit instead of one field.
            Err(e) => prop_assert!(
                e.contains("fuzz.toml")
                    && (e.contains(key)
                        || e.contains("TOML parse error")
                        || e.contains("jobs; this coordinator takes at most")),
                "{key} = {v}: {e}"
            ),
        }
    }
}

#[test]
fn the_unfuzzed_file_is_valid() {
    assert_eq!(plan(VALID), Ok(4));
    assert_eq!(plan(&with_field("", "seeds", "3")), Ok(6));
    assert_eq!(plan(&with_field("training", "lime_samples", "100")), Ok(4));
}
