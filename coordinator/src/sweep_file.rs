//! The sweep file: a versioned TOML description of datasets × objectives ×
//! α values × seeds with training settings, and its expansion into jobs.
//!
//! ```toml
//! version = 1
//! name = "quickstart"
//! datasets = ["friedman1", "moons"]
//! objectives = ["stl", "mtl"]
//! alphas = [0.1, 0.5, 0.9]        # or { start = 0.1, stop = 0.9, step = 0.1 }
//! seeds = 3                       # or [0, 1, 2], or adaptive (`seeds.rs`):
//!                                 # { min = 3, max = 20, target = { metric = "gf", relative = 0.1 } }
//! retry_limit = 3
//! lease_timeout_secs = 60
//!
//! [training]                      # overrides of method.md's defaults
//! max_epochs = 20
//! ```

mod grid;
pub mod limits;
mod seeds;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use sweep_shared::registry::{self, FileError};
use sweep_shared::{
    ignored_by, DatasetName, JobSpec, NoopJob, Objective, SettingsError, TrainSettings,
};

use crate::ids::{JobKey, SweepName};
use crate::state::seeding::{Candidate, SeedCell, SeedRule};
use crate::state::{Job, JobState, NeededFile, Sweep, SweepState};

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    pub version: u32,
    pub name: String,
    pub datasets: Vec<DatasetName>,
    pub objectives: Vec<Objective>,
    #[serde(default)]
    pub alphas: Option<toml::Value>,
    pub seeds: toml::Value,
    #[serde(default = "default_retry_limit")]
    pub retry_limit: u32,
    #[serde(default = "default_lease_timeout")]
    pub lease_timeout_secs: f64,
    #[serde(default)]
    pub training: TrainSettings,
    /// The no-op job kind (tests and benchmarks): no training, a sleep.
    #[serde(default)]
    pub noop: Option<NoopJob>,
    /// Lists of values for training settings, swept as a product (see `grid`).
    #[serde(default)]
    pub grid: Option<toml::Value>,
    /// The auxiliary objective's column group per dataset:
    /// `aux = { housing = ["Latitude", "Longitude"] }`.
    #[serde(default)]
    pub aux: std::collections::BTreeMap<String, Vec<String>>,
}

fn default_retry_limit() -> u32 {
    3
}

fn default_lease_timeout() -> f64 {
    60.0
}

/// A validated sweep, ready to expand.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    pub file: SweepFile,
    pub alphas: Vec<f64>,
    pub seeds: Vec<u64>,
    pub text: String,
    /// Set for a scheduled run: goes into every job's key (see `JobSpec::run`).
    pub run: Option<String>,
    /// The settings of every grid point (one without a `[grid]`).
    pub grid: grid::Grid,
    /// Set when `seeds` is adaptive (`seeds` is then `0..max`).
    pub seeding: Option<SeedRule>,
}

/// A sweep ready for the core: the sweep, its jobs, and for an adaptive
/// sweep its cells (whose released seeds the core submits instead).
#[derive(Debug, Clone)]
pub struct Planned {
    pub sweep: Sweep,
    pub jobs: Vec<Job>,
    pub cells: Vec<SeedCell>,
}

/// Why a sweep file was refused: every message names the file and the
/// field, or (when it is expanded) the dataset or job at fault.
#[derive(Debug, thiserror::Error)]
pub enum SweepFileError {
    /// Not TOML, or not a sweep file's shape (an unknown field, a wrong type).
    #[error("{file}: {error}")]
    Syntax {
        file: String,
        #[source]
        error: toml::de::Error,
    },
    /// A field whose value is not allowed; `field` is its path (`alphas[1]`).
    #[error("{file}: {field}: {problem}")]
    Field {
        file: String,
        field: String,
        problem: String,
    },
    /// A training setting (`[training]`) that is not valid.
    #[error("{file}: training.{error}")]
    Training {
        file: String,
        #[source]
        error: SettingsError,
    },
    /// A paper dataset whose files are missing or not the published ones.
    #[error("dataset {dataset}: {error}")]
    Dataset {
        dataset: DatasetName,
        #[source]
        error: FileError,
    },
    /// A sweep of more jobs than the coordinator takes (`serve --max-jobs`).
    #[error("sweep {sweep}: {jobs} jobs; this coordinator takes at most {limit} per sweep (serve --max-jobs)")]
    TooManyJobs {
        sweep: String,
        jobs: u64,
        limit: u64,
    },
    /// Any of the others that name only what in the file is wrong.
    #[error("{file}: {error}")]
    InFile {
        file: String,
        #[source]
        error: Box<SweepFileError>,
    },
    /// A job of the expansion that is not valid.
    #[error("job {job}: {error}")]
    Job {
        job: String,
        #[source]
        error: SettingsError,
    },
}

