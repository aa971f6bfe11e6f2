//! Signing in on another device: a signed-in screen makes a single-use link (see
//! [`DeviceLink`]). The device that opens it is shown whose account it would join and asks
//! with a click (opening the page claims nothing); it is then shown a short code, and the
//! screen that made the link allows it only by typing that code (with `LINK_CONFIRMATION=none`
//! the screen is not asked, but the click remains). The device then collects a session of its
//! own. A browser already signed in as someone else is never switched: it is told so.
//!
//! The link dies with the session that made it: signing out there (or everywhere, a new
//! password, a disabled account, which end every session) ends the link too.

use crate::User;
use crate::audit::AuditEvent;
use crate::client::ClientPasskey;
use crate::device_link::{
    Answer, Claimant, DeviceLink, LinkError, LinkState, LinkStep, new_claim_secret, new_code,
};
use crate::events::AccountNotice;
use crate::flows::{self, FlowError, SignedIn};
use crate::login_request::ApprovedWith;
use crate::login_request::UnixMillis;
use crate::refusal::{ErrorCode, Refusal};
use crate::session::SessionKind;
use crate::signin::ApprovalProof;
use crate::signin::passkeys::ProofPurpose;
use crate::signin::policy::ApprovalNeed;
use crate::signin::{Bucket, Caller, SignIn, SignedInCaller};

/// What a device that claimed a link gets.
#[expect(
    clippy::large_enum_variant,
    reason = "made once per link claim and taken apart at once"
)]
pub enum LinkClaimed {
    /// The signed-in screen must allow it: the device keeps `secret` (its cookie) and shows
    /// `code`, which nobody else is ever given.
    Waiting {
        link: DeviceLink,
        secret: String,
        code: String,
    },
    /// No confirmation: signed in at once.
    SignedIn(SignedIn),
}

/// Who a browser opening a link is signed in as already, compared with the link's user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    SignedOut,
    /// Already signed in as the link's user: nothing to switch.
    SameUser,
    /// Signed in as someone else: the link must not switch it.
    SomeoneElse(User),
}

impl Standing {
    pub fn of(browser: Option<&User>, link_user: &User) -> Self {
        match browser {
            None => Self::SignedOut,
            Some(user) if user.id == link_user.id => Self::SameUser,
            Some(user) => Self::SomeoneElse(user.clone()),
        }
    }

    /// Why the link may not sign this browser in, if it may not.
    pub fn refusal(&self, link_user: &User) -> Option<Refusal> {
        match self {
            Self::SomeoneElse(user) => Some(Refusal::new(
                ErrorCode::Conflict,
                format!(
                    "This browser is signed in as {}. Sign out here first to sign in as {}.",
                    user.name, link_user.name
                ),
            )),
            Self::SignedOut | Self::SameUser => None,
        }
    }
}

/// What the page of a link shows before anything is claimed.
pub struct LinkOffer {
    pub link: DeviceLink,
    pub standing: Standing,
    /// This browser opened the link already (it holds the claim secret): it waits.
    pub claimed_here: bool,
}

/// A link as one of its two sides follows it.
pub struct LinkSight {
    pub link: DeviceLink,
    /// The viewer is the device that claimed it (not the signed-in user).
    pub as_claimant: bool,
}

fn invalid_link() -> Refusal {
    Refusal::new(
        ErrorCode::InvalidQrCode,
        "This sign-in link is unknown, already used or expired. Make a new one on the signed-in screen.",
    )
}

fn taken_link() -> Refusal {
    Refusal::new(
        ErrorCode::InvalidQrCode,
        "Another device already opened this sign-in link, so it cannot be used here. If that was not you, refuse it on your signed-in screen and make a new link.",
    )
}

fn not_answerable() -> Refusal {
    Refusal::new(
        ErrorCode::Conflict,
        "No device has opened this link yet (or it was already answered).",
    )
}

fn spent() -> Refusal {
    Refusal::new(
        ErrorCode::Locked,
        "A wrong code was typed too often, so this link is spent and nobody is signed in with it. Make a new link on the signed-in screen.",
    )
}

