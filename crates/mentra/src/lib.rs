//! The MentraOS platform, as `shared/mentraos/platform.md` documents it: exchanging a
//! webview's temp token for the user id, and verifying the signed user token — bound to our
//! app through its `frontendToken` claim, since the token has no audience. [`app`] is the app
//! protocol for camera glasses (`shared/mentraos/app-protocol.md`).
//!
//! The `cloudApiUrl` query parameter and bare `frontendToken`s are never trusted: anyone
//! signed in to MentraOS can compute valid checksums for them (platform.md §7).

pub mod app;

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The issuer MentraOS still puts in signed user tokens.
pub const USER_TOKEN_ISSUER: &str = "https://prod.augmentos.cloud";
/// Clock skew allowed on `exp` and `iat`, as the MentraOS SDK allows.
pub const USER_TOKEN_LEEWAY_SECONDS: u64 = 120;
/// The SDK's own timeout for the exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct MentraConfig {
    pub package_name: String,
    pub api_key: SecretString,
    /// `https://api.mentra.glass` in production.
    pub cloud_url: String,
    /// RSA public key (SPKI PEM) that signs user tokens.
    pub user_token_public_key: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MentraError {
    #[error("this sign-in link was already used")]
    TokenUsed,
    #[error("this sign-in link has expired")]
    TokenExpired,
    #[error("this sign-in link is not known to MentraOS")]
    TokenNotFound,
    #[error("this sign-in link was issued for a different app")]
    TokenPackageMismatch,
    #[error("MentraOS refused our app credentials ({0}); check PACKAGE_NAME and MENTRAOS_API_KEY")]
    BadCredentials(String),
    #[error("MentraOS answered in an unexpected way ({0})")]
    Upstream(String),
    #[error("MentraOS is unreachable or too slow ({0})")]
    Unreachable(String),
    #[error("the signed user token is not valid ({0})")]
    InvalidSignedToken(&'static str),
}

impl MentraError {
    /// Errors that are the cloud's fault, not the user's link: worth a 502/503 and a retry.
    pub fn is_upstream(&self) -> bool {
        matches!(
            self,
            Self::BadCredentials(_) | Self::Upstream(_) | Self::Unreachable(_)
        )
    }
}

pub struct MentraClient {
    http: reqwest::Client,
    exchange_url: String,
    package_name: String,
    api_key: SecretString,
    verifier: UserTokenVerifier,
}

#[derive(Deserialize)]
struct ExchangeReply {
    success: Option<bool>,
    #[serde(rename = "userId")]
    user_id: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

impl MentraClient {
    pub fn new(config: &MentraConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("qrlogin/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            exchange_url: format!(
                "{}/api/auth/exchange-user-token",
                config.cloud_url.trim_end_matches('/')
            ),
            package_name: config.package_name.clone(),
            api_key: config.api_key.clone(),
            verifier: UserTokenVerifier::new(&config.user_token_public_key, &config.api_key)?,
        })
    }

    /// `aos_temp_token` → the MentraOS user id (single use, 60 s, bound to our package).
    #[tracing::instrument(name = "MentraOS token exchange", skip_all)]
    pub async fn exchange_temp_token(
        &self,
        temp_token: &SecretString,
    ) -> Result<String, MentraError> {
        let response = self
            .http
            .post(&self.exchange_url)
            .bearer_auth(format!(
                "{}:{}",
                self.package_name,
                self.api_key.expose_secret()
            ))
            .json(&serde_json::json!({
                "aos_temp_token": temp_token.expose_secret(),
                "packageName": self.package_name,
            }))
            .send()
            .await
            .map_err(|e| MentraError::Unreachable(describe(&e)))?;
        let status = response.status();
        let reply: Option<ExchangeReply> = response.json().await.ok();
        let Some(reply) = reply else {
            return Err(MentraError::Upstream(format!(
                "HTTP {status} without a JSON body"
            )));
        };
        if status.is_success() && reply.success == Some(true) {
            return reply
                .user_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| MentraError::Upstream("success without a userId".into()));
        }
        Err(match (status.as_u16(), reply.code.as_deref()) {
            (_, Some("token_used")) => MentraError::TokenUsed,
            (_, Some("token_expired")) => MentraError::TokenExpired,
            (_, Some("token_not_found")) => MentraError::TokenNotFound,
            (_, Some("token_package_mismatch")) => MentraError::TokenPackageMismatch,
            // Before 2026-04 every token failure was this one 401.
            (401, None) if reply.success == Some(false) => MentraError::TokenExpired,
            (401, None) => MentraError::BadCredentials(reply.error.unwrap_or_default()),
            (code, _) => {
                MentraError::Upstream(format!("HTTP {code}: {}", reply.error.unwrap_or_default()))
            }
        })
    }

    /// `aos_signed_user_token` → the MentraOS user id, and until when the token is good.
    pub fn verify_signed_user_token(&self, token: &str) -> Result<VerifiedUserToken, MentraError> {
        self.verifier.verify(token)
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        "request failed".into()
    }
}

