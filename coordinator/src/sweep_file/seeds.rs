//! The `seeds` field: a count (`seeds = 5` is seeds 0..5), a list, or an
//! adaptive rule, `{ min = 3, max = 20, target = { metric = "gf",
//! ci95_half_width = 0.001 } }` (or `relative = 0.1`), which runs seeds
//! `0..max` in order, `min` at first and more while the cell's 95%
//! interval of `metric` is wider than the target (`state::seeding`).

use sweep_shared::{DatasetName, Task};

use super::{bad, limits, SweepFileError};
use crate::state::seeding::{SeedRule, Width};

/// The seeds of every cell, and the rule when they are adaptive.
pub(super) fn parse(
    v: &toml::Value,
    datasets: &[DatasetName],
    source: &str,
) -> Result<(Vec<u64>, Option<SeedRule>), SweepFileError> {
    match v {
        toml::Value::Table(t) => {
            let rule = adaptive(t, datasets, source)?;
            Ok(((0..rule.max as u64).collect(), Some(rule)))
        }
        _ => Ok((seed_list(v, source)?, None)),
    }
}

/// Metrics a target may name, and the task they are measured on (`None`:
/// every task).
const TARGET_METRICS: [(&str, Option<Task>); 11] = [
    ("mse", Some(Task::Regression)),
    ("r2", Some(Task::Regression)),
    ("accuracy", Some(Task::Classification)),
    ("f1", Some(Task::Classification)),
    ("gf", None),
    ("gnf", None),
    ("r2_fg", None),
    ("ins_g", None),
    ("del_g", None),
    ("ins_grad", None),
    ("del_grad", None),
];

fn adaptive(
    t: &toml::Table,
    datasets: &[DatasetName],
    source: &str,
) -> Result<SeedRule, SweepFileError> {
    for k in t.keys() {
        if !["min", "max", "target"].contains(&k.as_str()) {
            return Err(bad(
                source,
                format!("seeds.{k}"),
                "unknown field; expected min, max, target",
            ));
        }
    }
    let count = |k: &str| -> Result<usize, SweepFileError> {
        let field = format!("seeds.{k}");
        let v = t.get(k).ok_or_else(|| bad(source, &field, "missing"))?;
        let n = v
            .as_integer()
            .ok_or_else(|| bad(source, &field, format!("expected an integer, got {v}")))?;
        if n < 2 {
            return Err(bad(
                source,
                &field,
                format!("{n}: an interval needs at least 2 seeds"),
            ));
        }
        if n as u64 > limits::MAX_ADAPTIVE_SEEDS as u64 {
            return Err(bad(
                source,
                &field,
                format!(
                    "{n} seeds; an adaptive cell may run at most {}",
                    limits::MAX_ADAPTIVE_SEEDS
                ),
            ));
        }
        Ok(n as usize)
    };
    let (min, max) = (count("min")?, count("max")?);
    if max < min {
        return Err(bad(
            source,
            "seeds.max",
            format!("{max} is below seeds.min ({min})"),
        ));
    }
    let target = match t.get("target") {
        Some(toml::Value::Table(target)) => target,
        Some(other) => {
            return Err(bad(
                source,
                "seeds.target",
                format!("expected {{ metric, ci95_half_width or relative }}, got {other}"),
            ))
        }
        None => return Err(bad(source, "seeds.target", "missing")),
    };
    for k in target.keys() {
        if !["metric", "ci95_half_width", "relative"].contains(&k.as_str()) {
            return Err(bad(
                source,
                format!("seeds.target.{k}"),
                "unknown field; expected metric, ci95_half_width, relative",
            ));
        }
    }
    let metric = match target.get("metric") {
        Some(toml::Value::String(m)) => m.clone(),
        Some(other) => {
            return Err(bad(
                source,
                "seeds.target.metric",
                format!("expected a metric name, got {other}"),
            ))
        }
        None => return Err(bad(source, "seeds.target.metric", "missing")),
    };
    let known: Vec<&str> = TARGET_METRICS.iter().map(|(m, _)| *m).collect();
    let Some((_, task)) = TARGET_METRICS.iter().find(|(m, _)| *m == metric) else {
        return Err(bad(
            source,
            "seeds.target.metric",
            format!(
                "unknown metric `{metric}`; expected one of {}",
                known.join(", ")
            ),
        ));
    };
    if let Some(task) = task {
        if let Some(d) = datasets.iter().find(|d| d.task() != *task) {
            let kind = match d.task() {
                Task::Regression => "regression",
                Task::Classification => "classification",
            };
            return Err(bad(
                source,
                "seeds.target.metric",
                format!("`{metric}` is not measured on {d}, a {kind} dataset"),
            ));
        }
    }
    let number = |k: &str| {
        target
            .get(k)
            .map(|v| positive(v, &format!("seeds.target.{k}"), source))
    };
    let width = match (number("ci95_half_width"), number("relative")) {
        (Some(w), None) => Width::Ci95HalfWidth(w?),
        (None, Some(r)) => Width::Relative(r?),
        _ => {
            return Err(bad(
                source,
                "seeds.target",
                "give exactly one of ci95_half_width, relative",
            ))
        }
    };
    Ok(SeedRule {
        min,
        max,
        metric,
        width,
    })
}

/// A positive, finite number.
fn positive(v: &toml::Value, field: &str, source: &str) -> Result<f64, SweepFileError> {
    let x = v
        .as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .ok_or_else(|| bad(source, field, format!("expected a number, got {v}")))?;
    if !(x > 0.0 && x.is_finite()) {
        return Err(bad(source, field, format!("must be positive, got {x}")));
    }
    Ok(x)
}

