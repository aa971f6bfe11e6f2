//! One-time things are one-time under concurrency, across instances.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{Backend, TestCluster, approved};

async fn statuses(responses: Vec<reqwest::Response>) -> (usize, usize) {
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    let conflict = responses.iter().filter(|r| r.status() == 409).count();
    (ok, conflict)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_fifty_concurrent_redeems_exactly_one_succeeds() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = approved(&screen, &phone).await;
    let redeems = (0..50).map(|i| {
        let on = screen.on(&cluster.desktops[i % 2]);
        let created = &created;
        async move { on.redeem(created).await }
    });
    assert_eq!(statuses(join_all(redeems).await).await, (1, 49));
    let sessions = cluster
        .store
        .list_sessions("mentra:alice@example.com")
        .await
        .unwrap();
    let desktop = sessions
        .iter()
        .filter(|s| s.kind == qrlogin_auth::session::SessionKind::Desktop)
        .count();
    assert_eq!(
        desktop, 1,
        "the losers' sessions are gone: one sign-in, one session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_twenty_users_claiming_one_request_exactly_one_claims() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let created = cluster.screen(0).create().await;
    let mut phones = Vec::new();
    for i in 0..20 {
        phones.push(cluster.phone(&format!("user{i}@example.com")).await);
    }
    let claims = phones
        .iter()
        .map(|phone| phone.scan(json!({ "id": created.id })));
    assert_eq!(statuses(join_all(claims).await).await, (1, 19));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_twenty_concurrent_approvals_exactly_one_takes_effect() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let created = cluster.screen(0).create().await;
    let phone = cluster.phone("alice@example.com").await;
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    let approvals = (0..20).map(|_| phone.decide(&created.id, "approve"));
    assert_eq!(statuses(join_all(approvals).await).await, (1, 19));
}
