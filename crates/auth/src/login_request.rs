//! The login request and its state machine: pending → claimed → approved → redeemed, with
//! denied, cancelled, locked (too many wrong PINs) and expired as the ways it ends unused.
//!
//! Transitions are pure functions here; the stores make them atomic with a versioned
//! compare-and-set, so both stores share these exact semantics.

use serde::{Deserialize, Serialize};

use crate::secret::{SecretHash, random_bytes, random_token};
use crate::user::User;
use crate::user_code::UserCode;

/// Milliseconds since the Unix epoch. Time is a parameter everywhere so tests control it.
pub type UnixMillis = i64;

/// The public id of a login request: 128 random bits, base64url (22 characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(String);

impl RequestId {
    pub fn generate() -> Self {
        Self(random_token::<16>())
    }

    /// Accepts exactly what [`RequestId::generate`] produces; anything else cannot name a request.
    pub fn parse(input: &str) -> Option<Self> {
        let valid = input.len() == 22
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginState {
    Pending,
    Claimed,
    Approved,
    Redeemed,
    Denied,
    Expired,
    Cancelled,
    Locked,
}

impl LoginState {
    pub const ALL: [LoginState; 8] = [
        Self::Pending,
        Self::Claimed,
        Self::Approved,
        Self::Redeemed,
        Self::Denied,
        Self::Expired,
        Self::Cancelled,
        Self::Locked,
    ];

    /// No transition leaves a final state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Redeemed | Self::Denied | Self::Expired | Self::Cancelled | Self::Locked
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Claimed => "claimed",
            Self::Approved => "approved",
            Self::Redeemed => "redeemed",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Locked => "locked",
        }
    }
}

/// What the screen that started the request reported about itself, shown to the approver.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenContext {
    /// Which app the sign-in is for, as shown on the confirmation screen.
    pub client_name: String,
    pub ip: String,
    pub user_agent: String,
    /// The registered client that asked for it (third-party apps): the only one that may
    /// redeem it, and the audience of its identity token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client's own confirmation mode, instead of the deployment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<crate::client::ConfirmationMode>,
    /// Made through the OAuth device authorization grant: redeemed at `/oauth/token` only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub device_grant: bool,
    /// Made by a web app's sign-in page (OpenID Connect): only that authorization may turn
    /// its approval into a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// The client asks for a passkey at every approval of its sign-ins.
    #[serde(
        default,
        skip_serializing_if = "crate::client::ClientPasskey::is_as_deployment"
    )]
    pub passkey: crate::client::ClientPasskey,
}

/// How the approver proved the approval: what the identity token's `amr` says (RFC 8176).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovedWith {
    /// A tap on the signed-in phone.
    Tap,
    /// Camera glasses' button, pressed twice.
    GlassesButton,
    /// A passkey with user verification (the phone's biometrics or screen lock).
    Passkey,
}

impl ApprovedWith {
    /// RFC 8176's name for it: `hwk` (a key held in hardware), or `user` (a presence test).
    pub fn amr(self) -> &'static str {
        match self {
            Self::Passkey => "hwk",
            Self::Tap | Self::GlassesButton => "user",
        }
    }

    /// How the audit trail says it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Tap => "approved with a tap",
            Self::GlassesButton => "approved with the glasses' button",
            Self::Passkey => "approved with a passkey",
        }
    }
}

/// How long a person has, at least, to approve or deny after scanning.
pub const DECISION_WINDOW_MS: i64 = 60 * 1000;

/// How many wrong PINs lock a request.
pub const PIN_ATTEMPTS: u8 = 5;
/// How long the PIN shown on the phone can be typed on the screen.
pub const PIN_TTL_MS: i64 = 2 * 60 * 1000;

/// The PIN a `LOGIN_CONFIRMATION=pin` approval puts between the phone and the screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinChallenge {
    /// Of the request id and the PIN, so the stored record does not show the PIN itself.
    hash: SecretHash,
    pub failed_attempts: u8,
    pub confirmed: bool,
}

impl PinChallenge {
    /// A plain hash: the PIN's 10^6 values fall to a search by anyone who can read the store,
    /// but typing it takes the desktop secret, which the store holds only as a SHA-256 of 256
    /// random bits. The hash keeps the PIN out of sight, not out of reach.
    fn new(id: &RequestId, pin: &str) -> Self {
        Self {
            hash: SecretHash::of(&Self::salted(id, pin)),
            failed_attempts: 0,
            confirmed: false,
        }
    }

