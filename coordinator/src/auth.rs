//! Who may call what: two roles, each with its own bearer token.
//!
//! Workers (register, lease, heartbeat, report, fetch files) hold the
//! worker token; users and their tools (submit, cancel, schedules, status,
//! list, watch, results) hold the admin token. A worker's token gets
//! `PERMISSION_DENIED` on a user's call and the other way round, so a
//! compromised worker host cannot submit, cancel or read every result.
//!
//! One token for both roles (`SWEEP_TOKEN`) is the simple mode: on a
//! machine or cluster where the same people run the workers and the
//! sweeps, nothing is gained by two.

use tonic::{Request, Status};

/// The metadata key carrying `Bearer <token>`.
pub const HEADER: &str = "authorization";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Worker,
    Admin,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Admin => "admin",
        }
    }
}

/// The tokens a coordinator accepts. Both or neither: with neither, every
/// call is allowed (loopback only; `serve` refuses it elsewhere).
#[derive(Clone, Default)]
pub struct Tokens {
    worker: Option<String>,
    admin: Option<String>,
}

impl std::fmt::Debug for Tokens {
    // Never prints the secrets themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("worker", &self.worker.as_ref().map(|_| "…"))
            .field("admin", &self.admin.as_ref().map(|_| "…"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the {0} token is empty; an empty token would let anyone in")]
    Empty(&'static str),
    #[error("the {0} token must be printable ASCII (it travels as an HTTP header)")]
    NotAscii(&'static str),
    #[error("only a {given} token is set: set the {missing} token too (--{missing}-token-file or SWEEP_{upper}_TOKEN), or one SWEEP_TOKEN for both")]
    OnlyOne {
        given: &'static str,
        missing: &'static str,
        upper: &'static str,
    },
}

impl Tokens {
    /// No tokens: every call is allowed.
    pub fn open() -> Tokens {
        Tokens::default()
    }

    /// One token for both roles (the simple mode).
    pub fn shared(token: &str) -> Result<Tokens, TokenError> {
        Tokens::new(None, None, Some(token))
    }

    /// The role tokens, each falling back to `shared` when not given.
    pub fn new(
        worker: Option<&str>,
        admin: Option<&str>,
        shared: Option<&str>,
    ) -> Result<Tokens, TokenError> {
        let check = |role: &'static str, t: Option<&str>| -> Result<Option<String>, TokenError> {
            match t {
                None => Ok(None),
                Some(t) if t.trim().is_empty() => Err(TokenError::Empty(role)),
                Some(t) if !t.bytes().all(|b| (0x21..0x7f).contains(&b)) => {
                    Err(TokenError::NotAscii(role))
                }
                Some(t) => Ok(Some(t.to_string())),
            }
        };
        let shared = check("shared", shared)?;
        let worker = check("worker", worker)?.or_else(|| shared.clone());
        let admin = check("admin", admin)?.or(shared);
        match (&worker, &admin) {
            (Some(_), None) => Err(TokenError::OnlyOne {
                given: "worker",
                missing: "admin",
                upper: "ADMIN",
            }),
            (None, Some(_)) => Err(TokenError::OnlyOne {
                given: "admin",
                missing: "worker",
                upper: "WORKER",
            }),
            _ => Ok(Tokens { worker, admin }),
        }
    }

    pub fn is_open(&self) -> bool {
        self.worker.is_none() && self.admin.is_none()
    }

    /// The first gate, for every call: a token of either role, or none
    /// needed. Unauthenticated otherwise.
    pub fn authenticate(&self, req: Request<()>) -> Result<Request<()>, Status> {
        if self.is_open() || !self.roles_of(req.metadata()).is_empty() {
            Ok(req)
        } else {
            Err(Status::unauthenticated(
                "a valid token is required (SWEEP_WORKER_TOKEN or SWEEP_ADMIN_TOKEN, or SWEEP_TOKEN)",
            ))
        }
    }

    /// The second gate, in each method: the caller holds `role`'s token.
    pub fn require<T>(&self, req: &Request<T>, role: Role) -> Result<(), Status> {
        if self.is_open() || self.roles_of(req.metadata()).contains(&role) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "this call needs the {} token",
                role.name()
            )))
        }
    }

    /// Whether `given` is the admin token (always false with no tokens).
    pub fn is_admin(&self, given: &str) -> bool {
        self.admin
            .as_deref()
            .is_some_and(|t| constant_time_eq(given.as_bytes(), t.as_bytes()))
    }

    /// The dashboard's session cookie value: derived from the admin token,
    /// so a leaked cookie opens the dashboard but is no token for the RPCs.
    pub fn dashboard_session(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        let admin = self.admin.as_deref()?;
        let digest = Sha256::digest(format!("sweep-dashboard-session:{admin}"));
        Some(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Whether `given` is the dashboard's session cookie value.
    pub fn is_dashboard_session(&self, given: &str) -> bool {
        self.dashboard_session()
            .is_some_and(|s| constant_time_eq(given.as_bytes(), s.as_bytes()))
    }

    /// The roles whose token the request carries (both in simple mode).
    fn roles_of(&self, metadata: &tonic::metadata::MetadataMap) -> Vec<Role> {
        let given = metadata
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(given) = given else { return vec![] };
        let mut roles = Vec::new();
        // Both compared, always, so the time taken does not tell which.
        let w = self
            .worker
            .as_deref()
            .is_some_and(|t| constant_time_eq(given.as_bytes(), t.as_bytes()));
        let a = self
            .admin
            .as_deref()
            .is_some_and(|t| constant_time_eq(given.as_bytes(), t.as_bytes()));
        if w {
            roles.push(Role::Worker);
        }
        if a {
            roles.push(Role::Admin);
        }
        roles
    }
}

/// Compares without an early exit, so timing does not reveal the prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(v) = v {
            r.metadata_mut().insert(HEADER, v.parse().unwrap());
        }
        r
    }

    #[test]
    fn only_the_right_token_passes() {
        assert!(Tokens::open().authenticate(with(None)).is_ok());
        let t = Tokens::shared("s3cret").unwrap();
        assert!(t.authenticate(with(Some("Bearer s3cret"))).is_ok());
        for bad in [
            None,
            Some("Bearer nope"),
            Some("s3cret"),
            Some("Bearer s3cre"),
        ] {
            assert_eq!(
                t.authenticate(with(bad)).unwrap_err().code(),
                tonic::Code::Unauthenticated
            );
        }
    }

    #[test]
    fn each_role_token_is_denied_the_other_roles_calls() {
        let t = Tokens::new(Some("w-secret"), Some("a-secret"), None).unwrap();
        let w = with(Some("Bearer w-secret"));
        let a = with(Some("Bearer a-secret"));
        assert!(t.require(&w, Role::Worker).is_ok());
        assert!(t.require(&a, Role::Admin).is_ok());
        assert_eq!(
            t.require(&w, Role::Admin).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            t.require(&a, Role::Worker).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
        // The shared token is both, and fills in a missing role only.
        let t = Tokens::new(None, Some("a-secret"), Some("s")).unwrap();
        assert!(t.require(&with(Some("Bearer s")), Role::Worker).is_ok());
        assert!(t.require(&with(Some("Bearer s")), Role::Admin).is_err());
    }

    #[test]
    fn empty_or_lone_tokens_are_refused() {
        assert_eq!(Tokens::shared("").unwrap_err(), TokenError::Empty("shared"));
        assert_eq!(
            Tokens::new(Some(" \n"), Some("a"), None).unwrap_err(),
            TokenError::Empty("worker")
        );
        assert!(matches!(
            Tokens::new(Some("w"), None, None).unwrap_err(),
            TokenError::OnlyOne { .. }
        ));
        assert!(matches!(
            Tokens::new(Some("w w"), Some("a"), None).unwrap_err(),
            TokenError::NotAscii("worker")
        ));
    }
}
