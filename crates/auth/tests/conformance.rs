#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! One conformance suite, run against every store: the embedded SQLite store (a temp file),
//! Redis (a private redis-server on a free port) and a Redis Cluster (three private nodes).
//! Whatever one promises, so do the others.

use std::sync::Arc;
use std::time::Duration;

use qrlogin_auth::account::{LocalAccount, Username};
use qrlogin_auth::clock::{Clock, ManualClock};
use qrlogin_auth::events::AccountNotice;
use qrlogin_auth::flows::{self, FlowError};
use qrlogin_auth::glasses::{PHOTO_TTL_MS, PendingPhoto, PhotoOutcome, PhotoResult};
use qrlogin_auth::login_request::{
    ApprovedWith, Claim, LoginRequest, ScreenContext, Transition, TransitionError,
};
use qrlogin_auth::passkey::{self, StoredPasskey};
use qrlogin_auth::session::{Session, SessionKind, SessionToken};
use qrlogin_auth::store::Store;
use qrlogin_auth::store::redis::{RedisStore, RedisTarget};
use qrlogin_auth::store::sqlite::SqliteStore;
use qrlogin_auth::{LoginState, User};
use qrlogin_testkit::{RedisCluster, RedisServer, unique_prefix};
use secrecy::ExposeSecret;

const TTL: i64 = 60_000;

/// Two handles on one store: for SQLite the same store twice, for Redis two independent
/// connections (two instances), so cross-instance behaviour is what is tested.
struct Backend {
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
    clock: ManualClock,
    /// Every key on one node (not a cluster): several keys can be changed all or none.
    one_node: bool,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::default();
    let store =
        SqliteStore::open_with_clock(&dir.path().join("q.sqlite3"), Arc::new(clock.clone()))
            .await
            .unwrap();
    Some(Backend {
        a: store.clone(),
        b: store,
        clock,
        one_node: true,
        _dir: Some(dir),
    })
}

async fn redis() -> Option<Backend> {
    Some(redis_on(RedisServer::shared()?).await)
}

/// A three-node Redis Cluster, each instance given a different node to start from.
async fn redis_cluster() -> Option<Backend> {
    let cluster = RedisCluster::shared()?;
    let clock = ManualClock::default();
    let prefix = unique_prefix();
    let connect = async |first: usize| -> Arc<dyn Store> {
        let mut urls = cluster.urls();
        urls.rotate_left(first);
        let target = RedisTarget::cluster(urls.into_iter().map(Into::into).collect());
        let store: Arc<dyn Store> =
            RedisStore::connect_with_clock(&target, &prefix, Arc::new(clock.clone()))
                .await
                .unwrap();
        store
    };
    let (a, b) = (connect(0).await, connect(1).await);
    Some(Backend {
        a,
        b,
        clock,
        one_node: false,
        _dir: None,
    })
}

/// Two independent connections (two instances) on one prefix of `server`.
async fn redis_on(server: &RedisServer) -> Backend {
    let clock = ManualClock::default();
    let (target, prefix) = (
        RedisTarget::standalone(server.url().into()),
        unique_prefix(),
    );
    let connect = async || -> Arc<dyn Store> {
        let store: Arc<dyn Store> =
            RedisStore::connect_with_clock(&target, &prefix, Arc::new(clock.clone()))
                .await
                .unwrap();
        store
    };
    let (a, b) = (connect().await, connect().await);
    Backend {
        a,
        b,
        clock,
        one_node: true,
        _dir: None,
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { if let Some(b) = super::sqlite().await { super::$name(b).await } } )* }
        mod on_redis { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { if let Some(b) = super::redis().await { super::$name(b).await } } )* }
        mod on_redis_cluster { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { if let Some(b) = super::redis_cluster().await { super::$name(b).await } } )* }
    };
}

conformance!(
    a_request_is_found_by_id_and_by_code,
    a_live_user_code_is_never_given_twice,
    a_stale_compare_and_set_is_refused,
    exactly_one_of_twenty_concurrent_claims_wins,
    exactly_one_of_fifty_concurrent_redeems_wins,
    exactly_one_of_twenty_concurrent_approvals_wins,
    a_change_reaches_listeners_on_every_instance,
    an_approval_before_subscribing_is_read_as_the_current_state,
    expiry_is_recorded_and_published,
    sessions_are_stored_expire_and_are_deleted_once,
    revoked_tokens_are_remembered,
    an_account_name_is_taken_once,
    every_instance_shares_one_signing_key,
    rate_limits_hold_across_instances,
    several_buckets_are_spent_in_one_go,
    sessions_are_listed_per_user_and_not_before_only_moves_forward,
    a_one_time_mark_is_taken_once,
    an_account_is_updated_only_if_it_exists,
    a_touched_session_keeps_its_expiry,
    the_audit_trail_is_read_whole_per_user_since_and_after,
    a_pending_photo_is_read_anywhere_until_it_expires,
    a_photo_outcome_reaches_the_instance_that_waits_for_it,
    directory_entries_are_taken_once_updated_listed_and_deleted,
    an_ephemeral_record_is_replaced_and_kept_until_its_time,
    accounts_are_listed_by_name_and_deleted_once,
    passkeys_are_kept_per_account_and_each_on_one_account_only,
);

