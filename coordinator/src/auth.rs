//! The shared-secret check on every RPC.

use tonic::{Request, Status};

/// The metadata key carrying `Bearer <token>`.
pub const HEADER: &str = "authorization";

pub fn check(req: Request<()>, token: Option<&str>) -> Result<Request<()>, Status> {
    let Some(token) = token else { return Ok(req) };
    let given = req
        .metadata()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(req),
        _ => Err(Status::unauthenticated(
            "a valid token is required (SWEEP_TOKEN)",
        )),
    }
}

/// Compares without an early exit, so timing does not reveal the prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_token_passes() {
        let with = |v: Option<&str>| {
            let mut r = Request::new(());
            if let Some(v) = v {
                r.metadata_mut().insert(HEADER, v.parse().unwrap());
            }
            r
        };
        assert!(check(with(None), None).is_ok());
        assert!(check(with(Some("Bearer s3cret")), Some("s3cret")).is_ok());
        for bad in [
            None,
            Some("Bearer nope"),
            Some("s3cret"),
            Some("Bearer s3cre"),
        ] {
            assert_eq!(
                check(with(bad), Some("s3cret")).unwrap_err().code(),
                tonic::Code::Unauthenticated
            );
        }
    }
}
