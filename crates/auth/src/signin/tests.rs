//! The use-case layer on its own: a real embedded store, a manual clock, an audit sink that
//! keeps what it is given and a limiter that allows everything. No web framework.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::policy::GlassesNetworkMismatch;
use super::testing::{MOBILE, World, caller, policy};
use super::*;
use crate::audit::{AuditEvent, AuditRecord};
use crate::login_request::{NewLoginRequest, ScreenContext};
use crate::refusal::ErrorCode;
use crate::{LoginState, User};

async fn world(glasses: GlassesNetworkMismatch) -> World {
    let mut policy = policy();
    policy.glasses_network_mismatch = glasses;
    World::new(policy).await
}

trait Screens {
    async fn screen_at(&self, ip: &str) -> (NewLoginRequest, String);
    async fn state_of(&self, new: &NewLoginRequest) -> LoginState;
    fn claims(&self) -> Vec<AuditRecord>;
}

impl Screens for World {
    /// A screen at `ip` shows a new request; its QR's text.
    async fn screen_at(&self, ip: &str) -> (NewLoginRequest, String) {
        let screen = ScreenContext {
            client_name: "qrlogin".into(),
            ip: ip.into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
                .into(),
            ..ScreenContext::default()
        };
        let new = crate::flows::create_request(&*self.store, screen, self.clock.now(), 120_000)
            .await
            .unwrap();
        let qr = format!("{MOBILE}/s/{}", new.request.id);
        (new, qr)
    }

    async fn state_of(&self, new: &NewLoginRequest) -> LoginState {
        self.store
            .load_request(&new.request.id)
            .await
            .unwrap()
            .unwrap()
            .state
    }

    fn claims(&self) -> Vec<AuditRecord> {
        self.records()
            .into_iter()
            .filter(|r| r.event == AuditEvent::Claim)
            .collect()
    }
}

#[tokio::test]
async fn a_picture_with_two_of_our_codes_claims_neither() {
    let world = world(GlassesNetworkMismatch::Refuse).await;
    // The wearer shares the real screen's network (one NAT address).
    let (real, real_qr) = world.screen_at("192.0.2.10").await;
    let (planted, planted_qr) = world.screen_at("192.0.2.11").await;
    let wearer = User::mentra("wendy@example.com");
    for source in [
        ClaimSource::GlassesPhoto(vec![planted_qr.clone(), real_qr.clone()]),
        ClaimSource::Frame(vec![real_qr.clone(), planted_qr.clone()]),
    ] {
        let refused = world
            .signin
            .claim(&caller("192.0.2.10"), wearer.clone(), source)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code, ErrorCode::SeveralCodes);
    }
    assert_eq!(world.state_of(&real).await, LoginState::Pending);
    assert_eq!(world.state_of(&planted).await, LoginState::Pending);
    let claims = world.claims();
    assert_eq!(claims.len(), 2);
    assert!(claims.iter().all(|r| r.outcome == "several_codes"));

    // The same code read twice (a reflection) is one code.
    let claimed = world
        .signin
        .claim(
            &caller("192.0.2.10"),
            wearer,
            ClaimSource::GlassesPhoto(vec![real_qr.clone(), real_qr]),
        )
        .await
        .unwrap();
    assert_eq!(claimed.request.id, real.request.id);
}

