//! Caps on the WebSockets one instance holds. Each open socket costs a file descriptor here
//! (and one at the load balancer), and anyone may create a login request and open its socket:
//! without caps, a few requests' worth of sockets would exhaust the process's descriptors and
//! take every other request down with it.
//!
//! A socket is admitted only while every cap it falls under has room: its login request or
//! device link (a page needs one, a reload briefly two), its caller's network (see
//! [`crate::client`]), its user, and the instance as a whole, kept below the descriptor limit
//! with a margin for plain HTTP. A refusal happens before the upgrade, as an HTTP error the
//! page can show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{ApiError, ErrorCode};
use crate::metrics::{WEBSOCKETS_OPEN, WEBSOCKETS_REFUSED};

/// The configured caps (`WEBSOCKETS_PER_REQUEST`, `…_PER_IP`, `…_PER_USER`, `MAX_WEBSOCKETS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketCaps {
    pub per_request: u32,
    pub per_network: u32,
    pub per_user: u32,
    /// `None`: derived from the descriptor limit at start ([`instance_cap`]).
    pub instance: Option<u32>,
}

/// What a socket is counted against, besides the instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SocketHolder {
    LoginRequest(String),
    /// A device link, followed by the device that opened it: capped as a request is.
    DeviceLink(String),
    Network(String),
    User(String),
}

impl SocketHolder {
    fn cap(&self, caps: &SocketCaps) -> u32 {
        match self {
            Self::LoginRequest(_) | Self::DeviceLink(_) => caps.per_request,
            Self::Network(_) => caps.per_network,
            Self::User(_) => caps.per_user,
        }
    }

    /// The `reason` label of a refusal, and the sentence the caller is given.
    fn refusal(&self) -> (&'static str, &'static str) {
        match self {
            Self::LoginRequest(_) => (
                "per_request",
                "This sign-in request already has its live connection open elsewhere; close the other tab.",
            ),
            Self::DeviceLink(_) => (
                "per_request",
                "This sign-in link already has its live connection open elsewhere; close the other tab.",
            ),
            Self::Network(_) => (
                "per_ip",
                "Too many live connections from your network; close some tabs and try again.",
            ),
            Self::User(_) => (
                "per_user",
                "Too many live connections for your account; close some tabs and try again.",
            ),
        }
    }
}

#[derive(Default)]
struct OpenCounts {
    total: u32,
    by_holder: HashMap<SocketHolder, u32>,
}

/// The sockets open on this instance, by what they are counted against.
pub struct SocketRegistry {
    caps: SocketCaps,
    instance_cap: u32,
    open: Mutex<OpenCounts>,
}

/// An admitted socket's place, counted in `qrlogin_websockets_open` as long as it lives: given
/// back when dropped, however the socket ends.
pub struct SocketPermit {
    registry: Arc<SocketRegistry>,
    socket: &'static str,
    holders: Vec<SocketHolder>,
}

impl SocketRegistry {
    pub fn new(caps: SocketCaps, descriptor_limit: Option<u64>) -> Self {
        let instance_cap = caps
            .instance
            .unwrap_or_else(|| instance_cap(descriptor_limit));
        Self {
            caps,
            instance_cap,
            open: Mutex::default(),
        }
    }

    pub fn instance_cap(&self) -> u32 {
        self.instance_cap
    }

