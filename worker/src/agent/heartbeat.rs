//! Renewing the held leases, so a long epoch never looks like death.

use std::sync::Arc;
use std::time::Duration;

use sweep_proto as pb;
use sweep_shared::ids::JobKey;

use super::session::with_retry;
use super::Shared;

/// Renews every held lease at a third of the shortest lease timeout.
pub(super) async fn heartbeat_loop(shared: Arc<Shared>) {
    loop {
        let (refs, interval) = {
            let held = shared.held.lock().unwrap();
            let shortest = held
                .values()
                .map(|h| h.timeout)
                .min()
                .unwrap_or(Duration::from_secs(3));
            let refs: Vec<pb::LeaseRef> = held
                .iter()
                .map(|(k, h)| pb::LeaseRef {
                    job_key: k.to_string(),
                    attempt: h.attempt.get(),
                })
                .collect();
            (
                refs,
                (shortest / 3).clamp(Duration::from_millis(50), Duration::from_secs(10)),
            )
        };
        if !refs.is_empty() {
            let result = with_retry(&shared, "heartbeat", |mut c, worker_id| {
                let leases = refs.clone();
                async move {
                    c.heartbeat(pb::HeartbeatRequest { worker_id, leases })
                        .await
                }
            })
            .await;
            match result {
                Ok(reply) => {
                    let held = shared.held.lock().unwrap();
                    // A lease reported while the heartbeat was in flight is not news.
                    for lost in reply
                        .into_inner()
                        .lost
                        .iter()
                        .filter(|l| held.contains_key(&JobKey::from(l.job_key.as_str())))
                    {
                        tracing::warn!(job = %lost.job_key, attempt = lost.attempt, "lease lost; its result will be reported anyway");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
        tokio::time::sleep(interval).await;
    }
}
