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
    recent: std::sync::Mutex<RecentRequests>,
}

/// How many requests a generation of [`RecentRequests`] holds: at most twice this many are
/// kept (a few MB), which covers every sign-in in flight at thousands per second.
const RECENT_GENERATION: usize = 4096;

/// The newest copy of each request this instance wrote, read or heard of lately, in two
/// generations: when the newer fills up, the older is dropped whole (no per-entry clock).
#[derive(Default)]
struct RecentRequests {
    newer: std::collections::HashMap<RequestId, Arc<LoginRequest>>,
    older: std::collections::HashMap<RequestId, Arc<LoginRequest>>,
}

impl RecentRequests {
    fn get(&self, id: &RequestId) -> Option<&Arc<LoginRequest>> {
        self.newer.get(id).or_else(|| self.older.get(id))
    }

    /// Keeps `request` unless a newer copy is known. `Known` only updates a request already
    /// kept (what the bus says of requests this instance never touched is not kept).
    fn keep(&mut self, request: &Arc<LoginRequest>, scope: Keep) {
        let known = self.get(&request.id);
        if known.is_some_and(|known| known.version >= request.version)
            || (scope == Keep::Known && known.is_none())
        {
            return;
        }
        if self.newer.len() >= RECENT_GENERATION && !self.newer.contains_key(&request.id) {
            self.older = std::mem::take(&mut self.newer);
        }
        self.older.remove(&request.id);
        self.newer.insert(request.id.clone(), Arc::clone(request));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    Any,
    Known,
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
        let request = Arc::new(request);
        self.keep_recent(&request, Keep::Known);
        if let Some(sender) = self.channels.get(&request.id) {
            sender.send_if_modified(|latest| {
                let newer = latest
                    .as_ref()
                    .is_none_or(|known| known.version < request.version);
                if newer {
                    *latest = Some(request);
                }
                newer
            });
        }
    }

    /// Notes `request` as this instance just wrote or read it: where its next transition here
    /// starts ([`Self::recent`]).
    pub fn remember(&self, request: &LoginRequest) {
        self.keep_recent(&Arc::new(request.clone()), Keep::Any);
    }

    /// The newest copy of request `id` this instance wrote, read or heard of lately. It may
    /// be behind the store (another instance's change still on the bus): a starting point for
    /// a compare-and-set, which checks it, never an answer on its own.
    pub fn recent(&self, id: &RequestId) -> Option<LoginRequest> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.get(id).map(|request| LoginRequest::clone(request))
    }

    fn keep_recent(&self, request: &Arc<LoginRequest>, scope: Keep) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.keep(request, scope);
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

    #[test]
    fn the_recent_copy_of_a_request_only_moves_forward() {
        let hub = EventHub::new();
        let mut request = request();
        hub.publish(request.clone());
        assert_eq!(
            hub.recent(&request.id),
            None,
            "heard of, never touched here"
        );
        hub.remember(&request);
        request.version = 3;
        hub.publish(request.clone());
        assert_eq!(
            hub.recent(&request.id).unwrap().version,
            3,
            "the bus moves it on"
        );
        let mut older = request.clone();
        older.version = 2;
        hub.remember(&older);
        hub.publish(older);
        assert_eq!(hub.recent(&request.id).unwrap().version, 3);
    }

    #[test]
    fn recent_requests_are_bounded_and_keep_the_newest() {
        let hub = EventHub::new();
        let requests: Vec<LoginRequest> = (0..RECENT_GENERATION * 3).map(|_| request()).collect();
        for request in &requests {
            hub.remember(request);
        }
        let kept = requests.iter().filter(|r| hub.recent(&r.id).is_some());
        assert!(kept.count() <= RECENT_GENERATION * 2);
        let newest = &requests[requests.len() - RECENT_GENERATION..];
        assert!(newest.iter().all(|r| hub.recent(&r.id).is_some()));
        assert_eq!(hub.recent(&requests[0].id), None);
    }
}
