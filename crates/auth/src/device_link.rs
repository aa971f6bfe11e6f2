//! Signing in on another device (session transfer): a signed-in screen shows a single-use
//! link; the device that opens it asks with a click, is shown a short code, and the signed-in
//! screen allows it only by typing that code (unless confirmation is off); the new device then
//! gets a session of its own: never a copy of the first one's.
//!
//! The code binds the answer to the device the owner means: whoever opened the link first, the
//! owner types what the device in front of them shows, and a link opened by an onlooker cannot
//! be allowed from the owner's real device, which never got a code.
//!
//! A link is a short-lived store record and [`DeviceLink::apply`] is its whole state machine,
//! pure: the use-case layer (`signin::links`) loads, applies and saves. Each step that must
//! happen once (claiming, answering, issuing) also takes a one-time mark, so two devices racing
//! for one link cannot both win.

use serde::{Deserialize, Serialize};

use crate::login_request::{UnixMillis, generate_pin};
use crate::secret::{SecretHash, random_token};
use crate::store::{Store, StoreError, get_ephemeral_json, put_ephemeral_json};
use crate::user::User;

/// The store's kind for links.
const LINKS: &str = "device-link";

/// Wrong codes the signed-in screen may type before the link is spent.
pub const CODE_ATTEMPTS: u8 = 3;

/// Digits in the code the new device shows.
pub const CODE_LENGTH: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Shown, not opened yet.
    Waiting,
    /// Opened by a device, waiting for the signed-in screen to type its code and allow it.
    Claimed,
    /// Allowed: the device may collect its session.
    Allowed,
    /// Refused on the signed-in screen.
    Denied,
    /// The signed-in screen typed a wrong code [`CODE_ATTEMPTS`] times: nobody gets in.
    Spent,
    /// The device collected its session (the record is deleted at once).
    Redeemed,
}

/// The device that opened the link, as the signed-in screen is shown it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimant {
    pub ip: String,
    pub user_agent: String,
    pub at: UnixMillis,
    /// Only the device that claimed holds the secret; its hash is kept.
    pub secret: SecretHash,
    /// The code only that device was shown, hashed with the link's id. None when the link
    /// needs no confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<SecretHash>,
}

impl Claimant {
    /// The device at `ip` claiming link `link_id` with `secret`, shown `code` (if confirmation
    /// is on).
    pub fn new(
        link_id: &str,
        ip: &str,
        user_agent: &str,
        at: UnixMillis,
        secret: &str,
        code: Option<&str>,
    ) -> Self {
        Self {
            ip: ip.to_owned(),
            user_agent: user_agent.to_owned(),
            at,
            secret: SecretHash::of(secret),
            code: code.map(|code| SecretHash::of(&salted_code(link_id, code))),
        }
    }
}

fn salted_code(link_id: &str, code: &str) -> String {
    format!("{link_id}:{code}")
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
    /// Wrong codes typed on the signed-in screen so far.
    #[serde(default)]
    pub wrong_codes: u8,
}

/// The signed-in screen's answer about the device that opened its link.
#[derive(Clone, PartialEq, Eq)]
pub enum Answer {
    /// Allow, with the code the new device shows, as typed.
    Allow { code: Option<String> },
    /// Refuse: no code needed.
    Refuse,
}

/// A step someone asks of a link.
#[derive(Clone, PartialEq, Eq)]
pub enum LinkStep {
    /// A device asks to sign in (a click on the link page). With `confirmation`, the signed-in
    /// screen must then allow it; without, it is allowed at once.
    Claim {
        claimant: Claimant,
        confirmation: bool,
    },
    /// The signed-in screen that made the link answers.
    Confirm(Answer),
    /// The device that claimed collects its session, with its claim secret.
    Redeem { secret: String },
}

/// Shows which step, never a secret or a code.
impl std::fmt::Debug for LinkStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Claim { confirmation, .. } => write!(f, "Claim(confirmation: {confirmation})"),
            Self::Confirm(Answer::Allow { code }) => write!(
                f,
                "Confirm(allow, {})",
                if code.is_some() { "<code>" } else { "no code" }
            ),
            Self::Confirm(Answer::Refuse) => f.write_str("Confirm(refuse)"),
            Self::Redeem { .. } => f.write_str("Redeem(<secret>)"),
        }
    }
}

