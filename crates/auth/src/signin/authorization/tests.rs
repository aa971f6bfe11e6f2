//! The code flow's rules without a web framework: a real embedded store, a manual clock, an
//! audit sink that keeps what it is given and a limiter that allows everything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use secrecy::ExposeSecret;

use super::*;
use crate::client::{ConfirmationMode, RegisteredClient, registry};
use crate::clock::Clock;
use crate::signin::testing::{World, caller, policy};
use crate::signin::{ApprovalProof, ClaimSource, Decision, Requester};

/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CALLBACK: &str = "https://space.example/callback";

struct App {
    world: World,
    client: RegisteredClient,
    key: String,
}

impl App {
    async fn new() -> Self {
        let world = World::new(policy()).await;
        let (client, key) = RegisteredClient::register(
            "Space",
            vec![CALLBACK.into()],
            vec![],
            ConfirmationMode::Tap,
            false,
            world.clock.now(),
        )
        .unwrap();
        assert!(registry::add(&*world.store, &client).await.unwrap());
        Self {
            world,
            client,
            key: key.expose_secret().to_owned(),
        }
    }

    fn params(&self) -> AuthorizationParams {
        AuthorizationParams {
            response_type: Some("code".into()),
            client_id: Some(self.client.id.clone()),
            redirect_uri: Some(CALLBACK.into()),
            scope: Some("openid profile".into()),
            state: Some("st".into()),
            nonce: Some("nonce-1".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            ..AuthorizationParams::default()
        }
    }

    fn credentials(&self) -> ClientCredentials<'_> {
        ClientCredentials {
            client_id: &self.client.id,
            secret: Some(&self.key),
        }
    }

    /// The browser's trip: authorize, a QR approved by alice's phone, back with a code.
    async fn code(&self) -> String {
        let signin = &self.world.signin;
        let (authorization, client) = signin
            .begin_authorization(&caller("192.0.2.10"), &self.params())
            .await
            .unwrap();
        let browser = caller("192.0.2.10");
        let new = signin
            .create(
                &browser,
                Requester::WebApp {
                    client: &client,
                    authorization: &authorization.id,
                },
            )
            .await
            .unwrap();
        let alice = User::mentra("alice@example.com");
        let phone = caller("192.0.2.11");
        let id = new.request.id.clone();
        signin
            .claim(&phone, alice.clone(), ClaimSource::Id(id.to_string()))
            .await
            .unwrap();
        signin
            .decide(&phone, alice, &id, Decision::Approve(ApprovalProof::Tap))
            .await
            .unwrap();
        let back = signin
            .complete_authorization(&browser, &authorization.id, &id, &new.desktop_secret)
            .await
            .unwrap();
        let back = url::Url::parse(&back).unwrap();
        let query: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "st");
        assert_eq!(query["iss"], "http://screen.test");
        query["code"].clone()
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<AppTokens, GrantError> {
        self.world
            .signin
            .exchange_code(
                &caller("198.51.100.1"),
                &self.credentials(),
                code,
                Some(CALLBACK),
                Some(verifier),
            )
            .await
    }

    async fn refresh(&self, token: &SecretString) -> Result<AppTokens, GrantError> {
        self.world
            .signin
            .refresh_app_tokens(
                &caller("198.51.100.1"),
                &self.credentials(),
                token.expose_secret(),
            )
            .await
    }

    async fn userinfo(&self, tokens: &AppTokens) -> Result<UserInfo, Refusal> {
        self.world
            .signin
            .userinfo(tokens.access_token.expose_secret())
            .await
    }
}

#[tokio::test]
async fn a_wrong_redirect_uri_is_shown_never_redirected_to() {
    let app = App::new().await;
    let mut params = app.params();
    params.redirect_uri = Some("https://evil.example/callback".into());
    let refused = app
        .world
        .signin
        .begin_authorization(&caller("192.0.2.10"), &params)
        .await;
    assert!(matches!(refused, Err(AuthorizeRefusal::Shown(_))));
    // A trusted redirect URI gets the other errors, with the state.
    let mut params = app.params();
    params.code_challenge_method = Some("plain".into());
    let Err(AuthorizeRefusal::Redirected { redirect }) = app
        .world
        .signin
        .begin_authorization(&caller("192.0.2.10"), &params)
        .await
    else {
        panic!("sent back to the client");
    };
    assert!(redirect.starts_with(CALLBACK), "{redirect}");
    assert!(redirect.contains("error=invalid_request") && redirect.contains("state=st"));
}