fn wrong_code(attempts_left: u8) -> Refusal {
    match attempts_left {
        // Locked, as every later answer is: the link is spent.
        0 => Refusal::new(
            ErrorCode::Locked,
            "That is not the code the new device shows, and it was the last attempt: this link is spent. Make a new one.",
        ),
        1 => Refusal::new(
            ErrorCode::WrongPin,
            "That is not the code the new device shows; 1 attempt left. If the device shows no code, refuse it.",
        )
        .with_attempts_left(1),
        left => Refusal::new(
            ErrorCode::WrongPin,
            format!(
                "That is not the code the new device shows; {left} attempts left. If the device shows no code, refuse it."
            ),
        )
        .with_attempts_left(left),
    }
}

impl From<LinkError> for Refusal {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::Expired | LinkError::NotClaimant | LinkError::Used => invalid_link(),
            LinkError::AlreadyClaimed => taken_link(),
            LinkError::NotClaimed | LinkError::AlreadyAnswered => not_answerable(),
            LinkError::CodeRequired => Refusal::new(
                ErrorCode::PinRequired,
                "Type the code shown on the new device to allow it.",
            ),
            LinkError::MalformedCode => {
                Refusal::invalid("A code is the 6 digits shown on the new device.")
            }
            LinkError::WrongCode(counted) => wrong_code(counted.code_attempts_left()),
            LinkError::Spent => spent(),
            LinkError::NotAllowedYet => Refusal::new(
                ErrorCode::Conflict,
                "Not allowed yet: type this device's code on the signed-in screen.",
            ),
            LinkError::Refused => Refusal::new(
                ErrorCode::Forbidden,
                "The signed-in screen did not allow this device.",
            ),
        }
    }
}

/// Links are made and answered by a signed-in screen's own session: an access token alone
/// could otherwise mint sessions for ever.
fn screen_session(who: &SignedInCaller<'_>) -> Result<(), Refusal> {
    match who.access_token {
        Some(_) => Err(Refusal::new(
            ErrorCode::Forbidden,
            "Sign-in links are made and allowed on a signed-in screen, not with an access token.",
        )),
        None => Ok(()),
    }
}

impl SignIn {
    /// The link, while it lives and the session that made it is still signed in.
    pub(crate) async fn live_link(&self, id: &str) -> Result<DeviceLink, Refusal> {
        let link = DeviceLink::load(self.store(), id)
            .await?
            .ok_or_else(invalid_link)?;
        if self
            .store()
            .load_session(&link.creator_session)
            .await?
            .is_none()
        {
            return Err(invalid_link());
        }
        Ok(link)
    }

    /// A single-use link for another device to sign in as `who`, from a screen's session
    /// (never an access token alone), within the user's budget.
    pub async fn create_link(
        &self,
        caller: &Caller,
        who: SignedInCaller<'_>,
    ) -> Result<DeviceLink, Refusal> {
        screen_session(&who)?;
        self.spend(caller, Bucket::LinksPerUser, &who.user.id)
            .await?;
        let link = DeviceLink::new(
            who.user.clone(),
            who.session_id,
            self.now(),
            self.policy.link_ttl_ms,
        );
        link.save(self.store()).await?;
        Ok(link)
    }

    /// What the page of link `id` shows a browser signed in as `browser` (if at all) and
    /// holding `claim_secret` (if it opened the link already). Claims nothing.
    pub async fn link_offer(
        &self,
        id: &str,
        browser: Option<&User>,
        claim_secret: Option<&str>,
    ) -> Result<LinkOffer, Refusal> {
        let link = self.live_link(id).await?;
        Ok(LinkOffer {
            standing: Standing::of(browser, &link.user),
            claimed_here: claim_secret.is_some_and(|secret| link.claimed_with(secret)),
            link,
        })
    }

