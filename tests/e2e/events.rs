//! The screen's WebSocket: current state first, then every change, from any instance.

use crate::helpers::{Backend, Created, Screen, TestCluster, approved, error_code};

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

/// A handshake sent with a chunked body is not one the server can take over as a socket: it
/// is refused with a clear 400, not answered with a 101 that no socket follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_with_a_body_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let created = cluster.screen(0).create().await;
    let desktop = url::Url::parse(&cluster.desktops[0]).unwrap();
    let address = format!("127.0.0.1:{}", desktop.port().unwrap());
    let mut connection = tokio::net::TcpStream::connect(address).await.unwrap();
    let handshake = format!(
        "GET /api/login-requests/{}/events HTTP/1.1\r\nhost: localhost\r\n\
         connection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-desktop-secret: {}\r\n\
         transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        created.id, created.secret
    );
    connection.write_all(handshake.as_bytes()).await.unwrap();
    // Read until the error's code has come, or the connection ends.
    let mut answer = String::new();
    while !answer.contains("\"invalid_request\"") {
        let mut piece = vec![0; 4096];
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            connection.read(&mut piece),
        )
        .await
        .expect("an answer within 10 s")
        .unwrap();
        if read == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&piece[..read]));
    }
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"invalid_request\""), "{answer}");
}

/// One instance on the embedded store, and a page waiting on its socket (pending heard).
async fn a_waiting_page() -> Option<(TestCluster, Created, crate::helpers::Events)> {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await?;
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let mut events = screen.events(&created).await;
    assert_eq!(events.next_state().await.unwrap()["state"], "pending");
    Some((cluster, created, events))
}

/// At its deadline a waiting screen is told its code expired, and the socket closes normally,
/// with nothing else happening: the socket's own timer is what notices. (The timer runs on
/// real time, a second here; the deadline is judged on the cluster's clock, moved past it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_screen_hears_its_code_expire_and_the_socket_closes() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[("QR_TTL", "1s")]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let mut events = screen.events(&created).await;
    assert_eq!(events.next_state().await.unwrap()["state"], "pending");
    cluster.clock.advance(std::time::Duration::from_secs(2));
    assert_eq!(events.next_state().await.unwrap()["state"], "expired");
    assert_eq!(events.close_code().await, Some(1000));
}

/// Whatever a client sends on the socket (arbitrary text, binary, huge or empty frames), the
/// server ignores it and goes on reporting the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_client_messages_do_not_disturb_the_socket() {
    use futures_util::SinkExt;
    use proptest::strategy::{Strategy, ValueTree};
    use tokio_tungstenite::tungstenite::Message;

    let Some((cluster, created, mut events)) = a_waiting_page().await else {
        return;
    };

    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let texts = proptest::collection::vec("\\PC{0,200}", 64);
    let binaries = proptest::collection::vec(proptest::collection::vec(0u8..=255, 0..512), 16);
    let texts = texts.new_tree(&mut runner).unwrap().current();
    let binaries = binaries.new_tree(&mut runner).unwrap().current();
    for text in texts {
        events.0.send(Message::Text(text.into())).await.unwrap();
    }
    for bytes in binaries {
        events.0.send(Message::Binary(bytes.into())).await.unwrap();
    }
    events
        .0
        .send(Message::Text("x".repeat(60_000).into()))
        .await
        .unwrap();

    let phone = cluster.phone("alice@example.com").await;
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    assert_eq!(events.next_state().await.unwrap()["state"], "claimed");
}

/// A frame larger than the server takes (64 KiB) ends the socket with 1009 ("too big"):
/// the server holds a frame's bytes only while it arrives, and will not hold more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_too_large_ends_the_socket_with_1009() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let Some((_cluster, _created, mut events)) = a_waiting_page().await else {
        return;
    };
    events
        .0
        .send(Message::Binary(vec![0u8; 64 * 1024 + 1].into()))
        .await
        .unwrap();
    assert_eq!(events.close_code().await, Some(1009));
}

/// A client that closes its socket hears the server's Close in reply, so both ends let go of
/// the connection at once (a Close left unanswered kept it open on both ends until a timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_from_the_client_is_answered() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let Some((_cluster, _created, mut events)) = a_waiting_page().await else {
        return;
    };
    let leaving = CloseFrame {
        code: CloseCode::Away,
        reason: "".into(),
    };
    events.0.send(Message::Close(Some(leaving))).await.unwrap();
    let reply = events.0.next().await;
    match reply {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("the server did not answer the Close: {other:?}"),
    }
}

