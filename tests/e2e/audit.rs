//! The audit trail: every step of a sign-in, every refusal and every rejected token is a
//! record in the store and a log line under the target `audit`; the user sees their own.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qrlogin_auth::audit::{AuditEvent, AuditRecord};
use qrlogin_auth::clock::Clock;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestCluster, approved, captured_logs, client, error_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_of_a_sign_in_is_recorded_logged_and_shown_to_the_user() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 2, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = approved(&screen, &phone).await;
    // Redeemed on the other instance: the trail is shared.
    let other = screen.on(&cluster.desktops[1]);
    assert_eq!(other.redeem(&created).await.status(), 200);

    let steps: Vec<AuditRecord> = cluster
        .audit_trail()
        .await
        .into_iter()
        .filter(|r| r.login_request.as_deref() == Some(created.id.as_str()))
        .collect();
    let events: Vec<AuditEvent> = steps.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        [
            AuditEvent::Create,
            AuditEvent::Claim,
            AuditEvent::Approve,
            AuditEvent::Redeem
        ]
    );
    for step in &steps {
        assert_eq!(step.outcome, "ok", "{step:?}");
        assert_eq!(step.ip.as_deref(), Some("127.0.0.1"), "{step:?}");
        assert!(step.request_id.is_some(), "{step:?}");
    }
    for step in &steps[1..] {
        assert_eq!(
            step.user.as_deref(),
            Some("mentra:alice@example.com"),
            "{step:?}"
        );
    }
    assert!(steps[0].user.is_none(), "nobody is known when a QR is made");

    let logged = captured_logs();
    let audit_lines = logged
        .lines()
        .filter(|l| l.contains(r#""target":"audit""#) && l.contains(&created.id))
        .count();
    assert!(audit_lines >= 4, "each step is logged under `audit`");

    let activity = other.get_json("/api/me/activity").await;
    let shown = activity["activity"].as_array().unwrap();
    assert_eq!(shown[0]["event"], "redeem", "newest first: {activity}");
    assert_eq!(shown[0]["ip"], "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_recorded_with_their_reason() {
    let extra = [
        ("RATE_LIMIT_CREATE_PER_IP", "2/1m"),
        ("LOGIN_CONFIRMATION", "pin"),
    ];
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &extra).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = screen.create().await;
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    let pin: Value = phone
        .decide(&created.id, "approve")
        .await
        .json()
        .await
        .unwrap();
    let pin = pin["pin"].as_str().unwrap();
    let wrong = if pin == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        screen.enter_pin(&created, wrong).await;
    }
    let stale = screen.create().await;
    let refused = client()
        .post(format!("{}/api/login-requests", screen.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(refused).await, (429, "rate_limited".into()));
    cluster.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(
        error_code(phone.scan_id(&stale.id).await).await,
        (410, "expired".into())
    );

    let records = cluster.audit_trail().await;
    let seen = |event: AuditEvent, outcome: &str| -> Vec<&AuditRecord> {
        records
            .iter()
            .filter(|r| r.event == event && r.outcome == outcome)
            .collect()
    };
    let pins = seen(AuditEvent::Pin, "wrong_pin");
    assert_eq!(pins.len(), 5, "each wrong PIN: {records:#?}");
    assert!(
        pins.iter()
            .all(|r| r.login_request.as_deref() == Some(created.id.as_str()))
    );
    assert_eq!(seen(AuditEvent::Lock, "ok").len(), 1, "and the lock");
    let limited = seen(AuditEvent::RateLimited, "rate_limited");
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].detail.as_deref(), Some("create-ip"));
    assert_eq!(limited[0].ip.as_deref(), Some("127.0.0.1"));
    let expired = seen(AuditEvent::Claim, "expired");
    assert_eq!(expired.len(), 1, "the expiry the phone met");
    assert_eq!(expired[0].login_request.as_deref(), Some(stale.id.as_str()));
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Signs `claims` with the Ed25519 key in `pem` under `kid`.
fn sign_eddsa(pem: &str, kid: &str, claims: &Value) -> String {
    sign_eddsa_typed(pem, kid, claims, "at+jwt")
}