    /// The device that opened link `id` asks to sign in (a click on the link page): once; a
    /// second device is refused. A browser signed in as someone else is refused (409): the
    /// link never switches it. With confirmation, the device is given its code; without, it
    /// is signed in at once. The claims budget of the caller's IP is spent before anything
    /// is looked up: guessing links costs the guesser.
    pub async fn claim_link(
        &self,
        caller: &Caller,
        id: &str,
        browser: Option<&User>,
    ) -> Result<LinkClaimed, Refusal> {
        let mut draft = self.draft(AuditEvent::Claim, caller);
        draft.detail("device link");
        let confirmation = self.policy.confirms_links();
        let claimed = async {
            self.spend(caller, Bucket::LinkClaimsPerIp, &self.network_of(caller))
                .await?;
            let link = self.live_link(id).await?;
            draft.user(&link.user.id);
            if let Some(refusal) = Standing::of(browser, &link.user).refusal(&link.user) {
                return Err(refusal);
            }
            let now = self.now();
            let secret = new_claim_secret();
            let code = confirmation.then(new_code);
            let claimant = Claimant::new(
                &link.id,
                &caller.ip,
                &caller.user_agent,
                now,
                &secret,
                code.as_deref(),
            );
            let next = link.apply(
                &LinkStep::Claim {
                    claimant,
                    confirmation,
                },
                now,
            )?;
            if !self
                .store()
                .use_once(&link.once_key("claim"), link.expires_at)
                .await?
            {
                return Err(taken_link());
            }
            self.keep(&next).await?;
            Ok((next, secret, code))
        }
        .await;
        self.record(draft, &claimed);
        match claimed? {
            (link, secret, Some(code)) => Ok(LinkClaimed::Waiting { link, secret, code }),
            (link, secret, None) => {
                let mut draft = self.draft(AuditEvent::Redeem, caller);
                draft.user(&link.user.id).detail("device link");
                let signed_in = self.issue(caller, link, &secret).await;
                self.record(draft, &signed_in);
                signed_in.map(LinkClaimed::SignedIn)
            }
        }
    }

    /// Link `id` as its user (any of their sessions: the dashboard asks about the device) or
    /// the device that claimed it (with its secret: it waits to be allowed) sees it. To anyone
    /// else it does not exist.
    pub async fn follow_link(
        &self,
        id: &str,
        user: Option<&User>,
        claim_secret: Option<&str>,
    ) -> Result<LinkSight, Refusal> {
        let link = self.live_link(id).await?;
        let as_claimant = claim_secret.is_some_and(|secret| link.claimed_with(secret));
        let as_user = user.is_some_and(|user| user.id == link.user.id);
        if !as_claimant && !as_user {
            return Err(invalid_link());
        }
        Ok(LinkSight { link, as_claimant })
    }

    /// The screen that made link `id` answers about the device that opened it: allowing takes
    /// the code that device shows; the third wrong code spends the link. Refusing needs no
    /// code. One answer only; audited as an approval or a denial of a "device link".
    pub async fn confirm_link(
        &self,
        caller: &Caller,
        who: SignedInCaller<'_>,
        id: &str,
        answer: Answer,
        proof: ApprovalProof,
    ) -> Result<DeviceLink, Refusal> {
        let event = match answer {
            Answer::Allow { .. } => AuditEvent::Approve,
            Answer::Refuse => AuditEvent::Deny,
        };
        let mut draft = self.draft(event, caller);
        draft.user(&who.user.id).detail("device link");
        let mut proved = None;
        let answered = async {
            screen_session(&who)?;
            if let Answer::Allow { .. } = answer {
                proved = Some(self.prove_link(&who, id, proof).await?);
            }
            self.answer_link(&who, id, LinkStep::Confirm(answer)).await
        }
        .await;
        if let (Ok(_), Some(with)) = (&answered, proved) {
            draft.detail(with.describe());
        }
        self.record(draft, &answered);
        answered
    }

    /// Live link `id`, for the signed-in screen that made it: only that screen answers for
    /// it; to any other the link does not exist.
    async fn makers_link(&self, who: &SignedInCaller<'_>, id: &str) -> Result<DeviceLink, Refusal> {
        let link = self.live_link(id).await?;
        if who.session_id != link.creator_session {
            return Err(invalid_link());
        }
        Ok(link)
    }

