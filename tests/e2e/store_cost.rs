//! What one complete sign-in costs the shared store: Redis commands, counted by the server
//! itself (`INFO commandstats`) on a redis-server of the test's own. A change that adds
//! commands to the hot path fails here; the ceiling comes down as the path is folded.

use std::collections::BTreeMap;

use crate::helpers::{Backend, TestCluster};

/// The most Redis commands one sign-in may take: create, the screen's socket, claim, approve,
/// redeem, and the audit records they write. Measured at 38 (the same on every run: the
/// clock is the test's). It was 52 before a request became one string written with its
/// expiry, 46 before a transition started from the instance's own copy of the request and
/// the approval stopped re-reading "sign out everywhere", and 42 before a session check
/// became one MGET and a scan's two rate-limit buckets one script. Seven of the 38 are the
/// audit records (one stream entry each, so the trails stay capped by record). The goal is
/// 20. Lower it with each change that folds the path.
const MOST_COMMANDS_PER_SIGN_IN: u64 = 38;

/// Every command the server has run so far, by name (`INFO` and the keep-alive `PING` left
/// out: they are the test's own and the connections').
fn commands(port: u16) -> BTreeMap<String, u64> {
    let mut counted = qrlogin_testkit::commands_processed(port);
    counted.retain(|name, _| name != "info" && name != "ping");
    counted
}

fn spent(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(name, calls)| (name.clone(), calls - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, calls)| *calls > 0)
        .collect()
}

#[tokio::test]
async fn a_sign_in_stays_within_its_redis_command_budget() {
    let Some(cluster) = TestCluster::start(Backend::OwnRedis, 1, &[]).await else {
        return;
    };
    let port = cluster.own_redis.as_ref().unwrap().port;
    let phone = cluster.phone("alice@example.com").await;
    let screen = cluster.screen(0);
    // One sign-in first: connections, scripts and the signing key are loaded once per process.
    let warm = crate::helpers::approved(&screen, &phone).await;
    assert_eq!(screen.redeem(&warm).await.status(), 200);
    cluster.audit_trail().await;

    let before = commands(port);
    let created = screen.create().await;
    let mut events = screen.events(&created).await;
    assert_eq!(events.next_state().await.unwrap()["state"], "pending");
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
    while events.next_state().await.unwrap()["state"] != "approved" {}
    assert_eq!(screen.redeem(&created).await.status(), 200);
    cluster.flush_audit().await;
    let spent = spent(&before, &commands(port));

    let total: u64 = spent.values().sum();
    eprintln!("one sign-in: {total} Redis commands: {spent:?}");
    assert!(
        total <= MOST_COMMANDS_PER_SIGN_IN,
        "one sign-in took {total} Redis commands (at most {MOST_COMMANDS_PER_SIGN_IN}): {spent:?}"
    );
}
