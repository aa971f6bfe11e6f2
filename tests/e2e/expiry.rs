//! Expiry is checked at every step: scan, approve and redeem after `QR_TTL` answer 410.
//! Time is moved with the cluster's manual clock, not waited for.

use std::time::Duration;

use crate::helpers::{Backend, TestCluster, error_code};

const PAST_QR_TTL: Duration = Duration::from_secs(61);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_an_expired_code_is_refused() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let phone = cluster.phone("alice@example.com").await;
    cluster.clock.advance(PAST_QR_TTL);
    assert_eq!(
        error_code(phone.scan_id(&created.id).await).await,
        (410, "expired".into())
    );
    assert_eq!(screen.poll(&created).await["state"], "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_after_expiry_is_refused() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let created = cluster.screen(0).create().await;
    let phone = cluster.phone("alice@example.com").await;
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    cluster.clock.advance(PAST_QR_TTL);
    assert_eq!(
        error_code(phone.decide(&created.id, "approve").await).await,
        (410, "expired".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeeming_after_expiry_is_refused() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[("QR_TTL", "30s")]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = crate::helpers::approved(&screen, &phone).await;
    // The scan left a minute to decide (DECISION_WINDOW); past that, the approval is stale.
    cluster.clock.advance(Duration::from_secs(61));
    assert_eq!(
        error_code(screen.redeem(&created).await).await,
        (410, "expired".into())
    );
    assert_eq!(screen.me().await.status(), 401);
}
