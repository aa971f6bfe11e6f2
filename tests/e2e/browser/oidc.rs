//! A web app's sign-in page (OpenID Connect) in a real browser: the QR page names the app,
//! the phone's approval sends the browser back to the app with its code, and a refusal offers
//! the way back to the app without one.

use fantoccini::Locator;
use qrlogin_auth::client::{ConfirmationMode, RegisteredClient, registry};
use qrlogin_auth::clock::Clock;
use secrecy::ExposeSecret;

use super::*;
use crate::helpers::{Backend, TestCluster};

/// A page of the app's own that the browser comes back to.
async fn app_callback() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("back at the app"))
        .mount(&server)
        .await;
    server
}

fn authorize_url(desktop: &str, client_id: &str, callback: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", callback)
        .append_pair("scope", "openid")
        .append_pair("state", "st-9")
        // RFC 7636 Appendix B.
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{desktop}/oauth/authorize?{query}")
}

/// Waits until the browser is at the app's callback: the query it brought.
async fn back_at(
    browser: &fantoccini::Client,
    callback: &str,
) -> std::collections::HashMap<String, String> {
    wait_until(
        browser,
        &format!("return location.href.startsWith({callback:?})"),
        PAGE_WAIT,
        "the browser went back to the app",
    )
    .await;
    let url = browser.current_url().await.unwrap();
    url.query_pairs().into_owned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_sign_in_page_sends_the_approval_back_to_the_app() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let app = app_callback().await;
    let callback = format!("{}/callback", app.uri());
    let (client, key) = RegisteredClient::register(
        "Space",
        vec![callback.clone()],
        vec![],
        ConfirmationMode::Tap,
        false,
        cluster.clock.now(),
    )
    .unwrap();
    assert!(registry::add(&*cluster.store, &client).await.unwrap());
    let (browser, _profile) = browser(&driver).await;
    let desktop = &cluster.desktops[0];
    let phone = cluster.phone("alice@example.com").await;

    browser
        .goto(&authorize_url(desktop, &client.id, &callback))
        .await
        .unwrap();
    wait_for(&browser, "#qr svg").await;
    assert_eq!(text(&browser, "h1").await, "Sign in to Space");
    audit(&driver, &browser, "authorize-pending").await;
    let id = shown_request(&browser).await;
    assert_eq!(phone.scan_id(&id).await.status(), 200);
    assert_eq!(phone.decide(&id, "approve").await.status(), 200);
    let query = back_at(&browser, &callback).await;
    assert_eq!(query["state"], "st-9");
    assert_eq!(query["iss"], desktop.as_str());
    let exchanged = crate::helpers::client()
        .post(format!("{desktop}/oauth/token"))
        .basic_auth(&client.id, Some(key.expose_secret()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", query["code"].as_str()),
            ("redirect_uri", callback.as_str()),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), 200);

    // Refused on the phone: the page offers the way back, and the app hears access_denied.
    browser
        .goto(&authorize_url(desktop, &client.id, &callback))
        .await
        .unwrap();
    wait_for(&browser, "#qr svg").await;
    let id = shown_request(&browser).await;
    assert_eq!(phone.scan_id(&id).await.status(), 200);
    assert_eq!(phone.decide(&id, "deny").await.status(), 200);
    let back = wait_xpath_element(&browser, "//button[.='Back to Space']").await;
    audit(&driver, &browser, "authorize-denied").await;
    back.click().await.unwrap();
    let query = back_at(&browser, &callback).await;
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "st-9");
}

async fn wait_xpath_element(
    browser: &fantoccini::Client,
    path: &str,
) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath(path))
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}
