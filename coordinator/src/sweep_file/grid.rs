//! The sweep file's `[grid]`: a list of values for any training setting,
//! swept as a product with datasets × objectives × α × seeds.
//!
//! ```toml
//! [grid]
//! lr_min_delta = [1e-4, 0.0]
//! g_init = ["glorot", "least-squares"]
//! hidden = [[64, 64], [512, 256, 128]]
//! ```
//!
//! Each point's settings are `[training]` with the point's values added,
//! read by the same deserialiser as `[training]`, so a value is refused for
//! the same reasons there and here, with the grid key and index named.

use sweep_shared::TrainSettings;

use super::{bad, SweepFileError};

/// The grid of a sweep: its keys (in name order) and the settings of each
/// of its points. Without a `[grid]`, one point: `[training]` itself.
#[derive(Debug, Clone)]
pub struct Grid {
    pub keys: Vec<String>,
    pub points: Vec<TrainSettings>,
}

/// Reads `[grid]` from the sweep file's text, checked against `[training]`.
pub fn parse(text: &str, source: &str, training: &TrainSettings) -> Result<Grid, SweepFileError> {
    // The text parsed already as a sweep file, so it is a TOML table.
    let raw: toml::Table = text.parse().map_err(|error| SweepFileError::Syntax {
        file: source.to_string(),
        error,
    })?;
    let Some(grid) = raw.get("grid") else {
        return Ok(Grid {
            keys: Vec::new(),
            points: vec![training.clone()],
        });
    };
    let Some(grid) = grid.as_table() else {
        return Err(bad(
            source,
            "grid",
            "expected a table of setting = [values]",
        ));
    };
    let base = match raw.get("training") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    };
    let known = TrainSettings::field_names();
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (key, values) in grid {
        let field = format!("grid.{key}");
        if !known.contains(key) {
            return Err(bad(
                source,
                field,
                format!("unknown setting; expected one of {}", known.join(", ")),
            ));
        }
        if base.contains_key(key) {
            return Err(bad(
                source,
                field,
                "also set in [training]; a setting stands in one of them",
            ));
        }
        let values = match values {
            toml::Value::Array(v) if !v.is_empty() => v.clone(),
            _ => return Err(bad(source, field, "expected a non-empty list of values")),
        };
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                return Err(bad(
                    source,
                    format!("{field}[{i}]"),
                    "a value is listed twice",
                ));
            }
            settings_with(&base, &[(key.as_str(), v)])
                .map_err(|problem| bad(source, format!("{field}[{i}]"), problem))?;
        }
        axes.push((key.clone(), values));
    }
    let count = axes
        .iter()
        .fold(1usize, |n, (_, v)| n.saturating_mul(v.len()));
    if count > super::limits::MAX_GRID_POINTS {
        return Err(bad(
            source,
            "grid",
            format!(
                "{count} points; at most {} are allowed",
                super::limits::MAX_GRID_POINTS
            ),
        ));
    }
    // The product, the first key varying slowest.
    let mut combos: Vec<Vec<(&str, &toml::Value)>> = vec![Vec::new()];
    for (key, values) in &axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((key.as_str(), v));
                    c
                })
            })
            .collect();
    }
    let points = combos
        .iter()
        .map(|c| {
            settings_with(&base, c).map_err(|problem| {
                let point: Vec<String> = c.iter().map(|(k, v)| format!("{k}={v}")).collect();
                bad(
                    source,
                    "grid",
                    format!("the point {}: {problem}", point.join(", ")),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Grid {
        keys: axes.into_iter().map(|(k, _)| k).collect(),
        points,
    })
}

/// `[training]` with `values` added, deserialised and validated; the
/// problem in words otherwise.
fn settings_with(
    base: &toml::Table,
    values: &[(&str, &toml::Value)],
) -> Result<TrainSettings, String> {
    let mut table = base.clone();
    for (k, v) in values {
        table.insert(k.to_string(), (*v).clone());
    }
    let settings: TrainSettings = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    settings.validate().map_err(|e| e.to_string())?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use sweep_shared::{GInit, JobSpec, Objective};

    use crate::sweep_file::parse;

    const GRID: &str = r#"
version = 1
name = "g"
datasets = ["friedman1"]
objectives = ["stl", "mtl"]
alphas = [0.1, 0.5]
seeds = 2
[training]
max_epochs = 3
[grid]
lr_min_delta = [1e-4, 0.0]
g_init = ["glorot", "least-squares"]
"#;

    fn specs(text: &str) -> Vec<JobSpec> {
        let (sweep, jobs) = parse(text, "g.toml")
            .unwrap()
            .expand(Path::new("/nonexistent"))
            .unwrap();
        let keys: HashSet<_> = sweep.keys.iter().collect();
        assert_eq!(keys.len(), jobs.len(), "keys are distinct");
        jobs.iter()
            .map(|j| serde_json::from_str(&j.spec_json).unwrap())
            .collect()
    }

    /// A grid over one objective's own setting multiplies its jobs alone,
    /// and the constrained objective takes no α.
    #[test]
    fn an_objective_setting_multiplies_only_its_objective() {
        let specs = specs(
            r#"
version = 1
name = "o"
datasets = ["friedman1"]
objectives = ["stl", "mtl", "expo", "idexpo", "constrained"]
alphas = [0.1, 0.5]
seeds = 2
[grid]
gf_target = [0.005, 0.02]
expo_lambda = [0.5, 2.0]
"#,
        );
        let count = |o: Objective| specs.iter().filter(|s| s.objective == o).count();
        // STL 2 seeds; MTL and ID-ExpO 2 α × 2 seeds; ExpO × 2 λ; constrained 2 ε × 2 seeds.
        assert_eq!(count(Objective::Stl), 2);
        assert_eq!(count(Objective::Mtl), 4);
        assert_eq!(count(Objective::Idexpo), 4);
        assert_eq!(count(Objective::Expo), 8);
        assert_eq!(count(Objective::Constrained), 4);
        for s in &specs {
            match s.objective {
                Objective::Constrained => {
                    assert_eq!(s.alpha, None);
                    assert!(s.settings.gf_target.is_some());
                    assert!(
                        s.grid_label().starts_with("gf_target="),
                        "{}",
                        s.grid_label()
                    );
                    assert!(s.column_label().starts_with("Constrained ε = "));
                }
                Objective::Expo => {
                    assert_eq!(s.settings.gf_target, None, "ExpO ignores ε");
                    assert!(
                        s.column_label().starts_with("ExpO λ = "),
                        "{}",
                        s.column_label()
                    );
                }
                _ => {
                    assert_eq!(s.settings.gf_target, None);
                    assert_eq!(s.settings.expo_lambda, 1.0);
                    assert_eq!(s.grid_label(), "");
                }
            }
        }
        // Without an ε the constrained objective is refused, naming the field.
        let err = parse(
            r#"
version = 1
name = "o"
datasets = ["friedman1"]
objectives = ["constrained"]
seeds = 1
"#,
            "o.toml",
        )
        .unwrap()
        .expand(Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
        assert!(err.contains("gf_target: required"), "{err}");
    }

    #[test]
    fn a_grid_is_a_product_and_stl_skips_what_it_ignores() {
        let specs = specs(GRID);
        let mtl: Vec<_> = specs
            .iter()
            .filter(|s| s.objective == Objective::Mtl)
            .collect();
        let stl: Vec<_> = specs
            .iter()
            .filter(|s| s.objective == Objective::Stl)
            .collect();
        // MTL: 2 × 2 grid points × 2 α × 2 seeds; STL ignores g_init: 2 points × 2 seeds.
        assert_eq!((mtl.len(), stl.len()), (16, 4));
        let labels: HashSet<String> = mtl.iter().map(|s| s.grid_label()).collect();
        assert_eq!(labels.len(), 4);
        assert!(
            labels.contains("g_init=least-squares, lr_min_delta=0.0"),
            "{labels:?}"
        );
        assert!(stl.iter().all(|s| s.settings.g_init == GInit::Glorot));
        let stl_labels: HashSet<String> = stl.iter().map(|s| s.grid_label()).collect();
        assert_eq!(
            stl_labels,
            HashSet::from([
                "lr_min_delta=0.0".to_string(),
                "lr_min_delta=0.0001".to_string()
            ])
        );
        // [training] still applies at every point.
        assert!(specs.iter().all(|s| s.settings.max_epochs == 3));
    }

    #[test]
    fn hidden_layers_and_protocols_are_grid_keys_too() {
        let text = GRID
            .replace("lr_min_delta = [1e-4, 0.0]", "hidden = [[64, 64], [8]]")
            .replace(
                "g_init = [\"glorot\", \"least-squares\"]",
                "protocol = [\"method\", \"authors-code\"]",
            );
        let specs = specs(&text);
        // Both objectives read both keys: 4 points × (2 α + STL) × 2 seeds.
        assert_eq!(specs.len(), 4 * 3 * 2);
        assert!(specs
            .iter()
            .any(|s| s.settings.hidden == [8]
                && s.grid_label() == "hidden=[8], protocol=authors-code"));
    }

    fn error(text: &str) -> String {
        parse(text, "bad.toml").unwrap_err().to_string()
    }

    #[test]
    fn bad_grids_and_settings_name_the_key() {
        let e = error(&GRID.replace("[grid]", "[grid]\nnosuch = [1]"));
        assert!(
            e.starts_with("bad.toml: grid.nosuch: unknown setting"),
            "{e}"
        );
        let e = error(&GRID.replace("[grid]", "[grid]\nhidden = [1]"));
        assert!(e.starts_with("bad.toml: grid.hidden[0]: "), "{e}");
        let e = error(&GRID.replace("[grid]", "[grid]\nmax_epochs = [5, 6]"));
        assert!(e.contains("grid.max_epochs: also set in [training]"), "{e}");
        let e = error(&GRID.replace(
            "g_init = [\"glorot\", \"least-squares\"]",
            "g_init = [\"glorot\", \"glorot\"]",
        ));
        assert!(e.contains("grid.g_init[1]: a value is listed twice"), "{e}");
        let e = error(&GRID.replace(
            "g_init = [\"glorot\", \"least-squares\"]",
            "g_init = \"glorot\"",
        ));
        assert!(e.contains("grid.g_init: expected a non-empty list"), "{e}");
        let e = error(&GRID.replace("max_epochs = 3", "max_epochs = 3\nlr_schedule = \"cosine\""));
        assert!(e.contains("lr_schedule") && e.contains("cosine"), "{e}");
        let e = error(&GRID.replace("max_epochs = 3", "max_epochs = 3\nwarmup_epochs = -1"));
        assert!(e.contains("warmup_epochs"), "{e}");
        let e = error(&GRID.replace("[grid]", "[grid]\nlr_schedule = [\"plateau\", \"cosine\"]"));
        assert!(
            e.starts_with("bad.toml: grid.lr_schedule[1]: ") && e.contains("cosine"),
            "{e}"
        );
        let e = error(&GRID.replace("max_epochs = 3", "max_epochs = 3\nlr_min_delta = -1.0"));
        assert!(
            e.contains("training.lr_min_delta: must be finite and at least 0"),
            "{e}"
        );
    }
}
