//! What the long-running modes (the operator, the webhook) share: how they learn they must
//! stop, and how they expose their metrics.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGTERM (the kubelet stopping the pod) and SIGINT (Ctrl-C), caught from the moment this is
/// made: a service makes it before it starts anything, so a signal that comes early (a test, a
/// rollout racing the start) is a clean shutdown, never the default action that kills.
pub struct Termination {
    terminate: Signal,
    interrupt: Signal,
}

impl Termination {
    pub fn catch() -> std::io::Result<Self> {
        Ok(Termination {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the first of the two signals.
    pub async fn received(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}

/// The Prometheus text exposition of every metric in `registry`.
pub fn metrics_text(registry: &prometheus::Registry) -> String {
    use prometheus::Encoder;
    let mut buffer = Vec::new();
    // Encoding into a Vec cannot fail for well-formed metric families.
    let _ = prometheus::TextEncoder::new().encode(&registry.gather(), &mut buffer);
    String::from_utf8(buffer).unwrap_or_default()
}
