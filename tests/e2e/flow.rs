//! The main flow, as a person goes through it, across instances.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestCluster, approved, error_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_is_signed_in_across_two_desktop_instances_and_one_mobile() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    // Arrange: the page is served and listens on desktop A.
    let screen_a = cluster.screen(0);
    let created = screen_a.create().await;
    let mut events = screen_a.events(&created).await;
    assert_eq!(events.next_state().await.unwrap()["state"], "pending");

    // Act: the phone scans and approves; the screen redeems on desktop B.
    let phone = cluster.phone("alice@example.com").await;
    let confirmation: Value = phone
        .scan(json!({ "qr_text": created.qr_url }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(confirmation["user_code"], created.user_code.as_str());
    assert_eq!(events.next_state().await.unwrap()["state"], "claimed");
    assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
    assert_eq!(events.next_state().await.unwrap()["state"], "approved");
    let redeemed = screen_a.on(&cluster.desktops[1]).redeem(&created).await;
    assert_eq!(redeemed.status(), 200);
    assert_eq!(events.next_state().await.unwrap()["state"], "redeemed");
    assert!(
        events.next_state().await.is_none(),
        "the socket closes at a final state"
    );
    let redeemed: Value = redeemed.json().await.unwrap();

    // Assert: signed in on A, with the session cookie and with the access token.
    let me: Value = screen_a.me().await.json().await.unwrap();
    assert_eq!(me["user"]["id"], "mentra:alice@example.com");
    let token = redeemed["access_token"].as_str().unwrap();
    let with_bearer = crate::helpers::client()
        .get(format!("{}/api/me", cluster.desktops[0]))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_bearer.status(), 200);
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", cluster.desktops[0]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_works_on_the_embedded_store_with_a_typed_code() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let phone = cluster.phone("bob@example.com").await;
    let typed = created.user_code.to_lowercase().replace('-', " ");
    assert_eq!(
        phone.scan(json!({ "user_code": typed })).await.status(),
        200
    );
    assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
    assert_eq!(screen.redeem(&created).await.status(), 200);
    let me: Value = screen.me().await.json().await.unwrap();
    assert_eq!(me["user"]["name"], "bob@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_reaches_the_screen_and_nothing_can_be_redeemed() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let phone = cluster.phone("carol@example.com").await;
    phone.scan_id(&created.id).await;
    assert_eq!(phone.decide(&created.id, "deny").await.status(), 200);
    assert_eq!(screen.poll(&created).await["state"], "denied");
    assert_eq!(
        error_code(screen.redeem(&created).await).await,
        (409, "conflict".into())
    );
    assert_eq!(screen.me().await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_and_the_access_token_on_every_instance() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("dave@example.com").await;
    let created = approved(&screen, &phone).await;
    let redeemed: Value = screen.redeem(&created).await.json().await.unwrap();
    let token = redeemed["access_token"].as_str().unwrap().to_owned();
    let on_b = screen.on(&cluster.desktops[1]);
    let logout = on_b
        .client
        .post(format!("{}/api/logout", on_b.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_eq!(
        screen.me().await.status(),
        401,
        "the cookie's session is gone on A"
    );
    let bearer = crate::helpers::client()
        .get(format!("{}/api/me", cluster.desktops[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(bearer).await, (401, "unauthenticated".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_are_served_without_a_cdn_and_the_dashboard_needs_a_session() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let screen = cluster.screen(0);
    let page = screen
        .client
        .get(format!("{}/", screen.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/assets/desktop.js") && !html.contains("https://"),
        "no CDN"
    );
    for asset in ["desktop.js", "dashboard.js", "style.css"] {
        let response = reqwest::get(format!("{}/assets/{asset}", screen.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let dashboard = screen
        .client
        .get(format!("{}/dashboard", screen.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            dashboard.status().as_u16(),
            dashboard.headers()["location"].to_str().unwrap()
        ),
        (303, "/")
    );
    let phone_page = reqwest::get(format!("{}/scan", cluster.mobile))
        .await
        .unwrap();
    assert!(
        phone_page
            .text()
            .await
            .unwrap()
            .contains("Sign in to approve")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_accounts_sign_in_on_the_phone() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let phone = cluster.signed_out_phone();
    assert_eq!(
        error_code(phone.local_login("Erin", "wrong password").await).await,
        (401, "unauthenticated".into())
    );
    assert_eq!(
        phone
            .local_login("Erin", "correct horse battery")
            .await
            .status(),
        200
    );
    let screen = cluster.screen(0);
    let created = approved(&screen, &phone).await;
    assert_eq!(screen.redeem(&created).await.status(), 200);
    let me: Value = screen.me().await.json().await.unwrap();
    assert_eq!(me["user"], json!({ "id": "local:erin", "name": "Erin" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_qr_comes_as_svg_only_when_asked_for() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let create = |body: Value| {
        crate::helpers::client()
            .post(format!("{}/api/login-requests", cluster.desktops[0]))
            .json(&body)
            .send()
    };
    let plain: Value = create(json!({})).await.unwrap().json().await.unwrap();
    assert!(plain.get("qr_svg").is_none());
    let with_svg: Value = create(json!({ "qr_svg": true }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let svg = with_svg["qr_svg"].as_str().unwrap();
    assert!(
        svg.starts_with("<svg") && svg.ends_with("</svg>"),
        "{svg:.80}"
    );
}
