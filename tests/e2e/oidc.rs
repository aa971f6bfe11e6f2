//! "Sign in with qrlogin" for web apps, over HTTP: OpenID Connect's code flow with PKCE,
//! the QR page as its sign-in page, and the attacks its rules are there for: a redirect URI
//! the app did not register, a replayed code, a wrong verifier, a reused refresh token, and
//! logout ending the sign-in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qrlogin_auth::client::{ConfirmationMode, RegisteredClient, registry};
use qrlogin_auth::clock::Clock;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, Phone, TestCluster, client};

pub const CALLBACK: &str = "http://127.0.0.1:9/callback";
const BYE: &str = "http://127.0.0.1:9/bye";

/// A web app registered as `qrlogin clients add Space --redirect-uri … --post-logout-redirect-uri …`
/// does: its id and key.
async fn register(cluster: &TestCluster) -> (String, String) {
    let (mut registered, key) = RegisteredClient::register(
        "Space",
        vec![CALLBACK.into()],
        vec![],
        ConfirmationMode::Tap,
        false,
        cluster.clock.now(),
    )
    .unwrap();
    registered
        .set_post_logout_redirect_uris(vec![BYE.into()])
        .unwrap();
    assert!(registry::add(&*cluster.store, &registered).await.unwrap());
    (registered.id, key.expose_secret().to_owned())
}

/// The value of `attribute="…"` in `page`.
fn attribute(page: &str, attribute: &str) -> String {
    let start = page
        .find(&format!("{attribute}=\""))
        .unwrap_or_else(|| panic!("no {attribute} in {page}"))
        + attribute.len()
        + 2;
    page[start..][..page[start..].find('"').unwrap()].to_owned()
}