fn sign_eddsa_typed(pem: &str, kid: &str, claims: &Value, typ: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    header.typ = Some(typ.to_owned());
    let key = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_token_is_refused_and_audited_for_what_it_is() {
    let Some(cluster) = TestCluster::start(Backend::Redis, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = approved(&screen, &phone).await;
    let redeemed: Value = screen.redeem(&created).await.json().await.unwrap();
    let good = redeemed["access_token"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = good.split('.').collect();
    let (header, claims) = (decode_part(parts[0]), decode_part(parts[1]));
    let kid = header["kid"].as_str().unwrap();
    // The test clusters' own signing keys: with the Ed25519 one (first), the test signs what
    // the server must still refuse.
    let ours = crate::helpers::test_signing_keys()
        .split_inclusive("-----END PRIVATE KEY-----")
        .next()
        .unwrap()
        .to_owned();
    let now_s = cluster.clock.now() / 1000;

    let with = |changes: Value| {
        let mut changed = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            changed[k] = v.clone();
        }
        changed
    };
    let stranger = qrlogin_auth::tokens::SigningKeys::generate_pem().unwrap();
    let jwks: Value = client()
        .get(format!("{}/.well-known/jwks.json", screen.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_key = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs256.kid = Some(kid.to_owned());

    let bad: BTreeMap<&str, String> = [
        (
            "unknown_key",
            sign_eddsa(
                secrecy::ExposeSecret::expose_secret(&stranger),
                "not-one-of-ours",
                &claims,
            ),
        ),
        (
            "disallowed_algorithm (none)",
            format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]),
        ),
        (
            "disallowed_algorithm (HS256 keyed with our public key)",
            jsonwebtoken::encode(
                &hs256,
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(&public_key),
            )
            .unwrap(),
        ),
        (
            "expired",
            sign_eddsa(
                &ours,
                kid,
                &with(json!({ "iat": now_s - 3600, "exp": now_s - 1 })),
            ),
        ),
        (
            "wrong_audience",
            sign_eddsa(&ours, kid, &with(json!({ "aud": "someone-else" }))),
        ),
        (
            "wrong_type (a plain JWT is no access token)",
            sign_eddsa_typed(&ours, kid, &claims, "JWT"),
        ),
    ]
    .into_iter()
    .collect();
    let me_with = async |token: &str| {
        client()
            .get(format!("{}/api/me", screen.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(me_with(&good).await.status(), 200, "the real token works");
    assert_eq!(
        me_with(&sign_eddsa(&ours, kid, &with(json!({}))))
            .await
            .status(),
        200,
        "and so does the test's own signing, so each refusal below is for its one flaw"
    );
    for (flaw, token) in &bad {
        assert_eq!(
            error_code(me_with(token).await).await,
            (401, "unauthenticated".into()),
            "{flaw}"
        );
    }
    let logout = screen
        .client
        .post(format!("{}/api/logout", screen.base))
        .bearer_auth(&good)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_eq!(me_with(&good).await.status(), 401, "revoked");

    let rejected: Vec<String> = cluster
        .audit_trail()
        .await
        .into_iter()
        .filter(|r| r.event == AuditEvent::TokenRejected)
        .map(|r| r.detail.unwrap())
        .collect();
    assert_eq!(
        rejected,
        [
            "access token: disallowed_algorithm",
            "access token: disallowed_algorithm",
            "access token: expired",
            "access token: unknown_key",
            "access token: wrong_audience",
            "access token: wrong_type",
            "access token: revoked",
        ],
        "one record per refused token, saying why"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_junk_tokens_is_cut_off_and_cannot_flood_the_trail() {
    let Some(cluster) = TestCluster::start(
        Backend::Sqlite,
        1,
        &[("RATE_LIMIT_REJECTED_TOKEN_PER_IP", "5/1m")],
    )
    .await
    else {
        return;
    };
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let response = client()
            .get(format!("{}/api/me", cluster.desktops[0]))
            .bearer_auth("junk")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert!(statuses[..5].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let records = cluster.audit_trail().await;
    let rejected = records
        .iter()
        .filter(|r| r.event == AuditEvent::TokenRejected)
        .count();
    let limited = records
        .iter()
        .filter(|r| r.event == AuditEvent::RateLimited)
        .count();
    assert_eq!((rejected, limited), (5, 1), "40 attempts, 6 records");
}
