//! The sign-in operations both services perform, on top of the pure state machine and the
//! store. Each transition is: read, apply, compare-and-set; a lost race re-reads and
//! re-applies, and then fails for the right reason (409 already claimed, 410 expired, …).

use secrecy::{ExposeSecret, SecretString};

use crate::account::{LocalAccount, Username, hash_password};
use crate::client::ConfirmationMode;
use crate::events::{AccountNotice, SignInNotice};
use crate::login_request::{
    LoginRequest, NewLoginRequest, RequestId, ScreenContext, Transition, TransitionError,
    UnixMillis, generate_pin,
};
use crate::session::{LAST_SEEN_GRANULARITY_MS, Session, SessionKind, SessionToken};
use crate::store::{Store, StoreError};
use crate::tokens::{AccessClaims, SigningKeys, TokenError};
use crate::user::{LOCAL_USER_PREFIX, User};
use crate::user_code::UserCode;

/// Lifetimes of what a sign-in creates, from configuration.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub qr_ttl_ms: i64,
    pub session_ttl_ms: i64,
    pub access_token_ttl_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("no such sign-in request")]
    NotFound,
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("this account is disabled")]
    AccountDisabled,
    /// The approver signed out everywhere after claiming: what they approved before is void.
    #[error("the approver signed out everywhere since claiming this request")]
    SignedOut,
    /// A registered client's request redeemed without that client's API key (or with
    /// another's), or a plain request redeemed with a client's key.
    #[error("this sign-in request belongs to another client")]
    WrongClient,
    /// A rule of the use-case layer refused the transition (an approval without the passkey
    /// the policy asks for).
    #[error("{0}")]
    Refused(crate::refusal::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A compare-and-set can only lose to another successful transition, and a request has at
/// most five plus its counted PIN attempts, so this bound is never reached by honest contention.
const MAX_SWAP_ATTEMPTS: usize = 16;

pub async fn create_request(
    store: &dyn Store,
    screen: ScreenContext,
    now: UnixMillis,
    ttl_ms: i64,
) -> Result<NewLoginRequest, FlowError> {
    // 20^8 codes: a collision among live codes is rare, several in a row is a broken RNG.
    for _ in 0..8 {
        let new = LoginRequest::create(screen.clone(), now, ttl_ms);
        if store.insert_request(&new.request).await? {
            store.events().remember(&new.request);
            return Ok(new);
        }
    }
    Err(anyhow::anyhow!("could not draw an unused user code").into())
}

/// Loads a request, recording it as expired if its deadline has passed (so every instance's
/// listeners hear it).
pub async fn load(
    store: &dyn Store,
    id: &RequestId,
    now: UnixMillis,
) -> Result<LoginRequest, FlowError> {
    let request = read(store, id).await?;
    record_expiry(store, request, now).await
}

/// The newest state of `id` this instance knows (what it wrote, or heard on the bus), else
/// [`load`]: for a listener that has already subscribed, which hears of anything newer. Its
/// expiry is recorded like [`load`]'s.
pub async fn latest_known(
    store: &dyn Store,
    id: &RequestId,
    now: UnixMillis,
) -> Result<LoginRequest, FlowError> {
    match store.events().recent(id) {
        Some(request) => record_expiry(store, request, now).await,
        None => load(store, id, now).await,
    }
}

async fn record_expiry(
    store: &dyn Store,
    request: LoginRequest,
    now: UnixMillis,
) -> Result<LoginRequest, FlowError> {
    match request.expired(now) {
        Some(expired) => {
            swap(store, &expired, request.version, None).await?;
            Ok(expired)
        }
        None => Ok(request),
    }
}

/// Reads `id` from the store, and notes it as this instance's newest copy.
async fn read(store: &dyn Store, id: &RequestId) -> Result<LoginRequest, FlowError> {
    let request = store.load_request(id).await?.ok_or(FlowError::NotFound)?;
    store.events().remember(&request);
    Ok(request)
}

/// Compare-and-set (telling `notice` if it lands); a write that lands is this instance's
/// newest copy.
async fn swap(
    store: &dyn Store,
    next: &LoginRequest,
    expected: u32,
    notice: Option<&AccountNotice>,
) -> Result<bool, StoreError> {
    let swapped = store.swap_request(next, expected, notice).await?;
    if swapped {
        store.events().remember(next);
    }
    Ok(swapped)
}

/// This instance's newest copy of `id`, else a read: a starting point for
/// [`transition_known`], which checks it. Neither is recorded as expired here.
pub async fn known_or_read(store: &dyn Store, id: &RequestId) -> Result<LoginRequest, FlowError> {
    match store.events().recent(id) {
        Some(copy) => Ok(copy),
        None => read(store, id).await,
    }
}

/// [`transition`], starting from `known` (from [`known_or_read`], or a read a moment ago).
pub async fn transition_known(
    store: &dyn Store,
    known: LoginRequest,
    transition: &Transition,
    now: UnixMillis,
) -> Result<LoginRequest, FlowError> {
    let id = known.id.clone();
    let make = |_: &LoginRequest| Ok(transition.clone());
    transition_from(store, &id, Some(known), None, now, make).await
}

/// Applies `transition` atomically. Exactly one of any number of concurrent conflicting
/// transitions succeeds.
pub async fn transition(
    store: &dyn Store,
    id: &RequestId,
    transition: &Transition,
    now: UnixMillis,
) -> Result<LoginRequest, FlowError> {
    transition_with(store, id, now, |_| Ok(transition.clone())).await
}

/// [`transition`], with the transition made from the current request at each attempt (or
/// refused, seeing it).
async fn transition_with(
    store: &dyn Store,
    id: &RequestId,
    now: UnixMillis,
    make: impl FnMut(&LoginRequest) -> Result<Transition, FlowError>,
) -> Result<LoginRequest, FlowError> {
    transition_from(store, id, None, None, now, make).await
}

/// [`transition_with`], starting from `known` (the request as the caller read it a moment
/// ago), else from this instance's newest copy of it, else from a read. A copy is only a
/// starting point: the compare-and-set checks it, and anything but a write that lands on it
/// (a lost race, a refusal, no change) is decided again on a fresh read. So the hot path reads
/// a request it has seen once, not before every transition. `notice` is told if it lands.
async fn transition_from(
    store: &dyn Store,
    id: &RequestId,
    known: Option<LoginRequest>,
    notice: Option<&AccountNotice>,
    now: UnixMillis,
    mut make: impl FnMut(&LoginRequest) -> Result<Transition, FlowError>,
) -> Result<LoginRequest, FlowError> {
    let mut unchecked = known.or_else(|| store.events().recent(id));
    for _ in 0..MAX_SWAP_ATTEMPTS {
        let (current, just_read) = match unchecked.take() {
            Some(copy) => (copy, false),
            None => (read(store, id).await?, true),
        };
        let attempt = make(&current).map(|transition| current.apply(&transition, now));
        match attempt {
            Ok(Ok(next)) if next.version != current.version => {
                if swap(store, &next, current.version, notice).await? {
                    return Ok(next);
                }
            }
            _ if !just_read => {}
            Ok(Ok(unchanged)) => return Ok(unchanged),
            Ok(Err(TransitionError::Expired)) => {
                record_expiry(store, current, now).await?;
                return Err(TransitionError::Expired.into());
            }
            Ok(Err(refused)) => return Err(refused.into()),
            Err(refused) => return Err(refused),
        }
    }
    Err(anyhow::anyhow!("request {id} kept changing under a transition").into())
}

/// The claimant approves. In PIN mode (the request's client's, else `default`) the approval
/// carries a fresh PIN, returned for the phone to show. A disabled local account cannot
/// approve: disabling ends its sessions, and this also stops a phone that signed in while the
/// account was being disabled. Redeem checks the same (see [`redeem`]). `rule` says how the
/// approval counts, or refuses it, against the request as the compare-and-set reads it.
/// `standing_since`: when the approver's session began, if it was just checked against a
/// sign-out everywhere.
pub async fn approve(
    store: &dyn Store,
    id: &RequestId,
    user: &User,
    standing_since: Option<UnixMillis>,
    default: ConfirmationMode,
    rule: impl Fn(&LoginRequest) -> Result<crate::login_request::ApprovedWith, FlowError>,
    now: UnixMillis,
) -> Result<(LoginRequest, Option<String>), FlowError> {
    if !account_enabled(store, user).await? {
        return Err(FlowError::AccountDisabled);
    }
    // A claim the approver made before signing out everywhere is void.
    let copy = store.events().recent(id);
    let not_before = claimant_not_before(store, copy.as_ref(), user, standing_since).await?;
    let mut pin = None;
    let approved = transition_from(store, id, copy, None, now, |current| {
        let void = current.claim.as_ref().is_some_and(|claim| {
            claim.user.id == user.id && issued_before_sign_out(claim.at, not_before)
        });
        if void {
            return Err(FlowError::SignedOut);
        }
        let with = rule(current)?;
        let mode = current.screen.confirmation.unwrap_or(default);
        pin = (mode == ConfirmationMode::Pin).then(generate_pin);
        Ok(Transition::Approve {
            user: user.clone(),
            pin: pin.clone(),
            with,
        })
    })
    .await?;
    Ok((approved, pin))
}

/// The approver's not-before time, as far as the void-claim check needs it. A claim made
/// since the session the approver came with began needs no read: that session was checked
/// against not-before a moment ago, so not-before is no later than the claim. (A claim, once
/// made, is never replaced by an earlier one, so this instance's copy can tell.)
async fn claimant_not_before(
    store: &dyn Store,
    copy: Option<&LoginRequest>,
    user: &User,
    standing_since: Option<UnixMillis>,
) -> Result<Option<UnixMillis>, StoreError> {
    let claimed_at = copy
        .and_then(|copy| copy.claim.as_ref())
        .filter(|claim| claim.user.id == user.id)
        .map(|claim| claim.at);
    match (standing_since, claimed_at) {
        (Some(since), Some(at)) if at >= since => Ok(None),
        _ => store.not_before(&user.id).await,
    }
}

/// Checks the PIN the screen typed. Wrong PINs are counted atomically, so of any number of
/// concurrent guesses exactly [`crate::login_request::PIN_ATTEMPTS`] are counted, and the
/// last of them locks the request.
pub async fn enter_pin(
    store: &dyn Store,
    id: &RequestId,
    desktop_secret: &SecretString,
    pin: &str,
    now: UnixMillis,
) -> Result<LoginRequest, FlowError> {
    let enter = Transition::EnterPin {
        secret: desktop_secret.expose_secret().to_owned(),
        pin: pin.to_owned(),
    };
    let entered = transition(store, id, &enter, now).await?;
    match &entered.pin {
        Some(challenge) if challenge.confirmed => Ok(entered),
        Some(challenge) => Err(TransitionError::WrongPin {
            attempts_left: challenge.attempts_left(),
        }
        .into()),
        None => Err(anyhow::anyhow!("a PIN was accepted for a request without one").into()),
    }
}

/// What a phone submits to name a request: the QR's text, the id, or the typed code.
pub enum ScanTarget {
    Id(RequestId),
    UserCode(UserCode),
}

impl ScanTarget {
    /// The request a QR names: exactly `{mobile_public_url}/s/{id}`. Other QR codes are not ours.
    pub fn from_qr_text(text: &str, mobile_public_url: &str) -> Option<Self> {
        let rest = text
            .trim()
            .strip_prefix(mobile_public_url.trim_end_matches('/'))?;
        let id = rest.strip_prefix("/s/")?;
        RequestId::parse(id).map(Self::Id)
    }

    /// What a code read from a camera frame names: our QR's URL, or a bare user code (a
    /// screen may show just the code as a QR). Anything else is someone else's code.
    pub fn from_frame_text(text: &str, mobile_public_url: &str) -> Option<Self> {
        Self::from_qr_text(text, mobile_public_url)
            .or_else(|| UserCode::parse(text.trim()).map(Self::UserCode))
    }

    pub async fn resolve(self, store: &dyn Store) -> Result<RequestId, FlowError> {
        match self {
            Self::Id(id) => Ok(id),
            Self::UserCode(code) => store
                .find_request_by_code(&code)
                .await?
                .ok_or(FlowError::NotFound),
        }
    }
}

/// A new session with its cookie secret, and the access token issued with it.
pub struct SignedIn {
    pub session: Session,
    pub token: SessionToken,
    pub access_token: Option<(SecretString, AccessClaims)>,
    /// For a redeemed request: when the user approved it (the identity token's `auth_time`).
    pub approved_at: Option<UnixMillis>,
    /// For a redeemed request: how the approval was proved (the identity token's `amr`).
    pub amr: Vec<String>,
}

/// Where a session is being started from.
pub struct Device {
    pub ip: String,
    pub user_agent: String,
}

/// Starts a server-side session for `user` and tells the user's open dashboards; desktop
/// sessions also get an access token.
pub async fn sign_in(
    store: &dyn Store,
    keys: &SigningKeys,
    kind: SessionKind,
    user: User,
    device: Device,
    now: UnixMillis,
    lifetimes: &Lifetimes,
) -> Result<SignedIn, FlowError> {
    let signed_in = start_session(store, keys, kind, user, device, now, lifetimes).await?;
    announce_sign_in(store, &signed_in.session, None).await;
    Ok(signed_in)
}

/// Tells the user's open dashboards of a new session of theirs, which came through a device
/// link of session `linked_from`, if it did.
pub(crate) async fn announce_sign_in(
    store: &dyn Store,
    session: &Session,
    linked_from: Option<&str>,
) {
    announce(store, sign_in_notice(session, linked_from)).await;
}

/// What the user's dashboards are told of a new session.
fn sign_in_notice(session: &Session, linked_from: Option<&str>) -> AccountNotice {
    AccountNotice::SignedIn(SignInNotice {
        user_id: session.user.id.clone(),
        session_id: session.id.clone(),
        session_kind: session.kind,
        ip: session.ip.clone(),
        user_agent: session.user_agent.clone(),
        at: session.created_at,
        linked_from: linked_from.map(str::to_owned),
    })
}

/// Best effort: what happened has happened whether or not the dashboards could be told, so a
/// failure to tell them is logged, not returned.
pub(crate) async fn announce(store: &dyn Store, notice: AccountNotice) {
    if let Err(error) = store.announce(&notice).await {
        tracing::warn!(%error, "the user's dashboards were not told of a change");
    }
}

/// Starts a server-side session for `user`; desktop sessions also get an access token.
/// Nobody is told yet: [`sign_in`] does that, and a redeem once it has won.
pub(crate) async fn start_session(
    store: &dyn Store,
    keys: &SigningKeys,
    kind: SessionKind,
    user: User,
    device: Device,
    now: UnixMillis,
    lifetimes: &Lifetimes,
) -> Result<SignedIn, FlowError> {
    let token = SessionToken::generate_for(&user);
    let access_token = match kind {
        SessionKind::Desktop => Some(keys.issue(
            &user,
            &token.session_id(),
            now,
            lifetimes.access_token_ttl_ms,
        )?),
        SessionKind::Mobile | SessionKind::App => None,
    };
    let access = access_token
        .as_ref()
        .map(|(_, claims)| (claims.jti.clone(), claims.exp.saturating_mul(1000)));
    let session = Session::new(
        &token,
        kind,
        user,
        now,
        lifetimes.session_ttl_ms,
        device.ip,
        device.user_agent,
        access,
    );
    store.insert_session(&session).await?;
    Ok(SignedIn {
        session,
        token,
        access_token,
        approved_at: None,
        amr: Vec::new(),
    })
}

/// The approved request `id` with its approver, checked for a redeem by `client` (a
/// registered client's request only by that client, a screen's only by no client): the
/// desktop secret, the state, expiry (recorded), and the approver's account.
async fn redeemable(
    store: &dyn Store,
    id: &RequestId,
    desktop_secret: &SecretString,
    client: Option<&str>,
    now: UnixMillis,
) -> Result<(LoginRequest, User), FlowError> {
    let (current, user) = redeemable_request(store, id, desktop_secret, client, now).await?;
    claimant_may_redeem(store, &current, &user).await?;
    Ok((current, user))
}

/// [`redeemable`] but for the approver's account and sign-out everywhere, which the caller
/// checks ([`claimant_may_redeem`]).
async fn redeemable_request(
    store: &dyn Store,
    id: &RequestId,
    desktop_secret: &SecretString,
    client: Option<&str>,
    now: UnixMillis,
) -> Result<(LoginRequest, User), FlowError> {
    let check = Transition::Redeem {
        secret: desktop_secret.expose_secret().to_owned(),
        session_id: String::new(),
    };
    // This instance's copy (the screen's socket heard the approval) saves a read when it
    // is redeemable; the redeem's compare-and-set then checks it is still current.
    let recent = store.events().recent(id);
    let current = match recent.filter(|copy| copy.apply(&check, now).is_ok()) {
        Some(copy) => copy,
        None => read(store, id).await?,
    };
    if let Err(refused) = current.apply(&check, now) {
        record_expiry(store, current, now).await?;
        return Err(refused.into());
    }
    if current.screen.client_id.as_deref() != client {
        return Err(FlowError::WrongClient);
    }
    let user = current
        .claim
        .as_ref()
        .map(|claim| claim.user.clone())
        .ok_or_else(|| anyhow::anyhow!("an approved request without a claimant"))?;
    Ok((current, user))
}

/// Whether `user`, the claimant of `request`, may still be signed in by it: their account is
/// enabled, and they have not signed out everywhere since claiming. Both are read at once.
async fn claimant_may_redeem(
    store: &dyn Store,
    request: &LoginRequest,
    user: &User,
) -> Result<(), FlowError> {
    let (enabled, signed_out) = tokio::join!(
        account_enabled(store, user),
        claimed_before_sign_out(store, request)
    );
    if !enabled? {
        return Err(FlowError::AccountDisabled);
    }
    if signed_out? {
        return Err(FlowError::SignedOut);
    }
    Ok(())
}

/// Whether the claimant of `request` signed out everywhere after claiming it: signing out
/// everywhere ends what they approved (or were about to) along with their sessions.
async fn claimed_before_sign_out(
    store: &dyn Store,
    request: &LoginRequest,
) -> Result<bool, StoreError> {
    match &request.claim {
        Some(claim) => signed_out_since(store, &claim.user.id, claim.at).await,
        None => Ok(false),
    }
}

/// Spends the approval, recording `redeemer` (a session id, or a client's mark). If the
/// store went quiet mid-way the compare-and-set may still have landed: the request says
/// whose redeem won, so ours is neither lost nor counted twice. `notice` goes out with the
/// compare-and-set that lands.
async fn spend_approval(
    store: &dyn Store,
    current: &LoginRequest,
    desktop_secret: &SecretString,
    redeemer: &str,
    notice: Option<&AccountNotice>,
    now: UnixMillis,
) -> Result<LoginRequest, FlowError> {
    let id = &current.id;
    let redeem = Transition::Redeem {
        secret: desktop_secret.expose_secret().to_owned(),
        session_id: redeemer.to_owned(),
    };
    let known = Some(current.clone());
    match transition_from(store, id, known, notice, now, |_| Ok(redeem.clone())).await {
        Err(FlowError::Store(error)) => match store.load_request(id).await {
            Ok(Some(request)) if request.redeemed_session.as_deref() == Some(redeemer) => {
                Ok(request)
            }
            _ => Err(FlowError::Store(error)),
        },
        other => other,
    }
}

/// A screen redeems its approved request, exactly once, and is signed in as the approver.
/// A registered client's request is not a screen's: see [`redeem_for_client`].
///
/// All or nothing: the session is written first and the request spent second, so a store
/// failure in between leaves the request approved (the screen can retry) rather than spent
/// without a session. A redeem that loses the race removes the session it wrote.
pub async fn redeem(
    store: &dyn Store,
    keys: &SigningKeys,
    id: &RequestId,
    desktop_secret: &SecretString,
    device: Device,
    now: UnixMillis,
    lifetimes: &Lifetimes,
) -> Result<SignedIn, FlowError> {
    let (current, user) = redeemable_request(store, id, desktop_secret, None, now).await?;
    // The session is written while the claimant's account and sign-out time are read (one
    // wait); if the account was disabled or they signed out everywhere since claiming, it is
    // removed again unseen.
    let (may_redeem, signed_in) = tokio::join!(
        claimant_may_redeem(store, &current, &user),
        start_session(
            store,
            keys,
            SessionKind::Desktop,
            user.clone(),
            device,
            now,
            lifetimes
        )
    );
    let mut signed_in = signed_in?;
    if let Err(refused) = may_redeem {
        end_session(store, &signed_in.session.id, now).await?;
        return Err(refused);
    }
    signed_in.approved_at = Some(current.updated_at);
    signed_in.amr = current.amr();
    let session_id = signed_in.session.id.clone();
    // The user's dashboards hear of the new session from the compare-and-set that spends
    // the approval: no round trip of its own.
    let notice = sign_in_notice(&signed_in.session, None);
    match spend_approval(
        store,
        &current,
        desktop_secret,
        &session_id,
        Some(&notice),
        now,
    )
    .await
    {
        Ok(_) => Ok(signed_in),
        Err(lost) => {
            end_session(store, &session_id, now).await?;
            Err(lost)
        }
    }
}

/// Who approved a registered client's request, and when.
pub struct ClientSignIn {
    pub user: User,
    pub approved_at: UnixMillis,
    /// How the approval was proved (the identity token's `amr`).
    pub amr: Vec<String>,
}

/// A registered client redeems its approved request, exactly once. The client learns who
/// signed in (for its identity token); no session or token is started here (an OpenID
/// Connect sign-in starts the app's own session when its code is exchanged).
pub async fn redeem_for_client(
    store: &dyn Store,
    id: &RequestId,
    desktop_secret: &SecretString,
    client: &str,
    now: UnixMillis,
) -> Result<ClientSignIn, FlowError> {
    let (current, user) = redeemable(store, id, desktop_secret, Some(client), now).await?;
    let mark = format!("client:{client}:{}", crate::secret::random_token::<12>());
    spend_approval(store, &current, desktop_secret, &mark, None, now).await?;
    Ok(ClientSignIn {
        user,
        approved_at: current.updated_at,
        amr: current.amr(),
    })
}

/// Whether `user` may sign anything in: a local account must exist and not be disabled
/// (MentraOS accounts are MentraOS's to disable).
pub async fn account_enabled(store: &dyn Store, user: &User) -> Result<bool, StoreError> {
    let Some(name) = user.id.strip_prefix(LOCAL_USER_PREFIX) else {
        return Ok(true);
    };
    let Ok(username) = Username::parse(name) else {
        return Ok(false);
    };
    Ok(store
        .load_account(&username)
        .await?
        .is_some_and(|account| !account.disabled))
}

/// Disables or enables a local account. Disabling ends every session and token of the
/// account at once, on every instance. `Ok(false)` when there is no such account.
pub async fn set_account_disabled(
    store: &dyn Store,
    username: &Username,
    disabled: bool,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let Some(mut account) = store.load_account(username).await? else {
        return Ok(false);
    };
    account.disabled = disabled;
    if !store.update_account(&account).await? {
        return Ok(false);
    }
    if disabled {
        sign_out_everywhere(store, &account.user().id, now).await?;
    }
    Ok(true)
}

/// Sets a local account's password (the caller hashes it: slow work, off any executor).
/// Every session and token of the account ends: whoever knew the old one is out.
/// `Ok(false)` when there is no such account.
pub async fn set_account_password(
    store: &dyn Store,
    username: &Username,
    password_hash: String,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let Some(mut account) = store.load_account(username).await? else {
        return Ok(false);
    };
    account.password_hash = password_hash;
    // The new password first, then the sign-out: a sign-in racing it with the old password
    // either lands before the sign-out (and is ended) or finds the new password.
    if !store.update_account(&account).await? {
        return Ok(false);
    }
    sign_out_everywhere(store, &account.user().id, now).await?;
    Ok(true)
}

/// Removes a local account and ends its sessions and tokens. `Ok(false)` when there is none.
/// Its username is never given to anyone else ([`NewAccount::Retired`]).
pub async fn remove_account(
    store: &dyn Store,
    username: &Username,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let Some(account) = store.load_account(username).await? else {
        return Ok(false);
    };
    // Accounts made before usernames were marked are marked on their way out.
    store
        .use_once(&username_mark(username), now + USERNAME_MARKED_FOR_MS)
        .await?;
    // Gone first, then signed out: a sign-in racing the removal cannot outlive it.
    let removed = store.delete_account(username).await?;
    sign_out_everywhere(store, &account.user().id, now).await?;
    // Its passkeys go with it: nobody else can ever prove anything with them.
    crate::passkey::remove_all(store, &account.user().id).await?;
    Ok(removed)
}

/// The session a cookie names, if it is live and of the expected kind. Using it counts as
/// seeing it: its "last seen" is moved on, at most once a minute.
pub async fn session_from_cookie(
    store: &dyn Store,
    cookie: &str,
    kind: SessionKind,
    now: UnixMillis,
) -> Result<Option<Session>, StoreError> {
    let Some(token) = SessionToken::from_cookie(cookie) else {
        return Ok(None);
    };
    let Some(mut session) = load_standing_session(store, &token, now).await? else {
        return Ok(None);
    };
    if session.kind != kind {
        return Ok(None);
    }
    if now - session.last_seen() >= LAST_SEEN_GRANULARITY_MS {
        session.last_seen_at = now;
        // Best effort: a stale "last seen" is no reason to refuse the request.
        if let Err(error) = store.touch_session(&session).await {
            tracing::warn!(%error, "could not record when a session was last seen");
        }
    }
    Ok(Some(session))
}

/// The session `token` names, unless its user signed out everywhere since it began. The
/// session and the user's sign-out time are read together when the cookie names the user
/// (one round trip), else one after the other ([`session_in_force`]).
async fn load_standing_session(
    store: &dyn Store,
    token: &SessionToken,
    now: UnixMillis,
) -> Result<Option<Session>, StoreError> {
    let id = token.session_id();
    let Some(user_id) = token.user_hint() else {
        return session_in_force(store, &id, now).await;
    };
    let (session, not_before) = store.load_session_and_not_before(&id, user_id).await?;
    let session = session.filter(|session| session.user.id == user_id);
    Ok(session.filter(|session| !issued_before_sign_out(session.created_at, not_before)))
}

/// Session `id`, while it lasts: not ended, not expired, and its user has not signed out
/// everywhere since it began.
pub async fn session_in_force(
    store: &dyn Store,
    id: &str,
    now: UnixMillis,
) -> Result<Option<Session>, StoreError> {
    let Some(session) = store.load_session(id).await? else {
        return Ok(None);
    };
    if !session.is_live(now)
        || signed_out_since(store, &session.user.id, session.created_at).await?
    {
        return Ok(None);
    }
    Ok(Some(session))
}

/// Whether the user signed out everywhere after `issued_at`.
async fn signed_out_since(
    store: &dyn Store,
    user_id: &str,
    issued_at: UnixMillis,
) -> Result<bool, StoreError> {
    Ok(issued_before_sign_out(
        issued_at,
        store.not_before(user_id).await?,
    ))
}

/// Whether something issued at `issued_at` predates the user's sign-out everywhere.
fn issued_before_sign_out(issued_at: UnixMillis, not_before: Option<UnixMillis>) -> bool {
    not_before.is_some_and(|not_before| issued_at < not_before)
}

/// Ends every session and access token of `user_id`, on every instance, at once: every check
/// reads the user's not-before time. The sessions are deleted too, so lists stay truthful.
pub async fn sign_out_everywhere(
    store: &dyn Store,
    user_id: &str,
    now: UnixMillis,
) -> Result<(), StoreError> {
    store.set_not_before(user_id, now).await?;
    for session in store.list_sessions(user_id).await? {
        end_session(store, &session.id, now).await?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the access token has been revoked")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies an access token and checks it was not revoked (logout, until it expires).
pub async fn authenticate_bearer(
    store: &dyn Store,
    keys: &SigningKeys,
    token: &str,
    now: UnixMillis,
) -> Result<AccessClaims, BearerError> {
    let claims = keys.verify(token, now)?;
    // `iat` has whole seconds: a token from the very second of a sign-out-everywhere is
    // refused too, never one from before it accepted.
    let (revoked, signed_out) = tokio::join!(
        store.is_token_revoked(&claims.jti),
        signed_out_since(store, &claims.sub, claims.iat.saturating_mul(1000))
    );
    if revoked? || signed_out? {
        return Err(BearerError::Revoked);
    }
    Ok(claims)
}

/// Ends a session and the access token issued with it, at once.
pub async fn end_session(
    store: &dyn Store,
    session_id: &str,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let Some(session) = store.delete_session(session_id).await? else {
        return Ok(());
    };
    if let (Some(jti), Some(until)) = (&session.access_jti, session.access_expires_at)
        && until > now
    {
        store.revoke_token(jti, until).await?;
    }
    // Its dashboard, wherever it is open, leaves at once.
    announce(
        store,
        AccountNotice::SessionEnded {
            user_id: session.user.id,
            session_id: session.id,
        },
    )
    .await;
    Ok(())
}

/// What became of an account asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewAccount {
    Created,
    /// Someone has that username.
    Taken,
    /// A removed account had it. Its subject (`local:{username}`) may still stand for that
    /// person at every app they signed in to: given to someone new, it would sign them in as
    /// the old one there.
    Retired,
}

/// How long a username stays marked as given: for good, as far as anyone will care.
const USERNAME_MARKED_FOR_MS: UnixMillis = 100 * 365 * 24 * 60 * 60 * 1000;

/// The store's once-only mark of a username given to an account.
fn username_mark(username: &Username) -> String {
    format!("username:{}", username.as_str())
}

/// Creates a local account, unless the username is taken or was someone's. The password is
/// hashed on a blocking thread.
pub async fn create_account(
    store: &dyn Store,
    username: Username,
    display_name: String,
    password: SecretString,
    now: UnixMillis,
) -> Result<NewAccount, FlowError> {
    if store.load_account(&username).await?.is_some() {
        return Ok(NewAccount::Taken);
    }
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(anyhow::Error::from)??;
    // Marked before it is given: of two creations racing, only one ever gets the name.
    if !store
        .use_once(&username_mark(&username), now + USERNAME_MARKED_FOR_MS)
        .await?
    {
        return Ok(match store.load_account(&username).await? {
            Some(_) => NewAccount::Taken,
            None => NewAccount::Retired,
        });
    }
    let account = LocalAccount {
        username,
        display_name,
        password_hash,
        disabled: false,
        created_at: now,
    };
    Ok(match store.insert_account(&account).await? {
        true => NewAccount::Created,
        false => NewAccount::Taken,
    })
}