/// A passkey as a Chromium virtual authenticator made it, with a credential id of its own
/// (`label`'s bytes).
fn passkey(user_id: &str, label: &str) -> StoredPasskey {
    use base64::Engine as _;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(label);
    let json = include_str!("fixtures/passkey.json")
        .replace("f3wDtg-ekV0lg1llZM5OkOzdr3pkNiSM0rD9mht_a18", &id);
    let credential = serde_json::from_str(&json).unwrap();
    StoredPasskey::new(user_id, format!("key {label}"), credential, 1_000)
}

async fn passkeys_are_kept_per_account_and_each_on_one_account_only(b: Backend) {
    // Ten added at once to one account from two instances: none is lost.
    let adds = (0..10).map(|i| {
        let store = if i % 2 == 0 { b.a.clone() } else { b.b.clone() };
        async move { passkey::add(&*store, &passkey("local:ann", &format!("ann{i}"))).await }
    });
    for added in futures_util::future::join_all(adds).await {
        assert!(added.unwrap());
    }
    assert_eq!(passkey::list(&*b.b, "local:ann").await.unwrap().len(), 10);
    assert!(passkey::list(&*b.a, "local:bob").await.unwrap().is_empty());

    // One credential, offered to two accounts at once: exactly one has it.
    let (for_ann, for_bob) = (
        passkey("local:ann", "shared"),
        passkey("local:bob", "shared"),
    );
    let (ann, bob) = tokio::join!(passkey::add(&*b.a, &for_ann), passkey::add(&*b.b, &for_bob),);
    assert!(ann.unwrap() ^ bob.unwrap());
    assert_eq!(
        passkey::list(&*b.a, "local:ann").await.unwrap().len()
            + passkey::list(&*b.a, "local:bob").await.unwrap().len(),
        11
    );

    // Renamed on one instance, read on the other; removed once; then free to be added again.
    let mut first = passkey::list(&*b.a, "local:ann").await.unwrap().remove(0);
    first.name = "Pixel".into();
    assert!(passkey::update(&*b.a, &first).await.unwrap());
    assert!(
        passkey::list(&*b.b, "local:ann")
            .await
            .unwrap()
            .iter()
            .any(|p| p.name == "Pixel")
    );
    assert!(
        passkey::remove(&*b.b, "local:ann", &first.id)
            .await
            .unwrap()
    );
    assert!(
        !passkey::remove(&*b.a, "local:ann", &first.id)
            .await
            .unwrap()
    );
    assert!(
        !passkey::update(&*b.a, &first).await.unwrap(),
        "a removed passkey stays removed"
    );
    assert!(
        passkey::add(&*b.a, &passkey("local:bob", first.id.as_str()))
            .await
            .unwrap()
    );
    assert!(passkey::any(&*b.a, "local:bob").await.unwrap());

    // An operator's reset takes every one of the account's, and no one else's.
    let ann_left = passkey::list(&*b.a, "local:ann").await.unwrap().len();
    assert_eq!(
        passkey::remove_all(&*b.b, "local:ann").await.unwrap(),
        ann_left
    );
    assert!(!passkey::any(&*b.a, "local:ann").await.unwrap());
    assert!(passkey::any(&*b.a, "local:bob").await.unwrap());
}

async fn accounts_are_listed_by_name_and_deleted_once(b: Backend) {
    let account = |name: &str| LocalAccount {
        username: Username::parse(name).unwrap(),
        display_name: name.to_uppercase(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        created_at: b.clock.now(),
    };
    assert!(b.a.insert_account(&account("zoe")).await.unwrap());
    assert!(b.a.insert_account(&account("ann")).await.unwrap());
    let listed: Vec<String> =
        b.b.list_accounts()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.username.as_str().to_owned())
            .collect();
    assert_eq!(listed, ["ann", "zoe"]);
    let zoe = Username::parse("zoe").unwrap();
    assert!(b.b.delete_account(&zoe).await.unwrap());
    assert!(!b.a.delete_account(&zoe).await.unwrap());
    assert_eq!(b.a.load_account(&zoe).await.unwrap(), None);
    assert_eq!(b.a.list_accounts().await.unwrap().len(), 1);
}