    fn salted(id: &RequestId, pin: &str) -> String {
        format!("{id}:{pin}")
    }

    fn matches(&self, id: &RequestId, pin: &str) -> bool {
        self.hash.matches(&Self::salted(id, pin))
    }

    pub fn attempts_left(&self) -> u8 {
        PIN_ATTEMPTS.saturating_sub(self.failed_attempts)
    }
}

/// Whether `input` has the shape of a PIN (six ASCII digits). Anything else is refused before
/// it can be counted as an attempt.
pub fn is_well_formed_pin(input: &str) -> bool {
    input.len() == 6 && input.bytes().all(|b| b.is_ascii_digit())
}

/// Six digits from the CSPRNG, uniformly: drawn from the largest multiple of 10^6 below 2^32.
pub fn generate_pin() -> String {
    const SPACE: u32 = 1_000_000;
    const CEILING: u32 = u32::MAX - u32::MAX % SPACE;
    loop {
        let draw = u32::from_le_bytes(random_bytes::<4>());
        if draw < CEILING {
            return format!("{:06}", draw % SPACE);
        }
    }
}

/// Who claimed the request, and from where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub user: User,
    pub ip: String,
    pub at: UnixMillis,
    /// Whether the claimant's account had a passkey when it claimed: what approving takes is
    /// decided from this and the request's client, without reading the account again. (Claims
    /// made before passkeys existed say nothing: no account had one then.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub had_passkeys: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub id: RequestId,
    pub user_code: UserCode,
    /// SHA-256 of the desktop secret; the secret itself is only ever held by the screen.
    pub secret_hash: SecretHash,
    pub state: LoginState,
    /// Incremented by every transition: the compare-and-set token, and how subscribers tell
    /// a newer state from an older one.
    pub version: u32,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub screen: ScreenContext,
    pub claim: Option<Claim>,
    /// When the request reached its current state.
    pub updated_at: UnixMillis,
    /// Set by an approval in PIN mode: the screen must type the phone's PIN before redeeming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<PinChallenge>,
    /// The session the redeem started (set once, by the redeem that won).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeemed_session: Option<String>,
    /// How the approval was proved (set by the approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_with: Option<ApprovedWith>,
}

/// A freshly created request with the secret that only its creator receives.
pub struct NewLoginRequest {
    pub request: LoginRequest,
    pub desktop_secret: secrecy::SecretString,
}

impl LoginRequest {
    pub fn create(screen: ScreenContext, now: UnixMillis, ttl_ms: i64) -> NewLoginRequest {
        let secret = random_token::<32>();
        let request = LoginRequest {
            id: RequestId::generate(),
            user_code: UserCode::generate(),
            secret_hash: SecretHash::of(&secret),
            state: LoginState::Pending,
            version: 1,
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
            screen,
            claim: None,
            updated_at: now,
            pin: None,
            redeemed_session: None,
            approved_with: None,
        };
        NewLoginRequest {
            request,
            desktop_secret: secret.into(),
        }
    }

    /// The state as of `now`: a request past its deadline is expired even before a transition
    /// records it.
    pub fn state_at(&self, now: UnixMillis) -> LoginState {
        if !self.state.is_final() && now >= self.expires_at {
            LoginState::Expired
        } else {
            self.state
        }
    }