/// A signed user token that checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedUserToken {
    pub user_id: String,
    /// The last second (since the epoch) at which this token is still accepted: its `exp`
    /// plus the leeway. A replay mark must last until then.
    pub accepted_until_s: u64,
}

/// Verifies signed user tokens: RS256 with the MentraOS key, issuer, 120 s leeway, and the
/// `frontendToken` binding to our API key.
pub struct UserTokenVerifier {
    key: DecodingKey,
    hashed_api_key: String,
}

#[derive(Deserialize)]
struct UserTokenClaims {
    sub: String,
    iat: u64,
    exp: u64,
    #[serde(rename = "frontendToken")]
    frontend_token: Option<String>,
}

/// `hex(sha256(s))`
fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// What MentraOS computes as a user's `frontendToken` for an app with this API key.
pub fn frontend_token(user_id: &str, api_key: &SecretString) -> String {
    let hashed_key = sha256_hex(api_key.expose_secret());
    format!(
        "{user_id}:{}",
        sha256_hex(&format!("{user_id}{hashed_key}"))
    )
}

impl UserTokenVerifier {
    pub fn new(public_key_pem: &str, api_key: &SecretString) -> anyhow::Result<Self> {
        let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).map_err(|e| {
            anyhow::anyhow!("MENTRAOS_USER_TOKEN_PUBLIC_KEY is not an RSA public key: {e}")
        })?;
        Ok(Self {
            key,
            hashed_api_key: sha256_hex(api_key.expose_secret()),
        })
    }

    pub fn verify(&self, token: &str) -> Result<VerifiedUserToken, MentraError> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[USER_TOKEN_ISSUER]);
        validation.leeway = USER_TOKEN_LEEWAY_SECONDS;
        validation.validate_aud = false; // MentraOS user tokens carry no audience; see the binding below
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        let data = jsonwebtoken::decode::<UserTokenClaims>(token, &self.key, &validation).map_err(
            |e| {
                use jsonwebtoken::errors::ErrorKind;
                MentraError::InvalidSignedToken(match e.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::InvalidIssuer => "wrong issuer",
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => "bad signature",
                    _ => "malformed",
                })
            },
        )?;
        let claims = data.claims;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        if claims.iat > now + USER_TOKEN_LEEWAY_SECONDS {
            return Err(MentraError::InvalidSignedToken("issued in the future"));
        }
        let expected = format!(
            "{}:{}",
            claims.sub,
            sha256_hex(&format!("{}{}", claims.sub, self.hashed_api_key))
        );
        let bound = claims
            .frontend_token
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.as_bytes())));
        if !bound {
            return Err(MentraError::InvalidSignedToken("issued for another app"));
        }
        if claims.sub.is_empty() {
            return Err(MentraError::InvalidSignedToken("no user"));
        }
        Ok(VerifiedUserToken {
            user_id: claims.sub,
            accepted_until_s: claims.exp.saturating_add(USER_TOKEN_LEEWAY_SECONDS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_key_loads() {
        let key = include_str!("user-token-public-key.pem");
        assert!(UserTokenVerifier::new(key, &"k".to_owned().into()).is_ok());
    }

    #[test]
    fn frontend_tokens_follow_the_documented_formula() {
        // userId:hex(sha256(userId ‖ hex(sha256(apiKey))))
        let token = frontend_token("a@b.c", &"key".to_owned().into());
        let inner = sha256_hex(&format!("a@b.c{}", sha256_hex("key")));
        assert_eq!(token, format!("a@b.c:{inner}"));
    }
}