async fn directory_entries_are_taken_once_updated_listed_and_deleted(b: Backend) {
    let kind = "test-kind";
    assert!(b.a.insert_entry(kind, "b", "{\"v\":1}").await.unwrap());
    assert!(!b.b.insert_entry(kind, "b", "{\"v\":2}").await.unwrap());
    assert!(b.a.insert_entry(kind, "a", "{\"v\":3}").await.unwrap());
    assert!(b.a.insert_entry("other-kind", "a", "{}").await.unwrap());
    assert!(b.b.update_entry(kind, "b", "{\"v\":4}").await.unwrap());
    assert!(!b.b.update_entry(kind, "missing", "{}").await.unwrap());
    assert_eq!(b.a.load_entry(kind, "missing").await.unwrap(), None);
    assert_eq!(
        b.a.load_entry(kind, "b").await.unwrap().as_deref(),
        Some("{\"v\":4}")
    );
    assert_eq!(
        b.b.list_entries(kind).await.unwrap(),
        ["{\"v\":3}", "{\"v\":4}"]
    );
    assert!(b.a.delete_entry(kind, "a").await.unwrap());
    assert!(!b.b.delete_entry(kind, "a").await.unwrap());
    assert_eq!(b.a.list_entries(kind).await.unwrap(), ["{\"v\":4}"]);
}

async fn a_pending_photo_is_read_anywhere_until_it_expires(b: Backend) {
    let (photo, token) = PendingPhoto::new(User::mentra("ann@example.com"), b.clock.now());
    photo.save(&*b.a).await.unwrap();
    let read = PendingPhoto::load(&*b.b, &photo.id).await.unwrap().unwrap();
    assert_eq!(read, photo);
    assert!(read.accepts(token.expose_secret(), b.clock.now()));
    assert_eq!(
        PendingPhoto::load(&*b.b, "photo_req_unknown")
            .await
            .unwrap(),
        None
    );
    b.clock.advance(Duration::from_millis(PHOTO_TTL_MS as u64));
    assert_eq!(PendingPhoto::load(&*b.a, &photo.id).await.unwrap(), None);
}

async fn an_ephemeral_record_is_replaced_and_kept_until_its_time(b: Backend) {
    let now = b.clock.now();
    b.a.put_ephemeral("pace", "x", "1", now + 10_000)
        .await
        .unwrap();
    b.b.put_ephemeral("pace", "x", "2", now + 20_000)
        .await
        .unwrap();
    b.a.put_ephemeral("other", "x", "3", now + 20_000)
        .await
        .unwrap();
    assert_eq!(
        b.a.get_ephemeral("pace", "x").await.unwrap().as_deref(),
        Some("2")
    );
    b.clock.advance(Duration::from_secs(15));
    assert_eq!(
        b.b.get_ephemeral("pace", "x").await.unwrap().as_deref(),
        Some("2")
    );
    b.clock.advance(Duration::from_secs(5));
    assert_eq!(b.b.get_ephemeral("pace", "x").await.unwrap(), None);
    assert_eq!(b.b.get_ephemeral("pace", "missing").await.unwrap(), None);
}

async fn a_photo_outcome_reaches_the_instance_that_waits_for_it(b: Backend) {
    let (photo, _) = PendingPhoto::new(User::mentra("ann@example.com"), b.clock.now());
    let mut waiting = b.b.events().expect_photo(&photo.id);
    let (request, _) = created(&b).await;
    let outcome = PhotoOutcome {
        photo_id: photo.id.clone(),
        result: PhotoResult::Claimed {
            request: request.id.clone(),
        },
    };
    b.a.announce_photo(&outcome).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), waiting.outcome())
        .await
        .unwrap();
    assert_eq!(heard, outcome);
    // Kept too, for a waiter whose event was lost.
    assert_eq!(PhotoOutcome::load(&*b.b, &photo.id).await.unwrap(), None);
    outcome.save(&*b.a, b.clock.now()).await.unwrap();
    assert_eq!(
        PhotoOutcome::load(&*b.b, &photo.id).await.unwrap(),
        Some(outcome)
    );
}

fn screen() -> ScreenContext {
    ScreenContext {
        client_name: "qrlogin".into(),
        ip: "192.0.2.10".into(),
        user_agent: "Firefox".into(),
        ..ScreenContext::default()
    }
}

fn claim_by(name: &str, now: i64) -> Transition {
    Transition::Claim(Claim {
        user: User::local(name, name),
        ip: "192.0.2.20".into(),
        at: now,
        had_passkeys: false,
    })
}

async fn created(b: &Backend) -> (LoginRequest, String) {
    let new = flows::create_request(&*b.a, screen(), b.clock.now(), TTL)
        .await
        .unwrap();
    (new.request, new.desktop_secret.expose_secret().to_owned())
}

async fn approved(b: &Backend) -> (LoginRequest, String) {
    let (request, secret) = created(b).await;
    let now = b.clock.now();
    flows::transition(&*b.a, &request.id, &claim_by("ann", now), now)
        .await
        .unwrap();
    let approve = Transition::Approve {
        user: User::local("ann", "ann"),
        pin: None,
        with: ApprovedWith::Tap,
    };
    let request = flows::transition(&*b.b, &request.id, &approve, now)
        .await
        .unwrap();
    (request, secret)
}