#[tokio::test]
async fn glasses_may_not_claim_a_screen_on_another_network_unless_allowed() {
    let world = world(GlassesNetworkMismatch::Refuse).await;
    let (far, far_qr) = world.screen_at("203.0.113.7").await;
    let wearer = User::mentra("wendy@example.com");
    let refused = world
        .signin
        .claim(
            &caller("198.51.100.9"),
            wearer.clone(),
            ClaimSource::GlassesPhoto(vec![far_qr.clone()]),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(refused.code, ErrorCode::Forbidden);
    assert!(refused.message.contains("different network"));
    assert_eq!(world.state_of(&far).await, LoginState::Pending);
    let audited = world.claims().pop().unwrap();
    assert_eq!(audited.outcome, "forbidden");
    assert!(audited.detail.unwrap().contains("network mismatch"));

    // A phone page shows the warning instead, so the same claim is allowed and flagged.
    let phone = world
        .signin
        .claim(&caller("198.51.100.9"), wearer, ClaimSource::QrText(far_qr))
        .await
        .unwrap();
    assert!(!phone.prompt.same_network);

    let opted_in = world_with_opt_in().await;
    let (screen, qr) = opted_in.screen_at("203.0.113.7").await;
    let claimed = opted_in
        .signin
        .claim(
            &caller("198.51.100.9"),
            User::mentra("wendy@example.com"),
            ClaimSource::GlassesPhoto(vec![qr]),
        )
        .await
        .unwrap();
    assert_eq!(claimed.request.id, screen.request.id);
    assert!(claimed.prompt.spoken().contains("different network"));
}

async fn world_with_opt_in() -> World {
    world(GlassesNetworkMismatch::Allow).await
}

/// The approval skips reading "sign out everywhere" when the claim came after the session the
/// approver came with began; a claim from before that session is still checked, and void if
/// the user signed out everywhere since.
#[tokio::test]
async fn a_claim_from_before_signing_out_everywhere_cannot_be_approved_from_a_newer_session() {
    let world = world(GlassesNetworkMismatch::Refuse).await;
    let (new, qr) = world.screen_at("192.0.2.10").await;
    let alice = User::mentra("alice@example.com");
    let phone = caller("192.0.2.20");
    world
        .signin
        .claim(&phone, alice.clone(), ClaimSource::QrText(qr))
        .await
        .unwrap();
    world.clock.advance(std::time::Duration::from_secs(1));
    crate::flows::sign_out_everywhere(&*world.store, &alice.id, world.clock.now())
        .await
        .unwrap();
    world.clock.advance(std::time::Duration::from_secs(1));
    let approver = Approver {
        user: alice,
        standing_since: Some(world.clock.now()),
    };
    let refused = world
        .signin
        .decide(
            &phone,
            approver,
            &new.request.id,
            Decision::Approve(ApprovalProof::Tap),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(refused.code, ErrorCode::Forbidden);
    assert_eq!(world.state_of(&new).await, LoginState::Claimed);
}

#[tokio::test]
async fn signing_out_everywhere_voids_what_was_approved_before() {
    let world = world(GlassesNetworkMismatch::Refuse).await;
    let (new, qr) = world.screen_at("192.0.2.10").await;
    let alice = User::mentra("alice@example.com");
    let phone = caller("192.0.2.20");
    world
        .signin
        .claim(&phone, alice.clone(), ClaimSource::QrText(qr))
        .await
        .unwrap();
    world
        .signin
        .decide(
            &phone,
            alice.clone(),
            &new.request.id,
            Decision::Approve(ApprovalProof::Tap),
        )
        .await
        .unwrap();
    world.clock.advance(std::time::Duration::from_secs(1));
    let elsewhere = crate::flows::sign_in(
        &*world.store,
        &world.signin.keys,
        crate::session::SessionKind::Desktop,
        alice.clone(),
        phone.device(),
        world.clock.now(),
        &world.signin.policy.lifetimes,
    )
    .await
    .unwrap();
    let who = SignedInCaller {
        user: &alice,
        session_id: &elsewhere.session.id,
        access_token: None,
    };
    world
        .signin
        .sign_out(&phone, who, SignOutScope::Everywhere)
        .await
        .unwrap();
    let screen = caller("192.0.2.10");
    let refused = world
        .signin
        .redeem(&screen, &new.request.id, &new.desktop_secret)
        .await
        .err()
        .unwrap();
    assert_eq!(refused.code, ErrorCode::Forbidden);
    let redeems: Vec<AuditRecord> = world
        .records()
        .into_iter()
        .filter(|r| r.event == AuditEvent::Redeem)
        .collect();
    assert_eq!(redeems.len(), 1);
    assert_eq!(redeems[0].outcome, "forbidden");
    // The redeem wrote its session while it read the sign-out time; refused, it removed it.
    let sessions = world.store.list_sessions(&alice.id).await.unwrap();
    assert!(sessions.is_empty(), "{sessions:?}");
}

/// A cookie names its user, so its session and the user's "sign out everywhere" time are
/// read together. A session that began before that time is no session, whichever user the
/// cookie names (or if it names none, as cookies issued before the hint did).
#[tokio::test]
async fn a_session_signed_out_everywhere_is_refused_whatever_user_its_cookie_names() {
    use base64::Engine;
    let world = world(GlassesNetworkMismatch::Refuse).await;
    let alice = User::mentra("alice@example.com");
    let kind = crate::session::SessionKind::Mobile;
    let signed_in = crate::flows::sign_in(
        &*world.store,
        &world.signin.keys,
        kind,
        alice.clone(),
        caller("192.0.2.20").device(),
        world.clock.now(),
        &world.signin.policy.lifetimes,
    )
    .await
    .unwrap();
    let cookie = signed_in.token.expose().to_owned();
    let load = async |cookie: &str| {
        crate::flows::session_from_cookie(&*world.store, cookie, kind, world.clock.now())
            .await
            .unwrap()
    };
    assert_eq!(load(&cookie).await.unwrap().user, alice);
    world.clock.advance(std::time::Duration::from_secs(1));
    // As if a sign-out everywhere had missed this session: only its time says it is over.
    (world
        .store
        .set_not_before(&alice.id, world.clock.now())
        .await)
        .unwrap();
    let secret = &cookie[..43];
    let bob = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("mentra:bob@example.com");
    for cookie in [cookie.clone(), secret.to_owned(), format!("{secret}.{bob}")] {
        assert_eq!(load(&cookie).await, None, "{cookie}");
    }
}

#[tokio::test]
async fn every_entry_point_spends_the_same_budgets_for_a_claim() {
    let world = World::with_limiter(policy(), super::testing::Limits::counting()).await;
    let (_, qr) = world.screen_at("192.0.2.10").await;
    let phone = caller("192.0.2.20");
    let bob = User::mentra("bob@example.com");
    world
        .signin
        .claim(&phone, bob.clone(), ClaimSource::QrText(qr.clone()))
        .await
        .unwrap();
    world.signin.admit_frame(&phone, &bob).await.unwrap();
    world
        .signin
        .claim(&phone, bob.clone(), ClaimSource::Frame(vec![qr.clone()]))
        .await
        .unwrap();
    world
        .signin
        .claim(&phone, bob, ClaimSource::Unclear)
        .await
        .err()
        .unwrap();
    assert_eq!(
        world.limits.spent(),
        [
            (Bucket::ScanPerUser, "mentra:bob@example.com".to_owned()),
            (Bucket::ScanPerIp, "192.0.2.20/32".to_owned()),
            (Bucket::FramesPerUser, "mentra:bob@example.com".to_owned()),
            (Bucket::ScanPerUser, "mentra:bob@example.com".to_owned()),
            (Bucket::ScanPerIp, "192.0.2.20/32".to_owned()),
            (Bucket::ScanPerUser, "mentra:bob@example.com".to_owned()),
            (Bucket::ScanPerIp, "192.0.2.20/32".to_owned()),
        ],
        "a malformed attempt spends like any other"
    );
}

#[tokio::test]
async fn past_a_budget_the_refusal_says_when_and_is_audited_once() {
    let world = World::with_limiter(
        policy(),
        super::testing::Limits::refusing(Bucket::ScanPerIp),
    )
    .await;
    let (new, qr) = world.screen_at("192.0.2.10").await;
    let phone = caller("192.0.2.20");
    for _ in 0..3 {
        let refused = world
            .signin
            .claim(
                &phone,
                User::mentra("bob@example.com"),
                ClaimSource::QrText(qr.clone()),
            )
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        assert!(refused.retry_after_seconds.is_some_and(|s| s >= 1));
    }
    assert_eq!(world.state_of(&new).await, LoginState::Pending);
    let records = world.records();
    let limited: Vec<&AuditRecord> = records
        .iter()
        .filter(|r| r.event == AuditEvent::RateLimited)
        .collect();
    assert_eq!(limited.len(), 1, "{records:?}");
    assert_eq!(limited[0].detail.as_deref(), Some("scan-ip"));
    assert!(
        records.iter().all(|r| r.event != AuditEvent::Claim),
        "the refusal is recorded once, as the limit"
    );
}
