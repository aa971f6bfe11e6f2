//! Signing in on another device (session transfer): a signed-in screen shows a single-use
//! link; the device that opens it asks, the signed-in screen allows (unless confirmation is
//! off), and the new device gets a session of its own: never a copy of the first one's.
//!
//! A link is a short-lived store record. Each step that must happen once (claiming,
//! issuing) takes a one-time mark first, so two devices racing for one link cannot both win.

use serde::{Deserialize, Serialize};

use crate::login_request::UnixMillis;
use crate::secret::{SecretHash, random_token};
use crate::store::{Store, StoreError, get_ephemeral_json, put_ephemeral_json};
use crate::user::User;

/// The store's kind for links.
const LINKS: &str = "device-link";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Shown, not opened yet.
    Waiting,
    /// Opened by a device, waiting for the signed-in screen to allow it.
    Claimed,
    /// Allowed: the device may collect its session.
    Allowed,
    /// Refused on the signed-in screen.
    Denied,
}

/// The device that opened the link, as the signed-in screen is shown it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimant {
    pub ip: String,
    pub user_agent: String,
    pub at: UnixMillis,
    /// Only the device that claimed holds the secret; its hash is kept.
    pub secret: SecretHash,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLink {
    pub id: String,
    /// Whose session the new device gets (a new one of its own).
    pub user: User,
    /// The session that made the link: the one that confirms.
    pub creator_session: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub state: LinkState,
    pub claimant: Option<Claimant>,
}

impl DeviceLink {
    pub fn new(user: User, creator_session: &str, now: UnixMillis, ttl_ms: i64) -> Self {
        Self {
            id: random_token::<16>(),
            user,
            creator_session: creator_session.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
            state: LinkState::Waiting,
            claimant: None,
        }
    }

    /// The one-time mark a step of this link takes.
    pub fn once_key(&self, step: &str) -> String {
        format!("device-link-{step}:{}", self.id)
    }

    pub async fn save(&self, store: &dyn Store) -> Result<(), StoreError> {
        put_ephemeral_json(store, LINKS, &self.id, self, self.expires_at).await
    }

    /// The link, unless unknown, used or expired.
    pub async fn load(store: &dyn Store, id: &str) -> Result<Option<Self>, StoreError> {
        get_ephemeral_json(store, LINKS, id).await
    }

    /// Deletes the link (it is used up): it expires now.
    pub async fn delete(mut self, store: &dyn Store, now: UnixMillis) -> Result<(), StoreError> {
        self.expires_at = now;
        self.save(store).await
    }
}

/// A new claim secret for the device that opens a link.
pub fn new_claim_secret() -> String {
    random_token::<32>()
}
