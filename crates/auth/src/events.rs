//! In-memory fan-out of login-request changes to the sockets of this instance.
//!
//! Each request with a local listener has one `watch` channel holding its newest known state.
//! The embedded store publishes into it after each commit; the Redis store feeds it from one
//! pattern subscription per instance. Listeners subscribe *before* reading the current state,
//! so a change that lands between the read and the subscription is never missed.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::watch;

use crate::login_request::{LoginRequest, RequestId};

type Latest = Option<Arc<LoginRequest>>;

#[derive(Default)]
pub struct EventHub {
    channels: DashMap<RequestId, watch::Sender<Latest>>,
}

impl EventHub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn subscribe(self: &Arc<Self>, id: &RequestId) -> Subscription {
        let receiver = self
            .channels
            .entry(id.clone())
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        Subscription {
            hub: Arc::clone(self),
            id: id.clone(),
            receiver: Some(receiver),
        }
    }

    /// Hands `request` to this instance's listeners, if any, unless they already have a newer
    /// version. Cheap when nobody here listens.
    pub fn publish(&self, request: LoginRequest) {
        if let Some(sender) = self.channels.get(&request.id) {
            sender.send_if_modified(|latest| {
                let newer = latest
                    .as_ref()
                    .is_none_or(|known| known.version < request.version);
                if newer {
                    *latest = Some(Arc::new(request));
                }
                newer
            });
        }
    }

    /// The requests somebody on this instance is waiting for: what to re-read after the bus
    /// was disconnected.
    pub fn subscribed_ids(&self) -> Vec<RequestId> {
        self.channels.iter().map(|e| e.key().clone()).collect()
    }

    pub fn listener_count(&self) -> usize {
        self.channels
            .iter()
            .map(|e| e.value().receiver_count())
            .sum()
    }
}

/// One listener's view of one request's changes. Dropping it unsubscribes.
pub struct Subscription {
    hub: Arc<EventHub>,
    id: RequestId,
    receiver: Option<watch::Receiver<Latest>>,
}

impl Subscription {
    /// Waits for a state newer than `version`.
    pub async fn newer_than(&mut self, version: u32) -> Arc<LoginRequest> {
        loop {
            if let Some(receiver) = self.receiver.as_mut() {
                if let Some(latest) = receiver.borrow_and_update().as_ref()
                    && latest.version > version
                {
                    return Arc::clone(latest);
                }
                if receiver.changed().await.is_ok() {
                    continue;
                }
            }
            // The sender lives as long as any receiver does, so this is unreachable; if it
            // ever were reached, waiting forever is the honest answer.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        self.hub
            .channels
            .remove_if(&self.id, |_, sender| sender.receiver_count() == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login_request::{LoginRequest, ScreenContext};

    fn request() -> LoginRequest {
        let screen = ScreenContext {
            client_name: "c".into(),
            ip: "i".into(),
            user_agent: "u".into(),
        };
        LoginRequest::create(screen, 0, 1000).request
    }

    #[tokio::test]
    async fn listeners_get_only_newer_versions_and_unsubscribe_on_drop() {
        let hub = EventHub::new();
        let mut first = request();
        let mut sub = hub.subscribe(&first.id);
        first.version = 2;
        hub.publish(first.clone());
        let mut stale = first.clone();
        stale.version = 1;
        hub.publish(stale);
        assert_eq!(sub.newer_than(1).await.version, 2);
        assert_eq!(hub.listener_count(), 1);
        drop(sub);
        assert!(hub.subscribed_ids().is_empty());
        hub.publish(first); // nobody listens: nothing kept
        assert!(hub.subscribed_ids().is_empty());
    }
}
