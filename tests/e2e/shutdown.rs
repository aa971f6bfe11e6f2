//! Graceful shutdown: an instance told to stop fails `/readyz`, closes its WebSockets with
//! 1012 so pages reconnect elsewhere and carry on, then stops accepting.

use futures_util::future::join_all;

use crate::helpers::{Backend, TestCluster, client, error_code};

const PAGES: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_waiting_on_a_stopping_instance_reconnect_elsewhere_and_sign_in() {
    let vars = [
        ("SHUTDOWN_DRAIN", "300ms"),
        ("RATE_LIMIT_CREATE_PER_IP", "1000/1m"),
        ("RATE_LIMIT_SCAN_PER_USER", "1000/1m"),
        ("RATE_LIMIT_SCAN_PER_IP", "1000/1m"),
        ("WEBSOCKETS_PER_IP", "1000"),
    ];
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &vars).await else {
        return;
    };
    let (stopping, staying) = (&cluster.desktops[0], &cluster.desktops[1]);
    let screen = cluster.screen(0);
    let mut pages = Vec::new();
    for _ in 0..PAGES {
        let created = screen.create().await;
        let mut events = screen.events(&created).await;
        assert_eq!(events.next_state().await.unwrap()["state"], "pending");
        pages.push((created, events));
    }

    cluster.shut_down_desktop(0);
    let ready = client()
        .get(format!("{stopping}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(ready).await,
        (503, "unavailable".into()),
        "the load balancer is told at once"
    );
    let closes = join_all(pages.iter_mut().map(|(_, events)| events.close_code())).await;
    assert!(
        closes.iter().all(|code| *code == Some(1012)),
        "every page is told to reconnect: {closes:?}"
    );

    // Each page reconnects to the other instance, which carries on from the current state.
    let phone = cluster.phone("alice@example.com").await;
    let elsewhere = screen.on(staying);
    let signed_in = join_all(pages.iter().map(|(created, _)| {
        let (elsewhere, phone) = (&elsewhere, &phone);
        async move {
            let mut events = elsewhere.events(created).await;
            assert_eq!(events.next_state().await.unwrap()["state"], "pending");
            assert_eq!(phone.scan_id(&created.id).await.status(), 200);
            assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
            while events.next_state().await.unwrap()["state"] != "approved" {}
            elsewhere.redeem(created).await.status().as_u16()
        }
    }))
    .await;
    assert_eq!(
        signed_in.iter().filter(|s| **s == 200).count(),
        PAGES,
        "{signed_in:?}"
    );

    // Past the drain, the stopping instance accepts nothing more.
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        while client()
            .get(format!("{stopping}/healthz"))
            .send()
            .await
            .is_ok()
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(stopped.is_ok(), "the instance stopped listening");
}
