//! Photos asked of camera glasses (Mentra Live): the pending request an upload must match,
//! and what came of the upload, told to the instance that holds the wearer's session.
//!
//! The upload may reach any instance behind the load balancer, so both live in the store:
//! the pending photo as a short-lived record, the outcome as an event.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::login_request::{RequestId, UnixMillis};
use crate::secret::{SecretHash, random_token};
use crate::store::{Store, StoreError, get_ephemeral_json, put_ephemeral_json};
use crate::user::User;

/// How long the glasses have to upload a requested photo (the MentraOS SDK's own window).
pub const PHOTO_TTL_MS: i64 = 30_000;

/// A photo the glasses were asked for. Only an upload that names `id` and carries the token
/// (as `Authorization: Bearer`) before `expires_at` is accepted, and only once.
///
/// The token is `{id}.{secret}`: it names its photo, so an upload is checked before its body
/// is read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPhoto {
    pub id: String,
    pub token: SecretHash,
    /// Whose glasses: the upload claims as this user.
    pub wearer: User,
    pub expires_at: UnixMillis,
}

impl PendingPhoto {
    /// A new pending photo and its upload token (the token is kept only as a hash).
    pub fn new(wearer: User, now: UnixMillis) -> (Self, SecretString) {
        // base64url: no `.` in the id, so the token splits unambiguously.
        let id = format!("photo_req_{}", random_token::<16>());
        let token = format!("{id}.{}", random_token::<32>());
        let photo = Self {
            id,
            token: SecretHash::of(&token),
            wearer,
            expires_at: now.saturating_add(PHOTO_TTL_MS),
        };
        (photo, token.into())
    }

    /// Whether `token` is this photo's and it is still awaited (constant-time on the token).
    pub fn accepts(&self, token: &str, now: UnixMillis) -> bool {
        let matches = self.token.matches(token);
        matches && now < self.expires_at
    }

    /// The photo an upload token names (nothing is known to be true of it until
    /// [`accepts`](Self::accepts) says so).
    pub fn id_in_token(token: &str) -> Option<&str> {
        token
            .split_once('.')
            .map(|(id, _)| id)
            .filter(|id| id.starts_with("photo_req_"))
    }

    /// The store key that makes the upload single-use.
    pub fn use_once_key(&self) -> String {
        format!("photo-upload:{}", self.id)
    }
}

/// The store's kind for pending photos.
const PHOTOS: &str = "photo";

impl PendingPhoto {
    /// Keeps the pending photo in the store until it expires.
    pub async fn save(&self, store: &dyn Store) -> Result<(), StoreError> {
        put_ephemeral_json(store, PHOTOS, &self.id, self, self.expires_at).await
    }

    /// The pending photo `id`, unless unknown or expired. (Single use is `use_once`'s job.)
    pub async fn load(store: &dyn Store, id: &str) -> Result<Option<Self>, StoreError> {
        get_ephemeral_json(store, PHOTOS, id).await
    }
}

/// What an upload of a pending photo led to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoOutcome {
    pub photo_id: String,
    pub result: PhotoResult,
}

/// The store's kind for photo outcomes.
const OUTCOMES: &str = "photo-outcome";
/// How long an outcome is kept for a waiter that missed its event.
const OUTCOME_KEPT_MS: i64 = 2 * 60 * 1000;

impl PhotoOutcome {
    /// Keeps the outcome for a while as well, so a waiter whose event was lost (its Redis
    /// subscription reconnecting) can still read it.
    pub async fn save(&self, store: &dyn Store, now: UnixMillis) -> Result<(), StoreError> {
        put_ephemeral_json(store, OUTCOMES, &self.photo_id, self, now + OUTCOME_KEPT_MS).await
    }

    pub async fn load(store: &dyn Store, photo_id: &str) -> Result<Option<Self>, StoreError> {
        get_ephemeral_json(store, OUTCOMES, photo_id).await
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PhotoResult {
    /// The wearer now holds the claim on this request and may approve it.
    Claimed { request: RequestId },
    /// No sign-in code of ours was in the picture.
    NoCode,
    /// A code of ours was read but could not be claimed: the error code the phone would
    /// have been answered with (`not_found`, `conflict`, `expired`, `several_codes`, …), and
    /// the sentence it would have been shown.
    Refused {
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn only_its_own_token_is_accepted_and_only_in_time() {
        let (photo, token) = PendingPhoto::new(User::mentra("a@example.com"), 1_000);
        assert!(photo.accepts(token.expose_secret(), 1_000));
        assert!(!photo.accepts("forged", 1_000));
        assert!(!photo.accepts(token.expose_secret(), 1_000 + PHOTO_TTL_MS));
        let (other, other_token) = PendingPhoto::new(User::mentra("a@example.com"), 1_000);
        assert_ne!(photo.id, other.id);
        assert!(!photo.accepts(other_token.expose_secret(), 1_000));
        assert_eq!(
            PendingPhoto::id_in_token(token.expose_secret()),
            Some(photo.id.as_str())
        );
        assert_eq!(PendingPhoto::id_in_token("forged"), None);
    }
}
