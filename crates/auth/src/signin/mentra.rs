//! "Sign in with Mentra": the phone proves who it is with a token from MentraOS (exchanged or
//! verified by the MentraOS client, which speaks to the cloud), and gets a phone session.

use crate::User;
use crate::audit::AuditEvent;
use crate::flows::SignedIn;
use crate::refusal::{ErrorCode, Refusal};
use crate::secret::public_id_of;
use crate::signin::{Bucket, Caller, SignIn};

/// Why MentraOS did not vouch for the phone.
#[derive(Clone, Debug)]
pub struct MentraFailure {
    /// The MentraOS cloud failed (unreachable, our credentials refused): not the phone's fault.
    pub upstream: bool,
    pub reason: String,
}

/// A signed user token that checked out (signature, issuer, expiry, binding to our app), not
/// yet spent.
pub struct SignedToken {
    pub token: String,
    pub user_id: String,
    /// The last second (since the epoch) at which it is still accepted: `exp` plus leeway.
    pub accepted_until_s: u64,
}

/// What MentraOS vouched for.
pub enum MentraProof {
    /// The cloud exchanged the temporary token for this user; a signed token that came with
    /// it is spent with it.
    Exchanged {
        user_id: String,
        signed: Option<SignedToken>,
    },
    /// The signed token alone says who it is: it is good once.
    Signed(SignedToken),
}

/// What came of a MentraOS sign-in.
pub enum MentraSignIn {
    SignedIn(Box<SignedIn>),
    /// The same page reloaded with its spent token: the session already given continues.
    AlreadySignedIn,
}

impl SignIn {
    /// Each webview entry can cost a call to the MentraOS cloud: a per-IP budget applies.
    pub async fn admit_webview(&self, caller: &Caller) -> Result<(), Refusal> {
        self.spend(caller, Bucket::WebviewPerIp, &self.network_of(caller))
            .await
    }

    /// Marks a signed user token as used, until the last second it is accepted (its `exp`
    /// plus the leeway), so a leaked `/webview` address cannot be replayed into new sessions.
    /// `false` when it already was. A token has no id of its own: its hash is the key.
    async fn spend_signed_token(&self, signed: &SignedToken) -> Result<bool, Refusal> {
        let key = format!("mentra-signed:{}", public_id_of(&signed.token));
        let until = i64::try_from(signed.accepted_until_s)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000)
            .saturating_add(1000);
        Ok(self.store().use_once(&key, until).await?)
    }

    /// The MentraOS user `proof` names, once its signed token is spent.
    async fn vouched_for(
        &self,
        proof: MentraProof,
    ) -> Result<Result<String, MentraFailure>, Refusal> {
        Ok(match proof {
            MentraProof::Exchanged { user_id, signed } => {
                if let Some(signed) = &signed {
                    self.spend_signed_token(signed).await?;
                }
                Ok(user_id)
            }
            MentraProof::Signed(signed) => match self.spend_signed_token(&signed).await? {
                true => Ok(signed.user_id),
                false => Err(MentraFailure {
                    upstream: false,
                    reason: "this sign-in link was already used".into(),
                }),
            },
        })
    }

    /// Signs the phone in as the MentraOS user `proof` names. A phone already signed in as
    /// someone (`existing`) is never switched to another account by a link.
    pub async fn mentra_sign_in(
        &self,
        caller: &Caller,
        existing: Option<&User>,
        proof: Result<MentraProof, MentraFailure>,
    ) -> Result<MentraSignIn, Refusal> {
        let proof = match proof {
            Ok(proof) => self.vouched_for(proof).await?,
            Err(failure) => Err(failure),
        };
        let user_id = match proof {
            Ok(user_id) => user_id,
            Err(failure) if existing.is_some() && !failure.upstream => {
                return Ok(MentraSignIn::AlreadySignedIn);
            }
            Err(failure) => return Err(self.mentra_refused(caller, failure)),
        };
        let user = User::mentra(&user_id);
        let mut draft = self.draft(AuditEvent::PhoneSignIn, caller);
        draft.detail("MentraOS").user(&user.id);
        let signed_in = match existing {
            Some(existing) if existing.id != user.id => Err(Refusal::new(
                ErrorCode::Conflict,
                "This phone is already signed in with another account. Sign out first if you want to switch.",
            )),
            _ => self.start_phone_session(caller, user).await,
        };
        self.record(draft, &signed_in);
        signed_in.map(|s| MentraSignIn::SignedIn(Box::new(s)))
    }

    fn mentra_refused(&self, caller: &Caller, failure: MentraFailure) -> Refusal {
        tracing::info!(reason = %failure.reason, "MentraOS sign-in refused");
        let message = format!(
            "{}. Close this page and open the app again from MentraOS.",
            failure.reason
        );
        if failure.upstream {
            let mut draft = self.draft(AuditEvent::PhoneSignIn, caller);
            draft.detail("MentraOS");
            draft.record_as(&*self.audit, Some(ErrorCode::UpstreamError));
            return Refusal::new(ErrorCode::UpstreamError, message);
        }
        let mut draft = self.draft(AuditEvent::TokenRejected, caller);
        draft.detail(format!("MentraOS: {}", failure.reason));
        draft.record_as(&*self.audit, Some(ErrorCode::Unauthenticated));
        Refusal::new(ErrorCode::Unauthenticated, message)
    }
}
