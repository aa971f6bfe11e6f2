//! The screen's WebSocket: current state first, then every change, from any instance.

use crate::helpers::{Backend, TestCluster, approved, error_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_made_before_the_socket_connects_is_its_first_message_on_another_instance() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = approved(&screen, &phone).await;
    let mut events = screen.on(&cluster.desktops[1]).events(&created).await;
    let first = events.next_state().await.unwrap();
    assert_eq!(
        (first["type"].as_str(), first["state"].as_str()),
        (Some("state"), Some("approved"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_without_the_desktop_secret_or_from_another_site_is_refused() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let created = cluster.screen(0).create().await;
    let url = format!(
        "{}/api/login-requests/{}/events",
        cluster.desktops[0], created.id
    );
    let upgrade = |request: reqwest::RequestBuilder| {
        request
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
    };
    let client = crate::helpers::client();
    let missing = upgrade(client.get(&url)).await.unwrap();
    assert_eq!(error_code(missing).await, (401, "unauthenticated".into()));
    let wrong = upgrade(
        client
            .get(&url)
            .header("x-desktop-secret", "not-the-secret"),
    )
    .await
    .unwrap();
    assert_eq!(error_code(wrong).await, (403, "forbidden".into()));
    let foreign = upgrade(
        client
            .get(&url)
            .header("x-desktop-secret", &created.secret)
            .header("origin", "https://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(error_code(foreign).await, (403, "forbidden".into()));
}
