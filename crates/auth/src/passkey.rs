//! Passkeys: the WebAuthn credentials an account's owner made on their phone, by which an
//! approval proves the owner is the one holding it (user verification: a fingerprint, a face
//! or the device's lock-screen PIN). This module is what a passkey is and where it lives; the
//! ceremonies and the approval rule are in [`crate::signin::passkeys`].
//!
//! Each credential is one directory entry under a kind of its user's own
//! (`passkeys:{user_id}`), so listing one account's passkeys reads only that account's, and
//! adding one never rewrites (or loses) another. A second entry per credential id
//! (`passkey-owners`) keeps a credential on one account only, as WebAuthn requires.

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{AuthenticationResult, Passkey};
/// WebAuthn's wire forms, as the browser's JSON gives and takes them.
pub use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

use crate::login_request::UnixMillis;
use crate::store::{Store, StoreError, from_json, to_json};

/// Which account each credential id belongs to.
const OWNERS: &str = "passkey-owners";
/// The longest name a passkey may be given.
pub const NAME_LIMIT: usize = 64;

fn kind_of(user_id: &str) -> String {
    format!("passkeys:{user_id}")
}

/// A credential id as the browser and the API spell it: base64url without padding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasskeyId(String);

impl PasskeyId {
    fn of_bytes(raw: &[u8]) -> Self {
        use base64::Engine as _;
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
    }

    fn of(passkey: &Passkey) -> Self {
        Self::of_bytes(passkey.cred_id())
    }

    /// The passkey an assertion was made by.
    pub fn of_result(result: &AuthenticationResult) -> Self {
        Self::of_bytes(result.cred_id())
    }

    /// An id from a path: only what base64url can spell, so it can name nothing else.
    pub fn parse(raw: &str) -> Option<Self> {
        let well_formed = !raw.is_empty()
            && raw.len() <= 1400
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PasskeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// WebAuthn's assertion options, `{"publicKey": {challenge, rpId, allowCredentials,
/// userVerification, timeout}}`: what `navigator.credentials.get` is given.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct PasskeyCheck(pub RequestChallengeResponse);

/// WebAuthn's creation options, `{"publicKey": {…}}`: what `navigator.credentials.create`
/// is given.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct PasskeyCreation(pub CreationChallengeResponse);

/// One passkey of an account, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredPasskey {
    pub id: PasskeyId,
    pub user_id: String,
    /// What its owner calls it ("Pixel 9"), to tell several apart.
    pub name: String,
    pub created_at: UnixMillis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<UnixMillis>,
    /// The public key, its signature counter and its flags, as webauthn-rs keeps them.
    credential: Passkey,
}

/// A passkey as its owner's list shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeySummary {
    /// The credential id (base64url): what removing it names.
    pub id: String,
    pub name: String,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// Seconds since the epoch; absent until it first proves an approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}

/// Why a name is refused.
pub fn check_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_LIMIT || name.chars().any(char::is_control) {
        return Err("A passkey's name has 1 to 64 characters.");
    }
    Ok(name.to_owned())
}

impl StoredPasskey {
    pub fn new(user_id: &str, name: String, credential: Passkey, now: UnixMillis) -> Self {
        Self {
            id: PasskeyId::of(&credential),
            user_id: user_id.to_owned(),
            name,
            created_at: now,
            last_used_at: None,
            credential,
        }
    }

    pub fn credential(&self) -> &Passkey {
        &self.credential
    }

    pub fn summary(&self) -> PasskeySummary {
        PasskeySummary {
            id: self.id.to_string(),
            name: self.name.clone(),
            created_at: self.created_at / 1000,
            last_used_at: self.last_used_at.map(|at| at / 1000),
        }
    }

    /// Takes what an assertion by this credential tells (its counter, its backup state).
    pub fn used(&mut self, result: &AuthenticationResult, now: UnixMillis) {
        self.credential.update_credential(result);
        self.last_used_at = Some(now);
    }
}

/// Every passkey of `user_id`, oldest first.
pub async fn list(store: &dyn Store, user_id: &str) -> Result<Vec<StoredPasskey>, StoreError> {
    let mut passkeys = store
        .list_entries(&kind_of(user_id))
        .await?
        .iter()
        .map(|text| from_json(text))
        .collect::<Result<Vec<StoredPasskey>, _>>()?;
    passkeys.sort_by_key(|p| p.created_at);
    Ok(passkeys)
}

/// One passkey of `user_id`, if it has one by that id.
pub async fn load(
    store: &dyn Store,
    user_id: &str,
    id: &PasskeyId,
) -> Result<Option<StoredPasskey>, StoreError> {
    let stored = store.load_entry(&kind_of(user_id), id.as_str()).await?;
    stored.as_deref().map(from_json).transpose()
}

/// Whether `user_id` has any passkey.
pub async fn any(store: &dyn Store, user_id: &str) -> Result<bool, StoreError> {
    Ok(!store.list_entries(&kind_of(user_id)).await?.is_empty())
}

/// Adds `passkey` to its account: `Ok(false)` when the credential is on an account already
/// (this one or another).
pub async fn add(store: &dyn Store, passkey: &StoredPasskey) -> Result<bool, StoreError> {
    if !store
        .insert_entry(OWNERS, passkey.id.as_str(), &passkey.user_id)
        .await?
    {
        return Ok(false);
    }
    store
        .insert_entry(
            &kind_of(&passkey.user_id),
            passkey.id.as_str(),
            &to_json(passkey)?,
        )
        .await
}

/// Saves what changed in a passkey (its name, counter or last use); `Ok(false)` when it was
/// removed meanwhile (it stays removed).
pub async fn update(store: &dyn Store, passkey: &StoredPasskey) -> Result<bool, StoreError> {
    store
        .update_entry(
            &kind_of(&passkey.user_id),
            passkey.id.as_str(),
            &to_json(passkey)?,
        )
        .await
}

/// Removes one passkey of `user_id`; `Ok(false)` when it has none by that id.
pub async fn remove(store: &dyn Store, user_id: &str, id: &PasskeyId) -> Result<bool, StoreError> {
    let removed = store.delete_entry(&kind_of(user_id), id.as_str()).await?;
    if removed {
        store.delete_entry(OWNERS, id.as_str()).await?;
    }
    Ok(removed)
}

/// Removes every passkey of `user_id`: how many there were.
pub async fn remove_all(store: &dyn Store, user_id: &str) -> Result<usize, StoreError> {
    let mut removed = 0;
    for passkey in list(store, user_id).await? {
        if remove(store, user_id, &passkey.id).await? {
            removed += 1;
        }
    }
    Ok(removed)
}
