//! The typed ids live in `sweep_shared::ids`, shared with the workers; this
//! module keeps the coordinator's paths to them short.

pub use sweep_shared::ids::{JobKey, LeaseToken, SweepName, WorkerId};