/// A bad value of `field` in `file`.
fn bad(file: &str, field: impl Into<String>, problem: impl Into<String>) -> SweepFileError {
    SweepFileError::Field {
        file: file.to_string(),
        field: field.into(),
        problem: problem.into(),
    }
}

/// Parses and validates a sweep file; errors name `source` and the field.
pub fn parse(text: &str, source: &str) -> Result<SweepPlan, SweepFileError> {
    let file: SweepFile = toml::from_str(text).map_err(|error| SweepFileError::Syntax {
        file: source.to_string(),
        error,
    })?;
    if file.version != VERSION {
        return Err(bad(
            source,
            "version",
            format!(
                "{} is not supported; this coordinator reads version {VERSION}",
                file.version
            ),
        ));
    }
    SweepName::parse(&file.name).map_err(|e| bad(source, "name", e.to_string()))?;
    if file.datasets.is_empty() {
        return Err(bad(source, "datasets", "at least one dataset is needed"));
    }
    if file.objectives.is_empty() {
        return Err(bad(
            source,
            "objectives",
            "at least one of stl, mtl, expo, idexpo, constrained, auxiliary is needed",
        ));
    }
    let alphas = match &file.alphas {
        None => vec![],
        Some(v) => alpha_grid(v, source)?,
    };
    if let Some(o) = file.objectives.iter().find(|o| o.takes_alpha()) {
        if alphas.is_empty() {
            return Err(bad(
                source,
                "alphas",
                format!("objective {o} needs at least one α"),
            ));
        }
    }
    for (i, &a) in alphas.iter().enumerate() {
        if !(a > 0.0 && a < 1.0) {
            return Err(bad(
                source,
                format!("alphas[{i}]"),
                format!("{a} is outside (0, 1)"),
            ));
        }
    }
    check_aux(&file, source)?;
    let (seeds, seeding) = seeds::parse(&file.seeds, &file.datasets, source)?;
    file.training
        .validate()
        .map_err(|error| SweepFileError::Training {
            file: source.to_string(),
            error,
        })?;
    if file.retry_limit == 0 {
        return Err(bad(source, "retry_limit", "must be at least 1"));
    }
    if file.retry_limit > limits::MAX_RETRY_LIMIT {
        return Err(bad(
            source,
            "retry_limit",
            format!(
                "{} is above the limit of {}",
                file.retry_limit,
                limits::MAX_RETRY_LIMIT
            ),
        ));
    }
    if !(file.lease_timeout_secs > 0.0 && file.lease_timeout_secs.is_finite()) {
        return Err(bad(
            source,
            "lease_timeout_secs",
            format!("must be positive, got {}", file.lease_timeout_secs),
        ));
    }
    if file.lease_timeout_secs > limits::MAX_LEASE_TIMEOUT_SECS {
        // Deadlines are instants `now + timeout`: an unbounded timeout
        // overflowed them, and a lease a worker holds for longer than a day
        // without a heartbeat is a lost worker anyway.
        return Err(bad(
            source,
            "lease_timeout_secs",
            format!(
                "{} is above the limit of {} (one day)",
                file.lease_timeout_secs,
                limits::MAX_LEASE_TIMEOUT_SECS
            ),
        ));
    }
    let grid = grid::parse(text, source, &file.training)?;
    Ok(SweepPlan {
        file,
        alphas,
        seeds,
        text: text.to_string(),
        run: None,
        grid,
        seeding,
    })
}

