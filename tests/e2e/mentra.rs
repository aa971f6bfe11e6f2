//! Signing in from the MentraOS webview against a fake cloud that follows platform.md: each
//! failure gives its documented answer, quickly.

use std::time::{Duration, Instant};

use qrlogin_testkit::mentra::{Behaviour, UserTokenSpec, other_signing_key};

use crate::helpers::{Backend, TestCluster, client};

/// Opens `/webview?{query}` like the MentraOS phone app; returns status, Location and body.
async fn open(cluster: &TestCluster, http: &reqwest::Client, query: &str) -> (u16, String, String) {
    let response = http
        .get(format!("{}/webview?{query}", cluster.mobile))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temp_token_signs_in_and_the_redirect_drops_it() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let http = client();
    let token = cluster.cloud.issue_temp_token("alice@example.com");
    let (status, location, _) = open(
        &cluster,
        &http,
        &format!("aos_temp_token={token}&cloudApiUrl=https://evil.example"),
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/scan"));
    let scan_page = http
        .get(format!("{}/scan", cluster.mobile))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scan_page.contains("alice@example.com"),
        "signed in as the exchanged user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_temp_token_fails_alone_but_continues_quietly_with_our_session() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let token = cluster.cloud.issue_temp_token("alice@example.com");
    let signed_in = client();
    assert_eq!(
        open(&cluster, &signed_in, &format!("aos_temp_token={token}"))
            .await
            .0,
        303
    );
    // A reload of the webview re-sends the used token.
    assert_eq!(
        open(&cluster, &signed_in, &format!("aos_temp_token={token}"))
            .await
            .0,
        303
    );
    let (status, _, body) = open(&cluster, &client(), &format!("aos_temp_token={token}")).await;
    assert_eq!(status, 401);
    assert!(body.contains("already used"), "{body}");
}

/// A refused MentraOS sign-in is explained in the phone's language, heading and reason alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_is_explained_in_the_readers_language() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let token = cluster.cloud.issue_temp_token("alice@example.com");
    cluster.cloud.age_temp_token(&token);
    let response = client()
        .get(format!("{}/webview?aos_temp_token={token}", cluster.mobile))
        .header("accept-language", "ko-KR,ko;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(page.contains("로그인하지 못했습니다"), "{page}");
    assert!(
        page.contains("MentraOS가 사용자를 확인하지 못했습니다"),
        "{page}"
    );
    assert!(!page.contains("expired"), "no English reason: {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_unknown_and_other_apps_temp_tokens_are_refused() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let expired = cluster.cloud.issue_temp_token("alice@example.com");
    cluster.cloud.age_temp_token(&expired);
    let other_app = cluster
        .cloud
        .issue_temp_token_for("alice@example.com", "com.other.app");
    for (token, says) in [
        (expired, "expired"),
        ("f".repeat(64), "not known"),
        (other_app, "different app"),
    ] {
        let reason = refused_because(&cluster, &format!("aos_temp_token={token}")).await;
        assert!(reason.contains(says), "{says}: {reason}");
    }
}

/// Opens the webview with `query`, expecting a refusal: the precise reason the log gives for
/// it (the page words it for people; the log keeps it for whoever runs the service), found by
/// the request id the answer carries.
async fn refused_because(cluster: &TestCluster, query: &str) -> String {
    let response = client()
        .get(format!("{}/webview?{query}", cluster.mobile))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    crate::helpers::captured_logs()
        .lines()
        .find(|line| line.contains(&request_id) && line.contains("MentraOS sign-in refused"))
        .unwrap_or_else(|| panic!("no refusal logged for {request_id}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_hanging_cloud_answers_quickly_with_a_gateway_error() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    cluster.cloud.behave(Behaviour::Failing);
    let token = cluster.cloud.issue_temp_token("alice@example.com");
    assert_eq!(
        open(&cluster, &client(), &format!("aos_temp_token={token}"))
            .await
            .0,
        502
    );
    cluster.cloud.behave(Behaviour::Hanging);
    let started = Instant::now();
    let (status, _, body) = open(&cluster, &client(), &format!("aos_temp_token={token}")).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "MENTRAOS_TIMEOUT is 500 ms, took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_user_token_signs_in_only_when_it_is_ours_and_valid() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let valid = UserTokenSpec::for_user("alice@example.com").sign();
    assert_eq!(
        open(
            &cluster,
            &client(),
            &format!("aos_signed_user_token={valid}")
        )
        .await
        .0,
        303
    );
    let cases = [
        (
            "bad signature",
            UserTokenSpec {
                key: other_signing_key(),
                ..UserTokenSpec::for_user("mallory@example.com")
            },
        ),
        (
            "wrong issuer",
            UserTokenSpec {
                issuer: "https://evil.example",
                ..UserTokenSpec::for_user("mallory@example.com")
            },
        ),
        (
            "expired",
            UserTokenSpec {
                issued_at: -900,
                expires_in: 600,
                ..UserTokenSpec::for_user("mallory@example.com")
            },
        ),
        (
            "another app",
            UserTokenSpec {
                bound_to_api_key: "another-apps-key",
                ..UserTokenSpec::for_user("mallory@example.com")
            },
        ),
    ];
    for (says, spec) in cases {
        let started = Instant::now();
        let query = format!("aos_signed_user_token={}", spec.sign());
        let reason = refused_because(&cluster, &query).await;
        assert!(reason.contains(says), "{says}: {reason}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_user_token_works_once_and_never_switches_a_signed_in_phone() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let token = UserTokenSpec::for_user("alice@example.com").sign();
    let alice = client();
    assert_eq!(
        open(&cluster, &alice, &format!("aos_signed_user_token={token}"))
            .await
            .0,
        303
    );
    assert_eq!(
        open(&cluster, &alice, &format!("aos_signed_user_token={token}"))
            .await
            .0,
        303,
        "a reload with our session continues"
    );
    let (status, _, body) = open(
        &cluster,
        &client(),
        &format!("aos_signed_user_token={token}"),
    )
    .await;
    assert_eq!(status, 401, "a leaked address replayed elsewhere: {body}");
    assert!(body.contains("already used"), "{body}");

    let mallorys = UserTokenSpec::for_user("mallory@example.com").sign();
    let (status, _, body) = open(
        &cluster,
        &alice,
        &format!("aos_signed_user_token={mallorys}"),
    )
    .await;
    assert_eq!(
        status, 409,
        "a link cannot switch Alice's phone to Mallory's account: {body}"
    );
    let scan_page = alice
        .get(format!("{}/scan", cluster.mobile))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(scan_page.contains("alice@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_temp_token_falls_back_to_the_signed_token() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let token = UserTokenSpec::for_user("alice@example.com").sign();
    let (status, location, _) = open(
        &cluster,
        &client(),
        &format!("aos_temp_token=&aos_signed_user_token={token}"),
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/scan"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webview_sign_ins_spend_the_per_ip_budget() {
    let cluster = TestCluster::start(
        Backend::Sqlite,
        1,
        &[("RATE_LIMIT_WEBVIEW_PER_IP", "2/10m")],
    )
    .await
    .unwrap();
    for _ in 0..2 {
        let (status, _, _) = open(&cluster, &client(), "aos_temp_token=guess").await;
        assert_eq!(status, 401);
    }
    let token = cluster.cloud.issue_temp_token("alice@example.com");
    let response = client()
        .get(format!("{}/webview?aos_temp_token={token}", cluster.mobile))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429, "even a good token waits its turn");
    assert!(response.headers().contains_key("retry-after"));
    let page = response.text().await.unwrap();
    assert!(page.contains("Too many sign-in attempts"), "{page}");
}

/// A signed user token lives as long as MentraOS made it. Its used-mark once lasted a fixed
/// 12 minutes: a token good for an hour could be replayed into new sessions after that.
async fn a_used_signed_token_stays_used_while_it_is_valid(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let mut spec = UserTokenSpec::for_user("alice@example.com");
    spec.expires_in = 3600;
    let token = spec.sign();
    let query = format!("aos_signed_user_token={token}");
    assert_eq!(open(&cluster, &client(), &query).await.0, 303);
    if backend == Backend::Redis {
        // Redis expires keys on its own clock, which the test's clock does not move: the
        // mark's lifetime is what shows the rule there.
        let mark = format!(
            "mentra-signed:{}",
            qrlogin_auth::secret::public_id_of(&token)
        );
        let ttls = qrlogin_testkit::RedisServer::shared()
            .unwrap()
            .ttls_of_keys_ending(&mark);
        assert_eq!(ttls.len(), 1);
        assert!(ttls[0] > Duration::from_secs(60 * 60), "{ttls:?}");
    }
    cluster.clock.advance(Duration::from_secs(13 * 60));
    let (status, _, body) = open(&cluster, &client(), &query).await;
    assert_eq!(status, 401, "replayed 13 minutes later: {body}");
    assert!(body.contains("already used"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_signed_token_cannot_be_replayed_while_it_is_valid() {
    a_used_signed_token_stays_used_while_it_is_valid(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_signed_token_cannot_be_replayed_while_it_is_valid_on_redis() {
    a_used_signed_token_stays_used_while_it_is_valid(Backend::Redis).await;
}
