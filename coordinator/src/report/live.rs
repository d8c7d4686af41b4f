//! Reports refreshed while results arrive: after a burst of changes
//! settles (or `every` at the most), each sweep whose counts moved gets
//! its files rewritten, so a long sweep can be looked at before it ends.
//! A last pass runs at shutdown, so the files are final, unless the caller
//! writes the final report itself (`sweep-local run` does, to print it).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use crate::core::Core;

/// Where each sweep's report goes.
#[derive(Debug, Clone)]
pub enum ReportDirs {
    /// `root/<sweep>/`.
    PerSweep(PathBuf),
    /// One directory, for a one-sweep run.
    Single(PathBuf),
}

impl ReportDirs {
    pub fn of(&self, sweep: &str) -> PathBuf {
        match self {
            ReportDirs::PerSweep(root) => root.join(sweep),
            ReportDirs::Single(dir) => dir.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LiveReports {
    pub dirs: ReportDirs,
    /// At most one rewrite of a sweep per this long.
    pub every: Duration,
    /// Whether to write changed sweeps once more at shutdown.
    pub final_pass: bool,
}

pub async fn refresh(core: Core, db: PathBuf, live: LiveReports, mut stop: watch::Receiver<bool>) {
    let LiveReports {
        dirs,
        every,
        final_pass,
    } = live;
    let mut changes = core.changes();
    // sweep → (state, done, failed) when its report was last written.
    let mut written: HashMap<String, (String, u32, u32)> = HashMap::new();
    // Sweeps finished before this start are not rewritten at every start.
    if let Ok(all) = core.list().await {
        for (name, state, c) in all {
            if state != crate::state::SweepState::Running {
                written.insert(
                    name.to_string(),
                    (state.name().to_string(), c.done, c.failed),
                );
            }
        }
    }
    loop {
        let stopping = tokio::select! {
            r = changes.changed() => r.is_err(),
            _ = stop.wait_for(|s| *s) => true,
        };
        if stopping && !final_pass {
            return;
        }
        if !stopping {
            // Let a burst of results settle into one rewrite.
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
        let Ok(all) = core.list().await else {
            return;
        };
        for (name, state, c) in all {
            let now = (state.name().to_string(), c.done, c.failed);
            if c.done + c.failed == 0 || written.get(name.as_str()) == Some(&now) {
                continue;
            }
            let (db, sweep, dir) = (db.clone(), name.to_string(), dirs.of(name.as_str()));
            let outcome = tokio::task::spawn_blocking(move || {
                super::generate(&db, &sweep, &dir, &super::ALL_FORMATS)
            })
            .await;
            match outcome {
                Ok(Ok(w)) => {
                    tracing::debug!(sweep = %name, runs = w.runs, "report refreshed");
                    written.insert(name.to_string(), now);
                }
                Ok(Err(e)) => tracing::warn!(sweep = %name, error = %e, "report not refreshed"),
                Err(e) => tracing::warn!(sweep = %name, error = %e, "report task failed"),
            }
        }
        if stopping || *stop.borrow() {
            return;
        }
    }
}