async fn a_request_is_found_by_id_and_by_code(b: Backend) {
    let (request, _) = created(&b).await;
    assert_eq!(
        b.b.load_request(&request.id).await.unwrap(),
        Some(request.clone())
    );
    assert_eq!(
        b.b.find_request_by_code(&request.user_code).await.unwrap(),
        Some(request.id.clone())
    );
    let unknown = qrlogin_auth::RequestId::generate();
    assert_eq!(b.a.load_request(&unknown).await.unwrap(), None);
}

async fn a_live_user_code_is_never_given_twice(b: Backend) {
    let (first, _) = created(&b).await;
    let mut twin = LoginRequest::create(screen(), b.clock.now(), TTL).request;
    twin.user_code = first.user_code.clone();
    assert!(
        !b.b.insert_request(&twin).await.unwrap(),
        "a live code is taken"
    );
}

/// Only the compare-and-set that lands is stored, and only its notice is told.
async fn a_stale_compare_and_set_is_refused(b: Backend) {
    let ended = |session: &str| AccountNotice::SessionEnded {
        user_id: "local:ann".into(),
        session_id: session.into(),
    };
    let mut dashboard = b.b.events().subscribe_account("local:ann");
    let (request, _) = created(&b).await;
    let now = b.clock.now();
    let next = request.apply(&claim_by("ann", now), now).unwrap();
    let landed = ended("landed");
    assert!(
        (b.a.swap_request(&next, request.version, Some(&landed))
            .await)
            .unwrap()
    );
    let rival = request.apply(&claim_by("bob", now), now).unwrap();
    let lost = ended("lost");
    assert!(!(b.b.swap_request(&rival, request.version, Some(&lost)).await).unwrap());
    let stored = b.b.load_request(&request.id).await.unwrap().unwrap();
    assert_eq!(stored.claim.unwrap().user.id, "local:ann");
    b.a.announce(&ended("after")).await.unwrap();
    let mut heard = Vec::new();
    for _ in 0..2 {
        let notice = tokio::time::timeout(Duration::from_secs(5), dashboard.next()).await;
        heard.push(notice.unwrap());
    }
    // A notice told after the lost one: had the lost one gone out, it would be among these
    // two on one server (a cluster may deliver two nodes' messages in either order).
    heard.sort_by_key(|notice| format!("{notice:?}"));
    assert_eq!(heard, [ended("after"), landed]);
}

async fn exactly_one_of_twenty_concurrent_claims_wins(b: Backend) {
    let (request, _) = created(&b).await;
    let now = b.clock.now();
    let attempts = (0..20).map(|i| {
        let store = if i % 2 == 0 { b.a.clone() } else { b.b.clone() };
        let id = request.id.clone();
        tokio::spawn(async move {
            flows::transition(&*store, &id, &claim_by(&format!("user{i}"), now), now).await
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let refused = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Ok(Err(FlowError::Transition(TransitionError::WrongState(
                    LoginState::Claimed
                ))))
            )
        })
        .count();
    assert_eq!((wins, refused), (1, 19));
}

async fn exactly_one_of_fifty_concurrent_redeems_wins(b: Backend) {
    let (request, secret) = approved(&b).await;
    let now = b.clock.now();
    let attempts = (0..50).map(|i| {
        let store = if i % 2 == 0 { b.a.clone() } else { b.b.clone() };
        let (id, secret) = (request.id.clone(), secret.clone());
        tokio::spawn(async move {
            flows::transition(
                &*store,
                &id,
                &Transition::Redeem {
                    secret,
                    session_id: "s1".into(),
                },
                now,
            )
            .await
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let already = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Ok(Err(FlowError::Transition(TransitionError::Final(
                    LoginState::Redeemed
                ))))
            )
        })
        .count();
    assert_eq!((wins, already), (1, 49));
}

async fn exactly_one_of_twenty_concurrent_approvals_wins(b: Backend) {
    let (request, _) = created(&b).await;
    let now = b.clock.now();
    flows::transition(&*b.a, &request.id, &claim_by("ann", now), now)
        .await
        .unwrap();
    let attempts = (0..20).map(|i| {
        let store = if i % 2 == 0 { b.a.clone() } else { b.b.clone() };
        let id = request.id.clone();
        let approve = Transition::Approve {
            user: User::local("ann", "ann"),
            pin: None,
            with: ApprovedWith::Tap,
        };
        tokio::spawn(async move { flows::transition(&*store, &id, &approve, now).await })
    });
    let results = futures_util::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert_eq!(wins, 1);
    let stored = b.a.load_request(&request.id).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.version), (LoginState::Approved, 3));
}

