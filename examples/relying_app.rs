//! A third-party app signing its user in through qrlogin, server side: create a request with
//! the app's API key, show the QR (here: print its URL and code), wait for the phone's
//! approval, redeem, and verify the identity token offline with the published JWKS.
//!
//! QRLOGIN_URL=http://localhost:98 QRLOGIN_CLIENT_ID=cl_… QRLOGIN_API_KEY=qrk_… \
//!     cargo run --example relying_app
#![allow(clippy::print_stdout)] // it talks to the person running it

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("QRLOGIN_URL").unwrap_or_else(|_| "http://localhost:98".into());
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

    // Offline verification: the JWKS (cacheable), the signature, the audience (us), expiry.
    let jwks: JwkSet = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await?
        .json()
        .await?;
    let kid = decode_header(token)?.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| anyhow::anyhow!("unknown key {kid}"))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[&client_id]);
    let claims = decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims;
    println!("Signed in: {} ({})", claims["name"], claims["sub"]);
    Ok(())
}
