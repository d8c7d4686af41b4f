//! A sweep's status as it travels: one reply, and the stream of replies
//! as its jobs change.

use sweep_proto as pb;
use tonic::Status;

use super::Stream2;
use crate::core::Core;
use crate::ids::SweepName;
use crate::state::{Counts, SweepState};

/// The sweep state as it travels: an enum on the wire, never a word to match.
fn wire_state(state: SweepState) -> pb::SweepState {
    match state {
        SweepState::Running => pb::SweepState::Running,
        SweepState::Finished => pb::SweepState::Finished,
        SweepState::Cancelled => pb::SweepState::Cancelled,
    }
}

pub fn status_reply(name: &SweepName, state: SweepState, c: &Counts) -> pb::SweepStatusReply {
    pb::SweepStatusReply {
        name: name.to_string(),
        state: wire_state(state) as i32,
        total: c.total,
        queued: c.queued,
        running: c.running,
        done: c.done,
        failed: c.failed,
        cancelled: c.cancelled,
    }
}

/// The status of `name` now and after every change, until the sweep ends
/// or the client goes away.
pub(super) async fn watch(
    core: Core,
    name: SweepName,
) -> Result<Stream2<pb::SweepStatusReply>, Status> {
    let mut changes = core.changes();
    // Fails now for an unknown sweep rather than in the stream.
    core.status(name.clone()).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::SweepStatusReply, Status>>(4);
    tokio::spawn(async move {
        let mut last = None;
        loop {
            let reply = match core.status(name.clone()).await {
                Ok((s, c)) => status_reply(&name, s, &c),
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    break;
                }
            };
            let ended = reply.state() != pb::SweepState::Running;
            if last.as_ref() != Some(&reply) {
                if tx.send(Ok(reply.clone())).await.is_err() {
                    break;
                }
                last = Some(reply);
            }
            if ended || changes.changed().await.is_err() {
                break;
            }
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}