    /// Applies the screen's answer to link `id`, read afresh, and keeps what it leaves.
    ///
    /// A wrong code is counted under the one-time mark of its number, so two typed at once
    /// count as two: the second finds its number taken, reads the link again and counts on from
    /// there. (The store has no compare-and-set for links: a wrong code saved just after a
    /// right one from the same screen would leave the link claimed, so the device waits until
    /// it expires; it can never allow a device wrongly.)
    async fn answer_link(
        &self,
        who: &SignedInCaller<'_>,
        id: &str,
        step: LinkStep,
    ) -> Result<DeviceLink, Refusal> {
        for _ in 0..=crate::device_link::CODE_ATTEMPTS {
            let link = self.makers_link(who, id).await?;
            match link.apply(&step, self.now()) {
                Ok(answered) => {
                    self.take_answer(&link).await?;
                    self.keep(&answered).await?;
                    return Ok(answered);
                }
                Err(LinkError::WrongCode(counted)) => {
                    let mark = link.once_key(&format!("wrong-code-{}", counted.wrong_codes));
                    if !self.store().use_once(&mark, link.expires_at).await? {
                        continue;
                    }
                    if counted.state == LinkState::Spent {
                        // The last wrong code is an answer too: nothing is allowed after it.
                        self.take_answer(&link).await?;
                    }
                    self.keep(&counted).await?;
                    return Err(LinkError::WrongCode(counted).into());
                }
                Err(refused) => return Err(refused.into()),
            }
        }
        Err(Refusal::new(
            ErrorCode::Conflict,
            "This link changed while you answered; try again.",
        ))
    }

    /// Checks what allowing a device takes: the passkey rule of approvals, answered on the
    /// signed-in screen that made the link (the challenge names the link).
    async fn prove_link(
        &self,
        who: &SignedInCaller<'_>,
        id: &str,
        proof: ApprovalProof,
    ) -> Result<ApprovedWith, Refusal> {
        self.makers_link(who, id).await?;
        let has_passkeys = crate::passkey::any(self.store(), &who.user.id).await?;
        let need = self
            .policy
            .approval_need(ClientPasskey::AsDeployment, has_passkeys);
        let covers_screen = (self.policy.passkeys.relying_party.as_ref())
            .is_some_and(|party| party.covers_desktop());
        if need != ApprovalNeed::Tap && !covers_screen {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "Allowing a device needs your passkey, but this screen's address is not one passkeys work on here. Sign the device in by scanning its QR code with your phone instead.",
            ));
        }
        self.prove(who.user, need, ProofPurpose::AllowLink(id), proof)
            .await
    }

    /// Stores `link` as it now is, and tells its two sides (the user's dashboards and the
    /// device waiting on it), on every instance, to read it again: nobody polls a link.
    async fn keep(&self, link: &DeviceLink) -> Result<(), Refusal> {
        link.save(self.store()).await?;
        self.announce_change(link).await;
        Ok(())
    }

    /// Deletes the used, refused or spent `link`, and tells its two sides.
    async fn discard(&self, link: DeviceLink, now: UnixMillis) -> Result<(), Refusal> {
        let changed = link.clone();
        link.delete(self.store(), now).await?;
        self.announce_change(&changed).await;
        Ok(())
    }

    async fn announce_change(&self, link: &DeviceLink) {
        let notice = AccountNotice::LinkChanged {
            user_id: link.user.id.clone(),
            link_id: link.id.clone(),
        };
        flows::announce(self.store(), notice).await;
    }

    /// Takes the one answer a link gets.
    async fn take_answer(&self, link: &DeviceLink) -> Result<(), Refusal> {
        match self
            .store()
            .use_once(&link.once_key("confirm"), link.expires_at)
            .await?
        {
            true => Ok(()),
            false => Err(not_answerable()),
        }
    }

    /// The allowed device collects its own session and access token, once; the link is then
    /// gone. Refused or spent, the link is deleted and the device told why. A browser signed
    /// in as someone else meanwhile is not switched (409). Audited as a redeem of a "device
    /// link".
    pub async fn redeem_link(
        &self,
        caller: &Caller,
        id: &str,
        claim_secret: Option<&str>,
        browser: Option<&User>,
    ) -> Result<SignedIn, Refusal> {
        let mut draft = self.draft(AuditEvent::Redeem, caller);
        draft.detail("device link");
        let redeemed = async {
            let link = self.live_link(id).await?;
            let secret = claim_secret
                .filter(|secret| link.claimed_with(secret))
                .ok_or_else(invalid_link)?;
            draft.user(&link.user.id);
            if let Some(refusal) = Standing::of(browser, &link.user).refusal(&link.user) {
                return Err(refusal);
            }
            self.issue(caller, link, secret).await
        }
        .await;
        self.record(draft, &redeemed);
        redeemed
    }

    /// Signs the link's claimant in with a session of its own, once, and deletes the link.
    /// A refused or spent link is deleted too: the device has its answer.
    async fn issue(
        &self,
        caller: &Caller,
        link: DeviceLink,
        secret: &str,
    ) -> Result<SignedIn, Refusal> {
        let now = self.now();
        let step = LinkStep::Redeem {
            secret: secret.to_owned(),
        };
        match link.apply(&step, now) {
            Ok(_) => {}
            Err(final_answer @ (LinkError::Refused | LinkError::Spent)) => {
                self.discard(link, now).await?;
                return Err(final_answer.into());
            }
            Err(refused) => return Err(refused.into()),
        }
        if !self
            .store()
            .use_once(&link.once_key("issue"), link.expires_at)
            .await?
        {
            return Err(invalid_link());
        }
        let user = link.user.clone();
        let creator_session = link.creator_session.clone();
        self.discard(link, now).await?;
        if !flows::account_enabled(self.store(), &user).await? {
            return Err(FlowError::AccountDisabled.into());
        }
        let signed_in = flows::start_session(
            self.store(),
            &self.keys,
            SessionKind::Desktop,
            user,
            caller.device(),
            now,
            &self.policy.lifetimes,
        )
        .await?;
        // The screen that made the link expects this sign-in: its dashboard is told so.
        flows::announce_sign_in(self.store(), &signed_in.session, Some(&creator_session)).await;
        Ok(signed_in)
    }
}

