//! `GET /metrics`, in the Prometheus text format, on the process's own metrics address: what a
//! sign-in moves, and that the public service ports never answer it.

use crate::helpers::{Backend, TestCluster, approved, client};

/// The value of the sample `name{labels}` (labels in the exporter's order), or 0.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The metrics served at `endpoint` (scheme, host and port).
pub async fn scrape(endpoint: &str) -> String {
    let response = client()
        .get(format!("{endpoint}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_shows_in_the_metrics_of_both_services() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let desktop = &cluster.desktops[0];
    // The recorder is one per process and other tests run beside this one: compare before
    // and after, and only ever expect growth.
    let redeems = r#"qrlogin_http_requests_total{service="desktop",route="/api/login-requests/{id}/redeem",status="200"}"#;
    let approvals = r#"qrlogin_http_requests_total{service="mobile",route="/api/login-requests/{id}/approve",status="200"}"#;
    let redeemed_events = r#"qrlogin_events_total{event="redeem",outcome="ok"}"#;
    let notified = "qrlogin_approval_notify_seconds_count";
    let audit_stored = "qrlogin_audit_records_stored_total";
    let before = scrape(&cluster.metrics).await;

    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = screen.create().await;
    let mut events = screen.events(&created).await;
    assert_eq!(events.next_state().await.unwrap()["state"], "pending");
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
    while events.next_state().await.unwrap()["state"] != "approved" {}
    assert_eq!(screen.redeem(&created).await.status(), 200);
    let refused = approved(&screen, &phone).await;
    assert_eq!(
        client()
            .post(format!(
                "{desktop}/api/login-requests/{}/redeem",
                refused.id
            ))
            .header("x-desktop-secret", "wrong")
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    cluster.flush_audit().await;
    let after = scrape(&cluster.metrics).await;
    assert!(
        sample(&after, audit_stored) >= sample(&before, audit_stored) + 4.0,
        "the sign-in's four audit records are counted once stored:\n{after}"
    );
    for series in [redeems, redeemed_events, notified] {
        assert!(
            sample(&after, series) >= sample(&before, series) + 1.0,
            "{series} grew:\n{after}"
        );
    }
    assert!(after.contains(r#"route="/api/login-requests/{id}/redeem",status="403""#));
    assert!(after.contains("qrlogin_approval_notify_seconds_bucket{le=\"0.001\"}"));
    assert!(after.contains(r#"qrlogin_websockets_open{socket="login_request"}"#));
    assert!(sample(&after, approvals) >= 2.0, "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_ports_never_serve_metrics() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    for service in [&cluster.desktops[0], &cluster.mobile] {
        for path in ["/metrics", "/metrics/", "/metrics?format=text"] {
            let response = client()
                .get(format!("{service}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "{service}{path}");
            let body = response.text().await.unwrap();
            assert!(!body.contains("qrlogin_"), "{service}{path}: {body}");
        }
    }
    assert!(scrape(&cluster.metrics).await.contains("qrlogin_"));
}