/// The `aux` table: one group for every dataset of a sweep with the
/// auxiliary objective, for no dataset it does not have, and none without
/// that objective, each group's columns checked once here (and again with
/// each job), so that a bad group is refused before anything is stored.
fn check_aux(file: &SweepFile, source: &str) -> Result<(), SweepFileError> {
    let auxiliary = file.objectives.contains(&Objective::Auxiliary);
    if !auxiliary && !file.aux.is_empty() {
        return Err(bad(source, "aux", "is set, but no objective is auxiliary"));
    }
    for (name, columns) in &file.aux {
        let known = name
            .parse::<DatasetName>()
            .map_err(|e| bad(source, format!("aux.{name}"), e.to_string()))?;
        if !file.datasets.contains(&known) {
            return Err(bad(
                source,
                format!("aux.{name}"),
                "names a dataset the sweep does not have",
            ));
        }
        sweep_shared::check_aux_group(known, columns).map_err(|e| {
            let problem = match e {
                sweep_shared::SettingsError::AuxColumn {
                    column, because, ..
                } => {
                    format!("column `{column}` {because}")
                }
                other => other.to_string(),
            };
            bad(source, format!("aux.{name}"), problem)
        })?;
    }
    if auxiliary {
        if let Some(d) = file
            .datasets
            .iter()
            .find(|d| !file.aux.contains_key(d.as_str()))
        {
            return Err(bad(
                source,
                "aux",
                format!(
                    "objective auxiliary needs a column group for dataset {d}, e.g. aux = {{ {d} = [\"{}\"] }}",
                    d.input_columns()[0]
                ),
            ));
        }
    }
    Ok(())
}

/// Parses, checks the size against `max_jobs` and expands: the whole of a
/// submission's work before the core sees it. It allocates and reads the
/// dataset files, so callers run it off the async runtime.
pub fn plan_jobs(
    text: &str,
    source: &str,
    run: Option<&str>,
    data_dir: &Path,
    max_jobs: u64,
) -> Result<Planned, SweepFileError> {
    if text.len() > limits::MAX_SWEEP_FILE_BYTES {
        return Err(bad(
            source,
            "(file)",
            format!(
                "{} bytes; a sweep file may have at most {}",
                text.len(),
                limits::MAX_SWEEP_FILE_BYTES
            ),
        ));
    }
    let mut plan = parse(text, source)?;
    if let Some(run) = run {
        plan = plan.scheduled_run(run);
    }
    plan.check_size(max_jobs)
        .and_then(|()| plan.plan(data_dir))
        .map_err(|e| e.in_file(source))
}

impl SweepFileError {
    /// The error, naming `file` if it does not already.
    pub fn in_file(self, file: &str) -> SweepFileError {
        match self {
            SweepFileError::Syntax { .. }
            | SweepFileError::Field { .. }
            | SweepFileError::Training { .. }
            | SweepFileError::InFile { .. } => self,
            other => SweepFileError::InFile {
                file: file.to_string(),
                error: Box::new(other),
            },
        }
    }
}

/// A list of α values, or `{ start, stop, step }` (stop included).
fn alpha_grid(v: &toml::Value, source: &str) -> Result<Vec<f64>, SweepFileError> {
    let number = |v: &toml::Value, what: String| {
        v.as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .ok_or_else(|| bad(source, what, format!("expected a number, got {v}")))
    };
    let values = match v {
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| number(x, format!("alphas[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        toml::Value::Table(t) => {
            for k in t.keys() {
                if !["start", "stop", "step"].contains(&k.as_str()) {
                    return Err(bad(
                        source,
                        format!("alphas.{k}"),
                        "unknown field; expected start, stop, step",
                    ));
                }
            }
            let get = |k: &str| {
                t.get(k)
                    .ok_or_else(|| bad(source, format!("alphas.{k}"), "missing"))
                    .and_then(|v| number(v, format!("alphas.{k}")))
            };
            let (start, stop, step) = (get("start")?, get("stop")?, get("step")?);
            if step.is_nan() || step <= 0.0 || stop < start {
                return Err(bad(
                    source,
                    "alphas",
                    format!("need step > 0 and stop ≥ start, got {start}..{stop} by {step}"),
                ));
            }
            let n = ((stop - start) / step + 1e-9).floor() + 1.0;
            // NaN (an infinite range) is refused too.
            if n.is_nan() || n > limits::MAX_ALPHAS as f64 {
                return Err(bad(
                    source,
                    "alphas",
                    format!(
                        "{start}..{stop} by {step} is {n} values; at most {} are allowed",
                        limits::MAX_ALPHAS
                    ),
                ));
            }
            let n = n as usize;
            // Rounded so that 0.1 + 2·0.1 is 0.3, as the user wrote it.
            (0..n)
                .map(|i| ((start + i as f64 * step) * 1e9).round() / 1e9)
                .collect()
        }
        other => {
            return Err(bad(
                source,
                "alphas",
                format!("expected a list or {{ start, stop, step }}, got {other}"),
            ))
        }
    };
    if values.len() > limits::MAX_ALPHAS {
        return Err(bad(
            source,
            "alphas",
            format!(
                "{} values; at most {} are allowed",
                values.len(),
                limits::MAX_ALPHAS
            ),
        ));
    }
    let mut seen = values.clone();
    seen.sort_by(f64::total_cmp);
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(bad(source, "alphas", "a value is listed twice"));
    }
    Ok(values)
}