/// Opens a screen's socket through `forwarded_for` (a trusted proxy's report), or says which
/// HTTP status refused it before the upgrade.
async fn open_socket(
    screen: &Screen,
    created: &Created,
    forwarded_for: &str,
) -> Result<crate::helpers::Events, u16> {
    let path = format!("/api/login-requests/{}/events", created.id);
    let headers = [
        ("x-desktop-secret", created.secret.as_str()),
        ("x-forwarded-for", forwarded_for),
    ];
    crate::helpers::socket(&screen.base, &path, &headers).await
}

/// A flood of sockets on one request, or from one network (an IPv6 /64 counts as one), is
/// refused with 429 before the upgrade, and counted; other requests and networks still get
/// theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_past_their_caps_are_refused_before_the_upgrade() {
    let vars = [("TRUST_PROXY", "127.0.0.1"), ("WEBSOCKETS_PER_IP", "4")];
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &vars).await else {
        return;
    };
    let screen = cluster.screen(0);
    let flooded = screen.create().await;
    // Held open, as a flooding client holds them.
    let mut held = Vec::new();
    held.push(
        open_socket(&screen, &flooded, "2001:db8:1:1::1")
            .await
            .unwrap(),
    );
    held.push(
        open_socket(&screen, &flooded, "2001:db8:1:1::2")
            .await
            .expect("a reload"),
    );
    assert_eq!(
        open_socket(&screen, &flooded, "198.51.100.9").await.err(),
        Some(429),
        "a third socket on one request, from anywhere"
    );
    for _ in 0..2 {
        let other = screen.create().await;
        held.push(
            open_socket(&screen, &other, "2001:db8:1:1::3")
                .await
                .unwrap(),
        );
    }
    let fifth = screen.create().await;
    assert_eq!(
        open_socket(&screen, &fifth, "2001:db8:1:1:ffff::9")
            .await
            .err(),
        Some(429),
        "a fifth socket from one /64"
    );
    held.push(
        open_socket(&screen, &fifth, "2001:db8:1:2::1")
            .await
            .expect("another network is served"),
    );
    let metrics = crate::metrics::scrape(&cluster.metrics).await;
    assert_eq!(held.len(), 5);
    for reason in ["per_request", "per_ip"] {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("qrlogin_websockets_refused_total")
                    && line.contains(&format!("reason=\"{reason}\""))),
            "refusals counted by cap: {reason}"
        );
    }
}

/// The phone's socket on its request (`GET /api/login-requests/{id}/events` on the mobile
/// service) is its claimant's alone: not for another account, not signed out, not from
/// another site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claimants_socket_is_for_the_claimant_alone() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let created = cluster.screen(0).create().await;
    let alice = cluster.phone("alice@example.com").await;
    assert_eq!(alice.scan_id(&created.id).await.status(), 200);
    let url = format!(
        "{}/api/login-requests/{}/events",
        cluster.mobile, created.id
    );
    let upgrade = |request: reqwest::RequestBuilder| {
        request
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
    };
    let bob = cluster.phone("bob@example.com").await;
    let stranger = upgrade(bob.client.get(&url)).await.unwrap();
    assert_eq!(error_code(stranger).await, (404, "not_found".into()));
    let signed_out = upgrade(crate::helpers::client().get(&url)).await.unwrap();
    assert_eq!(error_code(signed_out).await.0, 401);
    let foreign = upgrade(
        alice
            .client
            .get(&url)
            .header("origin", "https://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(error_code(foreign).await, (403, "forbidden".into()));
    let own = upgrade(alice.client.get(&url)).await.unwrap();
    assert_eq!(
        own.status().as_u16(),
        101,
        "the claimant's own socket opens"
    );
}

/// A phone signed out while its socket follows a request stops hearing of it at once (1008):
/// what it claimed is no longer its business.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claimants_socket_closes_when_its_session_ends() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let created = cluster.screen(0).create().await;
    let plain = crate::helpers::client();
    let login = plain
        .post(format!("{}/api/local/login", cluster.mobile))
        .json(&serde_json::json!({ "username": "erin", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let scanned = plain
        .post(format!("{}/api/scan", cluster.mobile))
        .header("cookie", &cookie)
        .json(&serde_json::json!({ "id": created.id }))
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.status(), 200);

    let url = format!(
        "{}/api/login-requests/{}/events",
        cluster.mobile, created.id
    );
    let mut request = url
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut events = crate::helpers::Events(socket);
    assert_eq!(events.next_state().await.unwrap()["state"], "claimed");

    let signed_out = plain
        .post(format!("{}/api/logout", cluster.mobile))
        .header("cookie", &cookie)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    let closed = tokio::time::timeout(std::time::Duration::from_secs(3), events.close_code())
        .await
        .expect("the socket closed within 3 s of the sign-out");
    assert_eq!(closed, Some(1008));
}
