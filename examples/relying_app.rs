//! A third-party app signing its user in through qrlogin, server side: create a request with
//! the app's API key, show the QR (here: print its URL and code), wait for the phone's
//! approval, redeem, and verify the identity token offline with the published JWKS.
//!
//! QRLOGIN_URL=http://localhost:98 QRLOGIN_CLIENT_ID=cl_… QRLOGIN_API_KEY=qrk_… \
//!     cargo run --example relying_app
//!
//! The issuer expected is `QRLOGIN_URL` (qrlogin's `DESKTOP_PUBLIC_URL`) unless
//! `QRLOGIN_ISSUER` says otherwise.
#![allow(clippy::print_stdout)] // it talks to the person running it

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

/// What an identity token says it is (RFC 8725 §3.11). qrlogin's access tokens say `at+jwt`:
/// one it issued for this very client (through the device grant) is not an identity token.
const IDENTITY_TOKEN_TYPE: &str = "id_token+jwt";

/// Verifies an identity token offline, with the published JWKS: EdDSA only, by a key the
/// JWKS names, the type (`id_token+jwt`, never an access token), the issuer (qrlogin), the
/// audience (this app), the signature and expiry. Its claims.
fn verify_identity_token(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    client_id: &str,
) -> anyhow::Result<Value> {
    let header = decode_header(token)?;
    // A media type: any case, `application/` optional (RFC 7515 §4.1.9).
    let typ = header.typ.unwrap_or_default().to_ascii_lowercase();
    anyhow::ensure!(
        typ.strip_prefix("application/").unwrap_or(&typ) == IDENTITY_TOKEN_TYPE,
        "not an identity token (typ {typ:?})"
    );
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| anyhow::anyhow!("unknown key {kid}"))?;
    // EdDSA only: a token made with another algorithm is refused whatever it says.
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    Ok(decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("QRLOGIN_URL").unwrap_or_else(|_| "http://localhost:98".into());
    let issuer =
        std::env::var("QRLOGIN_ISSUER").unwrap_or_else(|_| base.trim_end_matches('/').to_owned());
    let client_id = std::env::var("QRLOGIN_CLIENT_ID")?;
    let api_key = std::env::var("QRLOGIN_API_KEY")?;
    let http = reqwest::Client::new();

    let created: Value = http
        .post(format!("{base}/api/login-requests"))
        .bearer_auth(&api_key)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let (id, secret) = (
        &created["id"],
        created["desktop_secret"].as_str().unwrap_or_default(),
    );
    println!(
        "Scan {} or type {}",
        created["qr_url"], created["user_code"]
    );

    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let status: Value = http
            .get(format!(
                "{base}/api/login-requests/{}",
                id.as_str().unwrap_or_default()
            ))
            .header("x-desktop-secret", secret)
            .send()
            .await?
            .json()
            .await?;
        match status["state"].as_str() {
            Some("approved") => break,
            Some("pending" | "claimed") => continue,
            other => anyhow::bail!("the sign-in ended: {other:?}"),
        }
    }

    let redeemed: Value = http
        .post(format!(
            "{base}/api/login-requests/{}/redeem",
            id.as_str().unwrap_or_default()
        ))
        .bearer_auth(&api_key)
        .header("x-desktop-secret", secret)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = redeemed["id_token"].as_str().unwrap_or_default();

    // Offline verification: the JWKS (cacheable), then the token's own checks.
    let jwks: JwkSet = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await?
        .json()
        .await?;
    let claims = verify_identity_token(token, &jwks, &issuer, &client_id)?;
    println!("Signed in: {} ({})", claims["name"], claims["sub"]);
    Ok(())
}
