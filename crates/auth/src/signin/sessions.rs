//! Sessions: a phone signs in (local account or MentraOS), a device signs out, a user signs
//! out everywhere or ends one of their sessions from another.

use secrecy::SecretString;

use crate::User;
use crate::account::{Username, dummy_password_hash};
use crate::audit::AuditEvent;
use crate::flows::{self, SignedIn};
use crate::refusal::{ErrorCode, Refusal};
use crate::session::SessionKind;
use crate::signin::{Bucket, Caller, SignIn};
use crate::tokens::AccessClaims;

/// Networks an account signed in from: their tries do not spend the account's own budget.
const KNOWN_NETWORK: &str = "known-network";
/// How long a network stays known after its last successful sign-in: 30 days.
const KNOWN_NETWORK_MS: i64 = 30 * 24 * 3600 * 1000;

/// Where a signing-out caller stands.
pub struct SignedInCaller<'a> {
    pub user: &'a User,
    pub session_id: &'a str,
    /// The access token, when that is how the caller came.
    pub access_token: Option<&'a AccessClaims>,
}

/// How much a sign-out ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignOutScope {
    ThisSession,
    /// Every session and token of the user, on every device, and whatever they approved
    /// that a screen has not redeemed yet.
    Everywhere,
}

impl SignIn {
    /// A phone signs in with a local account. Budgets are spent before the password is
    /// checked (parallel guesses cannot outrun the count), and a missing account costs the
    /// same time as a wrong password.
    pub async fn local_sign_in(
        &self,
        caller: &Caller,
        username: &str,
        password: SecretString,
    ) -> Result<SignedIn, Refusal> {
        let mut draft = self.draft(AuditEvent::PhoneSignIn, caller);
        draft.detail("local account");
        let signed_in = async {
            let account_key = username.trim().to_ascii_lowercase();
            let network = self.network_of(caller);
            let account_network = format!("{account_key}|{network}");
            self.spend(caller, Bucket::LoginPerIp, &network).await?;
            self.spend(caller, Bucket::LoginPerAccountNetwork, &account_network)
                .await?;
            let known = (self.store())
                .get_ephemeral(KNOWN_NETWORK, &account_network)
                .await?
                .is_some();
            if !known {
                self.spend(caller, Bucket::LoginPerAccount, &account_key)
                    .await?;
            }
            let account = match Username::parse(username) {
                Ok(username) => self.store().load_account(&username).await?,
                Err(_) => None,
            };
            let hash = account.as_ref().map_or_else(
                || dummy_password_hash().to_owned(),
                |a| a.password_hash.clone(),
            );
            let verified =
                (self.password_checks.verify(password, hash).await).map_err(Refusal::internal)?;
            let wrong = || Refusal::new(ErrorCode::Unauthenticated, "Wrong username or password.");
            let account = account.filter(|_| verified).ok_or_else(wrong)?;
            // Named only once the password is right: guessed names are not recorded as users.
            draft.user(&account.user().id);
            if account.disabled {
                return Err(Refusal::new(
                    ErrorCode::Forbidden,
                    "This account is disabled.",
                ));
            }
            let until = self.now().saturating_add(KNOWN_NETWORK_MS);
            (self.store())
                .put_ephemeral(KNOWN_NETWORK, &account_network, "", until)
                .await?;
            self.start_phone_session(caller, account.user()).await
        }
        .await;
        self.record(draft, &signed_in);
        signed_in
    }

    /// A new phone session for `user`, who proved who they are some other way (MentraOS).
    pub(crate) async fn start_phone_session(
        &self,
        caller: &Caller,
        user: User,
    ) -> Result<SignedIn, Refusal> {
        Ok(flows::sign_in(
            self.store(),
            &self.keys,
            SessionKind::Mobile,
            user,
            caller.device(),
            self.now(),
            &self.policy.lifetimes,
        )
        .await?)
    }

    /// Ends the caller's session and its access token at once, whichever of the two it came
    /// with; with [`SignOutScope::Everywhere`], everything of the user.
    pub async fn sign_out(
        &self,
        caller: &Caller,
        who: SignedInCaller<'_>,
        scope: SignOutScope,
    ) -> Result<(), Refusal> {
        let event = match scope {
            SignOutScope::ThisSession => AuditEvent::Logout,
            SignOutScope::Everywhere => AuditEvent::LogoutEverywhere,
        };
        let mut draft = self.draft(event, caller);
        draft.user(&who.user.id);
        let now = self.now();
        let ended = async {
            if scope == SignOutScope::Everywhere {
                flows::sign_out_everywhere(self.store(), &who.user.id, now).await?;
            }
            flows::end_session(self.store(), who.session_id, now).await?;
            if let Some(claims) = who.access_token {
                self.store()
                    .revoke_token(&claims.jti, claims.exp.saturating_mul(1000))
                    .await?;
            }
            Ok::<_, Refusal>(())
        }
        .await;
        self.record(draft, &ended);
        ended
    }

    /// Ends one of `user`'s own sessions (and its token) from another of theirs.
    pub async fn revoke_session(
        &self,
        caller: &Caller,
        user: &User,
        session_id: &str,
    ) -> Result<(), Refusal> {
        let mut draft = self.draft(AuditEvent::Revoke, caller);
        draft.user(&user.id);
        let revoked = async {
            let not_found = || Refusal::new(ErrorCode::NotFound, "You have no such session.");
            let session = self
                .store()
                .load_session(session_id)
                .await?
                .filter(|session| session.user.id == user.id)
                .ok_or_else(not_found)?;
            flows::end_session(self.store(), &session.id, self.now()).await?;
            Ok(session.id)
        }
        .await;
        if let Ok(ended) = &revoked {
            draft.detail(format!("session {ended}"));
        }
        self.record(draft, &revoked);
        revoked.map(|_| ())
    }
}
