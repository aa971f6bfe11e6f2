//! Passkeys in a sign-in: the owner of a signed-in phone adds, names and removes passkeys,
//! and an approval proves with one that the owner is holding the phone (WebAuthn with user
//! verification). Every check of a passkey answers a challenge kept under what it is for
//! ([`ProofPurpose`]): one login request, one device link, or the account's own passkey
//! list. An assertion made for one of them is refused for any other, and each challenge
//! counts once.
//!
//! Changing the list of a phone's passkeys when the account has one takes a check by one of
//! them: a phone left unlocked (or stolen within its session) can neither add its holder's
//! passkey nor remove the owner's, which is what `PASSKEY_APPROVAL` rests on.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Uuid, Webauthn, WebauthnBuilder,
};

use crate::User;
use crate::audit::AuditEvent;
use crate::login_request::{ApprovedWith, LoginState, RequestId, UnixMillis};
use crate::passkey::{self, PasskeyId, PasskeySummary, StoredPasskey};
use crate::refusal::{ErrorCode, Refusal};
use crate::secret::random_token;
use crate::signin::policy::ApprovalNeed;
use crate::signin::{ApprovalProof, Caller, SignIn};
use crate::store::{get_ephemeral_json, put_ephemeral_json};

/// Ceremonies under way (a registration, a check), by what they are for.
const CEREMONIES: &str = "passkey-ceremonies";
/// How long the phone has to answer a passkey prompt.
const CEREMONY_TTL_MS: i64 = 3 * 60 * 1000;

/// Who passkeys are made for (the relying party id, a domain both services' pages are on or
/// under) and which pages may use them: the phone's always, the signed-in screen's (for
/// device links) when its host is under the same domain.
#[derive(Clone)]
pub struct RelyingParty {
    webauthn: Arc<Webauthn>,
    rp_id: String,
    covers_desktop: bool,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("rp_id", &self.rp_id)
            .field("covers_desktop", &self.covers_desktop)
            .finish_non_exhaustive()
    }
}

/// Whether `host` is `rp_id` or under it, as WebAuthn requires of a page's origin.
fn under(host: Option<&str>, rp_id: &str) -> bool {
    host.is_some_and(|host| host == rp_id || host.ends_with(&format!(".{rp_id}")))
}

impl RelyingParty {
    /// `rp_id` must be the phone's host or a domain it is under (WebAuthn refuses IP
    /// addresses: `localhost` serves for development).
    pub fn new(rp_id: &str, app_name: &str, mobile: &Url, desktop: &Url) -> Result<Self, String> {
        if !under(mobile.host_str(), rp_id) || mobile.domain().is_none() {
            return Err(format!(
                "the phone's address {mobile} is not on {rp_id:?} or under it (WebAuthn also refuses an IP address: use a host name)"
            ));
        }
        let covers_desktop = under(desktop.domain(), rp_id);
        let mut builder = WebauthnBuilder::new(rp_id, mobile)
            .map_err(|e| format!("{rp_id:?} cannot be a relying party id: {e}"))?
            .rp_name(app_name)
            .timeout(std::time::Duration::from_millis(
                CEREMONY_TTL_MS.unsigned_abs(),
            ));
        if covers_desktop {
            builder = builder.append_allowed_origin(desktop);
        }
        let webauthn = builder.build().map_err(|e| e.to_string())?;
        Ok(Self {
            webauthn: Arc::new(webauthn),
            rp_id: rp_id.to_owned(),
            covers_desktop,
        })
    }

    /// Whether the signed-in screen's pages may use passkeys (device links).
    pub fn covers_desktop(&self) -> bool {
        self.covers_desktop
    }
}

/// What a passkey check is for. Its challenge is kept under this, for one user.
#[derive(Clone, Copy, Debug)]
pub enum ProofPurpose<'a> {
    /// Approving this login request.
    Approve(&'a RequestId),
    /// Allowing the device that opened this link.
    AllowLink(&'a str),
    /// Adding or removing one of the account's passkeys.
    Manage,
}

impl ProofPurpose<'_> {
    fn key(&self, user_id: &str) -> String {
        match self {
            Self::Approve(id) => format!("approve:{id}:{user_id}"),
            Self::AllowLink(id) => format!("link:{id}:{user_id}"),
            Self::Manage => format!("manage:{user_id}"),
        }
    }
}