/// A browser opens `authorize_url` on `desktop`; its QR is approved by `phone`; where the
/// browser is sent back to.
pub async fn signed_in_through_the_page(
    desktop: &str,
    authorize_url: &str,
    phone: &Phone,
) -> String {
    let browser = client();
    let page = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Space"), "the page names the app: {page}");
    let authorization = attribute(&page, "data-authorization");
    let created: Value = browser
        .post(format!("{desktop}/api/login-requests"))
        .json(&json!({ "authorization": authorization }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let scanned: Value = phone.scan_id(id).await.json().await.unwrap();
    assert!(
        scanned.to_string().contains("Space"),
        "the phone is asked about the app: {scanned}"
    );
    assert_eq!(phone.decide(id, "approve").await.status(), 200);
    let back = browser
        .post(format!("{desktop}/oauth/authorize/finish"))
        .form(&[("authorization", authorization.as_str()), ("request", id)])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    back.headers()["location"].to_str().unwrap().to_owned()
}

/// The `authorization_code` grant's form for `code` and `verifier`, with `more`.
fn code_form<'a>(
    code: &'a str,
    verifier: &'a str,
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ];
    form.extend_from_slice(more);
    form
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand08::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

struct App {
    cluster: TestCluster,
    id: String,
    key: String,
    phone: Phone,
}

impl App {
    async fn start() -> Self {
        let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
        let (id, key) = register(&cluster).await;
        let phone = cluster.phone("alice@example.com").await;
        Self {
            cluster,
            id,
            key,
            phone,
        }
    }

    fn desktop(&self) -> &str {
        &self.cluster.desktops[0]
    }

    fn authorize_url(&self, redirect_uri: &str, challenge: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid profile")
            .append_pair("state", "st-1")
            .append_pair("nonce", "n-1")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}/oauth/authorize?{query}", self.desktop())
    }

    /// A sign-in through the page: the code the app is given, and its verifier.
    async fn code(&self) -> (String, String) {
        let (verifier, challenge) = pkce();
        let url = self.authorize_url(CALLBACK, &challenge);
        let back = signed_in_through_the_page(self.desktop(), &url, &self.phone).await;
        let back = url::Url::parse(&back).unwrap();
        assert!(back.as_str().starts_with(CALLBACK), "{back}");
        let query: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "st-1");
        assert_eq!(query["iss"], self.desktop());
        (query["code"].clone(), verifier)
    }

    /// `POST /oauth/token` with `form`, from a page at `origin` if given.
    fn token_request(
        &self,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = client()
            .post(format!("{}/oauth/token", self.desktop()))
            .form(form);
        match origin {
            Some(origin) => request.header("origin", origin),
            None => request,
        }
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let request = self.token_request(form, None);
        let response = request
            .basic_auth(&self.id, Some(&self.key))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn exchange(&self, code: &str, verifier: &str) -> (u16, Value) {
        self.token(&code_form(code, verifier, &[])).await
    }

    async fn refresh(&self, tokens: &Value) -> (u16, Value) {
        let token = tokens["refresh_token"].as_str().unwrap();
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .await
    }

    async fn userinfo(&self, tokens: &Value) -> u16 {
        client()
            .get(format!("{}/oauth/userinfo", self.desktop()))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_app_signs_its_user_in_through_the_qr_page() {
    let app = App::start().await;
    let discovered: Value = client()
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.desktop()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovered["issuer"], app.desktop());
    assert_eq!(
        discovered["code_challenge_methods_supported"],
        json!(["S256"])
    );
    // RS256, which OpenID Connect asks every provider to offer and libraries assume.
    assert_eq!(
        discovered["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );

    let (code, verifier) = app.code().await;
    let (status, tokens) = app.exchange(&code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile");
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["aud"], app.id.as_str());
    assert_eq!(claims["sub"], "mentra:alice@example.com");
    assert!(claims["sid"].is_string() && claims["auth_time"].is_number());
    let info: Value = client()
        .get(format!("{}/oauth/userinfo", app.desktop()))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info,
        json!({ "sub": "mentra:alice@example.com", "name": "alice@example.com" })
    );
    let (status, refreshed) = app.refresh(&tokens).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(app.userinfo(&refreshed).await, 200);

    // Alice's own dashboard lists the app's sign-in by its name, and can end it.
    let screen = app.cluster.screen(0);
    let created = crate::helpers::approved(&screen, &app.phone).await;
    assert_eq!(screen.redeem(&created).await.status(), 200);
    let listed = screen.get_json("/api/sessions").await;
    let session = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["app"] == "Space")
        .unwrap_or_else(|| panic!("the app's sign-in is listed: {listed}"))
        .clone();
    assert_eq!(session["id"], claims["sid"]);
    let revoked = screen
        .client
        .delete(format!(
            "{}/api/sessions/{}",
            app.desktop(),
            claims["sid"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(app.userinfo(&refreshed).await, 401);
    let (status, _) = app.refresh(&refreshed).await;
    assert_eq!(status, 400, "the refresh token ended with the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_uri_the_app_did_not_register_is_never_redirected_to() {
    let app = App::start().await;
    let (_, challenge) = pkce();
    let url = app.authorize_url("http://127.0.0.1:9/elsewhere", &challenge);
    let answer = client().get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    assert!(answer.headers().get("location").is_none());
    let page = answer.text().await.unwrap();
    assert!(page.contains("did not register"), "{page}");
    // Once the redirect URI is trusted, other errors go back to the app, with its state.
    let url = app.authorize_url(CALLBACK, "not-a-challenge");
    let answer = client().get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let location = answer.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(CALLBACK) && location.contains("error=invalid_request"));
    assert!(location.contains("state=st-1"), "{location}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_is_refused_and_revokes_what_it_gave() {
    let app = App::start().await;
    let (code, verifier) = app.code().await;
    let (status, tokens) = app.exchange(&code, &verifier).await;
    assert_eq!(status, 200);
    assert_eq!(app.userinfo(&tokens).await, 200);
    let (status, replayed) = app.exchange(&code, &verifier).await;
    assert_eq!((status, &replayed["error"]), (400, &json!("invalid_grant")));
    assert_eq!(
        app.userinfo(&tokens).await,
        401,
        "the first tokens are revoked"
    );
    let (status, _) = app.refresh(&tokens).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_verifier_or_secret_is_refused() {
    let app = App::start().await;
    let (code, _) = app.code().await;
    let (other_verifier, _) = pkce();
    let (status, refused) = app.exchange(&code, &other_verifier).await;
    assert_eq!((status, &refused["error"]), (400, &json!("invalid_grant")));

    let (code, verifier) = app.code().await;
    let wrong_secret = app
        .token_request(&code_form(&code, &verifier, &[]), None)
        .basic_auth(&app.id, Some("qrk_wrong.secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 401);
    assert!(wrong_secret.headers().contains_key("www-authenticate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_refresh_token_ends_its_whole_family() {
    let app = App::start().await;
    let (code, verifier) = app.code().await;
    let (_, first) = app.exchange(&code, &verifier).await;
    let (status, second) = app.refresh(&first).await;
    assert_eq!(status, 200);
    let (status, reused) = app.refresh(&first).await;
    assert_eq!((status, &reused["error"]), (400, &json!("invalid_grant")));
    assert_eq!(app.userinfo(&second).await, 401);
    let (status, _) = app.refresh(&second).await;
    assert_eq!(status, 400, "the newest refresh token died with its family");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_sign_in_and_returns_only_where_the_app_registered() {
    let app = App::start().await;
    let (code, verifier) = app.code().await;
    let (_, tokens) = app.exchange(&code, &verifier).await;
    let logout = |back: &str| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
            .append_pair("post_logout_redirect_uri", back)
            .append_pair("state", "bye-1")
            .finish();
        format!("{}/oauth/logout?{query}", app.desktop())
    };
    let elsewhere = client()
        .get(logout("http://127.0.0.1:9/evil"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 400);
    assert!(elsewhere.headers().get("location").is_none());
    assert_eq!(
        app.userinfo(&tokens).await,
        200,
        "a refused logout ends nothing"
    );

    // Posted from the app's own page, as RP-Initiated Logout allows.
    let url = url::Url::parse(&logout(BYE)).unwrap();
    let back = client()
        .post(format!("{}/oauth/logout", app.desktop()))
        .header("origin", "http://127.0.0.1:9")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(url.query().unwrap().to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(
        back.headers()["location"],
        format!("{BYE}?state=bye-1").as_str()
    );
    assert_eq!(app.userinfo(&tokens).await, 401);
    let (status, _) = app.refresh(&tokens).await;
    assert_eq!(status, 400);
}

/// Two exchanges of one code at once (the app, and someone who saw the code): whichever
/// wins, nothing it was given keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_raced_by_two_exchanges_leaves_nothing_working() {
    let app = App::start().await;
    for _ in 0..5 {
        let (code, verifier) = app.code().await;
        let ((first, a), (second, b)) = tokio::join!(
            app.exchange(&code, &verifier),
            app.exchange(&code, &verifier)
        );
        assert!(first != 200 || second != 200, "one code, one exchange");
        for tokens in [a, b].iter().filter(|t| t["access_token"].is_string()) {
            assert_eq!(app.userinfo(tokens).await, 401, "revoked: {tokens}");
        }
    }
}

/// Another approved request of the same app (its server's, with the desktop secret in a
/// header) cannot finish the page's authorization: only the page's own request can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_pages_own_request_turns_into_a_code() {
    let app = App::start().await;
    let (_, challenge) = pkce();
    let browser = client();
    let page = browser
        .get(app.authorize_url(CALLBACK, &challenge))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let authorization = attribute(&page, "data-authorization");
    let created: Value = client()
        .post(format!("{}/api/login-requests", app.desktop()))
        .bearer_auth(&app.key)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.phone.scan_id(id).await.status(), 200);
    assert_eq!(app.phone.decide(id, "approve").await.status(), 200);
    let finished = browser
        .post(format!("{}/oauth/authorize/finish", app.desktop()))
        .header(
            "x-desktop-secret",
            created["desktop_secret"].as_str().unwrap(),
        )
        .form(&[("authorization", authorization.as_str()), ("request", id)])
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), 403);
    assert!(finished.headers().get("location").is_none());
}

/// A single-page app, registered public with its origin: it exchanges its code with PKCE
/// alone, from its page, and may read the answer (CORS); another site may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_single_page_app_signs_in_from_its_own_origin() {
    let app = App::start().await;
    let (mut spa, _) = RegisteredClient::register(
        "Space",
        vec![CALLBACK.into()],
        vec!["http://127.0.0.1:9".into()],
        ConfirmationMode::Tap,
        false,
        app.cluster.clock.now(),
    )
    .unwrap();
    spa.make_public();
    assert!(registry::add(&*app.cluster.store, &spa).await.unwrap());
    let spa = App {
        id: spa.id,
        key: String::new(),
        ..app
    };
    let exchange = async |origin: &str| {
        let (code, verifier) = spa.code().await;
        let form = code_form(&code, &verifier, &[("client_id", &spa.id)]);
        spa.token_request(&form, Some(origin)).send().await.unwrap()
    };
    let own = exchange("http://127.0.0.1:9").await;
    assert_eq!(own.status(), 200);
    assert_eq!(
        own.headers()["access-control-allow-origin"],
        "http://127.0.0.1:9"
    );
    let elsewhere = exchange("https://evil.example").await;
    assert!(
        elsewhere
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // A public app has no secret: one sent is refused.
    let (code, verifier) = spa.code().await;
    let more = [
        ("client_id", spa.id.as_str()),
        ("client_secret", "qrk_guess.secret"),
    ];
    let form = code_form(&code, &verifier, &more);
    let with_secret = spa.token_request(&form, None).send().await.unwrap();
    assert_eq!(with_secret.status(), 401);
}

/// RFC 6750 §3.1: userinfo's refusal says how to authenticate, and why a token was refused,
/// in its challenge and in words.
#[tokio::test]
async fn userinfo_challenges_a_missing_or_refused_token() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let userinfo = format!("{}/oauth/userinfo", cluster.desktops[0]);
    let missing = client().get(&userinfo).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let refused = client()
        .post(&userinfo)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    let said: Value = refused.json().await.unwrap();
    assert_eq!(said["error"], "unauthenticated");
    assert_ne!(said["message"], "The request could not be handled.");
}
