//! Every failure, ours or the framework's, answers in the one JSON shape with the request id.

use serde_json::Value;

use crate::helpers::{Backend, TestCluster, client};

async fn check(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status, "{code}");
    let header_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        body["request_id"].as_str(),
        Some(header_id.as_str()),
        "the body names the request the header names"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        3,
        "exactly error, message and request_id: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_errors_use_the_one_error_shape() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let http = client();
    let create = format!("{}/api/login-requests", cluster.desktops[0]);
    let unknown = http
        .get(format!("{}/no/such/page", cluster.desktops[0]))
        .send()
        .await
        .unwrap();
    assert!(
        unknown.headers().contains_key("content-security-policy"),
        "framework errors keep the security headers"
    );
    check(unknown, 404, "not_found").await;
    check(
        http.get(&create).send().await.unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    let json = |body: &str| {
        http.post(&create)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    check(json("{not json").await.unwrap(), 400, "invalid_request").await;
    check(
        json(r#"{"surprise": 1}"#).await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    check(
        json(&format!(r#"{{"pad": "{}"}}"#, "x".repeat(100_000)))
            .await
            .unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    check(
        http.post(&create)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let scan = format!("{}/api/scan", cluster.mobile);
    check(
        http.post(&scan)
            .json(&serde_json::json!({"id": "x"}))
            .send()
            .await
            .unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    let phone = cluster.phone("alice@example.com").await;
    check(
        phone
            .scan(serde_json::json!({"id": "x", "user_code": "y"}))
            .await,
        400,
        "invalid_request",
    )
    .await;
    check(
        phone
            .scan(serde_json::json!({"qr_text": "https://example.com/not-ours"}))
            .await,
        404,
        "not_found",
    )
    .await;
    check(
        phone
            .scan(serde_json::json!({"user_code": "BCDF-GHJK"}))
            .await,
        404,
        "not_found",
    )
    .await;
    check(
        phone.scan(serde_json::json!({"user_code": "AEIOU"})).await,
        400,
        "invalid_request",
    )
    .await;
    check(phone.decide("not-an-id", "approve").await, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_services_report_health_and_readiness() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    for base in [&cluster.desktops[0], &cluster.mobile] {
        for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
            let body: Value = reqwest::get(format!("{base}{path}"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(body["status"], status, "{base}{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_state_change_is_refused() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let forged = client()
        .post(format!("{}/api/login-requests", cluster.desktops[0]))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    check(forged, 403, "forbidden").await;
    let same_site = client()
        .post(format!("{}/api/login-requests", cluster.desktops[0]))
        .header("origin", cluster.desktops[0].as_str())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_cookies_are_host_prefixed_and_secure_and_hsts_is_sent() {
    let vars = [("DESKTOP_PUBLIC_URL", "https://qr.example")];
    let cluster = TestCluster::start(Backend::Sqlite, 1, &vars).await.unwrap();
    let created = client()
        .post(format!("{}/api/login-requests", cluster.desktops[0]))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        created.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let cookie = created.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-qrl_"), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing in {cookie}"
        );
    }
    let plain = client()
        .post(format!("{}/api/login-requests", cluster.desktops[0]))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    for header in [
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "content-security-policy",
    ] {
        assert!(plain.headers().contains_key(header), "{header}");
    }
    assert_eq!(plain.headers()["referrer-policy"], "no-referrer");
}
