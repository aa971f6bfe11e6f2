//! Graceful shutdown. On SIGTERM (or Ctrl-C) an instance starts draining: `/readyz` fails so the
//! load balancer stops sending it work, every WebSocket is closed with 1012 ("service restart"),
//! which tells the page to reconnect (to another instance; it resumes from the current state),
//! and after `SHUTDOWN_DRAIN` the listener stops and in-flight requests get `SHUTDOWN_TIMEOUT`
//! to finish.

use tokio::sync::watch;

/// Whether this instance is draining; shared by its routes, sockets and servers.
#[derive(Clone)]
pub struct Shutdown {
    draining: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            draining: watch::channel(false).0,
        }
    }
}

impl Shutdown {
    /// Starts draining (once; later calls change nothing).
    pub fn begin(&self) {
        self.draining
            .send_if_modified(|draining| !std::mem::replace(draining, true));
    }

    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Resolves when draining begins (at once if it has).
    pub async fn draining(&self) {
        let mut receiver = self.draining.subscribe();
        // The sender lives in the state, as long as anything can wait on it.
        let _ = receiver.wait_for(|draining| *draining).await;
    }

    /// Begins draining on SIGTERM or Ctrl-C, in the background.
    pub fn on_signals(&self) {
        let shutdown = self.clone();
        tokio::spawn(async move {
            terminated().await;
            tracing::info!("shutting down: draining, then stopping");
            shutdown.begin();
        });
    }
}

#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminated() {
    let _ = tokio::signal::ctrl_c().await;
}