#[cfg(test)]
mod tests {
    //! The link use cases without a web framework: a real embedded store, a manual clock, an
    //! audit sink that keeps what it is given and a limiter that allows everything.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::audit::AuditRecord;
    use crate::clock::Clock;
    use crate::signin::policy::LinkConfirmation;
    use crate::signin::testing::{World, policy};

    async fn world(confirmation: LinkConfirmation) -> World {
        let mut policy = policy();
        policy.link_confirmation = confirmation;
        World::new(policy).await
    }

    fn caller(ip: &str, user_agent: &str) -> Caller {
        Caller {
            ip: ip.into(),
            user_agent: user_agent.into(),
            request_id: None,
        }
    }

    trait Screens {
        async fn screen_session(&self, user: &User) -> String;
        async fn make_link(&self, user: &User, session: &str) -> DeviceLink;
        async fn answer(
            &self,
            user: &User,
            session: &str,
            link: &DeviceLink,
            answer: Answer,
        ) -> Result<DeviceLink, Refusal>;
        fn events(&self, event: AuditEvent) -> Vec<AuditRecord>;
        async fn claim_waiting(&self, device: &Caller, link: &DeviceLink) -> (String, String);
    }

    impl Screens for World {
        /// `user` signed in on a screen: the session id.
        async fn screen_session(&self, user: &User) -> String {
            flows::sign_in(
                &*self.store,
                &self.signin.keys,
                SessionKind::Desktop,
                user.clone(),
                caller("192.0.2.10", "screen").device(),
                self.clock.now(),
                &self.signin.policy.lifetimes,
            )
            .await
            .unwrap()
            .session
            .id
        }

        async fn make_link(&self, user: &User, session: &str) -> DeviceLink {
            let who = SignedInCaller {
                user,
                session_id: session,
                access_token: None,
            };
            self.signin
                .create_link(&caller("192.0.2.10", "screen"), who)
                .await
                .unwrap()
        }

        async fn answer(
            &self,
            user: &User,
            session: &str,
            link: &DeviceLink,
            answer: Answer,
        ) -> Result<DeviceLink, Refusal> {
            let who = SignedInCaller {
                user,
                session_id: session,
                access_token: None,
            };
            self.signin
                .confirm_link(
                    &caller("192.0.2.10", "screen"),
                    who,
                    &link.id,
                    answer,
                    ApprovalProof::Tap,
                )
                .await
        }

