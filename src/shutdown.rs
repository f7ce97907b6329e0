//! One shutdown signal for every long-running command (`run`, `broker`, `operator`, `worker`).
//!
//! The first SIGTERM or Ctrl-C asks for a drain: each command stops producing, flushes what is
//! queued and reports a final figure. A second one means the person (or the kubelet, after its
//! grace period) will not wait: the process exits at once with [`EXIT_ABORTED`].

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

/// Exit code of a process aborted by a second signal (128 + SIGINT, as shells report Ctrl-C).
pub const EXIT_ABORTED: i32 = 130;

/// A handle on the process's shutdown request; cheap to clone, every clone sees the same request.
#[derive(Clone, Debug)]
pub struct Shutdown {
    requested: watch::Receiver<bool>,
}

/// Requests a shutdown by hand: what a signal does, for tests and for callers that stop
/// themselves.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

impl ShutdownTrigger {
    /// Asks every [`Shutdown`] handle to drain.
    pub fn request(&self) {
        // send_replace, not send: it stores the request even while no handle is waiting.
        self.sender.send_replace(true);
    }
}

impl Shutdown {
    /// A handle that only [`ShutdownTrigger::request`] ends.
    pub fn manual() -> (ShutdownTrigger, Self) {
        let (sender, requested) = watch::channel(false);
        (ShutdownTrigger { sender }, Self { requested })
    }

    /// Listens for SIGTERM and Ctrl-C: the first requests a drain, the second exits the process.
    /// Call once per process, inside the Tokio runtime.
    pub fn on_signals() -> Self {
        let (trigger, shutdown) = Self::manual();
        tokio::spawn(async move {
            // The listeners are made before the first signal and kept: a second signal that
            // arrives while the first is being handled is queued on them, not lost.
            let mut signals = match Signals::new() {
                Ok(signals) => signals,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM and SIGINT");
                    return;
                }
            };
            signals.next().await;
            tracing::info!("shutdown requested: draining (signal again to abort)");
            trigger.request();
            signals.next().await;
            tracing::warn!("second signal: aborting without draining");
            std::process::exit(EXIT_ABORTED);
        });
        shutdown
    }

    /// Whether a shutdown has been requested.
    pub fn is_requested(&self) -> bool {
        *self.requested.borrow()
    }

    /// Resolves once a shutdown has been requested (at once if it already was). If every
    /// trigger is gone without a request, it never resolves: nobody can ask any more.
    pub async fn requested(&self) {
        let mut requested = self.requested.clone();
        if requested.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// SIGTERM (the kubelet, `kill`) and SIGINT (Ctrl-C).
struct Signals {
    term: Signal,
    interrupt: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on the next SIGTERM or SIGINT.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn every_clone_sees_one_request_even_made_before_it_waits() {
        let (trigger, shutdown) = Shutdown::manual();
        let other = shutdown.clone();
        assert!(!shutdown.is_requested());
        let waiting = tokio::spawn(async move { other.requested().await });
        trigger.request();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting clone wakes up")
            .expect("task ran");
        assert!(shutdown.is_requested());
        // A handle asked after the request resolves at once.
        tokio::time::timeout(Duration::from_millis(100), shutdown.requested())
            .await
            .expect("already requested");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_trigger_without_a_request_never_ends_the_wait() {
        let (trigger, shutdown) = Shutdown::manual();
        drop(trigger);
        let waited = tokio::time::timeout(Duration::from_secs(3600), shutdown.requested()).await;
        assert!(waited.is_err(), "no request was made");
        assert!(!shutdown.is_requested());
    }
}