#[tokio::test]
async fn a_code_gives_tokens_once_with_the_nonce_and_a_replay_revokes_them() {
    let app = App::new().await;
    let code = app.code().await;
    let tokens = app.exchange(&code, VERIFIER).await.unwrap();
    let keys = &app.world.signin.keys;
    let identity = keys
        .verify_identity_hint(tokens.id_token.expose_secret())
        .unwrap();
    assert_eq!(identity.nonce.as_deref(), Some("nonce-1"));
    assert_eq!(identity.aud, app.client.id);
    assert_eq!(tokens.scope, "openid profile");
    let info = app.userinfo(&tokens).await.unwrap();
    assert_eq!(info.user.id, "mentra:alice@example.com");

    let replayed = app.exchange(&code, VERIFIER).await.err().unwrap();
    assert_eq!(replayed.code(), "invalid_grant");
    assert!(
        app.userinfo(&tokens).await.is_err(),
        "what the first use gave is revoked"
    );
    let refreshed = app.refresh(&tokens.refresh_token).await.err().unwrap();
    assert_eq!(refreshed.code(), "invalid_grant");
}

#[tokio::test]
async fn a_wrong_verifier_or_client_is_refused_and_spends_the_code() {
    let app = App::new().await;
    let code = app.code().await;
    let wrong = app
        .exchange(&code, &VERIFIER.replace('d', "e"))
        .await
        .err()
        .unwrap();
    assert_eq!(wrong.code(), "invalid_grant");
    let again = app.exchange(&code, VERIFIER).await.err().unwrap();
    assert_eq!(again.code(), "invalid_grant", "one try per code");

    let code = app.code().await;
    let no_secret = ClientCredentials {
        client_id: &app.client.id,
        secret: None,
    };
    let unauthenticated = app
        .world
        .signin
        .exchange_code(
            &caller("198.51.100.1"),
            &no_secret,
            &code,
            Some(CALLBACK),
            Some(VERIFIER),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(unauthenticated.code(), "invalid_client");
}

#[tokio::test]
async fn a_refresh_token_rotates_and_a_reused_one_ends_the_family() {
    let app = App::new().await;
    let code = app.code().await;
    let first = app.exchange(&code, VERIFIER).await.unwrap();
    let second = app.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(
        first.refresh_token.expose_secret(),
        second.refresh_token.expose_secret()
    );
    let third = app.refresh(&second.refresh_token).await.unwrap();
    assert!(app.userinfo(&third).await.is_ok());

    // The first one again: it leaked. The whole sign-in ends, the newest tokens too.
    let reused = app.refresh(&first.refresh_token).await.err().unwrap();
    assert_eq!(reused.code(), "invalid_grant");
    assert!(app.userinfo(&third).await.is_err());
    let newest = app.refresh(&third.refresh_token).await.err().unwrap();
    assert_eq!(newest.code(), "invalid_grant");
    let audited = app.world.records().pop().unwrap();
    assert_eq!(audited.event, AuditEvent::Revoke);
}

#[tokio::test]
async fn logout_ends_the_sign_in_and_returns_only_to_a_registered_address() {
    let mut app = App::new().await;
    app.client
        .set_post_logout_redirect_uris(vec!["https://space.example/bye".into()])
        .unwrap();
    registry::save(&*app.world.store, &app.client)
        .await
        .unwrap();
    let code = app.code().await;
    let tokens = app.exchange(&code, VERIFIER).await.unwrap();
    let hint = tokens.id_token.expose_secret().to_owned();
    let logout = |uri: &'static str| AppLogout {
        id_token_hint: Some(&hint),
        client_id: None,
        post_logout_redirect_uri: Some(uri),
        state: Some("s2"),
    };
    let browser = caller("192.0.2.10");
    let elsewhere = app
        .world
        .signin
        .end_app_session(&browser, &logout("https://evil.example/bye"))
        .await;
    assert!(elsewhere.is_err());
    assert!(app.userinfo(&tokens).await.is_ok(), "nothing ended");
    let back = app
        .world
        .signin
        .end_app_session(&browser, &logout("https://space.example/bye"))
        .await
        .unwrap();
    assert_eq!(
        back.back.as_deref(),
        Some("https://space.example/bye?state=s2")
    );
    assert!(app.userinfo(&tokens).await.is_err());
    let refreshed = app.refresh(&tokens.refresh_token).await.err().unwrap();
    assert_eq!(refreshed.code(), "invalid_grant");
}
