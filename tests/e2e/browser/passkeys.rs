//! Passkeys in Chromium, with WebDriver's virtual authenticator (what the DevTools WebAuthn
//! domain gives a test): the phone adds one on its Passkeys page, approves with it, and the
//! approval fails without user verification, with an assertion made for another request,
//! and with a removed credential. The services run on `localhost`: WebAuthn refuses IP
//! addresses.

use fantoccini::Locator;
use serde_json::{Value, json};

use super::{
    ChromeDriver, PAGE_WAIT, audit, browser, chromedriver, devtools, driver_command, phone_link,
    shown, sign_in_as_erin, wait_for, wait_until,
};
use crate::helpers::{Backend, Created, TestCluster};

/// The phone's authenticator: a platform one with user verification (a fingerprint reader),
/// which consents and verifies until told otherwise. Its id.
async fn add_authenticator(driver: &ChromeDriver, phone: &fantoccini::Client) -> String {
    let added = driver_command(
        driver,
        phone,
        "webauthn/authenticator",
        json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        }),
    )
    .await;
    added["value"].as_str().unwrap().to_owned()
}

/// A call of the mobile API from the phone's page (with its session): status and body.
async fn call(phone: &fantoccini::Client, method: &str, path: &str, body: Value) -> (u16, Value) {
    let answer = phone
        .execute_async(
            "const [method, path, body, done] = arguments;
             fetch(path, body === null ? { credentials: 'same-origin' } : { method, credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
               .then(async (r) => done([r.status, r.status === 204 ? {} : await r.json().catch(() => ({}))]))
               .catch((e) => done([0, { error: String(e) }]));",
            vec![json!(method), json!(path), body],
        )
        .await
        .unwrap();
    (answer[0].as_u64().unwrap() as u16, answer[1].clone())
}

/// An assertion from the phone's authenticator answering the challenge `check_path` gives;
/// with `without_verification`, the page asks the authenticator not to verify the user (as a
/// tampered page would), so the assertion says the user was not verified.
async fn assertion(
    phone: &fantoccini::Client,
    check_path: &str,
    verification: Verification,
) -> Value {
    let answer = phone
        .execute_async(
            "const [path, discouraged, done] = arguments;
             (async () => {
               const r = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: '{}' });
               const options = await r.json();
               if (!r.ok) return { refused: options };
               if (discouraged) options.publicKey.userVerification = 'discouraged';
               return { credential: await window.qrlogin.passkey.check(options) };
             })().then(done, (e) => done({ failed: e.name + ': ' + e.message }));",
            vec![json!(check_path), json!(verification == Verification::Skipped)],
        )
        .await
        .unwrap();
    answer
        .get("credential")
        .cloned()
        .unwrap_or_else(|| panic!("no assertion for {check_path}: {answer}"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verification {
    Asked,
    /// The page asks the authenticator to skip user verification.
    Skipped,
}

/// A request from the screen's API, claimed by the phone's signed-in user.
async fn claimed_request(cluster: &TestCluster, phone: &fantoccini::Client) -> Created {
    let created = cluster.screen(0).create().await;
    let (status, prompt) = call(phone, "POST", "/api/scan", json!({ "id": created.id })).await;
    assert_eq!(status, 200, "{prompt}");
    assert_eq!(
        prompt["approval"], "passkey",
        "the phone is told a passkey is needed"
    );
    created
}

async fn approve_with(phone: &fantoccini::Client, id: &str, body: Value) -> (u16, Value) {
    call(
        phone,
        "POST",
        &format!("/api/login-requests/{id}/approve"),
        body,
    )
    .await
}

/// The phone's Passkeys page: signed in as Erin, it adds a passkey named `name`.
async fn add_passkey_on_the_page(cluster: &TestCluster, phone: &fantoccini::Client, name: &str) {
    phone
        .goto(&format!("{}/passkeys", cluster.mobile))
        .await
        .unwrap();
    let field = wait_for(phone, "#passkey-name").await;
    field.send_keys(name).await.unwrap();
    phone
        .find(Locator::Css("#add-passkey button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        phone,
        &format!(
            "const n = document.querySelector('#passkey-list strong'); return !!n && n.textContent === {};",
            json!(name)
        ),
        PAGE_WAIT,
        "the new passkey is listed",
    )
    .await;
}

async fn passkeys_prove_the_approver(backend: Backend) {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let Some(cluster) = TestCluster::start_on("localhost", backend, 1, &[]).await else {
        return;
    };
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let (screen, _screen_profile) = browser(&driver).await;
    let (phone, _phone_profile) = browser(&driver).await;
    let authenticator = add_authenticator(&driver, &phone).await;

    phone
        .goto(&format!("{}/scan", cluster.mobile))
        .await
        .unwrap();
    sign_in_as_erin(&phone).await;
    wait_for(&phone, "#enter-code").await;
    add_passkey_on_the_page(&cluster, &phone, "Test phone").await;

    // The QR scanned and approved on the page: the phone's authenticator answers, the screen
    // signs in, and the trail says how the approval was proved.
    screen
        .goto(&format!("{}/", cluster.desktops[0]))
        .await
        .unwrap();
    wait_for(&screen, "#qr svg").await;
    phone.goto(&phone_link(&screen).await).await.unwrap();
    wait_for(&phone, "#confirm:not([hidden]) #approve")
        .await
        .click()
        .await
        .unwrap();
    let dashboard = url::Url::parse(&format!("{}/dashboard", cluster.desktops[0])).unwrap();
    screen
        .wait()
        .at_most(PAGE_WAIT)
        .for_url(&dashboard)
        .await
        .unwrap();
    let approvals: Vec<_> = cluster
        .audit_trail()
        .await
        .into_iter()
        .filter(|r| r.event == qrlogin_auth::audit::AuditEvent::Approve && r.is_ok())
        .collect();
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        approvals[0].detail.as_deref(),
        Some("approved with a passkey")
    );

    // A tap no longer approves for this account.
    let tapped = claimed_request(&cluster, &phone).await;
    let (status, refused) = approve_with(&phone, &tapped.id, json!({})).await;
    assert_eq!(
        (status, &refused["error"]),
        (403, &json!("passkey_required"))
    );

    // An assertion made for one request is refused for another, and spends nothing there.
    let other = claimed_request(&cluster, &phone).await;
    let for_tapped = assertion(
        &phone,
        &format!("/api/login-requests/{}/passkey-check", tapped.id),
        Verification::Asked,
    )
    .await;
    let (status, refused) = approve_with(&phone, &other.id, json!({ "passkey": for_tapped })).await;
    assert_eq!(
        (status, &refused["error"]),
        (403, &json!("passkey_failed")),
        "{refused}"
    );
    // Nor does it count twice where it was made for.
    let (status, _) =
        approve_with(&phone, &tapped.id, json!({ "passkey": for_tapped.clone() })).await;
    assert_eq!(
        status, 200,
        "the assertion approves the request it was made for"
    );
    let (status, _) = approve_with(&phone, &tapped.id, json!({ "passkey": for_tapped })).await;
    assert_ne!(status, 200, "and only once");

    // Without user verification (a page that asked the authenticator not to verify): refused.
    driver_command(
        &driver,
        &phone,
        &format!("webauthn/authenticator/{authenticator}/uv"),
        json!({ "isUserVerified": false }),
    )
    .await;
    let unverified = assertion(
        &phone,
        &format!("/api/login-requests/{}/passkey-check", other.id),
        Verification::Skipped,
    )
    .await;
    let (status, refused) = approve_with(&phone, &other.id, json!({ "passkey": unverified })).await;
    assert_eq!(
        (status, &refused["error"]),
        (403, &json!("passkey_failed")),
        "{refused}"
    );
    driver_command(
        &driver,
        &phone,
        &format!("webauthn/authenticator/{authenticator}/uv"),
        json!({ "isUserVerified": true }),
    )
    .await;

    // An assertion by a passkey removed since: refused.
    let before_removal = assertion(
        &phone,
        &format!("/api/login-requests/{}/passkey-check", other.id),
        Verification::Asked,
    )
    .await;
    let (_, listed) = call(&phone, "GET", "/api/passkeys", Value::Null).await;
    let passkey_id = listed["passkeys"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &phone,
        "POST",
        &format!("/api/passkeys/{passkey_id}/remove"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "removing a passkey needs a check by one");
    let proof = assertion(&phone, "/api/passkeys/check", Verification::Asked).await;
    let (status, removed) = call(
        &phone,
        "POST",
        &format!("/api/passkeys/{passkey_id}/remove"),
        json!({ "proof": proof }),
    )
    .await;
    assert_eq!(status, 204, "{removed}");
    let (status, refused) =
        approve_with(&phone, &other.id, json!({ "passkey": before_removal })).await;
    assert_eq!(
        (status, &refused["error"]),
        (403, &json!("passkey_failed")),
        "{refused}"
    );

    screen.close().await.unwrap();
    phone.close().await.unwrap();
}

#[tokio::test]
async fn passkeys_prove_the_approver_on_sqlite() {
    passkeys_prove_the_approver(Backend::Sqlite).await;
}

#[tokio::test]
async fn passkeys_prove_the_approver_on_redis() {
    passkeys_prove_the_approver(Backend::Redis).await;
}

/// A registered app's identity token says how its sign-in was approved: `hwk` for a passkey.
#[tokio::test]
async fn the_identity_token_says_a_passkey_approved() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let Some(cluster) = TestCluster::start_on("localhost", Backend::Sqlite, 1, &[]).await else {
        return;
    };
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let (phone, _profile) = browser(&driver).await;
    add_authenticator(&driver, &phone).await;
    phone
        .goto(&format!("{}/scan", cluster.mobile))
        .await
        .unwrap();
    sign_in_as_erin(&phone).await;
    wait_for(&phone, "#enter-code").await;
    phone
        .goto(&format!("{}/passkeys", cluster.mobile))
        .await
        .unwrap();
    wait_until(
        &phone,
        "return !!document.querySelector('#passkey-list li');",
        PAGE_WAIT,
        "the empty list says so",
    )
    .await;
    audit(&driver, &phone, "phone-passkeys-none").await;
    add_passkey_on_the_page(&cluster, &phone, "Test phone").await;
    audit(&driver, &phone, "phone-passkeys").await;

    let (_, key) = crate::clients::register(
        &cluster,
        "Space",
        qrlogin_auth::client::ConfirmationMode::Tap,
    )
    .await;
    let (status, created) = crate::clients::create_as(&cluster, &key).await;
    assert_eq!(status, 201, "{created}");
    phone
        .goto(created["qr_url"].as_str().unwrap())
        .await
        .unwrap();
    wait_for(&phone, "#confirm:not([hidden]) #approve")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&phone, "#outcome:not([hidden])").await;
    let redeemed = crate::clients::redeem_as(&cluster, &created, Some(&key)).await;
    assert_eq!(redeemed.status(), 200);
    let body: Value = redeemed.json().await.unwrap();
    let token = body["id_token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], json!(["qr", "hwk"]));
    phone.close().await.unwrap();
}

/// A webview without WebAuthn, for an account that approves with its passkey: the phone page
/// says what to do instead of showing an Approve button that cannot work. Deny still works.
#[tokio::test]
async fn a_browser_without_webauthn_is_told_what_to_do() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let Some(cluster) = TestCluster::start_on("localhost", Backend::Sqlite, 1, &[]).await else {
        return;
    };
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let credential = serde_json::from_str(include_str!(
        "../../../crates/auth/tests/fixtures/passkey.json"
    ))
    .unwrap();
    let stored =
        qrlogin_auth::passkey::StoredPasskey::new("local:erin", "Pixel".into(), credential, 0);
    assert!(
        qrlogin_auth::passkey::add(&*cluster.store, &stored)
            .await
            .unwrap()
    );

    let (phone, _profile) = browser(&driver).await;
    devtools(
        &driver,
        &phone,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": "delete window.PublicKeyCredential;" }),
    )
    .await;
    let created = cluster.screen(0).create().await;
    phone.goto(&created.qr_url).await.unwrap();
    sign_in_as_erin(&phone).await;
    wait_for(
        &phone,
        "#confirm:not([hidden]) #c-passkey-unsupported:not([hidden])",
    )
    .await;
    assert!(
        !shown(&phone, "#approve").await,
        "no Approve button that cannot work"
    );
    assert!(shown(&phone, "#deny").await);
    audit(&driver, &phone, "phone-confirm-passkey-unsupported").await;
    phone
        .find(Locator::Id("deny"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&phone, "#outcome:not([hidden])").await;
    phone.close().await.unwrap();
}
