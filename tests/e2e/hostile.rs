//! Hostile input against every endpoint, from one table of cases: malformed and deeply nested
//! JSON, wrong types, unknown fields, invalid UTF-8, huge bodies, overlong and non-ASCII ids,
//! junk credentials. Always a 4xx in the one error shape; never a 500. Pages escape what they
//! show; idle and slow clients cannot hold a connection.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestCluster, client};

/// A client that is signed in on both services (a local account on the phone side, a
/// redeemed request on the desktop side), so every extractor before the body passes and the
/// body itself is what is judged. Returns it with the redeemed request's id.
async fn signed_in_everywhere(cluster: &TestCluster) -> (reqwest::Client, String) {
    cluster
        .add_local_account(
            "mallory",
            "<script>alert('owned')</script>",
            "correct horse battery",
        )
        .await;
    let c = client();
    let login = c
        .post(format!("{}/api/local/login", cluster.mobile))
        .json(&json!({ "username": "mallory", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let created: Value = c
        .post(format!("{}/api/login-requests", cluster.desktops[0]))
        .header("user-agent", "<img src=x onerror=alert(1)>")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    for (base, path) in [
        (&cluster.mobile, "/api/scan"),
        (
            &cluster.mobile,
            &*format!("/api/login-requests/{id}/approve"),
        ),
        (
            &cluster.desktops[0],
            &*format!("/api/login-requests/{id}/redeem"),
        ),
    ] {
        let body = if path == "/api/scan" {
            json!({ "id": id })
        } else {
            json!({})
        };
        let response = c
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    (c, id)
}

/// Every endpoint that takes a JSON body: (service base, path).
fn json_endpoints(cluster: &TestCluster, id: &str) -> Vec<(String, String)> {
    let (d, m) = (cluster.desktops[0].clone(), cluster.mobile.clone());
    vec![
        (d.clone(), "/api/login-requests".into()),
        (d.clone(), format!("/api/login-requests/{id}/pin")),
        (d.clone(), format!("/api/login-requests/{id}/redeem")),
        (d, "/api/logout".into()),
        (m.clone(), "/api/scan".into()),
        (m.clone(), format!("/api/login-requests/{id}/approve")),
        (m.clone(), format!("/api/login-requests/{id}/deny")),
        (m.clone(), "/api/local/login".into()),
        (m, "/api/logout".into()),
    ]
}

/// Hostile bodies: (what, content type, bytes, the status expected).
fn hostile_bodies() -> Vec<(&'static str, Option<&'static str>, Vec<u8>, u16)> {
    let json = Some("application/json");
    let nested = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    vec![
        ("malformed JSON", json, br#"{"pin": "#.to_vec(), 400),
        ("deeply nested JSON", json, nested.into_bytes(), 400),
        (
            "wrong types",
            json,
            br#"{"pin": 123456, "qr_svg": "yes", "everywhere": "no", "username": [], "password": {}, "id": 5}"#.to_vec(),
            400,
        ),
        ("an array", json, b"[]".to_vec(), 400),
        ("null", json, b"null".to_vec(), 400),
        ("a bare string", json, br#""hello""#.to_vec(), 400),
        ("unknown fields", json, br#"{"is_admin": true}"#.to_vec(), 400),
        ("invalid UTF-8", json, b"{\"pin\": \"\xff\xfe\xfd\"}".to_vec(), 400),
        ("an empty body", json, Vec::new(), 400),
        ("10 MB", json, vec![b' '; 10 * 1024 * 1024], 413),
        ("a form instead of JSON", Some("application/x-www-form-urlencoded"), b"pin=123456".to_vec(), 415),
        ("no content type", None, b"{}".to_vec(), 415),
    ]
}

async fn assert_error_shape(response: reqwest::Response, expected: u16, what: &str) {
    let status = response.status().as_u16();
    assert_eq!(status, expected, "{what}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].is_string() && body["message"].is_string() && body["request_id"].is_string(),
        "{what}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_against_every_json_endpoint_get_a_4xx_in_the_error_shape() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (c, id) = signed_in_everywhere(&cluster).await;
    for (base, path) in json_endpoints(&cluster, &id) {
        for (what, content_type, body, expected) in hostile_bodies() {
            let mut request = c.post(format!("{base}{path}")).body(body);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_error_shape(response, expected, &format!("{what} to {path}")).await;
        }
    }
    // Still signed in: none of that changed anything.
    let me = c
        .get(format!("{}/api/me", cluster.desktops[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ids_and_credentials_get_a_4xx_in_the_error_shape() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (c, _) = signed_in_everywhere(&cluster).await;
    let (d, m) = (&cluster.desktops[0], &cluster.mobile);
    let long = "a".repeat(10_000);
    let ids = [
        long.as_str(),
        "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9",
        "%00%00",
        "..%2F..%2Fetc%2Fpasswd",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "AAAAAAAAAAAAAAAAAAAAA%FF",
    ];
    for id in ids {
        let cases = [
            (Method::GET, format!("{d}/api/login-requests/{id}")),
            (Method::DELETE, format!("{d}/api/login-requests/{id}")),
            (Method::DELETE, format!("{d}/api/sessions/{id}")),
            (Method::GET, format!("{m}/api/login-requests/{id}")),
            (Method::POST, format!("{m}/api/login-requests/{id}/approve")),
            (Method::POST, format!("{m}/api/login-requests/{id}/deny")),
            (Method::POST, format!("{d}/api/login-requests/{id}/redeem")),
            (Method::POST, format!("{d}/api/login-requests/{id}/pin")),
            (Method::GET, format!("{d}/api/login-requests/{id}/events")),
        ];
        for (method, url) in cases {
            let response = c
                .request(method.clone(), &url)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!((400..500).contains(&status), "{method} {url}: {status}");
            assert_error_shape(response, status, &url).await;
        }
    }
    // Junk credentials on every authenticated read.
    let junk = [
        "Bearer",
        "Bearer ",
        "Bearer a.b.c",
        "Bearer ☃☃☃",
        "Basic YWRtaW46YWRtaW4=",
        &format!("Bearer {}", "x".repeat(8_000)),
    ];
    for authorization in junk {
        for path in ["/api/me", "/api/sessions", "/api/me/activity"] {
            let response = client()
                .get(format!("{d}{path}"))
                .header(
                    "authorization",
                    reqwest::header::HeaderValue::from_bytes(authorization.as_bytes()).unwrap(),
                )
                .header(
                    "cookie",
                    reqwest::header::HeaderValue::from_bytes(
                        b"qrlogin_desktop=%00\xff; qrlogin_desktop=\xfe\xfd",
                    )
                    .unwrap(),
                )
                .send()
                .await
                .unwrap();
            assert_error_shape(response, 401, &format!("{authorization:.20} on {path}")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_escape_names_and_user_agents_they_show() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (c, id) = signed_in_everywhere(&cluster).await;
    let pages = [
        format!("{}/dashboard", cluster.desktops[0]),
        format!("{}/scan", cluster.mobile),
        format!("{}/s/{id}", cluster.mobile),
        format!("{}/s/%3Cscript%3E", cluster.mobile),
    ];
    for page in pages {
        let response = c.get(&page).send().await.unwrap();
        assert!(response.status().as_u16() < 500, "{page}");
        let status = response.status();
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("<script>alert"),
            "{page} shows markup unescaped"
        );
        assert!(!html.contains("<img src=x"), "{page}");
        if page.ends_with("/dashboard") {
            // Before (or without) its script, the sign-in time reads as a time, not a number.
            let shown = html.split("id=\"since\"").nth(1).unwrap_or_default();
            let shown = shown.split('>').nth(1).unwrap_or_default();
            assert!(shown.starts_with("20") && shown.contains('T'), "{shown}");
        }
        if page.ends_with("/dashboard") || page.ends_with("/scan") {
            assert!(
                html.contains("&#60;script&#62;"),
                "{page} ({status}) shows the name, escaped:\n{html}"
            );
        }
    }
    // The phone's confirmation describes the screen in words, not with its raw user agent.
    let confirmation: Value = c
        .get(format!("{}/api/login-requests/{id}", cluster.mobile))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        confirmation["screen_device"], "an unknown browser",
        "{confirmation}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posted_from_another_site_is_refused() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (c, _) = signed_in_everywhere(&cluster).await;
    for (base, path) in [
        (&cluster.desktops[0], "/api/logout"),
        (&cluster.mobile, "/api/logout"),
        (&cluster.desktops[0], "/api/login-requests"),
    ] {
        let forged = c
            .post(format!("{base}{path}"))
            .header("origin", "https://evil.example")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("everywhere=true")
            .send()
            .await
            .unwrap();
        assert_error_shape(forged, 403, path).await;
    }
    let me = c
        .get(format!("{}/api/me", cluster.desktops[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the forged logout did nothing");
}

/// Reads from `stream` until the server closes it (or 5 s pass, which fails the test).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut received = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_too_slowly_lose_the_connection() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[("HEADER_TIMEOUT", "300ms")])
        .await
        .unwrap();
    let address = cluster.desktops[0].trim_start_matches("http://").to_owned();

    // Headers that never finish.
    let mut slow_head = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow_head
        .write_all(b"POST /api/login-requests HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut slow_head).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[("KEEP_ALIVE", "300ms")])
        .await
        .unwrap();
    let address = cluster.desktops[0].trim_start_matches("http://").to_owned();
    // A connection left idle after its request.
    let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_too_slowly_meets_the_request_deadline() {
    // The header timeout is long here, so it is the request deadline that answers.
    let timeouts = [("HEADER_TIMEOUT", "10s"), ("REQUEST_TIMEOUT", "300ms")];
    let cluster = TestCluster::start(Backend::Sqlite, 1, &timeouts)
        .await
        .unwrap();
    let address = cluster.desktops[0].trim_start_matches("http://").to_owned();

    // A body that never finishes: 408 in the error shape, then the connection closes.
    let mut slow_body = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow_body
        .write_all(
            b"POST /api/login-requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut slow_body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
}
