//! The user's sessions: listed, revoked one by one, or all at once on every instance.

use serde_json::{Value, json};

use crate::helpers::{Backend, Screen, TestCluster, approved, client, error_code};

/// A screen signed in as the phone's user; returns its access token.
pub async fn signed_in(screen: &Screen, phone: &crate::helpers::Phone) -> String {
    let created = approved(screen, phone).await;
    let redeemed: Value = screen.redeem(&created).await.json().await.unwrap();
    redeemed["access_token"].as_str().unwrap().to_owned()
}

/// "Sign out everywhere" from `screen`'s dashboard.
async fn sign_out_everywhere(screen: &Screen) {
    let everywhere = screen
        .client
        .post(format!("{}/api/logout", screen.base))
        .json(&json!({ "everywhere": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(everywhere.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_ends_every_session_and_token_on_every_instance() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let (office, home) = (cluster.screen(0), cluster.screen(1));
    let office_token = signed_in(&office, &phone).await;
    signed_in(&home, &phone).await;
    let bob_phone = cluster.phone("bob@example.com").await;
    let bob = cluster.screen(0);
    signed_in(&bob, &bob_phone).await;

    sign_out_everywhere(&home).await;

    assert_eq!(
        office.me().await.status(),
        401,
        "the other screen's session"
    );
    let bearer = client()
        .get(format!("{}/api/me", cluster.desktops[0]))
        .bearer_auth(&office_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(bearer).await,
        (401, "unauthenticated".into()),
        "its access token"
    );
    let created = bob.create().await;
    assert_eq!(
        phone.scan_id(&created.id).await.status(),
        401,
        "the phone's session too"
    );
    assert_eq!(bob.me().await.status(), 200, "another user is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_are_listed_and_one_can_be_revoked() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let (office, home) = (cluster.screen(0), cluster.screen(1));
    signed_in(&office, &phone).await;
    signed_in(&home, &phone).await;

    let listed = office.get_json("/api/sessions").await;
    let sessions = listed["sessions"].as_array().unwrap();
    let desktops: Vec<&Value> = sessions.iter().filter(|s| s["kind"] == "desktop").collect();
    assert_eq!(desktops.len(), 2, "{listed}");
    assert_eq!(sessions.iter().filter(|s| s["kind"] == "mobile").count(), 1);
    assert_eq!(desktops.iter().filter(|s| s["current"] == true).count(), 1);
    let home_session = desktops.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let bob_phone = cluster.phone("bob@example.com").await;
    let bob = cluster.screen(0);
    signed_in(&bob, &bob_phone).await;
    let not_bobs = bob
        .client
        .delete(format!("{}/api/sessions/{home_session}", bob.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(not_bobs).await, (404, "not_found".into()));

    let revoked = office
        .client
        .delete(format!("{}/api/sessions/{home_session}", office.base))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(home.me().await.status(), 401);
    assert_eq!(office.me().await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_cannot_approve_or_redeem_and_its_sessions_stop() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let phone = cluster.signed_out_phone();
    assert_eq!(
        phone
            .local_login("erin", "correct horse battery")
            .await
            .status(),
        200
    );
    let office = cluster.screen(0);
    signed_in(&office, &phone).await;
    let kiosk = cluster.screen(1);
    let waiting = approved(&kiosk, &phone).await;

    let erin = qrlogin_auth::account::Username::parse("erin").unwrap();
    let now = qrlogin_auth::clock::Clock::now(&cluster.clock);
    assert!(
        qrlogin_auth::flows::set_account_disabled(&*cluster.store, &erin, true, now)
            .await
            .unwrap()
    );

    assert_eq!(
        error_code(kiosk.redeem(&waiting).await).await,
        (403, "forbidden".into()),
        "an approval made before the account was disabled signs nothing in"
    );
    assert_eq!(
        office.me().await.status(),
        401,
        "its desktop session stopped"
    );
    let next = kiosk.create().await;
    assert_eq!(
        phone.scan_id(&next.id).await.status(),
        401,
        "and its phone's"
    );
    assert_eq!(
        phone.decide(&next.id, "approve").await.status(),
        401,
        "so it cannot approve"
    );
    assert_eq!(
        error_code(phone.local_login("erin", "correct horse battery").await).await,
        (403, "forbidden".into()),
        "and it cannot sign in again"
    );

    assert!(
        qrlogin_auth::flows::set_account_disabled(&*cluster.store, &erin, false, now)
            .await
            .unwrap()
    );
    assert_eq!(
        phone
            .local_login("erin", "correct horse battery")
            .await
            .status(),
        200,
        "enabled again, it can"
    );
}

/// Opens the user's sign-in notices socket with `token` (and `origin`, when given), or says
/// which HTTP status refused it.
pub async fn sign_in_notices(
    base: &str,
    token: &str,
    origin: Option<&str>,
) -> Result<crate::helpers::Events, u16> {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("authorization", bearer.as_str())];
    headers.extend(origin.map(|origin| ("origin", origin)));
    crate::helpers::socket(base, "/api/me/events", &headers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_dashboards_hear_of_a_new_sign_in_at_once_and_can_revoke_it() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let office = cluster.screen(0);
    let office_token = signed_in(&office, &phone).await;
    // Listening on the other instance: the notice crosses instances.
    let mut notices = sign_in_notices(&cluster.desktops[1], &office_token, None)
        .await
        .unwrap();
    let bob_phone = cluster.phone("bob@example.com").await;
    signed_in(&cluster.screen(0), &bob_phone).await;
    let intruder = cluster.screen(1);
    signed_in(&intruder, &phone).await;
    let intruders_session = intruder.me().await.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let notice = notices.next_state().await.expect("a notice");
    assert_eq!(notice["type"], "signed_in");
    assert_eq!(
        notice["session_id"], intruders_session,
        "alice hears of her own new session, not of bob's: {notice}"
    );
    assert_eq!(notice["ip"], "127.0.0.1");
    assert_eq!(notice["kind"], "desktop");

    let revoked = client()
        .delete(format!(
            "{}/api/sessions/{intruders_session}",
            cluster.desktops[1]
        ))
        .bearer_auth(&office_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        intruder.me().await.status(),
        401,
        "the notice's revoke works"
    );
}

/// A dashboard's socket closes with 1008 as soon as its session is revoked, on another
/// instance too: the page leaves then, not at the next heartbeat (20 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_dashboard_hears_it_at_once_on_any_instance() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let office = cluster.screen(0);
    let office_token = signed_in(&office, &phone).await;
    let office_session = office.me().await.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut notices = sign_in_notices(&cluster.desktops[1], &office_token, None)
        .await
        .unwrap();
    let home = cluster.screen(0);
    let home_token = signed_in(&home, &phone).await;
    assert_eq!(notices.next_state().await.unwrap()["type"], "signed_in");

    let revoked = client()
        .delete(format!(
            "{}/api/sessions/{office_session}",
            cluster.desktops[0]
        ))
        .bearer_auth(&home_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let closed = tokio::time::timeout(std::time::Duration::from_secs(3), notices.close_code())
        .await
        .expect("the revoked dashboard's socket closed within 3 s");
    assert_eq!(closed, Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notices_socket_refuses_other_sites_and_strangers() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let token = signed_in(&cluster.screen(0), &phone).await;
    let base = &cluster.desktops[0];
    let refused = |result: Result<_, u16>| result.map_or_else(|status| status, |_| 101);
    assert_eq!(
        refused(sign_in_notices(base, &token, Some("https://evil.example")).await),
        403
    );
    assert_eq!(
        refused(sign_in_notices(base, "not-a-token", None).await),
        401
    );
    assert_eq!(
        refused(sign_in_notices(base, &token, Some(base)).await),
        101
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_list_says_when_each_session_was_last_seen() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let (office, home) = (cluster.screen(0), cluster.screen(1));
    signed_in(&office, &phone).await;
    signed_in(&home, &phone).await;
    let list = async || -> Vec<Value> {
        let listed = office.get_json("/api/sessions").await;
        listed["sessions"].as_array().unwrap().clone()
    };
    let start = qrlogin_auth::clock::Clock::now(&cluster.clock);
    let seen = |sessions: &[Value], current: bool| {
        sessions
            .iter()
            .find(|s| s["kind"] == "desktop" && s["current"] == current)
            .unwrap()["last_seen_at"]
            .as_i64()
            .unwrap()
    };
    let before = list().await;
    assert_eq!(seen(&before, false), start, "home: seen when it signed in");

    // Five minutes later only the office screen is used (on the other instance too).
    cluster.clock.advance(std::time::Duration::from_secs(300));
    assert_eq!(office.on(&cluster.desktops[1]).me().await.status(), 200);
    let after = list().await;
    assert_eq!(seen(&after, true), start + 300_000, "office: seen just now");
    assert_eq!(
        seen(&after, false),
        start,
        "home: still when it was last used"
    );
}

/// A screen the user approved before signing out everywhere, that had not redeemed yet, was
/// once still signed in by its redeem after it: signing out everywhere now ends that too.
async fn signing_out_everywhere_voids_what_was_approved_before(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let home = cluster.screen(0);
    signed_in(&home, &phone).await;
    let left_behind = cluster.screen(0);
    let approved_there = approved(&left_behind, &phone).await;

    cluster.clock.advance(std::time::Duration::from_secs(1));
    sign_out_everywhere(&home).await;

    let (status, code) = error_code(left_behind.redeem(&approved_there).await).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert_eq!(left_behind.me().await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_voids_approvals_not_yet_redeemed() {
    signing_out_everywhere_voids_what_was_approved_before(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_voids_approvals_not_yet_redeemed_on_redis() {
    signing_out_everywhere_voids_what_was_approved_before(Backend::Redis).await;
}