/// A count (`seeds = 5` is 0..5) or a list.
fn seed_list(v: &toml::Value, source: &str) -> Result<Vec<u64>, SweepFileError> {
    let too_many = |n: usize| {
        bad(
            source,
            "seeds",
            format!("{n} seeds; at most {} are allowed", limits::MAX_SEEDS),
        )
    };
    let seeds = match v {
        toml::Value::Integer(n) if *n > limits::MAX_SEEDS as i64 => {
            return Err(too_many(*n as usize))
        }
        toml::Value::Array(items) if items.len() > limits::MAX_SEEDS => {
            return Err(too_many(items.len()))
        }
        toml::Value::Integer(n) if *n >= 1 => (0..*n as u64).collect(),
        toml::Value::Integer(_) => return Err(bad(source, "seeds", "must be at least 1")),
        toml::Value::Array(items) if items.is_empty() => {
            return Err(bad(source, "seeds", "must be at least 1"))
        }
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_integer()
                    .filter(|s| *s >= 0)
                    .map(|s| s as u64)
                    .ok_or_else(|| {
                        bad(
                            source,
                            format!("seeds[{i}]"),
                            format!("expected a non-negative integer, got {x}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(bad(
                source,
                "seeds",
                format!(
                    "expected a count, a list of integers or {{ min, max, target }}, got {other}"
                ),
            ))
        }
    };
    let mut seen = seeds.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != seeds.len() {
        return Err(bad(source, "seeds", "a seed is listed twice"));
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use crate::sweep_file::parse;

    const FILE: &str = r#"
version = 1
name = "t"
datasets = ["friedman1", "moons"]
objectives = ["stl", "mtl"]
alphas = [0.5]
seeds = { min = 3, max = 8, target = { metric = "gf", ci95_half_width = 0.01 } }
"#;

    fn error(seeds: &str) -> String {
        let text = FILE.replace(
            r#"{ min = 3, max = 8, target = { metric = "gf", ci95_half_width = 0.01 } }"#,
            seeds,
        );
        parse(&text, "a.toml").unwrap_err().to_string()
    }

    #[test]
    fn an_adaptive_rule_plans_max_seeds_and_groups_them_into_cells() {
        let plan = parse(FILE, "a.toml").unwrap();
        assert_eq!(plan.seeds, (0..8).collect::<Vec<u64>>());
        let planned = plan.plan(std::path::Path::new("/nonexistent")).unwrap();
        assert!(planned.jobs.is_empty(), "the core releases the seeds");
        let cells: Vec<(&str, usize)> = planned
            .cells
            .iter()
            .map(|c| (c.label.as_str(), c.candidates.len()))
            .collect();
        assert_eq!(
            cells,
            [
                ("friedman1 stl", 8),
                ("friedman1 mtl α=0.5", 8),
                ("moons stl", 8),
                ("moons mtl α=0.5", 8)
            ]
        );
        let seeds: Vec<u64> = planned.cells[0].candidates.iter().map(|c| c.seed).collect();
        assert_eq!(seeds, (0..8).collect::<Vec<u64>>(), "in order");
    }

    #[test]
    fn bad_rules_name_the_field() {
        for (seeds, expected) in [
            (
                r#"{ min = 1, max = 8, target = { metric = "gf", relative = 0.1 } }"#,
                "a.toml: seeds.min: 1: an interval needs at least 2 seeds",
            ),
            (
                r#"{ min = 5, max = 4, target = { metric = "gf", relative = 0.1 } }"#,
                "a.toml: seeds.max: 4 is below seeds.min (5)",
            ),
            (
                r#"{ min = 3, max = 4 }"#,
                "a.toml: seeds.target: missing",
            ),
            (
                r#"{ min = 3, max = 4, step = 2, target = { metric = "gf", relative = 0.1 } }"#,
                "a.toml: seeds.step: unknown field; expected min, max, target",
            ),
            (
                r#"{ min = 3, max = 4, target = { metric = "gff", relative = 0.1 } }"#,
                "a.toml: seeds.target.metric: unknown metric `gff`; expected one of mse, r2, accuracy, f1, gf, gnf, r2_fg, ins_g, del_g, ins_grad, del_grad",
            ),
            (
                r#"{ min = 3, max = 4, target = { metric = "r2", relative = 0.1 } }"#,
                "a.toml: seeds.target.metric: `r2` is not measured on moons, a classification dataset",
            ),
            (
                r#"{ min = 3, max = 4, target = { metric = "gf" } }"#,
                "a.toml: seeds.target: give exactly one of ci95_half_width, relative",
            ),
            (
                r#"{ min = 3, max = 4, target = { metric = "gf", relative = 0.1, ci95_half_width = 1 } }"#,
                "a.toml: seeds.target: give exactly one of ci95_half_width, relative",
            ),
            (
                r#"{ min = 3, max = 4, target = { metric = "gf", relative = -0.1 } }"#,
                "a.toml: seeds.target.relative: must be positive, got -0.1",
            ),
            (
                r#"{ min = 3, max = 2000, target = { metric = "gf", relative = 0.1 } }"#,
                "a.toml: seeds.max: 2000 seeds; an adaptive cell may run at most 1000",
            ),
        ] {
            assert_eq!(error(seeds), expected);
        }
    }
}