async fn a_change_reaches_listeners_on_every_instance(b: Backend) {
    let (request, _) = created(&b).await;
    let mut on_a = b.a.events().subscribe(&request.id);
    let mut on_b = b.b.events().subscribe(&request.id);
    let now = b.clock.now();
    flows::transition(&*b.a, &request.id, &claim_by("ann", now), now)
        .await
        .unwrap();
    for sub in [&mut on_a, &mut on_b] {
        let seen = tokio::time::timeout(Duration::from_secs(5), sub.newer_than(request.version))
            .await
            .unwrap();
        assert_eq!(seen.state, LoginState::Claimed);
    }
}

async fn an_approval_before_subscribing_is_read_as_the_current_state(b: Backend) {
    let (request, _) = approved(&b).await;
    // What a socket does: subscribe first, then read the current state.
    let _sub = b.a.events().subscribe(&request.id);
    let current = flows::load(&*b.a, &request.id, b.clock.now())
        .await
        .unwrap();
    assert_eq!(current.state, LoginState::Approved);
}

async fn expiry_is_recorded_and_published(b: Backend) {
    let (request, secret) = approved(&b).await;
    let mut listener = b.b.events().subscribe(&request.id);
    b.clock.advance(Duration::from_millis(TTL as u64));
    let now = b.clock.now();
    let redeem = flows::transition(
        &*b.a,
        &request.id,
        &Transition::Redeem {
            secret,
            session_id: "s1".into(),
        },
        now,
    )
    .await;
    assert!(matches!(
        redeem,
        Err(FlowError::Transition(TransitionError::Expired))
    ));
    let seen = tokio::time::timeout(Duration::from_secs(5), listener.newer_than(request.version))
        .await
        .unwrap();
    assert_eq!(seen.state, LoginState::Expired);
    assert_eq!(
        b.b.load_request(&request.id).await.unwrap().unwrap().state,
        LoginState::Expired
    );
}

async fn sessions_are_stored_expire_and_are_deleted_once(b: Backend) {
    let token = SessionToken::generate();
    let now = b.clock.now();
    let session = Session::new(
        &token,
        SessionKind::Desktop,
        User::local("ann", "Ann"),
        now,
        10_000,
        "192.0.2.1".into(),
        "ua".into(),
        Some(("jti".into(), now + 5_000)),
    );
    b.a.insert_session(&session).await.unwrap();
    assert_eq!(
        b.b.load_session(&token.session_id()).await.unwrap(),
        Some(session.clone())
    );
    b.clock.advance(Duration::from_secs(10));
    assert_eq!(
        b.b.load_session(&session.id).await.unwrap(),
        None,
        "expired sessions do not load"
    );
    let other = Session::new(
        &SessionToken::generate(),
        SessionKind::Mobile,
        User::local("bob", "Bob"),
        b.clock.now(),
        10_000,
        "ip".into(),
        "ua".into(),
        None,
    );
    b.a.insert_session(&other).await.unwrap();
    assert_eq!(
        b.b.delete_session(&other.id).await.unwrap(),
        Some(other.clone())
    );
    assert_eq!(b.a.delete_session(&other.id).await.unwrap(), None);
    assert_eq!(b.a.load_session(&other.id).await.unwrap(), None);
    let mut touched = other.clone();
    touched.last_seen_at += 1;
    b.a.touch_session(&touched).await.unwrap();
    assert_eq!(
        b.b.load_session(&other.id).await.unwrap(),
        None,
        "touching a deleted session does not bring it back"
    );
}

async fn a_touched_session_keeps_its_expiry(b: Backend) {
    let now = b.clock.now();
    let mut session = Session::new(
        &SessionToken::generate(),
        SessionKind::Mobile,
        User::local("ann", "Ann"),
        now,
        10_000,
        "ip".into(),
        "ua".into(),
        None,
    );
    b.a.insert_session(&session).await.unwrap();
    b.clock.advance(Duration::from_secs(5));
    session.last_seen_at = b.clock.now();
    b.b.touch_session(&session).await.unwrap();
    assert_eq!(
        b.a.load_session(&session.id)
            .await
            .unwrap()
            .unwrap()
            .last_seen(),
        now + 5_000
    );
    b.clock.advance(Duration::from_secs(5));
    assert_eq!(b.a.load_session(&session.id).await.unwrap(), None);
}

async fn revoked_tokens_are_remembered(b: Backend) {
    assert!(!b.a.is_token_revoked("jti-1").await.unwrap());
    b.a.revoke_token("jti-1", b.clock.now() + 60_000)
        .await
        .unwrap();
    assert!(b.b.is_token_revoked("jti-1").await.unwrap());
    assert!(!b.b.is_token_revoked("jti-2").await.unwrap());
}

async fn an_account_name_is_taken_once(b: Backend) {
    let account = LocalAccount {
        username: Username::parse("ann").unwrap(),
        display_name: "Ann".into(),
        password_hash: "$argon2id$…".into(),
        disabled: false,
        created_at: b.clock.now(),
    };
    assert!(b.a.insert_account(&account).await.unwrap());
    let mut impostor = account.clone();
    impostor.display_name = "Not Ann".into();
    assert!(!b.b.insert_account(&impostor).await.unwrap());
    assert_eq!(
        b.b.load_account(&account.username).await.unwrap(),
        Some(account)
    );
}

