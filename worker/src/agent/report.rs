//! Reporting a finished job's result or failure.

use std::sync::Arc;

use sweep_proto as pb;

use super::session::with_retry;
use super::{Finished, Shared};

/// Reports a finished job, retrying until the coordinator acknowledges.
pub(super) async fn report(shared: Arc<Shared>, done: Finished) {
    let Finished {
        key,
        attempt,
        outcome,
    } = done;
    shared.reporting.lock().unwrap().push(key.clone());
    let reply = match outcome {
        Ok(result_json) => {
            with_retry(&shared, "report result", |mut c, worker_id| {
                let (job_key, result_json) = (key.to_string(), result_json.clone());
                async move {
                    c.report_result(pb::ReportResultRequest {
                        worker_id,
                        job_key,
                        attempt: attempt.get(),
                        result_json,
                    })
                    .await
                }
            })
            .await
        }
        Err(error) => {
            // The coordinator keeps the failure as text, and its class.
            let (retryable, counts) = (error.retryable(), error.counts_toward_limit());
            let error = error.to_string();
            tracing::warn!(job = %key, %error, "job failed");
            with_retry(&shared, "report failure", |mut c, worker_id| {
                let (job_key, error) = (key.to_string(), error.clone());
                async move {
                    c.report_failure(pb::ReportFailureRequest {
                        worker_id,
                        job_key,
                        attempt: attempt.get(),
                        error,
                        retryable: Some(retryable),
                        counts_toward_limit: Some(counts),
                    })
                    .await
                }
            })
            .await
        }
    };
    match reply {
        Ok(reply) if !reply.get_ref().accepted => {
            tracing::info!(job = %key, %attempt, "report not needed: the job was already done")
        }
        Ok(_) => tracing::debug!(job = %key, %attempt, "reported"),
        Err(e) => tracing::error!(job = %key, error = %e, "could not report"),
    }
    shared.held.lock().unwrap().remove(&key);
    shared.reporting.lock().unwrap().retain(|k| k != &key);
}
