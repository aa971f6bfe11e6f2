//! Third-party apps: registered clients create sign-ins with their API key and get an
//! identity token for them alone; the same sign-ins as the OAuth 2.0 device authorization
//! grant (RFC 8628), driven by an unmodified OAuth library, for the clients registered for
//! it only. Every token says what it is (`typ`), and each verifier checks it.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, DeviceAuthorizationUrl, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use qrlogin_auth::client::{ConfirmationMode, RegisteredClient, registry};
use qrlogin_auth::clock::Clock;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{Backend, Phone, TestCluster, client, error_code};

/// Registers an app as `qrlogin clients add` does (without `--device-grant`); its id and
/// API key.
pub(crate) async fn register(
    cluster: &TestCluster,
    name: &str,
    confirmation: ConfirmationMode,
) -> (String, String) {
    register_as(cluster, name, confirmation, false).await
}

/// Registers an app as `qrlogin clients add NAME --device-grant` does; its id.
async fn register_for_device_grant(cluster: &TestCluster, name: &str) -> String {
    register_as(cluster, name, ConfirmationMode::Tap, true)
        .await
        .0
}

async fn register_as(
    cluster: &TestCluster,
    name: &str,
    confirmation: ConfirmationMode,
    device_grant: bool,
) -> (String, String) {
    let (registered, key) = RegisteredClient::register(
        name,
        vec!["https://space.example/callback".into()],
        vec!["https://space.example".into()],
        confirmation,
        device_grant,
        cluster.clock.now(),
    )
    .unwrap();
    assert!(registry::add(&*cluster.store, &registered).await.unwrap());
    (registered.id, key.expose_secret().to_owned())
}

