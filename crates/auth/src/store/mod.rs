//! Where state lives: one trait, two implementations with the same semantics (an embedded
//! SQLite file and Redis), checked by one conformance suite.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::account::{LocalAccount, Username};
use crate::audit::{AuditEntry, AuditQuery, AuditRecord};
use crate::events::{AccountNotice, EventHub};
use crate::glasses::PhotoOutcome;
use crate::login_request::{LoginRequest, RequestId, UnixMillis};
use crate::rate_limit::RateLimit;
use crate::session::Session;
use crate::user_code::UserCode;

pub mod redis;
pub mod sqlite;

/// How long a finished or expired request is kept, so late callers hear "expired" or
/// "already used" rather than "not found".
pub const REQUEST_RETENTION_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached right now: a 503 for the caller, and worth retrying.
    #[error("the store is unreachable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts a new request and its user code. `Ok(false)` when the user code is held by
    /// another live request: the caller draws a new code.
    async fn insert_request(&self, request: &LoginRequest) -> Result<bool, StoreError>;
    async fn load_request(&self, id: &RequestId) -> Result<Option<LoginRequest>, StoreError>;
    /// The live request a typed code names.
    async fn find_request_by_code(&self, code: &UserCode) -> Result<Option<RequestId>, StoreError>;
    /// Compare-and-set: stores `next` only if the stored version is still `expected_version`,
    /// and then publishes it to every instance, and `notice` to its user's dashboards (a
    /// redeem's "signed in": on Redis in the same script, so it costs no round trip of its
    /// own). `Ok(false)` when someone else changed it first; nothing is published then.
    async fn swap_request(
        &self,
        next: &LoginRequest,
        expected_version: u32,
        notice: Option<&AccountNotice>,
    ) -> Result<bool, StoreError>;

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn load_session(&self, id: &str) -> Result<Option<Session>, StoreError>;
    /// Session `id` and the sign-out time of `user_id` (the user its cookie names), read
    /// together: the check every signed-in call makes, in one round trip where the store
    /// can (one Redis server: MGET; a cluster keeps the two on different nodes).
    async fn load_session_and_not_before(
        &self,
        id: &str,
        user_id: &str,
    ) -> Result<(Option<Session>, Option<UnixMillis>), StoreError> {
        load_session_and_not_before_apart(self, id, user_id).await
    }
    /// Stores a newer copy of a live session (its "last seen"); a session deleted meanwhile
    /// stays deleted.
    async fn touch_session(&self, session: &Session) -> Result<(), StoreError>;
    /// Removes and returns the session, so its access token can be revoked with it.
    async fn delete_session(&self, id: &str) -> Result<Option<Session>, StoreError>;

    /// The user's sessions that are still live.
    async fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError>;

    /// Everything issued to `user_id` before `at` stops working: "sign out everywhere".
    async fn set_not_before(&self, user_id: &str, at: UnixMillis) -> Result<(), StoreError>;
    async fn not_before(&self, user_id: &str) -> Result<Option<UnixMillis>, StoreError>;

    /// Marks `key` as used until `until`; `Ok(false)` when it already was. For one-time things
    /// issued elsewhere (MentraOS signed user tokens) that must not be replayed.
    async fn use_once(&self, key: &str, until: UnixMillis) -> Result<bool, StoreError>;

    /// Deny-lists an access token id until `until` (its own expiry).
    async fn revoke_token(&self, jti: &str, until: UnixMillis) -> Result<(), StoreError>;
    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    /// `Ok(false)` when the username is taken.
    async fn insert_account(&self, account: &LocalAccount) -> Result<bool, StoreError>;
    async fn load_account(&self, username: &Username) -> Result<Option<LocalAccount>, StoreError>;
    /// Replaces a stored account; `Ok(false)` when there is none by that name.
    async fn update_account(&self, account: &LocalAccount) -> Result<bool, StoreError>;
    /// Every local account, by username.
    async fn list_accounts(&self) -> Result<Vec<LocalAccount>, StoreError>;
    /// `Ok(false)` when there is none by that name.
    async fn delete_account(&self, username: &Username) -> Result<bool, StoreError>;

    /// Appends to the audit trail, in order (each record also to its user's own trail, when
    /// it names a user). One round trip for the whole batch.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError>;
    /// With `after`: the records after that cursor, oldest first (following the trail).
    /// Without: the newest `limit` records at or after `since`, in the order asked for.
    async fn read_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// The dev-mode signing key every instance on this store shares: stores `candidate` if
    /// none is stored yet, and returns whichever is stored.
    async fn shared_signing_key(&self, candidate: SecretString)
    -> Result<SecretString, StoreError>;
    /// The shared dev-mode signing key, if one is stored: read first, so that a start with a
    /// key already there does not make a candidate (an RSA key takes a while).
    async fn stored_signing_key(&self) -> Result<Option<SecretString>, StoreError>;

    /// Spends one event from each rate-limit bucket (key and limit), in order, stopping at
    /// the first that refuses: `Ok(None)` when all allowed, else that bucket's position and
    /// how long it asks to wait. A refused bucket spends nothing, and on the embedded store
    /// and one Redis server neither do the others (on a cluster, whose nodes hold different
    /// buckets, those before it stay spent). Buckets are shared by every instance.
    async fn rate_limit(
        &self,
        buckets: &[(&str, &RateLimit)],
    ) -> Result<Option<(usize, std::time::Duration)>, StoreError>;

    /// Tells every instance's open dashboards of the user about a session started or ended.
    async fn announce(&self, notice: &AccountNotice) -> Result<(), StoreError>;

    /// A small record operators manage (a registered client), by kind and id: stored as
    /// JSON. `Ok(false)` when the id is taken.
    async fn insert_entry(&self, kind: &str, id: &str, data: &str) -> Result<bool, StoreError>;
    /// Replaces an existing entry; `Ok(false)` when there is none.
    async fn update_entry(&self, kind: &str, id: &str, data: &str) -> Result<bool, StoreError>;
    async fn load_entry(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError>;
    /// Every entry of a kind (operators' lists: tens, not millions).
    async fn list_entries(&self, kind: &str) -> Result<Vec<String>, StoreError>;
    /// `Ok(false)` when there was none.
    async fn delete_entry(&self, kind: &str, id: &str) -> Result<bool, StoreError>;

    /// Keeps a short-lived record (a photo asked of glasses, a device code's polling pace)
    /// until `until`, replacing any record of that kind and id.
    async fn put_ephemeral(
        &self,
        kind: &str,
        id: &str,
        data: &str,
        until: UnixMillis,
    ) -> Result<(), StoreError>;
    /// The record, unless unknown or past its time.
    async fn get_ephemeral(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError>;
    /// Tells the instance waiting for that photo (whichever it is) what its upload led to.
    async fn announce_photo(&self, outcome: &PhotoOutcome) -> Result<(), StoreError>;

    /// Is the store reachable (for `/readyz`)?
    async fn ping(&self) -> Result<(), StoreError>;

    /// This instance's listeners for request changes.
    fn events(&self) -> &Arc<EventHub>;
}

/// Session `id` and the sign-out time of `user_id` as two reads sent at once: for a store
/// that cannot read both in one ([`Store::load_session_and_not_before`]).
pub(crate) async fn load_session_and_not_before_apart<S: Store + ?Sized>(
    store: &S,
    id: &str,
    user_id: &str,
) -> Result<(Option<Session>, Option<UnixMillis>), StoreError> {
    let (session, not_before) = tokio::join!(store.load_session(id), store.not_before(user_id));
    Ok((session?, not_before?))
}

/// Keeps `value` as a short-lived JSON record ([`Store::put_ephemeral`]).
pub async fn put_ephemeral_json<T: serde::Serialize>(
    store: &dyn Store,
    kind: &str,
    id: &str,
    value: &T,
    until: UnixMillis,
) -> Result<(), StoreError> {
    store.put_ephemeral(kind, id, &to_json(value)?, until).await
}

/// A short-lived JSON record, unless unknown or past its time.
pub async fn get_ephemeral_json<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    kind: &str,
    id: &str,
) -> Result<Option<T>, StoreError> {
    store
        .get_ephemeral(kind, id)
        .await?
        .as_deref()
        .map(from_json)
        .transpose()
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unexpected(e.into()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Unexpected(anyhow::anyhow!("a stored record is unreadable: {e}")))
}
