//! The upper bounds of a sweep file, checked before anything is allocated:
//! each is far above any real sweep and low enough that no file can make
//! the coordinator allocate more than it has.

/// Seeds per cell: as many as a sweep may have jobs (the benchmark's sweep
/// is one cell of many seeds), and at most 8 MiB of them to hold.
pub const MAX_SEEDS: usize = 1_000_000;
/// Seeds an adaptive cell may run at most: each result rewrites its cell's
/// row (every candidate), so a cell must stay small.
pub const MAX_ADAPTIVE_SEEDS: usize = 1_000;
/// α values, listed or as a range.
pub const MAX_ALPHAS: usize = 1_000;
/// Points of a `[grid]` product.
pub const MAX_GRID_POINTS: usize = 10_000;
/// Leases per job.
pub const MAX_RETRY_LIMIT: u32 = 100;
/// One day: the longest a job may go without a heartbeat.
pub const MAX_LEASE_TIMEOUT_SECS: f64 = 86_400.0;
/// Jobs per sweep unless `serve --max-jobs` says otherwise.
pub const DEFAULT_MAX_JOBS: u64 = 1_000_000;
/// A sweep file's size in bytes.
pub const MAX_SWEEP_FILE_BYTES: usize = 1024 * 1024;
