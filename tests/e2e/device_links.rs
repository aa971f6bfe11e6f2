//! Sign in on another device: a signed-in screen makes a single-use link, the new device
//! opens it, the signed-in screen allows it, and the new device gets a session of its own.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, Screen, TestCluster, approved, client, error_code};

/// A screen signed in as alice.
async fn signed_in_screen(cluster: &TestCluster) -> Screen {
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
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
    Screen {
        client: client(),
        base: cluster.desktops[0].clone(),
    }
}

fn path(link: &Value, step: &str) -> String {
    format!("/api/device-links/{}{step}", link["id"].as_str().unwrap())
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

    let device = new_device(&cluster);
    let claimed = post(&device, &path(&link, "/claim"), json!({})).await;
    assert_eq!(claimed.status(), 202);
    // Not signed in yet: only once the first screen allows it.
    assert_eq!(
        post(&device, &path(&link, "/redeem"), json!({}))
            .await
            .status(),
        409
    );
    assert_eq!(device.me().await.status(), 401);

    // The signed-in screen is asked, with what it needs to recognise the device.
    let seen: Value = first.get_json(&path(&link, "")).await;
    assert_eq!(seen["state"], "claimed");
    assert_eq!(seen["device_ip"], "127.0.0.1");
    assert!(seen["device"].is_string());
    let allowed = post(&first, &path(&link, "/confirm"), json!({ "allow": true })).await;
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

    // The new device signing out leaves the first signed in; "everywhere" ends both.
    assert_eq!(post(&device, "/api/logout", json!({})).await.status(), 204);
    assert_eq!(device.me().await.status(), 401);
    assert_eq!(first.me().await.status(), 200);
    let again = make_link(&first).await;
    let second = new_device(&cluster);
    assert_eq!(
        post(&second, &path(&again, "/claim"), json!({}))
            .await
            .status(),
        202
    );
    post(&first, &path(&again, "/confirm"), json!({ "allow": true })).await;
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
    assert_eq!(
        post(&device, &path(&link, "/claim"), json!({}))
            .await
            .status(),
        202
    );
    // A second device, or the same one again: the link is taken.
    let thief = new_device(&cluster);
    let (status, code) = error_code(post(&thief, &path(&link, "/claim"), json!({})).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_qr_code"));
    // The thief cannot collect it either, even once allowed.
    post(&first, &path(&link, "/confirm"), json!({ "allow": true })).await;
    let (status, _) = error_code(post(&thief, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        post(&device, &path(&link, "/redeem"), json!({}))
            .await
            .status(),
        200
    );
    // Used: gone for everyone.
    let (status, code) = error_code(post(&device, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_qr_code"));
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

    let stale = make_link(&first).await;
    cluster.clock.advance(Duration::from_secs(5 * 60 + 1));
    let (status, code) =
        error_code(post(&new_device(&cluster), &path(&stale, "/claim"), json!({})).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_qr_code"));
    let (status, code) = error_code(
        post(
            &new_device(&cluster),
            "/api/device-links/unknownlinkid/claim",
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "invalid_qr_code"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_device_gets_nothing_and_only_the_linking_user_decides() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let first = signed_in_screen(&cluster).await;
    let link = make_link(&first).await;
    let device = new_device(&cluster);
    assert_eq!(
        post(&device, &path(&link, "/claim"), json!({}))
            .await
            .status(),
        202
    );

    // Someone else, signed in as another user, cannot answer for alice.
    let other = cluster.screen(0);
    let other = Screen {
        client: client(),
        base: other.base,
    };
    let bob_phone = cluster.phone("bob@example.com").await;
    let bob = approved(&other, &bob_phone).await;
    assert_eq!(other.redeem(&bob).await.status(), 200);
    let (status, _) =
        error_code(post(&other, &path(&link, "/confirm"), json!({ "allow": true })).await).await;
    assert_eq!(status, 400);

    assert_eq!(
        post(&first, &path(&link, "/confirm"), json!({ "allow": false }))
            .await
            .status(),
        200
    );
    let (status, code) = error_code(post(&device, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_confirmation_the_device_is_signed_in_when_it_opens_the_link() {
    let Some(cluster) =
        TestCluster::start(Backend::Sqlite, 1, &[("LINK_CONFIRMATION", "none")]).await
    else {
        return;
    };
    let first = signed_in_screen(&cluster).await;
    let link = make_link(&first).await;
    assert_eq!(link["confirmation"], false);
    let device = new_device(&cluster);
    assert_eq!(
        post(&device, &path(&link, "/claim"), json!({}))
            .await
            .status(),
        200
    );
    let me: Value = device.me().await.json().await.unwrap();
    assert_eq!(me["user"]["id"], "mentra:alice@example.com");
    let (status, _) =
        error_code(post(&new_device(&cluster), &path(&link, "/claim"), json!({})).await).await;
    assert_eq!(status, 400);
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
    assert_eq!(
        post(&device, &path(&link, "/claim"), json!({}))
            .await
            .status(),
        202
    );
    let (status, _) =
        error_code(post(&second, &path(&link, "/confirm"), json!({ "allow": true })).await).await;
    assert_eq!(status, 400);

    // The screen that made it signs out: the link is dead, allowed or not.
    assert_eq!(post(&first, "/api/logout", json!({})).await.status(), 204);
    let (status, code) = error_code(post(&device, &path(&link, "/redeem"), json!({})).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_qr_code"));
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
