//! What `/metrics` exports, in the Prometheus text format.
//!
//! Events are counted where they happen (the core counts leases, expiries,
//! results and commit times; the service times `Lease`); levels — jobs by
//! state, workers connected, schedule runs by outcome — are read from the
//! core and the schedule store when scraped, so they never drift from the
//! truth.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Mutex<Registry>,
    pub leases_granted: Counter,
    /// `Lease` calls answered, with work or without (a long poll counts once).
    pub lease_calls: Counter,
    pub leases_expired: Counter,
    /// By `outcome`: accepted, duplicate, refused.
    results: Family<Labels, Counter>,
    pub lease_latency: Histogram,
    pub commit_latency: Histogram,
    jobs: Family<Labels, Gauge>,
    workers: Gauge,
    schedule_runs: Family<Labels, Gauge>,
}

/// The levels read at scrape time.
#[derive(Debug, Default)]
pub struct Levels {
    /// (sweep, state, jobs).
    pub jobs: Vec<(String, &'static str, u32)>,
    pub workers_connected: usize,
    /// (outcome, runs).
    pub schedule_runs: Vec<(String, usize)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sweep");
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            leases_granted: Counter::default(),
            lease_calls: Counter::default(),
            leases_expired: Counter::default(),
            results: Family::default(),
            // 0.1 ms to about 13 s.
            lease_latency: Histogram::new(exponential_buckets(1e-4, 2.0, 18)),
            commit_latency: Histogram::new(exponential_buckets(1e-4, 2.0, 18)),
            jobs: Family::default(),
            workers: Gauge::default(),
            schedule_runs: Family::default(),
        };
        registry.register(
            "leases_granted",
            "Jobs leased to workers",
            m.leases_granted.clone(),
        );
        registry.register(
            "lease_calls",
            "Lease calls answered, with work or without",
            m.lease_calls.clone(),
        );
        registry.register(
            "leases_expired",
            "Leases that passed their deadline without a heartbeat",
            m.leases_expired.clone(),
        );
        registry.register(
            "results",
            "Results reported by workers, by outcome (accepted, duplicate, refused)",
            m.results.clone(),
        );
        registry.register(
            "lease_latency_seconds",
            "Time to answer a Lease call",
            m.lease_latency.clone(),
        );
        registry.register(
            "store_commit_seconds",
            "Time to commit one batch of transitions to the store",
            m.commit_latency.clone(),
        );
        registry.register("jobs", "Jobs by sweep and state", m.jobs.clone());
        registry.register(
            "workers_connected",
            "Registered workers heard from within the last minute",
            m.workers.clone(),
        );
        registry.register(
            "schedule_runs",
            "Scheduled runs by outcome",
            m.schedule_runs.clone(),
        );
        *m.registry.lock().expect("not poisoned") = registry;
        m
    }

    pub fn result(&self, outcome: &'static str) {
        self.results
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
    }

    pub fn observe(histogram: &Histogram, d: Duration) {
        histogram.observe(d.as_secs_f64());
    }

    /// The text exposition, with the levels as given.
    pub fn render(&self, levels: &Levels) -> String {
        // One scrape at a time: another's clear must not empty this one's levels.
        let registry = self.registry.lock().expect("not poisoned");
        // Sweeps and outcomes that are gone must not linger as stale series.
        self.jobs.clear();
        for (sweep, state, n) in &levels.jobs {
            self.jobs
                .get_or_create(&vec![
                    ("sweep", sweep.clone()),
                    ("state", state.to_string()),
                ])
                .set(i64::from(*n));
        }
        self.workers.set(levels.workers_connected as i64);
        self.schedule_runs.clear();
        for (outcome, n) in &levels.schedule_runs {
            self.schedule_runs
                .get_or_create(&vec![("outcome", outcome.clone())])
                .set(*n as i64);
        }
        let mut out = String::new();
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_with_its_labels() {
        let m = Metrics::new();
        m.leases_granted.inc_by(3);
        m.result("accepted");
        Metrics::observe(&m.commit_latency, Duration::from_millis(2));
        let text = m.render(&Levels {
            jobs: vec![("s1".into(), "done", 4)],
            workers_connected: 2,
            schedule_runs: vec![("passed".into(), 1)],
        });
        for line in [
            "sweep_leases_granted_total 3",
            "sweep_results_total{outcome=\"accepted\"} 1",
            "sweep_jobs{sweep=\"s1\",state=\"done\"} 4",
            "sweep_workers_connected 2",
            "sweep_schedule_runs{outcome=\"passed\"} 1",
            "sweep_store_commit_seconds_count 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        // A sweep no longer reported leaves no series behind.
        let text = m.render(&Levels::default());
        assert!(!text.contains("sweep=\"s1\""), "{text}");
    }
}
