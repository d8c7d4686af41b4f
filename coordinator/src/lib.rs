//! The coordinator: expands sweep files into jobs, leases them to workers
//! over gRPC, and keeps every result durably.
//!
//! `sweep_file` reads sweeps; `state` is the state machine and `store` its
//! durable twin, driven by `core`'s single thread; `service`, `auth` and
//! `server` are the gRPC face; `report` aggregates results with Polars and
//! `schedule` re-runs frozen sweeps. It never links the trainer: the
//! one-process run with local workers is the `sweep-local` crate.

pub mod auth;
pub mod core;
pub mod error;
pub mod graph;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod report;
pub mod schedule;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod sweep_file;
pub mod user;