async fn an_account_is_updated_only_if_it_exists(b: Backend) {
    let mut account = LocalAccount {
        username: Username::parse("ann").unwrap(),
        display_name: "Ann".into(),
        password_hash: "$argon2id$…".into(),
        disabled: false,
        created_at: b.clock.now(),
    };
    assert!(
        !b.a.update_account(&account).await.unwrap(),
        "no account yet"
    );
    assert!(b.a.insert_account(&account).await.unwrap());
    account.disabled = true;
    assert!(b.a.update_account(&account).await.unwrap());
    assert!(
        b.b.load_account(&account.username)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
}

async fn the_audit_trail_is_read_whole_per_user_since_and_after(b: Backend) {
    use qrlogin_auth::audit::{AuditEvent, AuditQuery, AuditRecord};
    let start = b.clock.now();
    let events = [
        (AuditEvent::Create, None),
        (AuditEvent::Claim, Some("ann")),
        (AuditEvent::Approve, Some("ann")),
        (AuditEvent::RateLimited, Some("bob")),
        (AuditEvent::Redeem, Some("ann")),
    ];
    let records: Vec<AuditRecord> = events
        .iter()
        .enumerate()
        .map(|(i, (event, user))| {
            let mut record = AuditRecord::new(*event, start + i64::try_from(i).unwrap() * 1000);
            record.user = user.map(str::to_owned);
            record
        })
        .collect();
    // Written from both instances, one by one and then as a batch; read from either.
    b.a.append_audit(&records[..1]).await.unwrap();
    b.b.append_audit(&records[1..2]).await.unwrap();
    b.a.append_audit(&records[2..]).await.unwrap();
    let read = async |query: AuditQuery| -> Vec<AuditEvent> {
        b.b.read_audit(&query)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.record.event)
            .collect()
    };
    let all = AuditQuery {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        read(all.clone()).await,
        events.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        "oldest first"
    );
    let anns_newest = AuditQuery {
        user: Some("ann".into()),
        limit: 2,
        newest_first: true,
        ..all.clone()
    };
    assert_eq!(
        read(anns_newest).await,
        [AuditEvent::Redeem, AuditEvent::Approve]
    );
    let since = AuditQuery {
        since: start + 3000,
        ..all.clone()
    };
    assert_eq!(
        read(since).await,
        [AuditEvent::RateLimited, AuditEvent::Redeem]
    );
    let first_two =
        b.a.read_audit(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let after = AuditQuery {
        after: Some(first_two[1].cursor.clone()),
        ..all
    };
    assert_eq!(
        read(after).await,
        [
            AuditEvent::Approve,
            AuditEvent::RateLimited,
            AuditEvent::Redeem
        ],
        "following reads on after a cursor"
    );
    let within_a_batch = AuditQuery {
        after: Some(first_two[2].cursor.clone()),
        limit: 1,
        ..AuditQuery::default()
    };
    assert_eq!(
        read(within_a_batch).await,
        [AuditEvent::RateLimited],
        "a cursor inside a batch written together reads on from the next record"
    );
    let newest_two = AuditQuery {
        limit: 2,
        newest_first: true,
        ..AuditQuery::default()
    };
    assert_eq!(
        read(newest_two).await,
        [AuditEvent::Redeem, AuditEvent::RateLimited],
        "a batch is read newest first too"
    );
}

async fn every_instance_shares_one_signing_key(b: Backend) {
    assert!(b.b.stored_signing_key().await.unwrap().is_none());
    let first =
        b.a.shared_signing_key("first".to_owned().into())
            .await
            .unwrap();
    let second =
        b.b.shared_signing_key("second".to_owned().into())
            .await
            .unwrap();
    assert_eq!(first.expose_secret(), "first");
    assert_eq!(second.expose_secret(), "first");
    let stored = b.b.stored_signing_key().await.unwrap().unwrap();
    assert_eq!(stored.expose_secret(), "first");
    b.a.ping().await.unwrap();
}

#[tokio::test]
async fn the_embedded_store_keeps_accounts_and_sessions_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/q.sqlite3");
    let token = SessionToken::generate();
    let now = qrlogin_auth::clock::SystemClock.now();
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let session = Session::new(
            &token,
            SessionKind::Desktop,
            User::local("ann", "Ann"),
            now,
            60_000,
            "ip".into(),
            "ua".into(),
            None,
        );
        store.insert_session(&session).await.unwrap();
        let account = LocalAccount {
            username: Username::parse("ann").unwrap(),
            display_name: "Ann".into(),
            password_hash: "h".into(),
            disabled: false,
            created_at: now,
        };
        store.insert_account(&account).await.unwrap();
    }
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert!(
        reopened
            .load_session(&token.session_id())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        reopened
            .load_account(&Username::parse("ann").unwrap())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_sweeper_removes_only_expired_rows() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::default();
    let store =
        SqliteStore::open_with_clock(&dir.path().join("q.sqlite3"), Arc::new(clock.clone()))
            .await
            .unwrap();
    let new = flows::create_request(&*store, screen(), clock.now(), TTL)
        .await
        .unwrap();
    assert_eq!(store.sweep().await.unwrap(), 0);
    clock.advance(Duration::from_millis(
        (TTL + qrlogin_auth::store::REQUEST_RETENTION_MS) as u64,
    ));
    assert_eq!(store.sweep().await.unwrap(), 2, "the request and its code");
    assert_eq!(store.load_request(&new.request.id).await.unwrap(), None);
}

