//! The coordinator: expands sweep files into jobs, leases them to workers
//! over gRPC, and keeps every result durably.
//!
//! `sweep_file` reads sweeps; `state` is the state machine and `store` its
//! durable twin, driven by `core`'s single thread; `service`, `auth` and
//! `server` are the gRPC face; `run` and `bench` are whole programs built
//! on them.

pub mod auth;
pub mod bench;
pub mod core;
pub mod error;
pub mod ids;
pub mod report;
pub mod run;
pub mod schedule;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod sweep_file;
pub mod user;