        /// `device` claims `link`, which needs confirmation: its secret and its code.
        async fn claim_waiting(&self, device: &Caller, link: &DeviceLink) -> (String, String) {
            let claimed = self.signin.claim_link(device, &link.id, None).await;
            let Ok(LinkClaimed::Waiting { secret, code, .. }) = claimed else {
                panic!("with confirmation, a claim waits");
            };
            (secret, code)
        }

        fn events(&self, event: AuditEvent) -> Vec<AuditRecord> {
            self.records()
                .into_iter()
                .filter(|r| r.event == event)
                .collect()
        }
    }

    fn allow(code: &str) -> Answer {
        Answer::Allow {
            code: Some(code.into()),
        }
    }

    /// Passkeys for pages on `phone.test` and, when `screen_too`, the screen's `screen.test`.
    fn passkeys_on(screen_too: bool) -> crate::signin::policy::PasskeyPolicy {
        let url = |u: &str| url::Url::parse(u).unwrap();
        let (rp_id, screen) = match screen_too {
            true => ("test", url("https://screen.test")),
            false => ("phone.test", url("https://screen.example")),
        };
        let party = crate::signin::passkeys::RelyingParty::new(
            rp_id,
            "qrlogin",
            &url("https://phone.test"),
            &screen,
        );
        crate::signin::policy::PasskeyPolicy {
            approval: crate::signin::policy::PasskeyApproval::WhenRegistered,
            relying_party: Some(party.unwrap()),
        }
    }

    #[tokio::test]
    async fn an_owner_with_a_passkey_allows_a_device_only_with_it() {
        for (screen_too, refused_with) in [
            (true, ErrorCode::PasskeyRequired),
            // The screen's pages cannot use the passkeys: the allowance is refused, not tapped.
            (false, ErrorCode::Forbidden),
        ] {
            let mut policy = policy();
            policy.passkeys = passkeys_on(screen_too);
            let world = World::new(policy).await;
            let bob = User::mentra("bob@example.com");
            let credential =
                serde_json::from_str(include_str!("../../tests/fixtures/passkey.json")).unwrap();
            let stored = crate::passkey::StoredPasskey::new(&bob.id, "Pixel".into(), credential, 0);
            assert!(crate::passkey::add(&*world.store, &stored).await.unwrap());
            let session = world.screen_session(&bob).await;
            let link = world.make_link(&bob, &session).await;
            let device = caller("192.0.2.30", "Firefox on Linux");
            let (_, code) = world.claim_waiting(&device, &link).await;
            let refused = world.answer(&bob, &session, &link, allow(&code)).await;
            assert_eq!(refused.err().map(|r| r.code), Some(refused_with));
            // Refusing the device needs no passkey; the code was never spent.
            let answered = world.answer(&bob, &session, &link, Answer::Refuse).await;
            assert_eq!(answered.unwrap().state, LinkState::Denied);
        }
    }

