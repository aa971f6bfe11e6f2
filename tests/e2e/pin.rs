//! `LOGIN_CONFIRMATION=pin`: the phone shows a PIN that the screen must type; wrong PINs are
//! counted atomically, across instances, and the fifth locks the request.

use futures_util::future::join_all;
use serde_json::Value;

use crate::helpers::{Backend, Created, Phone, Screen, TestCluster, error_code};

const PIN_MODE: &[(&str, &str)] = &[("LOGIN_CONFIRMATION", "pin")];

/// Creates, scans and approves in PIN mode; returns the request and the PIN the phone shows.
async fn approved_with_pin(screen: &Screen, phone: &Phone) -> (Created, String) {
    let created = screen.create().await;
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    let response = phone.decide(&created.id, "approve").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let pin = body["pin"]
        .as_str()
        .expect("the phone is given a PIN")
        .to_owned();
    assert!(body["pin_expires_in"].as_i64().unwrap() >= 119, "{body}");
    (created, pin)
}

/// A PIN that is not `pin`.
fn wrong(pin: &str) -> String {
    let last = pin.as_bytes()[5];
    format!(
        "{}{}",
        &pin[..5],
        if last == b'9' { 0 } else { last - b'0' + 1 }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_must_type_the_phones_pin_before_it_is_signed_in() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, PIN_MODE).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let (created, pin) = approved_with_pin(&screen, &phone).await;

    let status = screen.poll(&created).await;
    assert_eq!(status["state"], "approved");
    assert_eq!(status["pin_required"], true);
    assert_eq!(
        error_code(screen.redeem(&created).await).await,
        (409, "pin_required".into()),
        "an approval alone does not sign the screen in"
    );

    assert_eq!(
        error_code(screen.enter_pin(&created, &wrong(&pin)).await).await,
        (403, "wrong_pin".into())
    );
    let seen = phone.status(&created.id).await;
    assert_eq!(
        seen["pin_failed_attempts"], 1,
        "the phone shows the attempt: {seen}"
    );
    assert_eq!(seen["pin_attempts_left"], 4);

    // Typed on the other instance: the count lives in the store.
    let other = screen.on(&cluster.desktops[1]);
    let confirmed = other.enter_pin(&created, &pin).await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["pin_required"], false);
    assert_eq!(phone.status(&created.id).await["pin_confirmed"], true);

    assert_eq!(other.redeem(&created).await.status(), 200);
    assert_eq!(other.me().await.status(), 200);
}

/// Twenty wrong PINs at once, split over `desktops` instances: five are counted, the
/// rest (and then even the right PIN) meet a locked request.
async fn twenty_wrong_pins_at_once(backend: Backend, desktops: usize) {
    let Some(cluster) = TestCluster::start(backend, desktops, PIN_MODE).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let (created, pin) = approved_with_pin(&screen, &phone).await;
    let mut events = screen.events(&created).await;
    // The socket starts from this instance's copy, which may not have heard the approval
    // made on the phone's instance yet; the approval follows it.
    while events
        .next_state()
        .await
        .expect("the socket reports the approval")["pin_required"]
        != true
    {}

    let guess = wrong(&pin);
    let attempts = (0..20).map(|i| {
        let on = screen.on(&cluster.desktops[i % desktops]);
        let (created, guess) = (&created, &guess);
        async move { error_code(on.enter_pin(created, guess).await).await }
    });
    let results = join_all(attempts).await;
    let counted = results
        .iter()
        .filter(|r| **r == (403, "wrong_pin".into()))
        .count();
    let locked = results
        .iter()
        .filter(|r| **r == (423, "locked".into()))
        .count();
    assert_eq!((counted, locked), (5, 15), "{results:?}");

    let seen = phone.status(&created.id).await;
    assert_eq!(seen["state"], "locked");
    assert_eq!(seen["pin_failed_attempts"], 5);
    assert_eq!(
        error_code(screen.enter_pin(&created, &pin).await).await,
        (423, "locked".into()),
        "after the lock even the right PIN is refused"
    );
    assert_eq!(
        error_code(screen.redeem(&created).await).await,
        (423, "locked".into())
    );
    // The screen is told at once, so it can offer a new QR code.
    let mut last = events.next_state().await.unwrap();
    while last["state"] != "locked" {
        last = events
            .next_state()
            .await
            .expect("the socket reports the lock");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_wrong_pins_across_two_instances_count_exactly_five() {
    twenty_wrong_pins_at_once(Backend::Redis, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_wrong_pins_on_the_embedded_store_count_exactly_five() {
    twenty_wrong_pins_at_once(Backend::Sqlite, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_pin_is_refused_without_spending_an_attempt() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, PIN_MODE).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let (created, _pin) = approved_with_pin(&screen, &phone).await;
    for malformed in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
        assert_eq!(
            error_code(screen.enter_pin(&created, malformed).await).await,
            (400, "invalid_request".into()),
            "{malformed:?}"
        );
    }
    assert_eq!(phone.status(&created.id).await["pin_attempts_left"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_tap_mode_no_pin_is_asked_or_accepted() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = crate::helpers::approved(&screen, &phone).await;
    assert_eq!(screen.poll(&created).await["pin_required"], false);
    assert_eq!(
        error_code(screen.enter_pin(&created, "123456").await).await,
        (409, "conflict".into())
    );
    assert_eq!(screen.redeem(&created).await.status(), 200);
}
