//! Sign in on another device: a signed-in screen makes a single-use link, the new device
//! opens it and asks with a click (opening the page claims nothing), it is shown a code, the
//! signed-in screen allows it by typing that code, and the new device gets a session of its
//! own. A browser signed in as someone else is never switched by a link.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, Screen, TestCluster, approved, client, error_code, socket};
use crate::sessions::{sign_in_notices, signed_in};

/// A screen signed in as alice.
async fn signed_in_screen(cluster: &TestCluster) -> Screen {
    signed_in_as(cluster, "alice@example.com").await
}

/// A browser of its own, signed in on a screen as `user_id`.
async fn signed_in_as(cluster: &TestCluster, user_id: &str) -> Screen {
    let screen = cluster.screen(0);
    let phone = cluster.phone(user_id).await;
    let created = approved(&screen, &phone).await;
    assert_eq!(screen.redeem(&created).await.status(), 200);
    screen
}

async fn post(screen: &Screen, path: &str, body: Value) -> reqwest::Response {
    screen
        .client
        .post(format!("{}{path}", screen.base))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn make_link(screen: &Screen) -> Value {
    let response = post(screen, "/api/device-links", json!({})).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// A browser that has never signed in: its own cookie jar.
fn new_device(cluster: &TestCluster) -> Screen {
    screen_on(&cluster.desktops[0])
}

/// A browser of its own on `base`, never signed in.
fn screen_on(base: &str) -> Screen {
    Screen {
        client: client(),
        base: base.to_owned(),
    }
}

fn path(link: &Value, step: &str) -> String {
    format!("/api/device-links/{}{step}", link["id"].as_str().unwrap())
}

/// The device clicks "Sign in as …": 202 and the code it shows.
async fn claim(device: &Screen, link: &Value) -> String {
    claim_keeping_cookie(device, link).await.0
}

/// The device clicks "Sign in as …": 202, the code it shows and its claim cookie
/// (`name=value`, as a browser sends it back).
async fn claim_keeping_cookie(device: &Screen, link: &Value) -> (String, String) {
    let claimed = post(device, &path(link, "/claim"), json!({})).await;
    assert_eq!(claimed.status(), 202);
    let cookie = claimed.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let claimed: Value = claimed.json().await.unwrap();
    assert_eq!(claimed["state"], "claimed");
    let code = claimed["code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    (code, cookie)
}

/// The signed-in screen allows the device with `code`.
async fn allow(screen: &Screen, link: &Value, code: &str) -> reqwest::Response {
    post(
        screen,
        &path(link, "/confirm"),
        json!({ "allow": true, "code": code }),
    )
    .await
}

/// `GET /link/{id}` in `browser`: the status and the page.
async fn open_page(browser: &Screen, link: &Value) -> (u16, String) {
    let response = browser
        .client
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A code that is not `code`.
fn other_than(code: &str) -> &'static str {
    if code == "000000" { "999999" } else { "000000" }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_opens_the_link_is_allowed_and_gets_its_own_session() {
    the_device_gets_its_own_session(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_opens_the_link_is_allowed_and_gets_its_own_session_on_redis() {
    the_device_gets_its_own_session(Backend::Redis).await;
}

async fn the_device_gets_its_own_session(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let first = signed_in_screen(&cluster).await;
    let link = make_link(&first).await;
    assert_eq!(
        link["url"],
        format!(
            "{}/link/{}",
            cluster.desktops[0],
            link["id"].as_str().unwrap()
        )
    );
    assert!(link["qr_svg"].as_str().unwrap().starts_with("<svg"));

    // The page says whose account it joins, and claims nothing until the click.
    let device = new_device(&cluster);
    let (status, page) = open_page(&device, &link).await;
    assert_eq!(status, 200);
    assert!(page.contains("Sign in as alice@example.com?"), "{page}");
    assert!(page.contains(r#"data-step="ask""#), "{page}");
    let seen: Value = first.get_json(&path(&link, "")).await;
    assert_eq!(seen["state"], "waiting");

    let code = claim(&device, &link).await;
    // Not signed in yet: only once the first screen allows it.
    let (status, error) = error_code(post(&device, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!((status, error.as_str()), (409, "conflict"));
    assert_eq!(device.me().await.status(), 401);
    // A reload shows the same code again, to this device only.
    let (_, page) = open_page(&device, &link).await;
    assert!(page.contains(r#"data-step="claimed""#), "{page}");
    let mine: Value = device.get_json(&path(&link, "")).await;
    assert_eq!(mine["code"], code.as_str());

    // The signed-in screen is asked, with what it needs to recognise the device, never its code.
    let seen: Value = first.get_json(&path(&link, "")).await;
    assert_eq!(seen["state"], "claimed");
    assert_eq!(seen["device_ip"], "127.0.0.1");
    assert_eq!(seen["code_attempts_left"], 3);
    assert!(seen["device"].is_string());
    assert!(seen.get("code").is_none(), "{seen}");
    // The code as a person types it.
    let typed = format!("{} {}", &code[..3], &code[3..]);
    let allowed = allow(&first, &link, &typed).await;
    assert_eq!(allowed.status(), 200);

    let redeemed = post(&device, &path(&link, "/redeem"), json!({})).await;
    assert_eq!(redeemed.status(), 200);
    let redeemed: Value = redeemed.json().await.unwrap();
    assert_eq!(redeemed["expires_in"], 30 * 60);
    let me: Value = device.me().await.json().await.unwrap();
    assert_eq!(me["user"]["id"], "mentra:alice@example.com");
    // Its own session, not a copy of the first screen's.
    let sessions: Value = first.get_json("/api/sessions").await;
    let ids: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "desktop")
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{sessions}");
    assert_ne!(ids[0], ids[1]);

    // The token works on its own, as any API client would use it.
    let with_token = client()
        .get(format!("{}/api/me", cluster.desktops[0]))
        .bearer_auth(redeemed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);

    // Audited: the claim, the approval (and how it was proved) and the redeem, each of a
    // "device link".
    let trail = cluster.audit_trail().await;
    assert!(
        trail
            .iter()
            .any(|r| r.detail.as_deref() == Some("device link; approved with a tap"))
    );
    let linked: Vec<(&str, &str)> = trail
        .iter()
        .filter(|r| {
            r.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("device link"))
        })
        .map(|r| (r.event.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        linked,
        [
            ("claim", "ok"),
            ("redeem", "conflict"),
            ("approve", "ok"),
            ("redeem", "ok")
        ],
        "{trail:?}"
    );

    // The new device signing out leaves the first signed in; "everywhere" ends both.
    assert_eq!(post(&device, "/api/logout", json!({})).await.status(), 204);
    assert_eq!(device.me().await.status(), 401);
    assert_eq!(first.me().await.status(), 200);
    let again = make_link(&first).await;
    let second = new_device(&cluster);
    let code = claim(&second, &again).await;
    assert_eq!(allow(&first, &again, &code).await.status(), 200);
    assert_eq!(
        post(&second, &path(&again, "/redeem"), json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(
        post(&second, "/api/logout", json!({ "everywhere": true }))
            .await
            .status(),
        204
    );
    assert_eq!(first.me().await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_works_once_and_not_after_it_expires() {
    once_and_not_after_expiry(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_works_once_and_not_after_it_expires_on_redis() {
    once_and_not_after_expiry(Backend::Redis).await;
}

async fn once_and_not_after_expiry(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let first = signed_in_screen(&cluster).await;
    let link = make_link(&first).await;
    let device = new_device(&cluster);
    let code = claim(&device, &link).await;
    // A second device, or the same one again: the link is taken.
    let thief = new_device(&cluster);
    let (status, error) = error_code(post(&thief, &path(&link, "/claim"), json!({})).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_qr_code"));
    // The thief cannot collect it either, even once allowed.
    assert_eq!(allow(&first, &link, &code).await.status(), 200);
    let (status, _) = error_code(post(&thief, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        post(&device, &path(&link, "/redeem"), json!({}))
            .await
            .status(),
        200
    );
    // Used: gone for everyone.
    let (status, error) = error_code(post(&device, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_qr_code"));
    let (status, _) = error_code(
        first
            .client
            .get(format!("{}{}", first.base, path(&link, "")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, page) = open_page(&new_device(&cluster), &link).await;
    assert_eq!(status, 400);
    assert!(page.contains("unknown, already used or expired"), "{page}");

    let stale = make_link(&first).await;
    cluster.clock.advance(Duration::from_secs(5 * 60 + 1));
    let (status, error) =
        error_code(post(&new_device(&cluster), &path(&stale, "/claim"), json!({})).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_qr_code"));
    let (status, error) = error_code(
        post(
            &new_device(&cluster),
            "/api/device-links/unknownlinkid/claim",
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_qr_code"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_device_gets_nothing_and_only_the_linking_user_decides() {
    refused_device_gets_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_device_gets_nothing_and_only_the_linking_user_decides_on_redis() {
    refused_device_gets_nothing(Backend::Redis).await;
}

async fn refused_device_gets_nothing(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let first = signed_in_screen(&cluster).await;
    let link = make_link(&first).await;
    let device = new_device(&cluster);
    let code = claim(&device, &link).await;

    // Someone else, signed in as another user, cannot answer for alice, even with the code.
    let other = signed_in_as(&cluster, "bob@example.com").await;
    let (status, _) = error_code(allow(&other, &link, &code).await).await;
    assert_eq!(status, 400);

    // Refusing needs no code.
    assert_eq!(
        post(&first, &path(&link, "/confirm"), json!({ "allow": false }))
            .await
            .status(),
        200
    );
    let (status, error) = error_code(post(&device, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
    assert_eq!(device.me().await.status(), 401);
    let (status, _) = error_code(post(&device, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!(status, 400);
    let sessions: Value = first.get_json("/api/sessions").await;
    let screens = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "desktop")
        .count();
    assert_eq!(screens, 1, "{sessions}");
}

/// Login CSRF: a victim's browser, signed in as alice, opens a link mallory made. It is never
/// switched to mallory: not by opening the page, not by the claim, not by the redeem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signed_in_as_someone_else_is_never_switched_by_a_link() {
    never_switched(Backend::Sqlite, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signed_in_as_someone_else_is_never_switched_by_a_link_on_redis() {
    never_switched(Backend::Redis, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_confirmation_a_signed_in_browser_is_still_never_switched() {
    never_switched(Backend::Sqlite, &[("LINK_CONFIRMATION", "none")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_confirmation_a_signed_in_browser_is_still_never_switched_on_redis() {
    never_switched(Backend::Redis, &[("LINK_CONFIRMATION", "none")]).await;
}

async fn never_switched(backend: Backend, extra: &[(&str, &str)]) {
    let Some(cluster) = TestCluster::start(backend, 1, extra).await else {
        return;
    };
    let confirmation = extra.is_empty();
    let mallory = signed_in_as(&cluster, "mallory@example.com").await;
    let link = make_link(&mallory).await;
    let victim = signed_in_as(&cluster, "alice@example.com").await;

    let (status, page) = open_page(&victim, &link).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "This browser is signed in as alice@example.com. Sign out here first to sign in as mallory@example.com."
        ),
        "{page}"
    );
    assert!(!page.contains(r#"id="claim""#), "no button: {page}");
    let refused = post(&victim, &path(&link, "/claim"), json!({})).await;
    let (status, error) = error_code(refused).await;
    assert_eq!((status, error.as_str()), (409, "conflict"));
    let me: Value = victim.me().await.json().await.unwrap();
    assert_eq!(me["user"]["id"], "mentra:alice@example.com");
    // Nothing was claimed: the link still waits for a device.
    let seen: Value = mallory.get_json(&path(&link, "")).await;
    assert_eq!(seen["state"], "waiting");

    if confirmation {
        // A browser that claimed while signed out, and was signed in as alice since, is not
        // switched by the redeem either.
        let browser = new_device(&cluster);
        let code = claim(&browser, &link).await;
        let phone = cluster.phone("alice@example.com").await;
        let created = approved(&browser, &phone).await;
        assert_eq!(browser.redeem(&created).await.status(), 200);
        assert_eq!(allow(&mallory, &link, &code).await.status(), 200);
        let (status, error) =
            error_code(post(&browser, &path(&link, "/redeem"), json!({})).await).await;
        assert_eq!((status, error.as_str()), (409, "conflict"));
        let me: Value = browser.me().await.json().await.unwrap();
        assert_eq!(me["user"]["id"], "mentra:alice@example.com");
    }
    let trail = cluster.audit_trail().await;
    assert!(
        trail.iter().any(|r| r.event.as_str() == "claim"
            && r.outcome == "conflict"
            && r.user.as_deref() == Some("mentra:mallory@example.com")),
        "{trail:?}"
    );
    let mallory_sessions: Value = mallory.get_json("/api/sessions").await;
    let desktops = mallory_sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "desktop")
        .count();
    assert_eq!(desktops, 1, "{mallory_sessions}");
}

/// First claimant wins: an onlooker opens the link before the owner's device. The owner types
/// the code their own device would show (it was never given one): the onlooker cannot be
/// allowed, and after three wrong codes the link is spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onlooker_who_opens_the_link_first_cannot_be_allowed() {
    onlooker_cannot_be_allowed(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onlooker_who_opens_the_link_first_cannot_be_allowed_on_redis() {
    onlooker_cannot_be_allowed(Backend::Redis).await;
}

async fn onlooker_cannot_be_allowed(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let owner = signed_in_screen(&cluster).await;
    let link = make_link(&owner).await;
    let onlooker = new_device(&cluster);
    let onlookers_code = claim(&onlooker, &link).await;

    // The owner's real device comes second: it is told, and gets no code.
    let real = new_device(&cluster);
    let response = post(&real, &path(&link, "/claim"), json!({})).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_qr_code");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Another device already opened"),
        "{body}"
    );
    assert!(body.get("code").is_none());

    // The owner is asked about the onlooker's device and types what is not its code.
    let seen: Value = owner.get_json(&path(&link, "")).await;
    assert_eq!(seen["state"], "claimed");
    let typed = other_than(&onlookers_code);
    let (status, error) =
        error_code(post(&owner, &path(&link, "/confirm"), json!({ "allow": true })).await).await;
    assert_eq!((status, error.as_str()), (409, "pin_required"));
    for expected in [(403, "wrong_pin"), (403, "wrong_pin"), (423, "locked")] {
        let (status, error) = error_code(allow(&owner, &link, typed).await).await;
        assert_eq!((status, error.as_str()), expected);
        assert_ne!(
            post(&onlooker, &path(&link, "/redeem"), json!({}))
                .await
                .status(),
            200
        );
    }
    // Spent: even the onlooker's own code does not allow it now.
    let (status, error) = error_code(allow(&owner, &link, &onlookers_code).await).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(onlooker.me().await.status(), 401);
    let sessions: Value = owner.get_json("/api/sessions").await;
    let desktops = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "desktop")
        .count();
    assert_eq!(desktops, 1, "{sessions}");

    let trail = cluster.audit_trail().await;
    let approvals: Vec<&str> = trail
        .iter()
        .filter(|r| r.event.as_str() == "approve" && r.detail.as_deref() == Some("device link"))
        .map(|r| r.outcome.as_str())
        .collect();
    assert_eq!(
        approvals,
        [
            "pin_required",
            "wrong_pin",
            "wrong_pin",
            "locked",
            "invalid_qr_code"
        ]
    );
    assert!(
        !trail
            .iter()
            .any(|r| r.event.as_str() == "redeem" && r.outcome == "ok" && r.detail.is_some()),
        "{trail:?}"
    );
}

/// `LINK_CONFIRMATION=none`: the signed-in screen is not asked, but the new device still
/// signs in only when it asks (the click), never by opening the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_confirmation_the_device_is_signed_in_when_it_asks() {
    without_confirmation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_confirmation_the_device_is_signed_in_when_it_asks_on_redis() {
    without_confirmation(Backend::Redis).await;
}

async fn without_confirmation(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[("LINK_CONFIRMATION", "none")]).await
    else {
        return;
    };
    let first = signed_in_screen(&cluster).await;
    let link = make_link(&first).await;
    assert_eq!(link["confirmation"], false);
    let device = new_device(&cluster);
    let (status, page) = open_page(&device, &link).await;
    assert_eq!(status, 200);
    assert!(page.contains("Sign in as alice@example.com?"), "{page}");
    assert_eq!(device.me().await.status(), 401);
    let seen: Value = first.get_json(&path(&link, "")).await;
    assert_eq!(seen["state"], "waiting");

    let claimed = post(&device, &path(&link, "/claim"), json!({})).await;
    assert_eq!(claimed.status(), 200);
    let me: Value = device.me().await.json().await.unwrap();
    assert_eq!(me["user"]["id"], "mentra:alice@example.com");
    let (status, _) =
        error_code(post(&new_device(&cluster), &path(&link, "/claim"), json!({})).await).await;
    assert_eq!(status, 400);
}

/// Two devices click at the same moment: exactly one claims the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_claiming_at_once_exactly_one_wins() {
    claiming_at_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_claiming_at_once_exactly_one_wins_on_redis() {
    claiming_at_once(Backend::Redis).await;
}

async fn claiming_at_once(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let first = signed_in_screen(&cluster).await;
    for _ in 0..5 {
        let link = make_link(&first).await;
        let devices: Vec<Screen> = (0..2).map(|_| new_device(&cluster)).collect();
        let claim_path = path(&link, "/claim");
        let (a, b) = tokio::join!(
            post(&devices[0], &claim_path, json!({})),
            post(&devices[1], &claim_path, json!({}))
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [202, 400]);
        // The winner's code is the one the owner can allow, and only the winner collects.
        let (winner, loser, body) = if a.status() == 202 {
            (&devices[0], &devices[1], a.json::<Value>().await.unwrap())
        } else {
            (&devices[1], &devices[0], b.json::<Value>().await.unwrap())
        };
        let code = body["code"].as_str().unwrap();
        assert_eq!(allow(&first, &link, code).await.status(), 200);
        assert_eq!(
            post(loser, &path(&link, "/redeem"), json!({}))
                .await
                .status(),
            400
        );
        assert_eq!(
            post(winner, &path(&link, "/redeem"), json!({}))
                .await
                .status(),
            200
        );
        assert_eq!(post(winner, "/api/logout", json!({})).await.status(), 204);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_ends_with_the_screen_that_made_it_and_only_that_screen_answers() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    // Another screen of the same user may not answer for this one's link.
    let first = signed_in_screen(&cluster).await;
    let second = signed_in_screen(&cluster).await;
    let link = make_link(&first).await;
    let device = new_device(&cluster);
    let code = claim(&device, &link).await;
    let (status, _) = error_code(allow(&second, &link, &code).await).await;
    assert_eq!(status, 400);

    // The screen that made it signs out: the link is dead, allowed or not.
    assert_eq!(post(&first, "/api/logout", json!({})).await.status(), 204);
    let (status, error) = error_code(post(&device, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_qr_code"));
    let unclaimed = make_link(&second).await;
    assert_eq!(
        post(&second, "/api/logout", json!({ "everywhere": true }))
            .await
            .status(),
        204
    );
    let (status, _) = error_code(
        post(
            &new_device(&cluster),
            &path(&unclaimed, "/claim"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_alone_cannot_make_links() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = approved(&screen, &phone).await;
    let redeemed: Value = screen.redeem(&created).await.json().await.unwrap();
    let with_token = client()
        .post(format!("{}/api/device-links", cluster.desktops[0]))
        .bearer_auth(redeemed["access_token"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (status, code) = error_code(with_token).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
}

/// Nothing polls a link: the dashboard hears that a device opened it, and the device hears
/// it was allowed, the moment each happens, on another instance than the one it happened on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_of_a_link_hear_each_step_at_once_across_instances() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let token = signed_in(&screen, &phone).await;
    let elsewhere = &cluster.desktops[1];
    let mut dashboard = sign_in_notices(elsewhere, &token, None).await.unwrap();
    let link = make_link(&screen).await;
    let device = screen_on(elsewhere);
    let (code, cookie) = claim_keeping_cookie(&device, &link).await;
    assert_eq!(
        dashboard.next_state().await.unwrap(),
        json!({ "type": "link_changed", "link_id": link["id"] })
    );

    let mut waiting = socket(elsewhere, &path(&link, "/events"), &[("cookie", &cookie)])
        .await
        .unwrap();
    let first = waiting.next_state().await.unwrap();
    assert_eq!(
        (&first["type"], &first["state"]),
        (&json!("link"), &json!("claimed"))
    );
    assert_eq!(first["code"], code.as_str(), "shown again to its device");
    assert_eq!(allow(&screen, &link, &code).await.status(), 200);
    let allowed = waiting.next_state().await.unwrap();
    assert_eq!(allowed["state"], "allowed");
    assert_eq!(
        waiting.close_code().await,
        Some(1000),
        "nothing more to hear"
    );
    let redeemed = post(&device, &path(&link, "/redeem"), json!({})).await;
    assert_eq!(redeemed.status(), 200);
}

/// Only the device that opened the link may listen to it, and it is told at once when the
/// link is gone: here, the screen that made it signed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_socket_is_the_claimants_alone_and_says_when_the_link_is_gone() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let screen = signed_in_screen(&cluster).await;
    let link = make_link(&screen).await;
    let base = &cluster.desktops[0];
    let events = path(&link, "/events");
    let refused = |opened: Result<crate::helpers::Events, u16>| opened.err();
    assert_eq!(
        refused(socket(base, &events, &[]).await),
        Some(400),
        "unclaimed"
    );
    let (_, cookie) = claim_keeping_cookie(&new_device(&cluster), &link).await;
    assert_eq!(
        refused(socket(base, &events, &[]).await),
        Some(400),
        "no claim"
    );
    let (name, _) = cookie.split_once('=').unwrap();
    let forged = format!("{name}=forged.123456");
    let forged = [("cookie", forged.as_str())];
    assert_eq!(refused(socket(base, &events, &forged).await), Some(400));
    let foreign = [
        ("cookie", cookie.as_str()),
        ("origin", "https://evil.example"),
    ];
    assert_eq!(refused(socket(base, &events, &foreign).await), Some(403));

    let mut waiting = socket(base, &events, &[("cookie", &cookie)]).await.unwrap();
    assert_eq!(waiting.next_state().await.unwrap()["state"], "claimed");
    assert_eq!(post(&screen, "/api/logout", json!({})).await.status(), 204);
    let gone = waiting.next_state().await.unwrap();
    assert_eq!(
        (&gone["type"], &gone["error"]),
        (&json!("gone"), &json!("invalid_qr_code"))
    );
    assert_eq!(waiting.close_code().await, Some(1000));
}
