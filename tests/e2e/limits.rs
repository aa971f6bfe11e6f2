//! Rate limits hold across instances, tell clients when to come back, and key on the real
//! client address only when a trusted proxy says what it is.

use serde_json::json;

use qrlogin_auth::audit::AuditEvent;

use crate::helpers::{Backend, TestCluster, client, error_code};

async fn create_from(
    cluster: &TestCluster,
    instance: usize,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .post(format!("{}/api/login-requests", cluster.desktops[instance]))
        .json(&json!({}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_past_the_limit_from_one_ip_is_refused_with_retry_after_on_every_instance() {
    let Some(cluster) =
        TestCluster::start(Backend::Redis, 2, &[("RATE_LIMIT_CREATE_PER_IP", "3/1m")]).await
    else {
        return;
    };
    for i in 0..3 {
        assert_eq!(
            create_from(&cluster, i % 2, None).await.status(),
            201,
            "creation {i}"
        );
    }
    let refused = create_from(&cluster, 1, None).await;
    assert_eq!(refused.headers()["retry-after"], "20");
    assert_eq!(error_code(refused).await, (429, "rate_limited".into()));
}

/// One IPv6 connection is given a whole /64: a fresh address for every request must not be a
/// fresh budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_address_of_an_ipv6_64_spends_from_one_budget() {
    let vars = [
        ("RATE_LIMIT_CREATE_PER_IP", "3/1m"),
        ("TRUST_PROXY", "127.0.0.1"),
    ];
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &vars).await else {
        return;
    };
    for n in 1..=3 {
        let address = format!("2001:db8:7:7::{n:x}");
        assert_eq!(create_from(&cluster, 0, Some(&address)).await.status(), 201);
    }
    let next_address = create_from(&cluster, 0, Some("2001:db8:7:7:ffff:1:2:3")).await;
    assert_eq!(error_code(next_address).await, (429, "rate_limited".into()));
    assert_eq!(
        create_from(&cluster, 0, Some("2001:db8:7:8::1"))
            .await
            .status(),
        201,
        "the next /64 is someone else"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_two_clients_do_not_share_a_bucket() {
    let vars = [
        ("RATE_LIMIT_CREATE_PER_IP", "2/1m"),
        ("TRUST_PROXY", "127.0.0.1"),
    ];
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &vars).await else {
        return;
    };
    for _ in 0..2 {
        assert_eq!(
            create_from(&cluster, 0, Some("203.0.113.7")).await.status(),
            201
        );
    }
    assert_eq!(
        create_from(&cluster, 0, Some("203.0.113.7")).await.status(),
        429
    );
    assert_eq!(
        create_from(&cluster, 0, Some("198.51.100.9"))
            .await
            .status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_forwarded_for_is_ignored() {
    let Some(cluster) =
        TestCluster::start(Backend::Redis, 1, &[("RATE_LIMIT_CREATE_PER_IP", "2/1m")]).await
    else {
        return;
    };
    assert_eq!(
        create_from(&cluster, 0, Some("203.0.113.7")).await.status(),
        201
    );
    assert_eq!(
        create_from(&cluster, 0, Some("198.51.100.9"))
            .await
            .status(),
        201
    );
    assert_eq!(
        create_from(&cluster, 0, Some("192.0.2.1")).await.status(),
        429,
        "all three came from 127.0.0.1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scan_spends_the_per_ip_budget_so_a_success_resets_nothing() {
    let Some(cluster) =
        TestCluster::start(Backend::Redis, 1, &[("RATE_LIMIT_SCAN_PER_IP", "3/10m")]).await
    else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let guess = || phone.scan(json!({ "user_code": "BCDF-GHJK" }));
    assert_eq!(guess().await.status(), 404);
    let real = cluster.screen(0).create().await;
    assert_eq!(
        phone
            .scan(json!({ "user_code": real.user_code }))
            .await
            .status(),
        200
    );
    assert_eq!(
        guess().await.status(),
        404,
        "the success between misses gave nothing back"
    );
    assert_eq!(
        error_code(guess().await).await,
        (429, "rate_limited".into())
    );
    let another = cluster.screen(0).create().await;
    assert_eq!(
        phone.scan_id(&another.id).await.status(),
        429,
        "until the budget refills, even a real code waits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_password_guesses_cannot_outrun_the_budget() {
    let Some(cluster) = TestCluster::start(
        Backend::Redis,
        1,
        &[("RATE_LIMIT_LOGIN_PER_ACCOUNT", "3/10m")],
    )
    .await
    else {
        return;
    };
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let guesses = (0..12).map(|i| {
        let phone = cluster.signed_out_phone();
        async move { phone.local_login("erin", &format!("guess {i}")).await }
    });
    let statuses: Vec<u16> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        9,
        "{statuses:?}"
    );
}

/// A local sign-in from `address`, as a trusted proxy reports it: its status.
async fn local_login_from(cluster: &TestCluster, address: &str, password: &str) -> u16 {
    client()
        .post(format!("{}/api/local/login", cluster.mobile))
        .header("x-forwarded-for", address)
        .json(&json!({ "username": "erin", "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A password spray from many networks cannot lock the owner out: the account's budget is
/// spent only by networks that never signed in to it, so the owner, on a network they used
/// before, signs in throughout, and the spray is still throttled (even a right guess).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spray_from_many_networks_is_throttled_without_locking_the_owner_out() {
    let vars = [
        ("RATE_LIMIT_LOGIN_PER_ACCOUNT", "3/10m"),
        ("TRUST_PROXY", "127.0.0.1"),
    ];
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &vars).await else {
        return;
    };
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let home = "203.0.113.7";
    assert_eq!(
        local_login_from(&cluster, home, "correct horse battery").await,
        200
    );

    let mut spray = Vec::new();
    for n in 1..=20 {
        spray.push(local_login_from(&cluster, &format!("2001:db8:{n:x}::1"), "guess").await);
    }
    // The account's budget of 3: the owner's first sign-in from home (then unknown) spent one.
    assert_eq!(spray.iter().filter(|s| **s == 401).count(), 2, "{spray:?}");
    assert_eq!(spray.iter().filter(|s| **s == 429).count(), 18, "{spray:?}");
    assert_eq!(
        local_login_from(&cluster, "2001:db8:99::1", "correct horse battery").await,
        429,
        "a new network is throttled even with the right password"
    );
    assert_eq!(
        local_login_from(&cluster, home, "a typo").await,
        401,
        "the owner's own mistakes are their network's"
    );
    assert_eq!(
        local_login_from(&cluster, home, "correct horse battery").await,
        200,
        "the owner signs in on their usual network during the spray"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_limited_per_account() {
    let Some(cluster) = TestCluster::start(
        Backend::Sqlite,
        1,
        &[("RATE_LIMIT_LOGIN_PER_ACCOUNT", "3/10m")],
    )
    .await
    else {
        return;
    };
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let phone = cluster.signed_out_phone();
    for _ in 0..3 {
        assert_eq!(phone.local_login("erin", "guess").await.status(), 401);
    }
    let refused = phone.local_login("erin", "correct horse battery").await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(error_code(refused).await, (429, "rate_limited".into()));
    // Every guess and the refusal are in the audit trail.
    let trail = cluster.audit_trail().await;
    let recorded: Vec<(AuditEvent, &str)> = trail
        .iter()
        .map(|r| (r.event, r.outcome.as_str()))
        .collect();
    assert_eq!(
        recorded,
        [
            (AuditEvent::PhoneSignIn, "unauthenticated"),
            (AuditEvent::PhoneSignIn, "unauthenticated"),
            (AuditEvent::PhoneSignIn, "unauthenticated"),
            (AuditEvent::RateLimited, "rate_limited"),
        ],
        "{trail:?}"
    );
    assert_eq!(trail[3].detail.as_deref(), Some("login-account"));
}

/// The relay (QR-jacking) scenario: a request made from 203.0.113.7 and claimed by a phone on
/// 198.51.100.9 (both as a trusted proxy reports them).
async fn relayed_claim(
    policy: &str,
) -> Option<(
    u16,
    serde_json::Value,
    u16,
    qrlogin_auth::audit::AuditRecord,
)> {
    let vars = [("TRUST_PROXY", "127.0.0.1"), ("NETWORK_MISMATCH", policy)];
    let cluster = TestCluster::start(Backend::Redis, 1, &vars).await?;
    let created: serde_json::Value = create_from(&cluster, 0, Some("203.0.113.7"))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let far_phone = cluster.phone("mallory@example.com").await;
    let far = far_phone
        .client
        .post(format!("{}/api/scan", cluster.mobile))
        .header("x-forwarded-for", "198.51.100.9")
        .json(&json!({ "id": id }))
        .send()
        .await
        .unwrap();
    let far_status = far.status().as_u16();
    let far_body: serde_json::Value = far.json().await.unwrap();
    let near_phone = cluster.phone("alice@example.com").await;
    let near = near_phone
        .client
        .post(format!("{}/api/scan", cluster.mobile))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({ "id": id }))
        .send()
        .await
        .unwrap();
    let far_claim = cluster
        .audit_trail()
        .await
        .into_iter()
        .find(|r| {
            r.event == qrlogin_auth::audit::AuditEvent::Claim
                && r.user.as_deref() == Some("mentra:mallory@example.com")
        })
        .expect("the far claim is in the audit trail");
    Some((far_status, far_body, near.status().as_u16(), far_claim))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_from_another_network_is_flagged_by_default() {
    let Some((status, confirmation, _, audited)) = relayed_claim("warn").await else {
        return;
    };
    assert_eq!(status, 200);
    assert_eq!(confirmation["same_network"], false);
    assert_eq!(confirmation["screen_ip"], "203.0.113.7");
    assert_eq!(audited.outcome, "ok");
    assert_eq!(
        audited.detail.as_deref(),
        Some("network mismatch: screen 203.0.113.7, phone 198.51.100.9"),
        "flagged in the audit trail too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_from_another_network_is_refused_when_the_policy_says_deny() {
    let Some((status, refusal, near, audited)) = relayed_claim("deny").await else {
        return;
    };
    assert_eq!(audited.outcome, "forbidden");
    assert!(audited.detail.unwrap().starts_with("network mismatch"));
    assert_eq!(
        (status, refusal["error"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        near, 200,
        "the request stays free for a phone on the screen's network"
    );
}