impl SweepPlan {
    /// How many jobs `expand` makes at most (before removing duplicates),
    /// computed without making them, so a limit is checked first.
    pub fn job_count(&self) -> u64 {
        let f = &self.file;
        let per_point: u64 = f
            .objectives
            .iter()
            .map(|o| {
                if o.takes_alpha() {
                    self.alphas.len() as u64
                } else {
                    1
                }
            })
            .sum();
        (f.datasets.len() as u64)
            .saturating_mul(per_point)
            .saturating_mul(self.grid.points.len() as u64)
            .saturating_mul(self.seeds.len() as u64)
    }

    /// Refuses a plan of more than `max_jobs` jobs, naming the product.
    pub fn check_size(&self, max_jobs: u64) -> Result<(), SweepFileError> {
        let n = self.job_count();
        if n > max_jobs {
            return Err(SweepFileError::TooManyJobs {
                sweep: self.file.name.clone(),
                jobs: n,
                limit: max_jobs,
            });
        }
        Ok(())
    }

    /// The same sweep as a scheduled run: named `name`, with `name` as the
    /// run id in every job's key.
    pub fn scheduled_run(mut self, name: &str) -> SweepPlan {
        self.file.name = name.to_string();
        self.run = Some(name.to_string());
        self
    }

    /// The sweep for the core: [`SweepPlan::expand`], and for an adaptive
    /// sweep its jobs grouped into cells, seeds in order.
    pub fn plan(&self, data_dir: &Path) -> Result<Planned, SweepFileError> {
        let (sweep, jobs) = self.expand(data_dir)?;
        let Some(rule) = &self.seeding else {
            return Ok(Planned {
                sweep,
                jobs,
                cells: vec![],
            });
        };
        let mut cells: Vec<SeedCell> = Vec::new();
        let mut at: std::collections::HashMap<String, usize> = Default::default();
        for job in &jobs {
            let spec: JobSpec = serde_json::from_str(&job.spec_json).expect("a spec made here");
            let label = spec.cell_label();
            let i = *at.entry(label.clone()).or_insert_with(|| {
                cells.push(SeedCell {
                    label,
                    dataset: spec.dataset.to_string(),
                    objective: spec.objective.to_string(),
                    alpha: spec.alpha,
                    grid: spec.grid_label(),
                    rule: rule.clone(),
                    candidates: vec![],
                    released: 0,
                    ledger: vec![],
                    stop: None,
                });
                cells.len() - 1
            });
            cells[i].candidates.push(Candidate::of(spec.seed, job));
        }
        Ok(Planned {
            sweep,
            jobs: vec![],
            cells,
        })
    }

