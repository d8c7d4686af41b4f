//! The one stop signal of every binary: the coordinator drains its calls,
//! a worker stops taking work and hands back its leases.

/// Resolves on SIGTERM or Ctrl-C.
pub async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
