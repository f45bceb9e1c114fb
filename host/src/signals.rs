//! How the long-running modes (the operator, the webhook) learn they must stop.

/// Resolves at the first SIGTERM (the kubelet stopping the pod) or SIGINT (Ctrl-C).
pub async fn termination() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}
