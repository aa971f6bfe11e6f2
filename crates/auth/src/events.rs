//! In-memory fan-out of login-request changes (and of new sign-ins, to the user's open
//! dashboards) to the sockets of this instance.
//!
//! Each request with a local listener has one `watch` channel holding its newest known state.
//! The embedded store publishes into it after each commit; the Redis store feeds it from one
//! pattern subscription per instance. Listeners subscribe *before* reading the current state,
//! so a change that lands between the read and the subscription is never missed.

use std::sync::Arc;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot, watch};

use crate::glasses::PhotoOutcome;
use crate::login_request::{LoginRequest, RequestId, UnixMillis};
use crate::session::SessionKind;

type Latest = Option<Arc<LoginRequest>>;

/// A new session of a user, told at once to the user's other open dashboards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInNotice {
    pub user_id: String,
    pub session_id: String,
    pub session_kind: SessionKind,
    pub ip: String,
    pub user_agent: String,
    pub at: UnixMillis,
    /// The session whose device link this one came through: on that session's dashboard the
    /// sign-in is expected, not a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_from: Option<String>,
}

/// What a user's open dashboards hear of: a new session, or the end of one (a dashboard whose
/// own session ended leaves at once, wherever it was ended); and a device link of theirs that
/// changed, which the dashboard and the device waiting on it then read again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum AccountNotice {
    SignedIn(SignInNotice),
    SessionEnded {
        user_id: String,
        session_id: String,
    },
    /// Claimed, answered, counted a wrong code, spent or used. Only the id crosses the bus:
    /// who may see the link is decided when it is read.
    LinkChanged {
        user_id: String,
        link_id: String,
    },
}

impl AccountNotice {
    /// A notice as it crossed instances (JSON). An instance of the version before
    /// `AccountNotice` sent a bare [`SignInNotice`]: still read, as a sign-in. (Such an
    /// instance reads this version's sign-ins too: it ignores the `notice` tag.)
    pub fn from_wire(payload: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(payload)
            .or_else(|_| serde_json::from_str::<SignInNotice>(payload).map(Self::SignedIn))
    }

    pub fn user_id(&self) -> &str {
        match self {
            Self::SignedIn(notice) => &notice.user_id,
            Self::SessionEnded { user_id, .. } | Self::LinkChanged { user_id, .. } => user_id,
        }
    }
}

/// How many notices a slow dashboard may fall behind before it skips the oldest.
const NOTICE_BACKLOG: usize = 16;

#[derive(Default)]
pub struct EventHub {
    channels: DashMap<RequestId, watch::Sender<Latest>>,
    accounts: DashMap<String, broadcast::Sender<AccountNotice>>,
    photos: DashMap<String, oneshot::Sender<PhotoOutcome>>,
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

    /// Listens for the sessions of `user_id` starting and ending.
    pub fn subscribe_account(self: &Arc<Self>, user_id: &str) -> AccountSubscription {
        let receiver = self
            .accounts
            .entry(user_id.to_owned())
            .or_insert_with(|| broadcast::channel(NOTICE_BACKLOG).0)
            .subscribe();
        AccountSubscription {
            hub: Arc::clone(self),
            user_id: user_id.to_owned(),
            receiver: Some(receiver),
        }
    }

    /// Hands `notice` to this instance's dashboards of that user, if any.
    pub fn announce(&self, notice: AccountNotice) {
        if let Some(sender) = self.accounts.get(notice.user_id()) {
            // No receiver left is not an error: the dashboard just closed.
            let _ = sender.send(notice);
        }
    }

    /// Waits for the outcome of the upload of photo `photo_id` (register before asking for
    /// the photo, so the outcome cannot come first).
    pub fn expect_photo(self: &Arc<Self>, photo_id: &str) -> PhotoWait {
        let (sender, receiver) = oneshot::channel();
        self.photos.insert(photo_id.to_owned(), sender);
        PhotoWait {
            hub: Arc::clone(self),
            photo_id: photo_id.to_owned(),
            receiver,
        }
    }

    /// Hands `outcome` to whoever here waits for that photo, if anyone does.
    pub fn deliver_photo(&self, outcome: PhotoOutcome) {
        if let Some((_, sender)) = self.photos.remove(&outcome.photo_id) {
            // The waiter may have given up in the meantime: nothing to tell then.
            let _ = sender.send(outcome);
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

/// One photo's outcome, once. Dropping it stops waiting.
pub struct PhotoWait {
    hub: Arc<EventHub>,
    photo_id: String,
    receiver: oneshot::Receiver<PhotoOutcome>,
}

impl PhotoWait {
    pub fn photo_id(&self) -> &str {
        &self.photo_id
    }

    /// The outcome (pending forever if it never comes: race it against a deadline).
    pub async fn outcome(&mut self) -> PhotoOutcome {
        match (&mut self.receiver).await {
            Ok(outcome) => outcome,
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for PhotoWait {
    fn drop(&mut self) {
        self.hub.photos.remove(&self.photo_id);
    }
}

/// One dashboard's view of its user's sessions. Dropping it unsubscribes.
pub struct AccountSubscription {
    hub: Arc<EventHub>,
    user_id: String,
    receiver: Option<broadcast::Receiver<AccountNotice>>,
}

impl AccountSubscription {
    /// The next notice (a dashboard that fell behind skips to the newest it can get).
    pub async fn next(&mut self) -> AccountNotice {
        loop {
            let Some(receiver) = self.receiver.as_mut() else {
                return std::future::pending().await;
            };
            match receiver.recv().await {
                Ok(notice) => return notice,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                // The sender lives as long as any receiver does; see `newer_than`.
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }
}

impl Drop for AccountSubscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        self.hub
            .accounts
            .remove_if(&self.user_id, |_, sender| sender.receiver_count() == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_notices_are_read_across_a_rolling_upgrade() {
        let notice = SignInNotice {
            user_id: "local:erin".into(),
            session_id: "s1".into(),
            session_kind: SessionKind::Desktop,
            ip: "192.0.2.1".into(),
            user_agent: "curl/8".into(),
            at: 1,
            linked_from: None,
        };
        let older = serde_json::to_string(&notice).unwrap();
        assert_eq!(
            AccountNotice::from_wire(&older).unwrap(),
            AccountNotice::SignedIn(notice.clone()),
            "what an older instance sends"
        );
        let newer = serde_json::to_string(&AccountNotice::SignedIn(notice.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<SignInNotice>(&newer).unwrap(),
            notice,
            "what an older instance reads"
        );
        let ended = AccountNotice::SessionEnded {
            user_id: "local:erin".into(),
            session_id: "s1".into(),
        };
        let wire = serde_json::to_string(&ended).unwrap();
        assert_eq!(AccountNotice::from_wire(&wire).unwrap(), ended);
    }
    use crate::login_request::{LoginRequest, ScreenContext};

    fn request() -> LoginRequest {
        let screen = ScreenContext {
            client_name: "c".into(),
            ip: "i".into(),
            user_agent: "u".into(),
            ..ScreenContext::default()
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