/// Two instances that never hear of each other's changes (two embedded stores on one file:
/// each has its own event hub), so one's copy of a request goes stale for good. A copy is
/// where a transition starts, never what decides it: a refusal it would give is checked on a
/// fresh read, and a write based on it lands only if it is still current.
#[tokio::test]
async fn a_stale_copy_of_a_request_decides_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::default();
    let open = async || {
        SqliteStore::open_with_clock(&dir.path().join("q.sqlite3"), Arc::new(clock.clone()))
            .await
            .unwrap()
    };
    let (here, elsewhere) = (open().await, open().await);
    let now = clock.now();
    let create = async || {
        flows::create_request(&*here, screen(), now, TTL)
            .await
            .unwrap()
    };
    let (contested, decided) = (create().await, create().await);
    for new in [&contested, &decided] {
        flows::transition(&*elsewhere, &new.request.id, &claim_by("ann", now), now)
            .await
            .unwrap();
        let copy = here.events().recent(&new.request.id).unwrap();
        assert_eq!(
            copy.state,
            LoginState::Pending,
            "here never heard of the claim"
        );
    }

    // A write based on the copy lands only if the copy is current.
    let id = &contested.request.id;
    let taken = flows::transition(&*here, id, &claim_by("bob", now), now).await;
    assert!(
        matches!(
            taken,
            Err(FlowError::Transition(TransitionError::WrongState(
                LoginState::Claimed
            )))
        ),
        "bob's claim on the stale copy must lose to ann's: {taken:?}"
    );

    // A refusal the copy would give is checked on a fresh read.
    let id = &decided.request.id;
    let approve = Transition::Approve {
        user: User::local("ann", "ann"),
        pin: None,
        with: ApprovedWith::Tap,
    };
    let approved = flows::transition(&*here, id, &approve, now).await.unwrap();
    assert_eq!(approved.state, LoginState::Approved);

    let secret = decided.desktop_secret.expose_secret().to_owned();
    let redeem = |session: &str| Transition::Redeem {
        secret: secret.clone(),
        session_id: session.into(),
    };
    flows::transition(&*elsewhere, id, &redeem("s-elsewhere"), now)
        .await
        .unwrap();
    assert_eq!(
        here.events().recent(id).unwrap().state,
        LoginState::Approved
    );
    let again = flows::transition(&*here, id, &redeem("s-here"), now).await;
    assert!(again.is_err(), "redeemed twice: {again:?}");
    let stored = here.load_request(id).await.unwrap().unwrap();
    assert_eq!(stored.redeemed_session.as_deref(), Some("s-elsewhere"));
}

/// The one event subscription per instance reconnects by itself: after Redis restarts, a
/// change made on another instance still reaches this instance's listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_events_survive_a_redis_restart() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let Backend { a, b, clock, .. } = redis_on(&server).await;
    let new = flows::create_request(&*a, screen(), clock.now(), TTL)
        .await
        .unwrap();
    let mut listener = a.events().subscribe(&new.request.id);

    server.restart();
    // Like a client that got a 503, retry until the store answers again.
    let now = clock.now();
    let claimed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match flows::transition(&*b, &new.request.id, &claim_by("ann", now), now).await {
                Ok(claimed) => break claimed,
                Err(FlowError::Store(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(other) => panic!("{other}"),
            }
        }
    })
    .await
    .expect("Redis came back within 10 s");

    let seen = tokio::time::timeout(
        Duration::from_secs(10),
        listener.newer_than(new.request.version),
    )
    .await
    .unwrap();
    assert_eq!(
        (seen.state, seen.version),
        (LoginState::Claimed, claimed.version)
    );
}

