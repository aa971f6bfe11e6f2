//! The use-case layer on its own: a real embedded store, a manual clock, an audit sink that
//! keeps what it is given and a limiter that allows everything. No web framework.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use secrecy::SecretString;

use super::policy::{GlassesNetworkMismatch, LinkConfirmation, NetworkMismatch};
use super::*;
use crate::audit::{AuditEvent, AuditRecord};
use crate::client::ConfirmationMode;
use crate::clock::ManualClock;
use crate::flows::Lifetimes;
use crate::login_request::{NewLoginRequest, ScreenContext};
use crate::refusal::ErrorCode;
use crate::store::sqlite::SqliteStore;
use crate::{LoginState, User};

const MOBILE: &str = "http://phone.test";

#[derive(Default)]
struct KeptAudit(Mutex<Vec<AuditRecord>>);

impl AuditSink for KeptAudit {
    fn record(&self, record: AuditRecord) {
        self.0.lock().unwrap().push(record);
    }
}

struct NoLimits;

#[async_trait]
impl Limiter for NoLimits {
    async fn spend(&self, _: &Caller, _: Bucket, _: &str) -> Result<(), Refusal> {
        Ok(())
    }
}

struct World {
    signin: SignIn,
    audit: Arc<KeptAudit>,
    store: Arc<dyn Store>,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

fn policy(glasses: GlassesNetworkMismatch) -> Policy {
    Policy {
        app_name: "qrlogin".into(),
        mobile_public_url: MOBILE.into(),
        desktop_public_url: "http://screen.test".into(),
        network_mismatch: NetworkMismatch::Warn,
        glasses_network_mismatch: glasses,
        confirmation: ConfirmationMode::Tap,
        lifetimes: Lifetimes {
            qr_ttl_ms: 120_000,
            session_ttl_ms: 3_600_000,
            access_token_ttl_ms: 900_000,
        },
        link_confirmation: LinkConfirmation::Confirm,
        link_ttl_ms: 300_000,
    }
}

async fn world(glasses: GlassesNetworkMismatch) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::default();
    let store: Arc<dyn Store> =
        SqliteStore::open_with_clock(&dir.path().join("t.sqlite3"), Arc::new(clock.clone()))
            .await
            .unwrap();
    let pem: SecretString = SigningKeys::generate_pem().unwrap();
    let keys = Arc::new(SigningKeys::from_pem(&pem, "http://screen.test".into()).unwrap());
    let audit = Arc::new(KeptAudit::default());
    let signin = SignIn::new(
        Arc::clone(&store),
        keys,
        Arc::new(clock.clone()),
        policy(glasses),
        audit.clone(),
        Arc::new(NoLimits),
    );
    World {
        signin,
        audit,
        store,
        clock,
        _dir: dir,
    }
}

fn caller(ip: &str) -> Caller {
    Caller {
        ip: ip.into(),
        user_agent: "test".into(),
        request_id: None,
    }
}

impl World {
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
        let kept = self.audit.0.lock().unwrap();
        kept.iter()
            .filter(|r| r.event == AuditEvent::Claim)
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn a_picture_with_two_of_our_codes_claims_neither() {
    let world = world(GlassesNetworkMismatch::Refuse).await;
    let (real, real_qr) = world.screen_at("192.0.2.10").await;
    let (planted, planted_qr) = world.screen_at("192.0.2.11").await;
    let wearer = User::mentra("wendy@example.com");
    for source in [
        ClaimSource::GlassesPhoto(vec![planted_qr.clone(), real_qr.clone()]),
        ClaimSource::Frame(vec![real_qr.clone(), planted_qr.clone()]),
    ] {
        let refused = world
            .signin
            .claim(&caller("192.0.2.50"), wearer.clone(), source)
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
            &caller("192.0.2.50"),
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
        .decide(&phone, alice.clone(), &new.request.id, Decision::Approve)
        .await
        .unwrap();
    world.clock.advance(std::time::Duration::from_secs(1));
    crate::flows::sign_out_everywhere(&*world.store, &alice.id, world.clock.now())
        .await
        .unwrap();
    let redeemed = crate::flows::redeem(
        &*world.store,
        &world.signin.keys,
        &new.request.id,
        &new.desktop_secret,
        crate::flows::Device {
            ip: "192.0.2.10".into(),
            user_agent: "test".into(),
        },
        world.clock.now(),
        &world.signin.policy.lifetimes,
    )
    .await;
    assert!(matches!(redeemed, Err(crate::flows::FlowError::SignedOut)));
}