    /// Applies `transition` at `now`. The screen's secret is checked first, then expiry, at
    /// every step; the error says exactly why the transition is refused.
    pub fn apply(
        &self,
        transition: &Transition,
        now: UnixMillis,
    ) -> Result<LoginRequest, TransitionError> {
        // The screen's own actions need its secret before anything else: a caller without it
        // learns nothing about the request, not even that it is locked, redeemed or expired.
        if let Transition::Redeem { secret, .. }
        | Transition::Cancel { secret }
        | Transition::EnterPin { secret, .. } = transition
            && !self.secret_hash.matches(secret)
        {
            return Err(TransitionError::WrongSecret);
        }
        if self.state.is_final() {
            return Err(TransitionError::Final(self.state));
        }
        if now >= self.expires_at {
            return Err(TransitionError::Expired);
        }
        let claimed_by = |user: &User| self.claim.as_ref().is_some_and(|c| c.user.id == user.id);
        let mut next = self.clone();
        next.state = match (self.state, transition) {
            (LoginState::Pending, Transition::Claim(claim)) => {
                next.claim = Some(claim.clone());
                // A code scanned in its last seconds still leaves the person time to decide.
                next.expires_at = self.expires_at.max(now.saturating_add(DECISION_WINDOW_MS));
                LoginState::Claimed
            }
            (LoginState::Claimed, Transition::Claim(claim)) if claimed_by(&claim.user) => {
                // The same person scanning again (a reload): nothing changes.
                return Ok(self.clone());
            }
            (LoginState::Claimed, Transition::Approve { user, pin, with }) if claimed_by(user) => {
                next.approved_with = Some(*with);
                if let Some(pin) = pin {
                    next.pin = Some(PinChallenge::new(&self.id, pin));
                    // The PIN gets its full two minutes, however long the QR had left.
                    next.expires_at = self.expires_at.max(now.saturating_add(PIN_TTL_MS));
                }
                LoginState::Approved
            }
            (LoginState::Approved, Transition::EnterPin { pin, .. }) => {
                let Some(challenge) = &self.pin else {
                    return Err(TransitionError::WrongState(LoginState::Approved));
                };
                let right = challenge.matches(&self.id, pin);
                if challenge.confirmed {
                    // Typing the right PIN again changes nothing; anything else is refused.
                    return match right {
                        true => Ok(self.clone()),
                        false => Err(TransitionError::WrongState(LoginState::Approved)),
                    };
                }
                let mut counted = challenge.clone();
                if right {
                    counted.confirmed = true;
                } else {
                    counted.failed_attempts = counted.failed_attempts.saturating_add(1);
                }
                let locked = counted.attempts_left() == 0;
                next.pin = Some(counted);
                match locked {
                    true => LoginState::Locked,
                    false => LoginState::Approved,
                }
            }
            (LoginState::Approved, Transition::Redeem { .. })
                if self.pin.as_ref().is_some_and(|c| !c.confirmed) =>
            {
                return Err(TransitionError::PinRequired);
            }
            (LoginState::Claimed, Transition::Deny { user }) if claimed_by(user) => {
                LoginState::Denied
            }
            (LoginState::Claimed, Transition::Approve { .. } | Transition::Deny { .. }) => {
                return Err(TransitionError::NotClaimant);
            }
            (LoginState::Approved, Transition::Redeem { session_id, .. }) => {
                next.redeemed_session = Some(session_id.clone());
                LoginState::Redeemed
            }
            (
                LoginState::Pending | LoginState::Claimed | LoginState::Approved,
                Transition::Cancel { .. },
            ) => LoginState::Cancelled,
            (state, _) => return Err(TransitionError::WrongState(state)),
        };
        next.version = self.version.saturating_add(1);
        next.updated_at = now;
        Ok(next)
    }

    /// How its approval was proved, as an identity token's `amr` says it (RFC 8176): `qr`,
    /// then `hwk` (a passkey) or `user` (a tap, a button), and `pin` when the screen typed
    /// the phone's PIN.
    pub fn amr(&self) -> Vec<String> {
        let mut amr = vec!["qr".to_owned()];
        amr.extend(self.approved_with.map(|with| with.amr().to_owned()));
        if self.pin.as_ref().is_some_and(|pin| pin.confirmed) {
            amr.push("pin".to_owned());
        }
        amr
    }

    /// The request as recorded expired: what a store writes when it finds the deadline passed.
    pub fn expired(&self, now: UnixMillis) -> Option<LoginRequest> {
        (self.state_at(now) == LoginState::Expired && self.state != LoginState::Expired).then(
            || {
                let mut next = self.clone();
                next.state = LoginState::Expired;
                next.version = self.version.saturating_add(1);
                next.updated_at = now;
                next
            },
        )
    }
}

/// Something a person or device asks to do to a request.
#[derive(Clone)]
pub enum Transition {
    /// A signed-in phone scanned the QR or typed the code. Exactly one user can claim.
    Claim(Claim),
    /// The claimant confirmed on the phone; in PIN mode with the PIN the phone will show.
    Approve {
        user: User,
        pin: Option<String>,
        with: ApprovedWith,
    },
    /// The claimant refused on the phone.
    Deny { user: User },
    /// The screen exchanges the approval for a session, with its desktop secret. Exactly once.
    /// The session is recorded, so a redeemer that lost sight of the store can tell whether
    /// its own redeem is the one that landed.
    Redeem { secret: String, session_id: String },
    /// The screen gives up (navigated away, or asked for a new QR).
    Cancel { secret: String },
    /// The screen types the PIN shown on the phone. A wrong one is counted, and is still a
    /// transition: it changes the stored attempt count, or locks the request.
    EnterPin { secret: String, pin: String },
}

