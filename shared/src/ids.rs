//! Typed ids, so a job key is never passed where a worker id is meant (nor
//! a lease's fencing token where any number would do).
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

/// A lease's fencing token: the attempt number the coordinator gave the
/// lease when it granted it (the first lease of a job is attempt 1; 0 is
/// never issued). A report or heartbeat names the lease it belongs to by
/// it, so a stale lease is never mistaken for the current one.
///
/// Like the string ids, it is only made from a number on purpose (`new`,
/// `From`) and read as one (`get`); the wire carries the bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseToken(u32);

impl LeaseToken {
    pub const fn new(attempt: u32) -> Self {
        LeaseToken(attempt)
    }

    /// The attempt number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u32> for LeaseToken {
    fn from(attempt: u32) -> Self {
        LeaseToken(attempt)
    }
}

impl From<LeaseToken> for u32 {
    fn from(token: LeaseToken) -> u32 {
        token.0
    }
}

/// Why a string is not a sweep name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a sweep name: 1 to 128 of letters, digits, `-`, `_` or `.`, and not `.` or `..`"
)]
pub struct BadSweepName(pub String);

impl SweepName {
    /// The longest name: it becomes a directory name under `reports/`.
    pub const MAX_LEN: usize = 128;

    /// A name that is safe as one path component: reports are written to
    /// `reports/<name>/`, so `..` or a `/` would write elsewhere.
    pub fn parse(s: &str) -> Result<SweepName, BadSweepName> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok {
            Ok(SweepName(s.to_string()))
        } else {
            // Shown back to the user: cut, so a megabyte of name is not.
            Err(BadSweepName(s.chars().take(Self::MAX_LEN + 8).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_names_are_one_safe_path_component() {
        for good in ["quickstart", "paper-2026.v1", "a_b", "..x", "x.."] {
            assert!(SweepName::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(129);
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é", long.as_str()] {
            assert!(SweepName::parse(bad).is_err(), "{bad}");
        }
    }
}