/// What the app's server does: creates a request with its key.
pub(crate) async fn create_as(cluster: &TestCluster, key: &str) -> (u16, Value) {
    let response = client()
        .post(format!("{}/api/login-requests", cluster.desktops[0]))
        .bearer_auth(key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

pub(crate) async fn redeem_as(
    cluster: &TestCluster,
    created: &Value,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .post(format!(
            "{}/api/login-requests/{}/redeem",
            cluster.desktops[0],
            created["id"].as_str().unwrap()
        ))
        .header(
            "x-desktop-secret",
            created["desktop_secret"].as_str().unwrap(),
        )
        .json(&json!({}));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// The phone scans the request's QR and taps approve.
async fn approved_on(phone: &Phone, id: &str) -> Value {
    let confirmation: Value = phone.scan_id(id).await.json().await.unwrap();
    let decided = phone.decide(id, "approve").await;
    assert_eq!(decided.status(), 200);
    let decided: Value = decided.json().await.unwrap();
    json!({"confirmation": confirmation, "decided": decided})
}

async fn jwks(cluster: &TestCluster) -> JwkSet {
    client()
        .get(format!("{}/.well-known/jwks.json", cluster.desktops[0]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The `typ` a token's header says, as any holder can read it.
fn typ_of(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).unwrap().typ
}

/// Verifies an identity token offline, with nothing but the published JWKS: the checks of
/// `verify_identity_token` in `examples/relying_app.rs`, line for line (an example is a crate
/// of its own that a test cannot call), but for expiry, which is checked against the test's
/// manual clock instead of the system's.
async fn verified_identity(
    cluster: &TestCluster,
    token: &str,
    audience: &str,
) -> anyhow::Result<Value> {
    let jwks = jwks(cluster).await;
    let issuer = cluster.desktops[0].as_str();
    // From here as in the example.
    let header = jsonwebtoken::decode_header(token)?;
    let typ = header.typ.unwrap_or_default().to_ascii_lowercase();
    anyhow::ensure!(
        typ.strip_prefix("application/").unwrap_or(&typ) == "id_token+jwt",
        "not an identity token (typ {typ:?})"
    );
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| anyhow::anyhow!("unknown key {kid}"))?;
    let mut validation = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // The test's clock is manual; expiry is checked against it below.
    validation.validate_exp = false;
    let claims =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims;
    assert!(claims["exp"].as_i64().unwrap() > cluster.clock.now() / 1000);
    Ok(claims)
}

/// Verifies a client's access token as the client's own API would (RFC 9068 §4): `typ`
/// `at+jwt`, qrlogin's issuer, the client's audience, a key of the JWKS.
async fn verified_client_access(
    cluster: &TestCluster,
    token: &str,
    audience: &str,
) -> anyhow::Result<Value> {
    let jwks = jwks(cluster).await;
    let header = jsonwebtoken::decode_header(token)?;
    let typ = header.typ.unwrap_or_default().to_ascii_lowercase();
    anyhow::ensure!(
        typ.strip_prefix("application/").unwrap_or(&typ) == "at+jwt",
        "not an access token (typ {typ:?})"
    );
    let jwk = jwks
        .find(header.kid.as_deref().unwrap_or_default())
        .ok_or_else(|| anyhow::anyhow!("unknown key"))?;
    let mut validation = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[cluster.desktops[0].as_str()]);
    validation.set_audience(&[audience]);
    validation.validate_exp = false;
    let claims =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims;
    assert!(claims["exp"].as_i64().unwrap() > cluster.clock.now() / 1000);
    Ok(claims)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_signs_its_user_in_and_gets_an_identity_token_for_it_alone() {
    identity_token_for_the_client(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_signs_its_user_in_and_gets_an_identity_token_for_it_alone_on_redis() {
    identity_token_for_the_client(Backend::Redis).await;
}

async fn identity_token_for_the_client(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let (space, key) = register(&cluster, "Space", ConfirmationMode::Tap).await;
    let (status, created) = create_as(&cluster, &key).await;
    assert_eq!(status, 201);
    let phone = cluster.phone("alice@example.com").await;
    let approved_at = cluster.clock.now();
    let seen = approved_on(&phone, created["id"].as_str().unwrap()).await;
    // The phone says which app the sign-in is for.
    assert_eq!(seen["confirmation"]["client_name"], "Space");

    cluster.clock.advance(Duration::from_secs(10));
    let redeemed = redeem_as(&cluster, &created, Some(&key)).await;
    assert_eq!(redeemed.status(), 200);
    // The user signed in to Space, not to qrlogin: no qrlogin session, no qrlogin token.
    assert!(
        redeemed
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().contains("qrlogin_desktop="))
    );
    let redeemed: Value = redeemed.json().await.unwrap();
    assert!(redeemed.get("access_token").is_none());
    let id_token = redeemed["id_token"].as_str().unwrap();
    assert_eq!(typ_of(id_token).as_deref(), Some("id_token+jwt"));
    let claims = verified_identity(&cluster, id_token, &space).await.unwrap();
    assert_eq!(claims["aud"], space.as_str());
    assert_eq!(claims["sub"], "mentra:alice@example.com");
    assert_eq!(claims["name"], "alice@example.com");
    assert_eq!(claims["amr"], json!(["qr", "user"]), "a tap approved it");
    // When the phone approved, not when the client redeemed.
    assert_eq!(claims["auth_time"].as_i64().unwrap(), approved_at / 1000);
    assert_eq!(claims["iat"].as_i64().unwrap(), approved_at / 1000 + 10);

    // Another app cannot use it: the audience is Space's.
    let (other, _) = register(&cluster, "Other", ConfirmationMode::Tap).await;
    let wrong_audience = verified_identity(&cluster, id_token, &other).await;
    assert_eq!(
        wrong_audience
            .unwrap_err()
            .downcast_ref::<jsonwebtoken::errors::Error>()
            .unwrap()
            .kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidAudience
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_request_is_redeemed_by_that_client_only() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let (_, space_key) = register(&cluster, "Space", ConfirmationMode::Tap).await;
    let (_, other_key) = register(&cluster, "Other", ConfirmationMode::Tap).await;
    let (_, created) = create_as(&cluster, &space_key).await;
    let phone = cluster.phone("alice@example.com").await;
    approved_on(&phone, created["id"].as_str().unwrap()).await;

    let (status, code) = error_code(redeem_as(&cluster, &created, Some(&other_key)).await).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let (status, _) = error_code(redeem_as(&cluster, &created, None).await).await;
    assert_eq!(status, 403);
    // Refusals spent nothing: the right client still redeems.
    assert_eq!(
        redeem_as(&cluster, &created, Some(&space_key))
            .await
            .status(),
        200
    );

    // And a plain request is not redeemable with a client's key.
    let screen = cluster.screen(0);
    let plain = screen.create().await;
    approved_on(&phone, &plain.id).await;
    let plain_json = json!({"id": plain.id, "desktop_secret": plain.secret});
    assert_eq!(
        redeem_as(&cluster, &plain_json, Some(&space_key))
            .await
            .status(),
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_rotated_key_is_refused() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let (space, key) = register(&cluster, "Space", ConfirmationMode::Tap).await;
    for wrong in [
        format!("{key}x"),
        "qrk_cl_nosuchclient.secret".to_owned(),
        "not-a-key".to_owned(),
    ] {
        let (status, body) = create_as(&cluster, &wrong).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthenticated"))
        );
    }
    let mut registered = registry::load(&*cluster.store, &space)
        .await
        .unwrap()
        .unwrap();
    let rotated = registered.rotate_key(cluster.clock.now());
    assert!(registry::save(&*cluster.store, &registered).await.unwrap());
    assert_eq!(create_as(&cluster, &key).await.0, 401);
    assert_eq!(create_as(&cluster, rotated.expose_secret()).await.0, 201);
    let trail = cluster.audit_trail().await;
    assert!(
        trail
            .iter()
            .any(|r| r.detail.as_deref() == Some("client API key: not valid"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_in_pin_mode_gets_a_pin_even_where_the_deployment_taps() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let (_, key) = register(&cluster, "Vault", ConfirmationMode::Pin).await;
    let (_, created) = create_as(&cluster, &key).await;
    let id = created["id"].as_str().unwrap();
    let phone = cluster.phone("alice@example.com").await;
    let seen = approved_on(&phone, id).await;
    let pin = seen["decided"]["pin"].as_str().unwrap().to_owned();
    assert_eq!(
        redeem_as(&cluster, &created, Some(&key)).await.status(),
        409
    );
    let typed = client()
        .post(format!(
            "{}/api/login-requests/{id}/pin",
            cluster.desktops[0]
        ))
        .header(
            "x-desktop-secret",
            created["desktop_secret"].as_str().unwrap(),
        )
        .json(&json!({ "pin": pin }))
        .send()
        .await
        .unwrap();
    assert_eq!(typed.status(), 200);
    assert_eq!(
        redeem_as(&cluster, &created, Some(&key)).await.status(),
        200
    );
}

fn oauth_client(
    cluster: &TestCluster,
    client_id: &str,
) -> oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    let base = &cluster.desktops[0];
    BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(format!("{base}/oauth/device_authorization")).unwrap(),
        )
        .set_token_uri(TokenUrl::new(format!("{base}/oauth/token")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_library_completes_the_device_flow_by_qr_and_by_typed_code() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let space = register_for_device_grant(&cluster, "Space").await;
    let oauth = oauth_client(&cluster, &space);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let phone = Arc::new(cluster.phone("alice@example.com").await);

    for typed in [false, true] {
        let details: StandardDeviceAuthorizationResponse = oauth
            .exchange_device_code()
            .request_async(&http)
            .await
            .unwrap();
        assert_eq!(
            details.verification_uri().as_str(),
            format!("{}/scan", cluster.mobile)
        );
        let complete = details
            .verification_uri_complete()
            .unwrap()
            .secret()
            .clone();
        let id = complete.rsplit('/').next().unwrap().to_owned();
        // The user acts only once the device is polling: its first poll hears
        // `authorization_pending`, and its wait ends when the phone has approved.
        let approved = Arc::new(tokio::sync::Notify::new());
        let user_code = details.user_code().secret().clone();
        let act = {
            let (phone, approved, id) = (phone.clone(), approved.clone(), id.clone());
            async move {
                let scanned = if typed {
                    // Typed in any case, with any separators.
                    let messy = user_code.to_lowercase().replace('-', " . ");
                    phone.scan(json!({ "user_code": messy })).await
                } else {
                    phone.scan(json!({ "qr_text": complete })).await
                };
                assert_eq!(scanned.status(), 200);
                assert_eq!(phone.decide(&id, "approve").await.status(), 200);
                approved.notify_one();
            }
        };
        let clock = cluster.clock.clone();
        let waited_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sleep = |interval: Duration| {
            let (clock, approved, waited_once) =
                (clock.clone(), approved.clone(), waited_once.clone());
            async move {
                // Time passes for the server as the device waits (the server's clock is
                // the test's), and the first wait lasts until the user has approved.
                clock.advance(interval);
                if !waited_once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    tokio::time::timeout(Duration::from_secs(10), approved.notified())
                        .await
                        .unwrap();
                }
            }
        };
        let polled = oauth
            .exchange_device_access_token(&details)
            .request_async(&http, sleep, None);
        let (token, ()) = tokio::join!(polled, act);
        let token = token.unwrap();
        // The access token is Space's (its audience), for Space's API: qrlogin's refuses it,
        // and it is no identity token.
        let access = verified_client_access(&cluster, token.access_token().secret(), &space)
            .await
            .unwrap();
        assert_eq!(access["sub"], "mentra:alice@example.com");
        assert!(
            verified_identity(&cluster, token.access_token().secret(), &space)
                .await
                .is_err()
        );
        let on_qrlogin = client()
            .get(format!("{}/api/me", cluster.desktops[0]))
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .unwrap();
        assert_eq!(on_qrlogin.status(), 401);
    }
}

/// A raw token request for `device_code`.
async fn poll(cluster: &TestCluster, client_id: &str, device_code: &str) -> (u16, Value, String) {
    let response = client()
        .post(format!("{}/oauth/token", cluster.desktops[0]))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, response.json().await.unwrap(), cache)
}

async fn authorize(cluster: &TestCluster, client_id: &str) -> Value {
    let response = client()
        .post(format!(
            "{}/oauth/device_authorization",
            cluster.desktops[0]
        ))
        .form(&[("client_id", client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A raw device authorization request with `client_id`: status and body.
async fn ask_for_device_codes(cluster: &TestCluster, client_id: &str) -> (u16, Value) {
    let response = client()
        .post(format!(
            "{}/oauth/device_authorization",
            cluster.desktops[0]
        ))
        .form(&[("client_id", client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_grant_is_refused_by_the_public_id_of_a_client_not_registered_for_it() {
    device_grant_refused_unless_registered(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_grant_is_refused_by_the_public_id_of_a_client_not_registered_for_it_on_redis() {
    device_grant_refused_unless_registered(Backend::Redis).await;
}

/// The attack: anyone who learns a client's public id (it is in every identity token's
/// `aud`) used to start device sign-ins in the client's name and be handed tokens for it.
async fn device_grant_refused_unless_registered(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let (space, key) = register(&cluster, "Space", ConfirmationMode::Tap).await;
    let (status, body) = ask_for_device_codes(&cluster, &space).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains("clients device-grant"),
        "{description}"
    );
    assert!(body.get("device_code").is_none());
    // The token endpoint refuses it likewise, whatever device code is shown.
    let forged = format!("{}.secret", qrlogin_auth::RequestId::generate());
    let (status, body, cache) = poll(&cluster, &space, &forged).await;
    assert_eq!(
        (status, body["error"].as_str(), cache.as_str()),
        (400, Some("unauthorized_client"), "no-store")
    );
    // The attempt is in the audit trail, against the client, and made no request.
    let trail = cluster.audit_trail().await;
    let refused = trail
        .iter()
        .find(|r| r.client.as_deref() == Some("Space"))
        .unwrap();
    assert_eq!(refused.event, qrlogin_auth::audit::AuditEvent::Create);
    assert_eq!(refused.outcome, "forbidden");
    assert!(refused.login_request.is_none());
    // The client's server is not affected: its API key still makes sign-ins.
    assert_eq!(create_as(&cluster, &key).await.0, 201);

    // A client stored before the permission existed (no such field) keeps working, and is
    // off: its record is read as it was written then.
    let (older, older_key) = RegisteredClient::register(
        "Older",
        vec![],
        vec![],
        ConfirmationMode::Tap,
        false,
        cluster.clock.now(),
    )
    .unwrap();
    let mut stored = serde_json::to_value(&older).unwrap();
    stored
        .as_object_mut()
        .unwrap()
        .remove("device_grant")
        .unwrap();
    assert!(
        cluster
            .store
            .insert_entry(
                qrlogin_auth::client::CLIENTS,
                &older.id,
                &stored.to_string()
            )
            .await
            .unwrap()
    );
    let loaded = registry::load(&*cluster.store, &older.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!loaded.device_grant);
    assert_eq!(
        ask_for_device_codes(&cluster, &older.id).await.1["error"],
        "unauthorized_client"
    );
    assert_eq!(create_as(&cluster, older_key.expose_secret()).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_registered_for_the_device_grant_gets_tokens_that_say_what_they_are() {
    typed_tokens_through_the_device_grant(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_registered_for_the_device_grant_gets_tokens_that_say_what_they_are_on_redis() {
    typed_tokens_through_the_device_grant(Backend::Redis).await;
}

/// With `--device-grant` the grant works end to end; its access token (`at+jwt`, `aud` =
/// the client) is refused where an identity token is expected (the relying app's check),
/// and its identity token is refused where an access token is (qrlogin's own bearer check).
async fn typed_tokens_through_the_device_grant(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let space = register_for_device_grant(&cluster, "Space").await;
    let (status, codes) = ask_for_device_codes(&cluster, &space).await;
    assert_eq!(status, 200, "{codes}");
    let device_code = codes["device_code"].as_str().unwrap();
    let id = codes["verification_uri_complete"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        poll(&cluster, &space, device_code).await.1["error"],
        "authorization_pending"
    );
    let phone = cluster.phone("alice@example.com").await;
    approved_on(&phone, &id).await;
    cluster.clock.advance(Duration::from_secs(5));
    let (status, tokens, cache) = poll(&cluster, &space, device_code).await;
    assert_eq!((status, cache.as_str()), (200, "no-store"), "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let access_token = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();

    assert_eq!(typ_of(access_token).as_deref(), Some("at+jwt"));
    assert_eq!(typ_of(id_token).as_deref(), Some("id_token+jwt"));
    // The identity token passes the relying app's check; the access token, signed by the
    // same key for the same audience, does not: for its type alone.
    let identity = verified_identity(&cluster, id_token, &space).await.unwrap();
    assert_eq!(identity["sub"], "mentra:alice@example.com");
    let refused = verified_identity(&cluster, access_token, &space)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("not an identity token"),
        "{refused}"
    );
    let access = verified_client_access(&cluster, access_token, &space)
        .await
        .unwrap();
    assert_eq!(
        (access["aud"].as_str(), access["iss"].as_str()),
        (Some(space.as_str()), Some(cluster.desktops[0].as_str()))
    );
    assert!(
        verified_client_access(&cluster, id_token, &space)
            .await
            .is_err()
    );

    // Neither is qrlogin's: its bearer check refuses the identity token, and the client's
    // access token.
    for token in [id_token, access_token] {
        let (status, code) = error_code(
            client()
                .get(format!("{}/api/me", cluster.desktops[0]))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, code.as_str()), (401, "unauthenticated"));
    }
    // The code was spent.
    cluster.clock.advance(Duration::from_secs(5));
    assert_eq!(
        poll(&cluster, &space, device_code).await.1["error"],
        "invalid_grant"
    );

    // qrlogin's own access tokens say `at+jwt` as well, and its bearer check takes them.
    let screen = cluster.screen(0);
    let created = crate::helpers::approved(&screen, &phone).await;
    let redeemed: Value = screen.redeem(&created).await.json().await.unwrap();
    let own = redeemed["access_token"].as_str().unwrap();
    assert_eq!(typ_of(own).as_deref(), Some("at+jwt"));
    let me = client()
        .get(format!("{}/api/me", cluster.desktops[0]))
        .bearer_auth(own)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_too_fast_slows_the_device_down_for_good() {
    slowed_down_for_good(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_too_fast_slows_the_device_down_for_good_on_redis() {
    slowed_down_for_good(Backend::Redis).await;
}

async fn slowed_down_for_good(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let space = register_for_device_grant(&cluster, "Space").await;
    let codes = authorize(&cluster, &space).await;
    assert_eq!(codes["interval"], 5);
    let device_code = codes["device_code"].as_str().unwrap();
    let error_of = |answer: &(u16, Value, String)| {
        assert_eq!(answer.0, 400);
        assert_eq!(answer.2, "no-store");
        answer.1["error"].as_str().unwrap().to_owned()
    };
    // The first poll is never throttled.
    assert_eq!(
        error_of(&poll(&cluster, &space, device_code).await),
        "authorization_pending"
    );
    // At once again: too soon, and the interval becomes 10 s.
    assert_eq!(
        error_of(&poll(&cluster, &space, device_code).await),
        "slow_down"
    );
    cluster.clock.advance(Duration::from_secs(6));
    // 6 s is enough for the old 5 s interval, not for the new 10 s one: slower still (15 s).
    assert_eq!(
        error_of(&poll(&cluster, &space, device_code).await),
        "slow_down"
    );
    cluster.clock.advance(Duration::from_secs(15));
    assert_eq!(
        error_of(&poll(&cluster, &space, device_code).await),
        "authorization_pending"
    );
    cluster.clock.advance(Duration::from_secs(14));
    assert_eq!(
        error_of(&poll(&cluster, &space, device_code).await),
        "slow_down"
    );
    // Another device's code has its own pace.
    let other = authorize(&cluster, &space).await;
    assert_eq!(
        error_of(&poll(&cluster, &space, other["device_code"].as_str().unwrap()).await),
        "authorization_pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_or_expired_device_code_says_so_and_codes_are_bound_to_their_client() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let space = register_for_device_grant(&cluster, "Space").await;
    let other = register_for_device_grant(&cluster, "Other").await;
    let phone = cluster.phone("alice@example.com").await;

    let denied = authorize(&cluster, &space).await;
    let url = denied["verification_uri_complete"].as_str().unwrap();
    let id = url.rsplit('/').next().unwrap();
    assert_eq!(phone.scan_id(id).await.status(), 200);
    assert_eq!(phone.decide(id, "deny").await.status(), 200);
    let code = denied["device_code"].as_str().unwrap();
    assert_eq!(
        poll(&cluster, &space, code).await.1["error"],
        "access_denied"
    );

    let expired = authorize(&cluster, &space).await;
    let code = expired["device_code"].as_str().unwrap();
    cluster.clock.advance(Duration::from_secs(61));
    assert_eq!(
        poll(&cluster, &space, code).await.1["error"],
        "expired_token"
    );

    let bound = authorize(&cluster, &space).await;
    let code = bound["device_code"].as_str().unwrap();
    assert_eq!(
        poll(&cluster, &other, code).await.1["error"],
        "invalid_grant"
    );
    let (status, body, _) = poll(&cluster, "cl_unknown", code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client"))
    );
    assert_eq!(
        poll(&cluster, &space, "forged.code").await.1["error"],
        "invalid_grant"
    );
    let wrong_grant = client()
        .post(format!("{}/oauth/token", cluster.desktops[0]))
        .form(&[("grant_type", "password"), ("client_id", space.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_grant.status(), 400);
    let body: Value = wrong_grant.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_server_metadata_names_the_endpoints() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let metadata: Value = client()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            cluster.desktops[0]
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = &cluster.desktops[0];
    assert_eq!(
        metadata["device_authorization_endpoint"],
        format!("{base}/oauth/device_authorization")
    );
    assert_eq!(metadata["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(
        metadata["jwks_uri"],
        format!("{base}/.well-known/jwks.json")
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{base}/oauth/authorize")
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_grant_cannot_redeem_what_a_clients_server_made_nor_weaken_a_pin_client() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let (space, key) = register_as(&cluster, "Space", ConfirmationMode::Tap, true).await;
    // A browser following the server-made request holds its desktop secret: that must not
    // be enough to redeem it at the token endpoint with the public client id.
    let (_, created) = create_as(&cluster, &key).await;
    let phone = cluster.phone("alice@example.com").await;
    approved_on(&phone, created["id"].as_str().unwrap()).await;
    let code = format!(
        "{}.{}",
        created["id"].as_str().unwrap(),
        created["desktop_secret"].as_str().unwrap()
    );
    assert_eq!(
        poll(&cluster, &space, &code).await.1["error"],
        "invalid_grant"
    );
    assert_eq!(
        redeem_as(&cluster, &created, Some(&key)).await.status(),
        200
    );

    // A client that confirms with a PIN is not offered the device grant, even one stored
    // with both (`clients add` refuses to register it so).
    let (mut vault, _) = RegisteredClient::register(
        "Vault",
        vec![],
        vec![],
        ConfirmationMode::Tap,
        true,
        cluster.clock.now(),
    )
    .unwrap();
    vault.confirmation = ConfirmationMode::Pin;
    assert!(registry::add(&*cluster.store, &vault).await.unwrap());
    let vault = vault.id;
    let response = client()
        .post(format!(
            "{}/oauth/device_authorization",
            cluster.desktops[0]
        ))
        .form(&[("client_id", vault.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    assert!(body["error_description"].as_str().unwrap().contains("PIN"));

    // Parameters as JSON are not OAuth's.
    let json_body = client()
        .post(format!(
            "{}/oauth/device_authorization",
            cluster.desktops[0]
        ))
        .json(&json!({ "client_id": space }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 400);
    let body: Value = json_body.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_clients_own_origins_may_follow_its_requests_from_a_browser() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let (_, key) = register(&cluster, "Space", ConfirmationMode::Tap).await;
    let (_, created) = create_as(&cluster, &key).await;
    let url = format!(
        "{}/api/login-requests/{}",
        cluster.desktops[0],
        created["id"].as_str().unwrap()
    );
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-desktop-secret")
            .send()
    };
    let allowed = preflight("https://space.example").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://space.example"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-headers"],
        "x-desktop-secret"
    );
    assert_eq!(
        preflight("https://evil.example").await.unwrap().status(),
        403
    );

    let poll_from = |origin: &'static str| {
        client()
            .get(&url)
            .header("origin", origin)
            .header(
                "x-desktop-secret",
                created["desktop_secret"].as_str().unwrap(),
            )
            .send()
    };
    let followed = poll_from("https://space.example").await.unwrap();
    assert_eq!(followed.status(), 200);
    assert_eq!(
        followed.headers()["access-control-allow-origin"],
        "https://space.example"
    );
    let elsewhere = poll_from("https://evil.example").await.unwrap();
    assert!(
        elsewhere
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // A request of this deployment's own is never opened to other sites.
    let plain = cluster.screen(0).create().await;
    let own = client()
        .get(format!(
            "{}/api/login-requests/{}",
            cluster.desktops[0], plain.id
        ))
        .header("origin", "https://space.example")
        .header("x-desktop-secret", &plain.secret)
        .send()
        .await
        .unwrap();
    assert!(own.headers().get("access-control-allow-origin").is_none());
}