/// Why a step was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this sign-in link has expired")]
    Expired,
    #[error("another device already opened this link")]
    AlreadyClaimed,
    #[error("no device has opened this link yet")]
    NotClaimed,
    #[error("this link was already answered")]
    AlreadyAnswered,
    /// Allow without a code.
    #[error("type the code shown on the new device")]
    CodeRequired,
    /// Not the shape of a code at all: refused without being counted.
    #[error("a code is the 6 digits shown on the new device")]
    MalformedCode,
    /// A wrong code, counted: the link as it must now be stored (in [`LinkState::Spent`] when
    /// that was the last attempt).
    #[error("that is not the code the new device shows")]
    WrongCode(Box<DeviceLink>),
    #[error("a wrong code was typed too often; this link is spent")]
    Spent,
    /// The claim secret is missing or wrong: to anyone but the claimant the link is unknown.
    #[error("this device did not open this link")]
    NotClaimant,
    #[error("not allowed yet")]
    NotAllowedYet,
    #[error("the signed-in screen refused this device")]
    Refused,
    #[error("this link was already used")]
    Used,
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
            wrong_codes: 0,
        }
    }

    /// Applies `step` at `now`: the link as it is to be stored next, or why not. Pure: the
    /// caller stores the result (and takes the one-time mark the step needs).
    pub fn apply(&self, step: &LinkStep, now: UnixMillis) -> Result<DeviceLink, LinkError> {
        // The claimant's own step needs its secret before anything else: anyone else learns
        // nothing about the link, not even that it was answered.
        if let LinkStep::Redeem { secret } = step
            && !self.claimed_with(secret)
        {
            return Err(LinkError::NotClaimant);
        }
        if now >= self.expires_at {
            return Err(LinkError::Expired);
        }
        let mut next = self.clone();
        next.state = match (self.state, step) {
            (
                LinkState::Waiting,
                LinkStep::Claim {
                    claimant,
                    confirmation,
                },
            ) => {
                next.claimant = Some(claimant.clone());
                match confirmation {
                    true => LinkState::Claimed,
                    false => LinkState::Allowed,
                }
            }
            (_, LinkStep::Claim { .. }) => return Err(LinkError::AlreadyClaimed),
            (LinkState::Claimed, LinkStep::Confirm(Answer::Refuse)) => LinkState::Denied,
            (LinkState::Claimed, LinkStep::Confirm(Answer::Allow { code })) => {
                let typed = code
                    .as_deref()
                    .filter(|code| !code.trim().is_empty())
                    .ok_or(LinkError::CodeRequired)?;
                let typed = normalize_code(typed).ok_or(LinkError::MalformedCode)?;
                if self.code_matches(&typed) {
                    LinkState::Allowed
                } else {
                    next.wrong_codes = self.wrong_codes.saturating_add(1);
                    if next.code_attempts_left() == 0 {
                        next.state = LinkState::Spent;
                    }
                    return Err(LinkError::WrongCode(Box::new(next)));
                }
            }
            (LinkState::Waiting, LinkStep::Confirm(_)) => return Err(LinkError::NotClaimed),
            (LinkState::Spent, LinkStep::Confirm(_) | LinkStep::Redeem { .. }) => {
                return Err(LinkError::Spent);
            }
            (
                LinkState::Allowed | LinkState::Denied | LinkState::Redeemed,
                LinkStep::Confirm(_),
            ) => return Err(LinkError::AlreadyAnswered),
            (LinkState::Allowed, LinkStep::Redeem { .. }) => LinkState::Redeemed,
            (LinkState::Denied, LinkStep::Redeem { .. }) => return Err(LinkError::Refused),
            (LinkState::Waiting | LinkState::Claimed, LinkStep::Redeem { .. }) => {
                return Err(LinkError::NotAllowedYet);
            }
            (LinkState::Redeemed, LinkStep::Redeem { .. }) => return Err(LinkError::Used),
        };
        Ok(next)
    }

    /// Whether `secret` is the claim secret of the device that opened the link.
    pub fn claimed_with(&self, secret: &str) -> bool {
        self.claimant
            .as_ref()
            .is_some_and(|claimant| claimant.secret.matches(secret))
    }

    fn code_matches(&self, code: &str) -> bool {
        self.claimant
            .as_ref()
            .and_then(|claimant| claimant.code.as_ref())
            .is_some_and(|hash| hash.matches(&salted_code(&self.id, code)))
    }

    pub fn code_attempts_left(&self) -> u8 {
        CODE_ATTEMPTS.saturating_sub(self.wrong_codes)
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

/// A new code for the device that opens a link to show: six digits, uniformly drawn.
pub fn new_code() -> String {
    generate_pin()
}

/// A code as people type it (`123 456`, `123-456`), in canonical form: six digits, else None.
pub fn normalize_code(input: &str) -> Option<String> {
    if input.len() > 32 {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| !(c.is_whitespace() || *c == '-'))
        .collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const TTL: i64 = 300_000;
    const SECRET: &str = "the-claim-secret";
    const CODE: &str = "123456";

    fn link() -> DeviceLink {
        DeviceLink::new(User::local("bob", "Bob"), "session-1", 1_000, TTL)
    }

    fn claim(link: &DeviceLink, secret: &str, code: &str, confirmation: bool) -> LinkStep {
        LinkStep::Claim {
            claimant: Claimant::new(
                &link.id,
                "192.0.2.7",
                "Safari on iPhone",
                2_000,
                secret,
                confirmation.then_some(code),
            ),
            confirmation,
        }
    }

    fn claimed() -> DeviceLink {
        let link = link();
        link.apply(&claim(&link, SECRET, CODE, true), 2_000)
            .unwrap()
    }

    fn allow(code: &str) -> LinkStep {
        LinkStep::Confirm(Answer::Allow {
            code: Some(code.into()),
        })
    }

    fn redeem(secret: &str) -> LinkStep {
        LinkStep::Redeem {
            secret: secret.into(),
        }
    }

    #[test]
    fn the_device_is_allowed_only_with_its_own_code_and_then_collects_once() {
        let claimed = claimed();
        assert_eq!(claimed.state, LinkState::Claimed);
        // Neither the code nor the secret is kept in the clear.
        let stored = serde_json::to_string(&claimed).unwrap();
        assert!(
            !stored.contains(CODE) && !stored.contains(SECRET),
            "{stored}"
        );
        assert_eq!(
            claimed.apply(&redeem(SECRET), 3_000),
            Err(LinkError::NotAllowedYet)
        );
        // Typed as people type it.
        let allowed = claimed.apply(&allow(" 123 456 "), 3_000).unwrap();
        assert_eq!(allowed.state, LinkState::Allowed);
        assert_eq!(
            allowed.apply(&allow(CODE), 3_000),
            Err(LinkError::AlreadyAnswered)
        );
        assert_eq!(
            allowed.apply(&redeem("someone-else"), 3_000),
            Err(LinkError::NotClaimant)
        );
        let redeemed = allowed.apply(&redeem(SECRET), 3_000).unwrap();
        assert_eq!(redeemed.state, LinkState::Redeemed);
        assert_eq!(redeemed.apply(&redeem(SECRET), 3_000), Err(LinkError::Used));
    }

    #[test]
    fn only_the_first_device_claims() {
        let claimed = claimed();
        let second = claim(&claimed, "other-secret", "654321", true);
        assert_eq!(
            claimed.apply(&second, 2_500),
            Err(LinkError::AlreadyClaimed)
        );
        // The first claimant's secret and code stand.
        assert!(claimed.claimed_with(SECRET));
        assert!(!claimed.claimed_with("other-secret"));
    }

    #[test]
    fn allowing_needs_a_code_and_three_wrong_codes_spend_the_link() {
        let mut link = claimed();
        let no_code = LinkStep::Confirm(Answer::Allow { code: None });
        assert_eq!(link.apply(&no_code, 3_000), Err(LinkError::CodeRequired));
        let blank = LinkStep::Confirm(Answer::Allow {
            code: Some("  ".into()),
        });
        assert_eq!(link.apply(&blank, 3_000), Err(LinkError::CodeRequired));
        // Not a code at all: not counted.
        assert_eq!(
            link.apply(&allow("12ab56"), 3_000),
            Err(LinkError::MalformedCode)
        );
        for left in [2, 1, 0] {
            let Err(LinkError::WrongCode(counted)) = link.apply(&allow("000000"), 3_000) else {
                panic!("a wrong code is counted");
            };
            assert_eq!(counted.code_attempts_left(), left);
            link = *counted;
        }
        assert_eq!(link.state, LinkState::Spent);
        // Spent: even the right code is refused now, and the device gets nothing.
        assert_eq!(link.apply(&allow(CODE), 3_000), Err(LinkError::Spent));
        assert_eq!(link.apply(&redeem(SECRET), 3_000), Err(LinkError::Spent));
    }

    #[test]
    fn refusing_needs_no_code_and_the_device_is_told() {
        let denied = claimed()
            .apply(&LinkStep::Confirm(Answer::Refuse), 3_000)
            .unwrap();
        assert_eq!(denied.state, LinkState::Denied);
        assert_eq!(
            denied.apply(&redeem(SECRET), 3_000),
            Err(LinkError::Refused)
        );
        assert_eq!(
            denied.apply(&allow(CODE), 3_000),
            Err(LinkError::AlreadyAnswered)
        );
    }

    #[test]
    fn the_code_belongs_to_its_link() {
        // The same six digits claimed on another link do not answer this one.
        let other = link();
        let mut claimed = claimed();
        let foreign = Claimant::new(&other.id, "192.0.2.7", "x", 2_000, SECRET, Some(CODE));
        claimed.claimant = Some(foreign);
        assert!(matches!(
            claimed.apply(&allow(CODE), 3_000),
            Err(LinkError::WrongCode(_))
        ));
    }

    #[test]
    fn nothing_is_answered_before_a_claim_and_nothing_after_expiry() {
        let link = link();
        assert_eq!(
            link.apply(&LinkStep::Confirm(Answer::Refuse), 2_000),
            Err(LinkError::NotClaimed)
        );
        assert_eq!(
            link.apply(&redeem(SECRET), 2_000),
            Err(LinkError::NotClaimant)
        );
        let late = 1_000 + TTL;
        assert_eq!(
            link.apply(&claim(&link, SECRET, CODE, true), late),
            Err(LinkError::Expired)
        );
        assert_eq!(claimed().apply(&allow(CODE), late), Err(LinkError::Expired));
    }

    #[test]
    fn without_confirmation_the_claim_allows_at_once_but_is_still_a_claim() {
        let link = link();
        let allowed = link
            .apply(&claim(&link, SECRET, CODE, false), 2_000)
            .unwrap();
        assert_eq!(allowed.state, LinkState::Allowed);
        assert!(allowed.claimant.as_ref().unwrap().code.is_none());
        assert_eq!(
            allowed.apply(&redeem(SECRET), 2_000).unwrap().state,
            LinkState::Redeemed
        );
        // Nobody else can collect it.
        assert_eq!(
            allowed.apply(&redeem("guess"), 2_000),
            Err(LinkError::NotClaimant)
        );
    }

    #[test]
    fn codes_are_six_digits_and_typed_forms_are_one_code() {
        for typed in ["123456", "123 456", "123-456", " 1 2 3 4 5 6 "] {
            assert_eq!(normalize_code(typed).as_deref(), Some("123456"), "{typed}");
        }
        for typed in ["12345", "1234567", "12345a", "١٢٣٤٥٦", ""] {
            assert_eq!(normalize_code(typed), None, "{typed}");
        }
        let code = new_code();
        assert_eq!(normalize_code(&code).as_deref(), Some(code.as_str()));
    }

    #[test]
    fn old_records_without_a_code_or_a_count_still_read() {
        let mut stored = serde_json::to_value(claimed()).unwrap();
        stored.as_object_mut().unwrap().remove("wrong_codes");
        stored["claimant"].as_object_mut().unwrap().remove("code");
        let read: DeviceLink = serde_json::from_value(stored).unwrap();
        assert_eq!(read.wrong_codes, 0);
        // Such a link cannot be allowed by any code: the owner refuses it and makes a new one.
        assert!(matches!(
            read.apply(&allow(CODE), 3_000),
            Err(LinkError::WrongCode(_))
        ));
    }
}
