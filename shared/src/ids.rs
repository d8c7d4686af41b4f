//! Typed ids, so a job key is never passed where a worker id is meant.
//!
//! Both sides of the wire use them; the field is private so that an id is
//! only ever made from a string on purpose (`From`) and read as one
//! (`as_str`), never reached into.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

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

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id!(
    /// The content-addressed key of a job (see `JobSpec::key`).
    JobKey
);
id!(
    /// A registered worker, as the coordinator named it at registration.
    WorkerId
);
id!(
    /// A sweep, by its name.
    SweepName
);
