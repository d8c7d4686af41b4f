//! Typed ids, so a job key is never passed where a worker id is meant.

use std::fmt;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }
    };
}

id!(
    /// The content-addressed key of a job (see `JobSpec::key`).
    JobKey
);
id!(
    /// A registered worker.
    WorkerId
);
id!(
    /// A sweep, by its name.
    SweepName
);
