//! The session with the coordinator: connecting and registering, calls that
//! retry (and re-register) while the coordinator is away, deregistering.

use std::future::Future;
use std::time::Duration;

use sweep_proto as pb;
use tonic::Code;

use sweep_shared::ids::WorkerId;

use super::{AgentError, Shared};

/// Connects and registers, retrying with backoff while the coordinator is
/// unreachable; a protocol mismatch is final.
pub(super) async fn register(shared: &Shared) -> Result<(), AgentError> {
    let c = &shared.config;
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = async {
            let mut client = pb::connect_with(&c.endpoint, c.token.as_deref(), c.tls_ca.as_deref())
                .await
                .map_err(|e| (None, e.to_string()))?;
            let reply = client
                .register(pb::RegisterRequest {
                    protocol_version: pb::PROTOCOL_VERSION,
                    name: c.name.clone(),
                    slots: c.slots as u32,
                })
                .await
                .map_err(|s| (Some(s.code()), s.message().to_string()))?;
            let id = WorkerId::from(reply.into_inner().worker_id);
            Ok::<_, (Option<Code>, String)>((client, id))
        };
        match attempt.await {
            Ok((client, id)) => {
                tracing::info!(worker = %id, endpoint = %c.endpoint, slots = c.slots, "registered");
                *shared.worker_id.lock().unwrap() = Some(id);
                *shared.client.lock().await = Some(client);
                return Ok(());
            }
            Err((
                Some(
                    code @ (Code::FailedPrecondition
                    | Code::Unauthenticated
                    | Code::PermissionDenied
                    | Code::InvalidArgument),
                ),
                message,
            )) => {
                return Err(AgentError::Refused { code, message });
            }
            Err((_, message)) => {
                tracing::warn!(error = %message, retry_in_ms = backoff.as_millis() as u64, "coordinator unreachable");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// This worker's id as it travels (empty before registration, which the
/// coordinator answers as an unknown worker).
fn wire_id(shared: &Shared) -> String {
    shared
        .worker_id
        .lock()
        .unwrap()
        .as_ref()
        .map(WorkerId::to_string)
        .unwrap_or_default()
}

async fn client(shared: &Shared) -> Option<pb::Client> {
    shared.client.lock().await.clone()
}

/// Calls `f` until it succeeds, re-registering if the coordinator forgot
/// this worker and backing off while it is unreachable.
pub(super) async fn with_retry<T, F, Fut>(
    shared: &Shared,
    what: &str,
    mut f: F,
) -> Result<T, tonic::Status>
where
    F: FnMut(pb::Client, String) -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(c) = client(shared).await else {
            return Err(tonic::Status::unavailable("not connected"));
        };
        let id = wire_id(shared);
        match f(c, id).await {
            Ok(v) => return Ok(v),
            Err(s) if sweep_proto::is_unknown_worker(&s) => {
                tracing::warn!("the coordinator does not know this worker; registering again");
                if let Err(e) = register(shared).await {
                    return Err(tonic::Status::failed_precondition(e.to_string()));
                }
            }
            Err(s)
                if matches!(
                    s.code(),
                    Code::Unavailable
                        | Code::Unknown
                        | Code::Internal
                        | Code::Cancelled
                        | Code::DeadlineExceeded
                ) =>
            {
                tracing::warn!(error = %s.message(), call = what, retry_in_ms = backoff.as_millis() as u64, "coordinator call failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(s) => return Err(s),
        }
    }
}

/// Deregisters, handing `handed_back` back; a failure is only logged.
pub(super) async fn deregister(shared: &Shared, handed_back: Vec<pb::LeaseRef>) {
    let worker_id = wire_id(shared);
    if let Some(client) = shared.client.lock().await.as_mut() {
        let n = handed_back.len();
        match client
            .deregister(pb::DeregisterRequest {
                worker_id,
                hand_back: handed_back,
            })
            .await
        {
            Ok(_) => tracing::info!(handed_back = n, "deregistered"),
            Err(e) => tracing::warn!(error = %e, "deregistration failed"),
        }
    }
}