    #[tokio::test]
    async fn an_onlooker_who_clicks_first_cannot_be_allowed_with_the_real_devices_code() {
        let world = world(LinkConfirmation::Confirm).await;
        let bob = User::mentra("bob@example.com");
        let session = world.screen_session(&bob).await;
        let link = world.make_link(&bob, &session).await;

        // Opening the page claims nothing, and says whose account it is.
        let offer = world.signin.link_offer(&link.id, None, None).await.unwrap();
        assert_eq!(offer.link.user.name, "bob@example.com");
        assert_eq!(offer.standing, Standing::SignedOut);
        assert!(!offer.claimed_here);
        assert_eq!(offer.link.state, LinkState::Waiting);

        // An onlooker clicks first and is shown a code; the real device is turned away.
        let onlooker = caller("203.0.113.9", "Safari on iPhone");
        let LinkClaimed::Waiting {
            secret: onlooker_secret,
            code: onlooker_code,
            ..
        } = world
            .signin
            .claim_link(&onlooker, &link.id, None)
            .await
            .unwrap()
        else {
            panic!("with confirmation, a claim waits");
        };
        let offer = world
            .signin
            .link_offer(&link.id, None, Some(&onlooker_secret))
            .await
            .unwrap();
        assert!(offer.claimed_here);
        let real = caller("192.0.2.11", "Firefox on Linux");
        let turned_away = world
            .signin
            .claim_link(&real, &link.id, None)
            .await
            .err()
            .unwrap();
        assert_eq!(turned_away.code, ErrorCode::InvalidQrCode);
        assert!(turned_away.message.contains("Another device"));

        // The owner types what their device would show: never the onlooker's code.
        let guess = if onlooker_code == "111111" {
            "222222"
        } else {
            "111111"
        };
        let refused = world
            .answer(&bob, &session, &link, Answer::Allow { code: None })
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code, ErrorCode::PinRequired);
        for (code, left) in [
            (ErrorCode::WrongPin, "2 attempts"),
            (ErrorCode::WrongPin, "1 attempt"),
            (ErrorCode::Locked, "last attempt"),
        ] {
            let refused = world
                .answer(&bob, &session, &link, allow(guess))
                .await
                .err()
                .unwrap();
            assert_eq!(refused.code, code);
            assert!(refused.message.contains(left), "{}", refused.message);
        }
        // Spent: not even the onlooker's own code allows it now, and the onlooker gets nothing.
        let refused = world
            .answer(&bob, &session, &link, allow(&onlooker_code))
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code, ErrorCode::Locked);
        let refused = world
            .signin
            .redeem_link(&onlooker, &link.id, Some(&onlooker_secret), None)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code, ErrorCode::Locked);
        // The spent link is gone for everyone.
        let gone = world
            .signin
            .follow_link(&link.id, Some(&bob), None)
            .await
            .err()
            .unwrap();
        assert_eq!(gone.code, ErrorCode::InvalidQrCode);
        let sessions = world.store.list_sessions(&bob.id).await.unwrap();
        assert_eq!(sessions.len(), 1, "only the screen's own session");

        // Every answer was audited as a device-link approval, refused.
        let approvals = world.events(AuditEvent::Approve);
        assert_eq!(approvals.len(), 5);
        assert!(approvals.iter().all(|r| r.outcome != "ok"));
        assert!(
            approvals
                .iter()
                .all(|r| r.detail.as_deref() == Some("device link"))
        );
        let claims = world.events(AuditEvent::Claim);
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[0].outcome, "ok");
        assert_eq!(claims[1].outcome, "invalid_qr_code");
    }

    #[tokio::test]
    async fn the_right_code_signs_the_device_in_with_its_own_session() {
        let world = world(LinkConfirmation::Confirm).await;
        let bob = User::mentra("bob@example.com");
        let session = world.screen_session(&bob).await;
        let link = world.make_link(&bob, &session).await;
        let device = caller("192.0.2.11", "Firefox on Linux");
        let (secret, code) = world.claim_waiting(&device, &link).await;
        let not_yet = world
            .signin
            .redeem_link(&device, &link.id, Some(&secret), None)
            .await
            .err()
            .unwrap();
        assert_eq!(not_yet.code, ErrorCode::Conflict);
        // Only the screen that made the link answers, even for the same user.
        let other_screen = world.screen_session(&bob).await;
        let refused = world
            .answer(&bob, &other_screen, &link, allow(&code))
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code, ErrorCode::InvalidQrCode);
        // The device's own code, as a person types it.
        let typed = format!("{} {}", &code[..3], &code[3..]);
        let allowed = world
            .answer(&bob, &session, &link, allow(&typed))
            .await
            .unwrap();
        assert_eq!(allowed.state, LinkState::Allowed);
        let signed_in = world
            .signin
            .redeem_link(&device, &link.id, Some(&secret), None)
            .await
            .unwrap();
        assert_eq!(signed_in.session.user.id, bob.id);
        assert_ne!(signed_in.session.id, session);
        let again = world
            .signin
            .redeem_link(&device, &link.id, Some(&secret), None)
            .await
            .err()
            .unwrap();
        assert_eq!(again.code, ErrorCode::InvalidQrCode);
        let redeems = world.events(AuditEvent::Redeem);
        assert_eq!(
            redeems
                .iter()
                .map(|r| r.outcome.as_str())
                .collect::<Vec<_>>(),
            ["conflict", "ok", "invalid_qr_code"]
        );
        assert!(
            redeems
                .iter()
                .all(|r| r.detail.as_deref() == Some("device link"))
        );
    }

    /// What the next notice of the account is, if one was announced already.
    fn announced(notices: &mut crate::events::AccountSubscription) -> Option<AccountNotice> {
        use futures_util::FutureExt;
        notices.next().now_or_never()
    }

    #[tokio::test]
    async fn every_change_of_a_link_is_announced_to_its_account() {
        let world = world(LinkConfirmation::Confirm).await;
        let bob = User::mentra("bob@example.com");
        let session = world.screen_session(&bob).await;
        let link = world.make_link(&bob, &session).await;
        let mut notices = world.store.events().subscribe_account(&bob.id);
        let changed = AccountNotice::LinkChanged {
            user_id: bob.id.clone(),
            link_id: link.id.clone(),
        };
        let device = caller("192.0.2.11", "Firefox on Linux");
        let (secret, code) = world.claim_waiting(&device, &link).await;
        assert_eq!(announced(&mut notices), Some(changed.clone()), "claimed");
        let wrong = if code == "111111" { "222222" } else { "111111" };
        let refused = world.answer(&bob, &session, &link, allow(wrong)).await;
        assert_eq!(refused.err().unwrap().code, ErrorCode::WrongPin);
        assert_eq!(announced(&mut notices), Some(changed.clone()), "counted");
        world
            .answer(&bob, &session, &link, allow(&code))
            .await
            .unwrap();
        assert_eq!(announced(&mut notices), Some(changed.clone()), "allowed");
        assert_eq!(announced(&mut notices), None, "one notice a change");
        world
            .signin
            .redeem_link(&device, &link.id, Some(&secret), None)
            .await
            .unwrap();
        assert_eq!(announced(&mut notices), Some(changed), "used");
        assert!(matches!(
            announced(&mut notices),
            Some(AccountNotice::SignedIn(_))
        ));
    }

    #[tokio::test]
    async fn a_browser_signed_in_as_someone_else_is_never_switched() {
        let world = world(LinkConfirmation::None).await;
        let mallory = User::mentra("mallory@example.com");
        let alice = User::mentra("alice@example.com");
        let session = world.screen_session(&mallory).await;
        let link = world.make_link(&mallory, &session).await;

        let offer = world
            .signin
            .link_offer(&link.id, Some(&alice), None)
            .await
            .unwrap();
        assert_eq!(offer.standing, Standing::SomeoneElse(alice.clone()));
        let victim = caller("192.0.2.30", "Firefox on Linux");
        let refused = world
            .signin
            .claim_link(&victim, &link.id, Some(&alice))
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code, ErrorCode::Conflict);
        assert_eq!(
            refused.message,
            "This browser is signed in as alice@example.com. Sign out here first to sign in as mallory@example.com."
        );
        assert_eq!(
            world.store.list_sessions(&mallory.id).await.unwrap().len(),
            1
        );

        // Without confirmation the click is still what signs in: a signed-out browser's claim.
        let LinkClaimed::SignedIn(signed_in) = world
            .signin
            .claim_link(&victim, &link.id, None)
            .await
            .unwrap()
        else {
            panic!("without confirmation, the claim signs in");
        };
        assert_eq!(signed_in.session.user.id, mallory.id);
        let outcomes: Vec<_> = world
            .events(AuditEvent::Claim)
            .into_iter()
            .map(|r| r.outcome)
            .collect();
        assert_eq!(outcomes, ["conflict", "ok"]);
        assert_eq!(world.events(AuditEvent::Redeem).len(), 1);
    }

    #[tokio::test]
    async fn an_access_token_alone_makes_no_link() {
        let world = world(LinkConfirmation::Confirm).await;
        let bob = User::mentra("bob@example.com");
        let session = world.screen_session(&bob).await;
        let signed_in = flows::sign_in(
            &*world.store,
            &world.signin.keys,
            SessionKind::Desktop,
            bob.clone(),
            caller("192.0.2.10", "screen").device(),
            world.clock.now(),
            &world.signin.policy.lifetimes,
        )
        .await
        .unwrap();
        let (_, claims) = signed_in.access_token.unwrap();
        let who = SignedInCaller {
            user: &bob,
            session_id: &session,
            access_token: Some(&claims),
        };
        let refused = world
            .signin
            .create_link(&caller("192.0.2.10", "api"), who)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code, ErrorCode::Forbidden);
    }
}