/// Shows what is asked and by whom, never the desktop secret.
impl std::fmt::Debug for Transition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Claim(claim) => write!(f, "Claim({})", claim.user.id),
            Self::Approve { user, .. } => write!(f, "Approve({})", user.id),
            Self::Deny { user } => write!(f, "Deny({})", user.id),
            Self::Redeem { .. } => f.write_str("Redeem(<secret>)"),
            Self::Cancel { .. } => f.write_str("Cancel(<secret>)"),
            Self::EnterPin { .. } => f.write_str("EnterPin(<secret>, <pin>)"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("this sign-in request has expired")]
    Expired,
    #[error("this sign-in request is already {}", .0.as_str())]
    Final(LoginState),
    #[error("this sign-in request is {} and cannot do that now", .0.as_str())]
    WrongState(LoginState),
    #[error("this sign-in request was claimed by someone else")]
    NotClaimant,
    #[error("the desktop secret does not match this sign-in request")]
    WrongSecret,
    #[error("type the PIN shown on the phone first")]
    PinRequired,
    #[error("that PIN is wrong; {attempts_left} attempts left")]
    WrongPin { attempts_left: u8 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TTL: i64 = 60_000;

    fn user(name: &str) -> User {
        User::local(name, name)
    }

    fn claim(name: &str, at: UnixMillis) -> Transition {
        Transition::Claim(Claim {
            user: user(name),
            ip: "192.0.2.1".into(),
            at,
            had_passkeys: false,
        })
    }

    fn screen() -> ScreenContext {
        ScreenContext {
            client_name: "qrlogin".into(),
            ip: "192.0.2.2".into(),
            user_agent: "test".into(),
            ..ScreenContext::default()
        }
    }

    fn secret_of(new: &NewLoginRequest) -> String {
        use secrecy::ExposeSecret;
        new.desktop_secret.expose_secret().to_owned()
    }

    #[test]
    fn the_happy_path_goes_pending_claimed_approved_redeemed() {
        let new = LoginRequest::create(screen(), 0, TTL);
        let secret = secret_of(&new);
        let claimed = new.request.apply(&claim("ann", 1), 1).unwrap();
        assert_eq!(claimed.state, LoginState::Claimed);
        let approved = claimed
            .apply(
                &Transition::Approve {
                    user: user("ann"),
                    pin: None,
                    with: ApprovedWith::Tap,
                },
                2,
            )
            .unwrap();
        assert_eq!(approved.state, LoginState::Approved);
        let redeemed = approved
            .apply(
                &Transition::Redeem {
                    secret,
                    session_id: "s1".into(),
                },
                3,
            )
            .unwrap();
        assert_eq!(redeemed.state, LoginState::Redeemed);
        assert_eq!(redeemed.version, 4);
    }

    #[test]
    fn a_second_user_cannot_claim_or_approve() {
        let new = LoginRequest::create(screen(), 0, TTL);
        let claimed = new.request.apply(&claim("ann", 1), 1).unwrap();
        assert_eq!(
            claimed.apply(&claim("bob", 2), 2),
            Err(TransitionError::WrongState(LoginState::Claimed))
        );
        assert_eq!(
            claimed.apply(
                &Transition::Approve {
                    user: user("bob"),
                    pin: None,
                    with: ApprovedWith::Tap
                },
                2
            ),
            Err(TransitionError::NotClaimant)
        );
    }

    #[test]
    fn redeem_needs_the_right_secret_and_works_once() {
        let new = LoginRequest::create(screen(), 0, TTL);
        let secret = secret_of(&new);
        let approved = new
            .request
            .apply(&claim("ann", 1), 1)
            .unwrap()
            .apply(
                &Transition::Approve {
                    user: user("ann"),
                    pin: None,
                    with: ApprovedWith::Tap,
                },
                2,
            )
            .unwrap();
        let wrong = Transition::Redeem {
            secret: "guess".into(),
            session_id: "s1".into(),
        };
        assert_eq!(approved.apply(&wrong, 3), Err(TransitionError::WrongSecret));
        let pending = LoginRequest::create(screen(), 0, TTL).request;
        assert_eq!(
            pending.apply(&wrong, 1),
            Err(TransitionError::WrongSecret),
            "without the secret, not even the state is told"
        );
        let redeemed = approved
            .apply(
                &Transition::Redeem {
                    secret: secret.clone(),
                    session_id: "s1".into(),
                },
                3,
            )
            .unwrap();
        assert_eq!(
            redeemed.apply(
                &Transition::Redeem {
                    secret,
                    session_id: "s1".into()
                },
                4
            ),
            Err(TransitionError::Final(LoginState::Redeemed))
        );
    }

    fn approved_with_pin(pin: &str) -> (LoginRequest, String) {
        let new = LoginRequest::create(screen(), 0, TTL);
        let secret = secret_of(&new);
        let approve = Transition::Approve {
            user: user("ann"),
            pin: Some(pin.into()),
            with: ApprovedWith::Tap,
        };
        let approved = new
            .request
            .apply(&claim("ann", 1), 1)
            .unwrap()
            .apply(&approve, 2)
            .unwrap();
        (approved, secret)
    }

    fn enter(secret: &str, pin: &str) -> Transition {
        Transition::EnterPin {
            secret: secret.into(),
            pin: pin.into(),
        }
    }

    #[test]
    fn a_pin_approval_needs_the_pin_before_redeem() {
        let (approved, secret) = approved_with_pin("123456");
        assert!(
            approved.expires_at >= 2 + PIN_TTL_MS,
            "the PIN gets its two minutes"
        );
        let redeem = Transition::Redeem {
            secret: secret.clone(),
            session_id: "s1".into(),
        };
        assert_eq!(
            approved.apply(&redeem, 3),
            Err(TransitionError::PinRequired)
        );
        let confirmed = approved.apply(&enter(&secret, "123456"), 3).unwrap();
        assert_eq!(confirmed.state, LoginState::Approved);
        assert_eq!(
            confirmed
                .apply(&enter(&secret, "123456"), 4)
                .unwrap()
                .version,
            confirmed.version,
            "the right PIN again changes nothing"
        );
        assert_eq!(
            confirmed.apply(&redeem, 4).unwrap().state,
            LoginState::Redeemed
        );
    }

    #[test]
    fn five_wrong_pins_lock_the_request_even_against_the_right_one() {
        let (mut request, secret) = approved_with_pin("123456");
        assert_eq!(
            request.apply(&enter("not the secret", "123456"), 3),
            Err(TransitionError::WrongSecret),
            "PIN guesses need the desktop secret"
        );
        for attempt in 1..=PIN_ATTEMPTS {
            request = request.apply(&enter(&secret, "000000"), 3).unwrap();
            let counted = request.pin.as_ref().unwrap();
            assert_eq!(counted.failed_attempts, attempt);
            assert!(!counted.confirmed);
        }
        assert_eq!(request.state, LoginState::Locked);
        assert_eq!(
            request.apply(&enter(&secret, "123456"), 4),
            Err(TransitionError::Final(LoginState::Locked))
        );
        assert_eq!(
            request.apply(&enter("not the secret", "123456"), 4),
            Err(TransitionError::WrongSecret),
            "without the secret, not even the lock is told"
        );
    }

    #[test]
    fn a_tap_approval_takes_no_pin() {
        let new = LoginRequest::create(screen(), 0, TTL);
        let secret = secret_of(&new);
        let approved = new
            .request
            .apply(&claim("ann", 1), 1)
            .unwrap()
            .apply(
                &Transition::Approve {
                    user: user("ann"),
                    pin: None,
                    with: ApprovedWith::Tap,
                },
                2,
            )
            .unwrap();
        assert_eq!(
            approved.apply(&enter(&secret, "123456"), 3),
            Err(TransitionError::WrongState(LoginState::Approved))
        );
    }

    #[test]
    fn a_claim_leaves_a_minute_to_decide() {
        let request = LoginRequest::create(screen(), 0, TTL).request;
        let late = TTL - 1;
        let claimed = request.apply(&claim("ann", late), late).unwrap();
        assert_eq!(claimed.expires_at, late + DECISION_WINDOW_MS);
    }

    #[test]
    fn pins_are_six_digits() {
        for _ in 0..200 {
            let pin = generate_pin();
            assert_eq!(pin.len(), 6);
            assert!(pin.bytes().all(|b| b.is_ascii_digit()), "{pin}");
        }
    }

    #[test]
    fn expiry_is_checked_at_every_step() {
        let new = LoginRequest::create(screen(), 0, TTL);
        let secret = secret_of(&new);
        let pending = new.request;
        assert_eq!(
            pending.apply(&claim("ann", TTL), TTL),
            Err(TransitionError::Expired)
        );
        let claimed = pending.apply(&claim("ann", 1), 1).unwrap();
        let deadline = claimed.expires_at;
        let approve = Transition::Approve {
            user: user("ann"),
            pin: None,
            with: ApprovedWith::Tap,
        };
        assert_eq!(
            claimed.apply(&approve, deadline),
            Err(TransitionError::Expired)
        );
        let approved = claimed.apply(&approve, 2).unwrap();
        let redeem = Transition::Redeem {
            secret,
            session_id: "s1".into(),
        };
        assert_eq!(
            approved.apply(&redeem, deadline + 1),
            Err(TransitionError::Expired)
        );
        assert_eq!(approved.state_at(deadline), LoginState::Expired);
        assert_eq!(
            approved.expired(deadline).unwrap().state,
            LoginState::Expired
        );
    }

    #[test]
    fn a_transition_never_shows_the_secret() {
        let shown = format!(
            "{:?}",
            Transition::Redeem {
                secret: "s3cr3t".into(),
                session_id: "s1".into()
            }
        );
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn ids_parse_only_in_their_own_shape() {
        let id = RequestId::generate();
        assert_eq!(RequestId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "short",
            "../../etc/passwd/aaaaaaa",
            "aaaaaaaaaaaaaaaaaaaaa=",
            "ääääääääääää",
        ] {
            assert!(RequestId::parse(bad).is_none(), "{bad}");
        }
    }

    fn any_transition() -> impl Strategy<Value = (u8, u8, i64)> {
        (0u8..7, 0u8..2, 0i64..(TTL * 2))
    }

    proptest! {
        /// Whatever sequence of transitions, by whoever, at whatever time: once a request is
        /// final it stays exactly as it is, and versions only grow.
        #[test]
        fn no_transition_leaves_a_final_state(steps in proptest::collection::vec(any_transition(), 1..30)) {
            let new = LoginRequest::create(screen(), 0, TTL);
            let secret = secret_of(&new);
            let mut request = new.request;
            let mut now = 0;
            for (kind, who, dt) in steps {
                now += dt / 10;
                let name = if who == 0 { "ann" } else { "bob" };
                let transition = match kind {
                    0 => claim(name, now),
                    1 => Transition::Approve { user: user(name), pin: None, with: ApprovedWith::Tap },
                    2 => Transition::Deny { user: user(name) },
                    3 => Transition::Redeem {
                        secret: if who == 0 { secret.clone() } else { "x".into() },
                        session_id: "s1".into(),
                    },
                    4 => Transition::Cancel { secret: if who == 0 { secret.clone() } else { "x".into() } },
                    5 => Transition::Approve { user: user(name), pin: Some("123456".into()), with: ApprovedWith::Tap },
                    // Mostly wrong PINs (who == 1), sometimes the right one.
                    _ => Transition::EnterPin {
                        secret: secret.clone(),
                        pin: if who == 0 { "123456".into() } else { "654321".into() },
                    },
                };
                match request.apply(&transition, now) {
                    Ok(next) => {
                        prop_assert!(!request.state.is_final());
                        prop_assert!(next.version >= request.version);
                        if next.state == LoginState::Redeemed {
                            prop_assert_eq!(request.state, LoginState::Approved);
                            prop_assert!(
                                request.pin.as_ref().is_none_or(|pin| pin.confirmed),
                                "never redeemed past an unconfirmed PIN"
                            );
                        }
                        if let Some(pin) = &next.pin {
                            prop_assert!(pin.failed_attempts <= PIN_ATTEMPTS);
                            prop_assert_eq!(
                                pin.failed_attempts == PIN_ATTEMPTS,
                                next.state == LoginState::Locked
                            );
                        }
                        request = next;
                    }
                    Err(_) => {
                        if let Some(expired) = request.expired(now) {
                            request = expired;
                        }
                    }
                }
                if request.state.is_final() {
                    let frozen = request.clone();
                    for t in [claim("ann", now), Transition::Approve { user: user("ann"), pin: None, with: ApprovedWith::Tap },
                              Transition::Redeem { secret: secret.clone(), session_id: "s1".into() },
                              Transition::Cancel { secret: secret.clone() }] {
                        prop_assert!(frozen.apply(&t, now).is_err());
                    }
                    prop_assert!(frozen.expired(now + TTL * 10).is_none());
                }
            }
        }
    }
}
