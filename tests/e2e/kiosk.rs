//! Kiosks: a visitor's own phone, in its ordinary browser, opens the QR's link and signs in
//! with "Sign in with Mentra" (MentraOS's account site, which sends the visitor back to our
//! webview URL with a signed user token and no state of its own).

use qrlogin_testkit::mentra::{PACKAGE_NAME, UserTokenSpec};
use serde_json::Value;

use crate::helpers::{Backend, Phone, TestCluster};

async fn get(phone: &Phone, path: &str) -> reqwest::Response {
    phone
        .client
        .get(format!("{}{path}", phone.base))
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_signs_in_with_mentra_in_a_plain_browser_and_approves() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let kiosk = cluster.screen(0);
    let created = kiosk.create().await;
    let visitor = cluster.signed_out_phone();

    // The QR's page, not signed in: the way to sign in with Mentra.
    let page = get(&visitor, &format!("/s/{}", created.id)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"action="/mentra-auth""#), "{html}");
    assert!(html.contains("Sign in with Mentra"));

    let to_account = press_sign_in_with_mentra(&visitor, &format!("/s/{}", created.id)).await;
    assert_eq!(to_account.status(), 303);
    assert_eq!(
        location(&to_account),
        format!("https://account.mentra.glass/auth?packagename={PACKAGE_NAME}")
    );

    // MentraOS's account site signs kim in and sends her to our webview URL.
    let token = UserTokenSpec::for_user("kim@example.com").sign();
    let back = get(
        &visitor,
        &format!("/webview?aos_signed_user_token={token}&source=oauth"),
    )
    .await;
    assert_eq!(back.status(), 303);
    // Back where she was going: our own cookie remembered it.
    assert_eq!(location(&back), format!("/s/{}", created.id));
    let scan_page = get(&visitor, &format!("/s/{}", created.id)).await;
    assert_eq!(scan_page.status(), 200);
    assert!(
        !scan_page
            .text()
            .await
            .unwrap()
            .contains("Sign in with Mentra")
    );

    assert_eq!(visitor.scan_id(&created.id).await.status(), 200);
    assert_eq!(visitor.decide(&created.id, "approve").await.status(), 200);
    assert_eq!(kiosk.redeem(&created).await.status(), 200);
    // The kiosk greets her by name (and learns nothing else of her sign-in).
    let me: Value = kiosk.me().await.json().await.unwrap();
    assert_eq!(me["user"]["name"], "kim@example.com");
}

/// What the sign-in page's "Sign in with Mentra" button sends: a form post from our own page.
async fn press_sign_in_with_mentra(phone: &Phone, next: &str) -> reqwest::Response {
    phone
        .client
        .post(format!("{}/mentra-auth", phone.base))
        .header("origin", &phone.base)
        .form(&[("next", next)])
        .send()
        .await
        .unwrap()
}

/// The attack: a page of Mallory's sends the visitor's browser to Mallory's own `/s/{id}`
/// (a link, an image, a redirect). Later the visitor signs in with Mentra for their own
/// reasons: they must not be brought to a confirmation of Mallory's screen.
async fn a_visited_code_is_not_where_a_later_sign_in_returns(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let mallorys_screen = cluster.screen(0);
    let planted = mallorys_screen.create().await;
    let visitor = cluster.signed_out_phone();
    let visited = get(&visitor, &format!("/s/{}", planted.id)).await;
    assert_eq!(visited.status(), 200);
    assert!(
        visited
            .headers()
            .get_all("set-cookie")
            .iter()
            .next()
            .is_none(),
        "visiting a code's page leaves no cookie behind"
    );

    // Later, MentraOS's account site sends the visitor back to us, signed in.
    let token = UserTokenSpec::for_user("kim@example.com").sign();
    let back = get(
        &visitor,
        &format!("/webview?aos_signed_user_token={token}&source=oauth"),
    )
    .await;
    assert_eq!(back.status(), 303);
    assert_eq!(location(&back), "/scan", "not Mallory's code");

    // Nor can Mallory's page press the button for the visitor: another site's post is refused.
    let stranger = cluster.signed_out_phone();
    let forged = stranger
        .client
        .post(format!("{}/mentra-auth", cluster.mobile))
        .header("origin", "https://mallory.example")
        .form(&[("next", format!("/s/{}", planted.id))])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(
        forged
            .headers()
            .get_all("set-cookie")
            .iter()
            .next()
            .is_none()
    );

    // And the plain "Sign in with Mentra" link forgets a destination remembered earlier.
    let pressed = press_sign_in_with_mentra(&stranger, &format!("/s/{}", planted.id)).await;
    assert_eq!(pressed.status(), 303);
    assert_eq!(get(&stranger, "/mentra-auth").await.status(), 303);
    let token = UserTokenSpec::for_user("lee@example.com").sign();
    let back = get(
        &stranger,
        &format!("/webview?aos_signed_user_token={token}"),
    )
    .await;
    assert_eq!(location(&back), "/scan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visited_code_is_not_where_a_later_mentra_sign_in_returns() {
    a_visited_code_is_not_where_a_later_sign_in_returns(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visited_code_is_not_where_a_later_mentra_sign_in_returns_on_redis() {
    a_visited_code_is_not_where_a_later_sign_in_returns(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_mentra_is_not_offered_without_a_mentraos_app() {
    let Some(cluster) = TestCluster::start(
        Backend::Sqlite,
        1,
        &[("PACKAGE_NAME", ""), ("MENTRAOS_API_KEY", "")],
    )
    .await
    else {
        return;
    };
    let visitor = cluster.signed_out_phone();
    let page = get(&visitor, "/scan").await.text().await.unwrap();
    assert!(!page.contains("/mentra-auth"), "{page}");
    assert_eq!(get(&visitor, "/mentra-auth").await.status(), 503);
}