/// Where a registration under way for `user` is kept (one at a time: a new one replaces it).
fn registration_key(user: &User) -> String {
    format!("register:{}", user.id)
}

/// A ceremony's state between its two requests; `nonce` lets it finish once.
#[derive(Serialize, Deserialize)]
struct Ceremony<S> {
    nonce: String,
    state: S,
}

fn no_passkey_yet() -> Refusal {
    Refusal::new(
        ErrorCode::PasskeyRequired,
        "This account has no passkey yet. Add one on the phone's Passkeys page first.",
    )
}

fn check_failed(why: &'static str) -> Refusal {
    Refusal::new(ErrorCode::PasskeyFailed, why)
}

fn stale_check() -> Refusal {
    check_failed(
        "That passkey check is unknown, used or too old. Try again: the phone asks for a new one.",
    )
}

fn removed_passkey() -> Refusal {
    check_failed("That passkey is not on this account (any more). Use another, or add one.")
}

/// The user handle a passkey is made with: the same for one account on every device, and
/// not the account's id itself (authenticators may show or sync it).
fn user_handle(user: &User) -> Uuid {
    let digest = Sha256::digest(format!("qrlogin passkey user:{}", user.id).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

impl SignIn {
    /// The relying party, unless this deployment's phone pages are on an IP address, where
    /// WebAuthn does not work.
    fn relying_party(&self) -> Result<&RelyingParty, Refusal> {
        self.policy.passkeys.relying_party.as_ref().ok_or_else(|| {
            Refusal::new(
                ErrorCode::PasskeyRequired,
                "Passkeys cannot be used on this server: its phone pages are on an IP address, where browsers refuse them. The operator can set MOBILE_PUBLIC_URL to a host name.",
            )
        })
    }

    /// The passkeys of `user`, oldest first.
    pub async fn passkeys(&self, user: &User) -> Result<Vec<PasskeySummary>, Refusal> {
        let stored = passkey::list(self.store(), &user.id).await?;
        Ok(stored.iter().map(StoredPasskey::summary).collect())
    }

    async fn keep_ceremony<S: Serialize>(&self, key: &str, state: S) -> Result<(), Refusal> {
        let ceremony = Ceremony {
            nonce: random_token::<16>(),
            state,
        };
        let until = self.now() + CEREMONY_TTL_MS;
        put_ephemeral_json(self.store(), CEREMONIES, key, &ceremony, until).await?;
        Ok(())
    }

    /// The state kept under `key`, once: a second finish of the same ceremony is refused.
    async fn take_ceremony<S: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<S>, Refusal> {
        let Some(ceremony) =
            get_ephemeral_json::<Ceremony<S>>(self.store(), CEREMONIES, key).await?
        else {
            return Ok(None);
        };
        let mark = format!("passkey-ceremony:{key}:{}", ceremony.nonce);
        let first = (self.store())
            .use_once(&mark, self.now() + CEREMONY_TTL_MS)
            .await?;
        Ok(first.then_some(ceremony.state))
    }

    /// A challenge for `user` to answer with one of their passkeys, for `purpose` only. For
    /// an approval, only the request's claimant is given one, while it waits for them.
    pub async fn begin_passkey_check(
        &self,
        user: &User,
        purpose: ProofPurpose<'_>,
    ) -> Result<RequestChallengeResponse, Refusal> {
        match purpose {
            ProofPurpose::Approve(id) => {
                let prompt = self.claimant_prompt(user, id).await?;
                if prompt.state != LoginState::Claimed {
                    return Err(Refusal::new(
                        ErrorCode::Conflict,
                        "This sign-in is not waiting for your approval any more.",
                    ));
                }
            }
            ProofPurpose::AllowLink(id) => {
                if self.live_link(id).await?.user.id != user.id {
                    return Err(Refusal::new(ErrorCode::NotFound, "No such link of yours."));
                }
            }
            ProofPurpose::Manage => {}
        }
        let stored = passkey::list(self.store(), &user.id).await?;
        if stored.is_empty() {
            return Err(no_passkey_yet());
        }
        let credentials: Vec<_> = stored.iter().map(|p| p.credential().clone()).collect();
        let (challenge, state) = self
            .relying_party()?
            .webauthn
            .start_passkey_authentication(&credentials)
            .map_err(Refusal::internal)?;
        self.keep_ceremony::<PasskeyAuthentication>(&purpose.key(&user.id), state)
            .await?;
        Ok(challenge)
    }

    /// Checks `credential` against the challenge given to `user` for `purpose`: one of their
    /// passkeys (still on the account), with the user verified. Counts the challenge as used
    /// and keeps the passkey's counter and last use.
    pub(crate) async fn check_passkey(
        &self,
        user: &User,
        purpose: ProofPurpose<'_>,
        credential: &PublicKeyCredential,
    ) -> Result<(), Refusal> {
        let state: PasskeyAuthentication = self
            .take_ceremony(&purpose.key(&user.id))
            .await?
            .ok_or_else(stale_check)?;
        let result = self
            .relying_party()?
            .webauthn
            .finish_passkey_authentication(credential, &state)
            .map_err(|error| {
                tracing::info!(%error, "a passkey check failed");
                check_failed(
                    "Your passkey could not be checked (it was not made for this, or the phone did not verify you). Try again.",
                )
            })?;
        if !result.user_verified() {
            return Err(check_failed(
                "The phone did not verify you (fingerprint, face or screen lock): that is what a passkey approval needs.",
            ));
        }
        let made_by = PasskeyId::of_result(&result);
        let mut stored = passkey::load(self.store(), &user.id, &made_by)
            .await?
            .ok_or_else(removed_passkey)?;
        stored.used(&result, self.now());
        match passkey::update(self.store(), &stored).await? {
            true => Ok(()),
            false => Err(removed_passkey()),
        }
    }

    /// Checks `proof` against `need` (what the policy asks of this approval): how the
    /// approval was proved.
    pub(crate) async fn prove(
        &self,
        user: &User,
        need: ApprovalNeed,
        purpose: ProofPurpose<'_>,
        proof: ApprovalProof,
    ) -> Result<ApprovedWith, Refusal> {
        match proof {
            ApprovalProof::Passkey(credential) => {
                self.check_passkey(user, purpose, &credential).await?;
                Ok(ApprovedWith::Passkey)
            }
            ApprovalProof::Tap => without_passkey(need, ApprovedWith::Tap),
            ApprovalProof::GlassesButton => without_passkey(need, ApprovedWith::GlassesButton),
        }
    }

    /// The phone asks to add a passkey. When the account has some already, `proof` must be a
    /// check by one of them (asked for [`ProofPurpose::Manage`]).
    pub async fn begin_passkey_registration(
        &self,
        caller: &Caller,
        user: &User,
        proof: Option<&PublicKeyCredential>,
    ) -> Result<CreationChallengeResponse, Refusal> {
        let existing = passkey::list(self.store(), &user.id).await?;
        if !existing.is_empty() {
            self.manage_check(caller, user, proof, AuditEvent::PasskeyAdded)
                .await?;
        }
        let exclude = existing
            .iter()
            .map(|p| p.credential().cred_id().clone())
            .collect();
        let (challenge, state) = self
            .relying_party()?
            .webauthn
            .start_passkey_registration(user_handle(user), &user.name, &user.name, Some(exclude))
            .map_err(Refusal::internal)?;
        self.keep_ceremony::<PasskeyRegistration>(&registration_key(user), state)
            .await?;
        Ok(challenge)
    }

    /// A check that must come before a change to the passkey list; a failure is audited as
    /// the change it was for.
    async fn manage_check(
        &self,
        caller: &Caller,
        user: &User,
        proof: Option<&PublicKeyCredential>,
        event: AuditEvent,
    ) -> Result<(), Refusal> {
        let checked = match proof {
            Some(proof) => self.check_passkey(user, ProofPurpose::Manage, proof).await,
            None => Err(Refusal::new(
                ErrorCode::PasskeyRequired,
                "Confirm with one of this account's passkeys first.",
            )),
        };
        if checked.is_err() {
            let mut draft = self.draft(event, caller);
            draft.user(&user.id);
            self.record(draft, &checked);
        }
        checked
    }

    /// The phone's answer to [`Self::begin_passkey_registration`]: the passkey joins the
    /// account under `name`. Audited.
    pub async fn finish_passkey_registration(
        &self,
        caller: &Caller,
        user: &User,
        name: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<PasskeySummary, Refusal> {
        let mut draft = self.draft(AuditEvent::PasskeyAdded, caller);
        draft.user(&user.id);
        let added = self.register(user, name, credential).await;
        if let Ok(summary) = &added {
            draft.detail(format!("passkey {:?}", summary.name));
        }
        self.record(draft, &added);
        added
    }

    async fn register(
        &self,
        user: &User,
        name: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<PasskeySummary, Refusal> {
        let name = passkey::check_name(name).map_err(Refusal::invalid)?;
        let state: PasskeyRegistration = self
            .take_ceremony(&registration_key(user))
            .await?
            .ok_or_else(stale_check)?;
        let credential = self
            .relying_party()?
            .webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|error| {
                tracing::info!(%error, "a passkey registration failed");
                check_failed("The phone's passkey could not be added. Try again.")
            })?;
        let stored = StoredPasskey::new(&user.id, name, credential, self.now());
        if !passkey::add(self.store(), &stored).await? {
            return Err(Refusal::new(
                ErrorCode::Conflict,
                "That passkey is on an account already.",
            ));
        }
        Ok(stored.summary())
    }

    /// Renames one of `user`'s passkeys (no check needed: a name proves nothing).
    pub async fn rename_passkey(
        &self,
        user: &User,
        id: &PasskeyId,
        name: &str,
    ) -> Result<PasskeySummary, Refusal> {
        let name = passkey::check_name(name).map_err(Refusal::invalid)?;
        let mut stored = passkey::load(self.store(), &user.id, id)
            .await?
            .ok_or_else(unknown_passkey)?;
        stored.name = name;
        match passkey::update(self.store(), &stored).await? {
            true => Ok(stored.summary()),
            false => Err(unknown_passkey()),
        }
    }

    /// Removes one of `user`'s passkeys, with a check by one of them (this one too). Audited.
    pub async fn remove_passkey(
        &self,
        caller: &Caller,
        user: &User,
        id: &PasskeyId,
        proof: Option<&PublicKeyCredential>,
    ) -> Result<(), Refusal> {
        self.manage_check(caller, user, proof, AuditEvent::PasskeyRemoved)
            .await?;
        let mut draft = self.draft(AuditEvent::PasskeyRemoved, caller);
        draft.user(&user.id);
        let removed = match passkey::remove(self.store(), &user.id, id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(unknown_passkey()),
            Err(error) => Err(error.into()),
        };
        self.record(draft, &removed);
        removed
    }
}

/// An approval proved `with` something other than a passkey, where the policy asks `need`.
pub(crate) fn without_passkey(
    need: ApprovalNeed,
    with: ApprovedWith,
) -> Result<ApprovedWith, Refusal> {
    match need {
        ApprovalNeed::Tap => Ok(with),
        ApprovalNeed::Passkey => Err(Refusal::new(
            ErrorCode::PasskeyRequired,
            "This approval needs your passkey: confirm with your fingerprint, face or screen lock.",
        )),
        ApprovalNeed::PasskeyFirst => Err(Refusal::new(
            ErrorCode::PasskeyRequired,
            "Approving sign-ins needs a passkey, and this account has none yet. Add one on the phone's Passkeys page first.",
        )),
    }
}

fn unknown_passkey() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "No such passkey on this account.")
}

/// Removes every passkey of `user_id` and ends all their sessions (a lost phone's too): the
/// owner signs in again on the phone they have and adds a passkey there. For operators.
pub async fn reset_passkeys(
    store: &dyn crate::store::Store,
    user_id: &str,
    now: UnixMillis,
) -> Result<usize, crate::store::StoreError> {
    let removed = passkey::remove_all(store, user_id).await?;
    crate::flows::sign_out_everywhere(store, user_id, now).await?;
    Ok(removed)
}

#[cfg(test)]
mod tests;
