//! Redis going away and coming back: requests answer 503 `unavailable` quickly while it is
//! gone, `/readyz` says so, and everything recovers by itself when it returns: no restart,
//! and a page that was waiting gets its result.

use std::time::{Duration, Instant};

use crate::helpers::{Backend, TestCluster, captured_logs, client, error_code};

/// The longest a request may take to say the store is unreachable.
const FAIL_FAST: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_fails_fast_and_heals_without_a_restart() {
    let Some(mut cluster) = TestCluster::start(Backend::OwnRedis, 2, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = screen.create().await;
    // The page waits on the other instance.
    let mut events = screen.on(&cluster.desktops[1]).events(&created).await;
    assert_eq!(events.next_state().await.unwrap()["state"], "pending");
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    assert_eq!(events.next_state().await.unwrap()["state"], "claimed");

    cluster.own_redis.as_mut().unwrap().stop();
    let started = Instant::now();
    let during = client()
        .post(format!("{}/api/login-requests", cluster.desktops[0]))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(during).await, (503, "unavailable".into()));
    assert!(
        started.elapsed() < FAIL_FAST,
        "took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let ready = client()
        .get(format!("{}/readyz", cluster.desktops[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < FAIL_FAST,
        "took {:?}",
        started.elapsed()
    );

    cluster.own_redis.as_mut().unwrap().start_again();
    // Like a client after a 503 (the pages do this): try again until the store answers. Each
    // instance notices the outage ended on its next command, so a first try may still fail.
    async fn until_ok(attempt: impl AsyncFn() -> reqwest::Response) {
        let succeeded = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                let status = attempt().await.status().as_u16();
                match status {
                    200 => break,
                    503 => tokio::time::sleep(Duration::from_millis(100)).await,
                    other => panic!("after the outage: {other}"),
                }
            }
        })
        .await;
        assert!(succeeded.is_ok(), "it went through once Redis was back");
    }
    until_ok(async || phone.decide(&created.id, "approve").await).await;
    let mut state = events.next_state().await.expect("the waiting page hears");
    while state["state"] == "claimed" {
        state = events.next_state().await.expect("the waiting page hears");
    }
    assert_eq!(
        state["state"], "approved",
        "the waiting page got its result"
    );
    until_ok(async || screen.redeem(&created).await).await;
    assert_eq!(screen.me().await.status(), 200);
    let ready = client()
        .get(format!("{}/readyz", cluster.desktops[1]))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

/// Orchestrators probe every few seconds: a passing probe is not an INFO line (the log shows
/// what people did), a failing one is a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probes_are_quiet_until_one_fails() {
    let Some(mut cluster) = TestCluster::start(Backend::OwnRedis, 1, &[]).await else {
        return;
    };
    let desktop = &cluster.desktops[0];
    for path in ["/healthz", "/readyz"] {
        let response = client()
            .get(format!("{desktop}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    cluster.screen(0).create().await;
    cluster.own_redis.as_mut().unwrap().stop();
    let failed = client()
        .get(format!("{desktop}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 503);

    let lines: Vec<serde_json::Value> = captured_logs()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let path_of = |line: &serde_json::Value| {
        line["span"]["http.path"]
            .as_str()
            .or(line["fields"]["http.path"].as_str())
            .map(str::to_owned)
    };
    let probe_lines: Vec<_> = lines
        .iter()
        .filter(|line| matches!(path_of(line).as_deref(), Some("/healthz" | "/readyz")))
        .collect();
    assert!(!probe_lines.is_empty(), "the probes are logged at DEBUG");
    for line in &probe_lines {
        assert_ne!(line["level"], "INFO", "a probe logged at INFO: {line}");
    }
    assert!(
        probe_lines.iter().any(|line| line["level"] == "WARN"
            && line["fields"]["message"] == "probe failed"
            && path_of(line).as_deref() == Some("/readyz")),
        "the failed probe is a warning"
    );
    let other_requests = lines
        .iter()
        .filter(|line| line["level"] == "INFO" && line["span"]["name"] == "request")
        .count();
    assert!(other_requests > 0, "other requests are still INFO lines");
}