    /// Admits a `socket` (the metrics label) counted against `holders`, or says why not.
    pub fn admit(
        self: &Arc<Self>,
        socket: &'static str,
        holders: Vec<SocketHolder>,
    ) -> Result<SocketPermit, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.instance_cap {
            drop(open);
            return Err(refuse(
                socket,
                "instance",
                ErrorCode::Unavailable,
                "This server holds all the live connections it can; try again shortly.",
            ));
        }
        if let Some(full) = holders.iter().find(|holder| {
            open.by_holder.get(*holder).copied().unwrap_or(0) >= holder.cap(&self.caps)
        }) {
            let (reason, message) = full.refusal();
            drop(open);
            return Err(refuse(socket, reason, ErrorCode::RateLimited, message));
        }
        open.total += 1;
        for holder in &holders {
            *open.by_holder.entry(holder.clone()).or_insert(0) += 1;
        }
        drop(open);
        metrics::gauge!(WEBSOCKETS_OPEN, "socket" => socket).increment(1.0);
        Ok(SocketPermit {
            registry: Arc::clone(self),
            socket,
            holders,
        })
    }

    /// How many sockets are open in all (for tests and the log).
    pub fn open(&self) -> u32 {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

fn refuse(
    socket: &'static str,
    reason: &'static str,
    code: ErrorCode,
    message: &'static str,
) -> ApiError {
    metrics::counter!(WEBSOCKETS_REFUSED, "socket" => socket, "reason" => reason).increment(1);
    let mut refusal = ApiError::new(code, message);
    refusal.retry_after_seconds = Some(5);
    refusal
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        metrics::gauge!(WEBSOCKETS_OPEN, "socket" => self.socket).decrement(1.0);
        let mut open = self
            .registry
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        for holder in &self.holders {
            if let Some(count) = open.by_holder.get_mut(holder) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.by_holder.remove(holder);
                }
            }
        }
    }
}

/// The sockets an instance may hold: its descriptor limit less a quarter (at least 256) kept
/// for plain HTTP, the store, logs and the listener. Unknown limit: 1024's share.
pub fn instance_cap(descriptor_limit: Option<u64>) -> u32 {
    let limit = descriptor_limit.unwrap_or(1024);
    let margin = (limit / 4).max(256);
    u32::try_from(limit.saturating_sub(margin).max(1)).unwrap_or(u32::MAX)
}

/// The process's (soft) descriptor limit; `None` where it cannot be read or is unlimited.
pub fn descriptor_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Raises the soft descriptor limit to the hard one (as far as 1,048,576), so that the instance
/// cap is as high as the operator allowed. Once per process, at start; a failure leaves the
/// limit as it was.
pub fn raise_descriptor_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let current = getrlimit(Resource::Nofile);
    let (Some(soft), Some(hard)) = (current.current, current.maximum) else {
        return;
    };
    let wanted = hard.min(1 << 20);
    if wanted > soft {
        let raised = Rlimit {
            current: Some(wanted),
            maximum: current.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(soft, hard, "cannot raise the descriptor limit: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(instance: u32) -> Arc<SocketRegistry> {
        Arc::new(SocketRegistry::new(
            SocketCaps {
                per_request: 2,
                per_network: 3,
                per_user: 2,
                instance: Some(instance),
            },
            None,
        ))
    }

    fn holders(request: &str, network: &str) -> Vec<SocketHolder> {
        vec![
            SocketHolder::LoginRequest(request.into()),
            SocketHolder::Network(network.into()),
        ]
    }

    #[test]
    fn each_cap_refuses_past_its_count_and_a_closed_socket_frees_its_place() {
        let sockets = registry(100);
        let first = sockets.admit("t", holders("a", "n1")).unwrap();
        let _second = sockets.admit("t", holders("a", "n1")).unwrap();
        let third = sockets
            .admit("t", holders("a", "n1"))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            third.code,
            ErrorCode::RateLimited,
            "a third socket for one request"
        );
        let _other = sockets.admit("t", holders("b", "n1")).unwrap();
        assert!(
            sockets.admit("t", holders("c", "n1")).is_err(),
            "a fourth from one network"
        );
        assert!(
            sockets.admit("t", holders("c", "n2")).is_ok(),
            "another network is not affected"
        );
        drop(first);
        assert!(
            sockets.admit("t", holders("a", "n1")).is_ok(),
            "the place is free again"
        );
    }

    #[test]
    fn the_instance_cap_holds_whoever_asks() {
        let sockets = registry(2);
        let _a = sockets.admit("t", holders("a", "n1")).unwrap();
        let _b = sockets.admit("t", holders("b", "n2")).unwrap();
        let refused = sockets
            .admit("t", holders("c", "n3"))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::Unavailable);
        assert_eq!(sockets.open(), 2);
    }

    #[test]
    fn the_instance_cap_keeps_a_margin_below_the_descriptor_limit() {
        assert_eq!(instance_cap(Some(1024)), 768);
        assert_eq!(instance_cap(Some(20_000)), 15_000);
        assert_eq!(instance_cap(Some(300)), 44);
        assert_eq!(instance_cap(None), 768);
    }
}
