//! The defects found in the systems qrlogin replaces (shared/research/seed-repos.md), each
//! pinned by a test so it cannot come back.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestCluster, approved, captured_logs, client, error_code};

/// Mentra-Live/ChatGlasses: a scan 5 s after the QR expired still signed the browser in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qr_scanned_after_it_expired_signs_nobody_in() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let phone = cluster.phone("alice@example.com").await;
    cluster.clock.advance(std::time::Duration::from_secs(65));
    assert_eq!(error_code(phone.scan_id(&created.id).await).await.0, 410);
    assert_eq!(error_code(screen.redeem(&created).await).await.0, 410);
}

/// Mentra-Live: the same token (same jti) could be replayed; MIS: a logged-out token stayed valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_redeem_or_a_logged_out_token_is_refused() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = approved(&screen, &phone).await;
    let first: Value = screen.redeem(&created).await.json().await.unwrap();
    assert_eq!(
        error_code(screen.on(&cluster.desktops[1]).redeem(&created).await).await,
        (409, "conflict".into())
    );
    let token = first["access_token"].as_str().unwrap();
    let logout = client()
        .post(format!("{}/api/logout", cluster.desktops[1]))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let replay = client()
        .get(format!("{}/api/me", cluster.desktops[0]))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert_eq!(
        screen.me().await.status(),
        401,
        "the session went with the token"
    );
}

/// Mentra-Live: a second scan by another user re-bound the browser ("last scan wins").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_qr_is_claimed_by_one_user_only() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let alice = cluster.phone("alice@example.com").await;
    let mallory = cluster.phone("mallory@example.com").await;
    assert_eq!(alice.scan_id(&created.id).await.status(), 200);
    assert_eq!(
        error_code(mallory.scan_id(&created.id).await).await,
        (409, "conflict".into())
    );
    assert_eq!(
        error_code(mallory.decide(&created.id, "approve").await).await,
        (403, "forbidden".into())
    );
    assert_eq!(alice.decide(&created.id, "approve").await.status(), 200);
    assert_eq!(screen.redeem(&created).await.status(), 200);
    let me: Value = screen.me().await.json().await.unwrap();
    assert_eq!(me["user"]["id"], "mentra:alice@example.com");
}

/// Mentra-Live: whoever called the scan endpoint got a signed-in session themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_and_approving_does_not_sign_the_phone_in_on_the_desktop() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = screen.create().await;
    let scan = phone.scan_id(&created.id).await;
    assert!(
        scan.headers().get("set-cookie").is_none(),
        "the scan sets no cookie"
    );
    phone.decide(&created.id, "approve").await;
    let phone_on_desktop = phone
        .client
        .get(format!("{}/api/me", cluster.desktops[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(phone_on_desktop.status(), 401);
    let phone_redeems = phone
        .client
        .post(format!(
            "{}/api/login-requests/{}/redeem",
            cluster.desktops[0], created.id
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        phone_redeems.status(),
        401,
        "without the desktop secret nobody redeems"
    );
}

/// QRGate: one global pending slot; any new request cancelled everyone else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_request_cancels_nobody_elses() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let first_screen = cluster.screen(0);
    let first = first_screen.create().await;
    for _ in 0..5 {
        cluster.screen(0).create().await;
    }
    assert_eq!(first_screen.poll(&first).await["state"], "pending");
    let phone = cluster.phone("alice@example.com").await;
    phone.scan_id(&first.id).await;
    assert_eq!(phone.decide(&first.id, "approve").await.status(), 200);
    assert_eq!(first_screen.redeem(&first).await.status(), 200);
}

/// QRGate: a login completed before the kiosk subscribed was lost (pub/sub is fire-and-forget).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_completed_before_the_screen_subscribed_is_not_lost() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = approved(&screen, &phone).await;
    let mut late = screen.on(&cluster.desktops[1]).events(&created).await;
    assert_eq!(late.next_state().await.unwrap()["state"], "approved");
    assert_eq!(
        screen
            .on(&cluster.desktops[1])
            .redeem(&created)
            .await
            .status(),
        200
    );
}

/// ChatGlasses logged the temp token in full; MIS logged auth keys; QRGate put passwords in URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_secret_is_left_in_a_url_or_a_log_line() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let temp_token = cluster.cloud.issue_temp_token("alice@example.com");
    let phone = cluster.signed_out_phone();
    let webview = phone
        .client
        .get(format!(
            "{}/webview?aos_temp_token={temp_token}",
            cluster.mobile
        ))
        .send()
        .await
        .unwrap();
    let location = webview.headers()["location"].to_str().unwrap().to_owned();
    let mobile_cookie = cookie_value(&webview, "qrlogin_mobile");
    let created = approved(&screen, &phone).await;
    let redeemed = screen.redeem(&created).await;
    let desktop_cookie = cookie_value(&redeemed, "qrlogin_desktop");
    let access_token = redeemed.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    screen.me().await;

    assert!(
        !location.contains(&temp_token),
        "the webview redirect drops the token"
    );
    assert!(
        !created.qr_url.contains(&created.secret),
        "the QR names the request, not its secret"
    );
    let logs = captured_logs();
    assert!(logs.contains(&created.id), "the flow was logged at all");
    for (what, secret) in [
        ("temp token", &temp_token),
        ("desktop secret", &created.secret),
        ("access token", &access_token),
        ("desktop session", &desktop_cookie),
        ("mobile session", &mobile_cookie),
    ] {
        assert!(!logs.contains(secret.as_str()), "the {what} is in the log");
    }
}

fn cookie_value(response: &reqwest::Response, name: &str) -> String {
    response
        .cookies()
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}