/// Rate limits: the same GCRA on both stores, shared by every instance, refusing with the
/// exact wait; a refused event spends nothing.
async fn rate_limits_hold_across_instances(b: Backend) {
    use qrlogin_auth::rate_limit::RateLimit;
    let limit = RateLimit {
        count: 3,
        per_ms: 60_000,
    };
    let key = format!("create:{}", unique_prefix());
    for i in 0..3 {
        let store = if i % 2 == 0 { &b.a } else { &b.b };
        assert_eq!(
            store.rate_limit(&[(&key, &limit)]).await.unwrap(),
            None,
            "event {i}"
        );
    }
    assert_eq!(
        b.b.rate_limit(&[(&key, &limit)]).await.unwrap(),
        Some((0, Duration::from_secs(20)))
    );
    assert_eq!(
        b.a.rate_limit(&[(&key, &limit)]).await.unwrap(),
        Some((0, Duration::from_secs(20)))
    );
    b.clock.advance(Duration::from_secs(20));
    assert_eq!(b.a.rate_limit(&[(&key, &limit)]).await.unwrap(), None);
    assert!(b.b.rate_limit(&[(&key, &limit)]).await.unwrap().is_some());
    let other = format!("create:{}", unique_prefix());
    assert_eq!(
        b.b.rate_limit(&[(&other, &limit)]).await.unwrap(),
        None,
        "buckets are separate"
    );
}

/// Several buckets spent at once (a scan's per-user and per-IP budgets): in order, the
/// first refusal named; a refusal spends nothing after it, and on one node nothing before.
async fn several_buckets_are_spent_in_one_go(b: Backend) {
    use qrlogin_auth::rate_limit::RateLimit;
    let (one, two) = (
        RateLimit {
            count: 1,
            per_ms: 60_000,
        },
        RateLimit {
            count: 2,
            per_ms: 60_000,
        },
    );
    let (user, network) = (unique_prefix(), unique_prefix());
    let both = [(user.as_str(), &one), (network.as_str(), &two)];
    assert_eq!(b.a.rate_limit(&both).await.unwrap(), None);
    assert_eq!(
        b.b.rate_limit(&both).await.unwrap(),
        Some((0, Duration::from_secs(60))),
        "the first bucket is spent"
    );
    // The refused first bucket spent nothing of the second: it allows one more.
    assert_eq!(b.a.rate_limit(&[(&network, &two)]).await.unwrap(), None);
    assert_eq!(
        b.a.rate_limit(&[(&network, &two)]).await.unwrap(),
        Some((0, Duration::from_secs(30)))
    );
    let fresh = unique_prefix();
    let refused_second = [(fresh.as_str(), &one), (network.as_str(), &two)];
    assert_eq!(
        b.b.rate_limit(&refused_second).await.unwrap(),
        Some((1, Duration::from_secs(30)))
    );
    let fresh_spent = b.a.rate_limit(&[(&fresh, &one)]).await.unwrap();
    if b.one_node {
        assert_eq!(fresh_spent, None, "a refusal spends none of them");
    } else {
        assert!(fresh_spent.is_some(), "a cluster spends bucket by bucket");
    }
}

/// Sessions are listed per user, live ones only; a user's not-before time only moves forward.
async fn sessions_are_listed_per_user_and_not_before_only_moves_forward(b: Backend) {
    let now = b.clock.now();
    let session = |user: &str, ttl: i64| {
        Session::new(
            &SessionToken::generate(),
            SessionKind::Desktop,
            User::local(user, user),
            now,
            ttl,
            "ip".into(),
            "ua".into(),
            None,
        )
    };
    let (first, second, short, other) = (
        session("ann", 60_000),
        session("ann", 60_000),
        session("ann", 1_000),
        session("bob", 60_000),
    );
    for s in [&first, &second, &short, &other] {
        b.a.insert_session(s).await.unwrap();
    }
    let ids = |sessions: Vec<Session>| {
        sessions
            .into_iter()
            .map(|s| s.id)
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        ids(b.b.list_sessions("local:ann").await.unwrap()),
        [&first, &second, &short]
            .iter()
            .map(|s| s.id.clone())
            .collect()
    );
    b.clock.advance(Duration::from_secs(2));
    b.b.delete_session(&second.id).await.unwrap();
    assert_eq!(
        ids(b.a.list_sessions("local:ann").await.unwrap()),
        [first.id.clone()].into(),
        "deleted and expired ones are gone"
    );
    assert!(b.a.list_sessions("local:nobody").await.unwrap().is_empty());

    assert_eq!(b.a.not_before("local:ann").await.unwrap(), None);
    b.a.set_not_before("local:ann", 2_000).await.unwrap();
    b.b.set_not_before("local:ann", 1_000).await.unwrap();
    assert_eq!(b.b.not_before("local:ann").await.unwrap(), Some(2_000));
    assert_eq!(b.b.not_before("local:bob").await.unwrap(), None);
}

/// A one-time mark is taken once, on any instance, until it expires.
async fn a_one_time_mark_is_taken_once(b: Backend) {
    let key = format!("mark:{}", unique_prefix());
    let until = b.clock.now() + 10_000;
    assert!(b.a.use_once(&key, until).await.unwrap());
    assert!(!b.b.use_once(&key, until).await.unwrap());
    assert!(b.b.use_once(&format!("{key}-other"), until).await.unwrap());
}