    /// The jobs: one per (dataset, objective, grid point, α, seed), without
    /// α for the objectives that take none (STL, constrained), where each
    /// objective's grid points leave out the settings it ignores (see
    /// `sweep_shared::ignored_by`), so they do not repeat its jobs.
    /// Paper datasets must be present and intact in
    /// `data_dir`, which serves them to workers; no-op sweeps need no data.
    pub fn expand(&self, data_dir: &Path) -> Result<(Sweep, Vec<Job>), SweepFileError> {
        let f = &self.file;
        let mut jobs = Vec::new();
        let mut seen = HashSet::new();
        for &dataset in &f.datasets {
            let mut files = Vec::new();
            if f.noop.is_none() && !dataset.is_builtin() {
                for file in registry::files(dataset) {
                    registry::read_verified(data_dir, file)
                        .map_err(|error| SweepFileError::Dataset { dataset, error })?;
                    files.push(NeededFile {
                        path: file.path.to_string(),
                        sha256: file.sha256.to_string(),
                        bytes: file.bytes,
                    });
                }
            }
            let identity = registry::files_identity(dataset);
            for &objective in &f.objectives {
                let alphas: Vec<Option<f64>> = if objective.takes_alpha() {
                    self.alphas.iter().map(|&a| Some(a)).collect()
                } else {
                    vec![None]
                };
                let ignored = ignored_by(objective);
                let mut grid = self.grid.keys.clone();
                grid.retain(|k| !ignored.contains(&k.as_str()));
                for point in &self.grid.points {
                    let mut settings = point.for_objective(objective);
                    if objective == Objective::Auxiliary {
                        settings.aux_columns =
                            f.aux.get(dataset.as_str()).cloned().unwrap_or_default();
                    }
                    for &alpha in &alphas {
                        for &seed in &self.seeds {
                            let spec = JobSpec {
                                dataset,
                                objective,
                                alpha,
                                seed,
                                settings: settings.clone(),
                                noop: f.noop.clone(),
                                run: self.run.clone(),
                                grid: grid.clone(),
                            };
                            spec.validate().map_err(|error| SweepFileError::Job {
                                job: spec.label(),
                                error,
                            })?;
                            let key = JobKey::from(spec.key(&identity));
                            if !seen.insert(key.clone()) {
                                continue;
                            }
                            jobs.push(Job {
                                key,
                                spec_json: serde_json::to_string(&spec).expect("a spec serialises"),
                                files: files.clone(),
                                state: JobState::Queued,
                                attempts: 0,
                                retry_limit: f.retry_limit,
                                lease_timeout: Duration::from_secs_f64(f.lease_timeout_secs),
                            });
                        }
                    }
                }
            }
        }
        let sweep = Sweep {
            name: SweepName::from(f.name.as_str()),
            toml: self.text.clone(),
            state: SweepState::Running,
            keys: jobs.iter().map(|j| j.key.clone()).collect(),
        };
        Ok((sweep, jobs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
version = 1
name = "t"
datasets = ["friedman1", "moons"]
objectives = ["stl", "mtl"]
alphas = { start = 0.1, stop = 0.9, step = 0.1 }
seeds = 5
[training]
max_epochs = 3
"#;

    #[test]
    fn expansion_has_one_job_per_cell_and_stl_once_per_seed() {
        let plan = parse(GOOD, "good.toml").unwrap();
        assert_eq!(plan.alphas, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
        let (sweep, jobs) = plan.expand(Path::new("/nonexistent")).unwrap();
        // 2 datasets × (5 STL + 9 α × 5 seeds).
        assert_eq!(jobs.len(), 2 * (5 + 45));
        let mut keys = sweep.keys.clone();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), jobs.len(), "keys are distinct");
        let spec: JobSpec = serde_json::from_str(&jobs[0].spec_json).unwrap();
        assert_eq!(spec.settings.max_epochs, 3);
        // The same file expands to the same keys.
        let (again, _) = parse(GOOD, "good.toml")
            .unwrap()
            .expand(Path::new("/nonexistent"))
            .unwrap();
        assert_eq!(again.keys, sweep.keys);
    }

    fn error(text: &str) -> String {
        parse(text, "bad.toml").unwrap_err().to_string()
    }

    #[test]
    fn bad_files_name_the_field() {
        let e = error(&GOOD.replace(
            "start = 0.1, stop = 0.9, step = 0.1",
            "start = 0.5, stop = 1.5, step = 0.5",
        ));
        assert_eq!(e, "bad.toml: alphas[1]: 1 is outside (0, 1)");
        let e = error(&GOOD.replace("\"moons\"", "\"mnist\""));
        assert!(
            e.starts_with("bad.toml: ") && e.contains("unknown dataset `mnist`"),
            "{e}"
        );
        assert_eq!(
            error(&GOOD.replace("seeds = 5", "seeds = 0")),
            "bad.toml: seeds: must be at least 1"
        );
        let e = error(&GOOD.replace("seeds = 5", "seeds = 5\nsedes = 2"));
        assert!(
            e.contains("unknown field `sedes`") && e.contains("line 8"),
            "{e}"
        );
        let e = error(&GOOD.replace("max_epochs = 3", "max_epochs = 0"));
        assert_eq!(e, "bad.toml: training.max_epochs: must be at least 1");
        let e = error(&GOOD.replace("version = 1", "version = 2"));
        assert!(e.contains("version: 2 is not supported"), "{e}");
        let e = error(&GOOD.replace("[training]", "lease_timeout_secs = -1\n[training]"));
        assert!(e.contains("lease_timeout_secs: must be positive"), "{e}");
    }

    #[test]
    fn auxiliary_groups_are_set_per_dataset_and_bad_ones_named() {
        let aux = GOOD.replace(
            "objectives = [\"stl\", \"mtl\"]",
            "objectives = [\"stl\", \"auxiliary\"]\naux = { friedman1 = [\"x4\", \"x5\"], moons = [\"band\"] }",
        );
        let (_, jobs) = parse(&aux, "aux.toml")
            .unwrap()
            .expand(Path::new("/nonexistent"))
            .unwrap();
        let specs: Vec<JobSpec> = jobs
            .iter()
            .map(|j| serde_json::from_str(&j.spec_json).unwrap())
            .collect();
        let groups: Vec<(DatasetName, Vec<String>)> = specs
            .iter()
            .filter(|s| s.objective == Objective::Auxiliary && s.seed == 0)
            .map(|s| (s.dataset, s.settings.aux_columns.clone()))
            .collect();
        assert_eq!(
            groups,
            [
                (DatasetName::Friedman1, vec!["x4".into(), "x5".into()]),
                (DatasetName::Moons, vec!["band".into()])
            ]
        );
        // STL's jobs keep their keys: no group in their settings.
        assert!(specs
            .iter()
            .filter(|s| s.objective == Objective::Stl)
            .all(|s| s.settings.aux_columns.is_empty()));

        let expand_error = |text: &str| {
            parse(text, "aux.toml")
                .and_then(|p| p.expand(Path::new("/nonexistent")))
                .unwrap_err()
                .to_string()
        };
        let e = expand_error(&aux.replace("\"x5\"", "\"x11\""));
        assert!(
            e.contains("aux.toml: aux.friedman1: column `x11` is not an input column"),
            "{e}"
        );
        let e = expand_error(&aux.replace("\"x5\"", "\"y\""));
        assert!(e.contains("column `y` is the target itself"), "{e}");
        let all = (1..=10)
            .map(|i| format!("\"x{i}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let e = expand_error(&aux.replace("\"x4\", \"x5\"", &all));
        assert!(e.contains("would leave no input"), "{e}");
        let e = expand_error(&aux.replace(", moons = [\"band\"]", ""));
        assert!(
            e.contains("aux: objective auxiliary needs a column group for dataset moons"),
            "{e}"
        );
        let e = expand_error(&aux.replace("moons = ", "wine = "));
        assert!(
            e.contains("aux.wine: names a dataset the sweep does not have"),
            "{e}"
        );
        let e = expand_error(&GOOD.replace("[training]", "aux = { moons = [\"u\"] }\n[training]"));
        assert!(
            e.contains("aux: is set, but no objective is auxiliary"),
            "{e}"
        );
    }

    #[test]
    fn paper_datasets_must_be_present_to_be_served() {
        let text = GOOD.replace("\"friedman1\", \"moons\"", "\"wine\"");
        let e = parse(&text, "p.toml")
            .unwrap()
            .expand(Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("dataset wine: /nonexistent/wine-quality/winequality-red.csv"),
            "{e}"
        );
    }
}
