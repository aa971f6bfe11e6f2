//! A fake MentraOS cloud that follows `shared/mentraos/platform.md` exactly: the temp-token
//! exchange (single use, 60 s, bound to a package, `Bearer pkg:key` or the legacy form with
//! `packageName` in the body) and signed user tokens made with a test RSA key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const PACKAGE_NAME: &str = "com.example.qrlogin";
/// 64 hex characters, like real MentraOS API keys.
pub const API_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// How the fake answers every exchange, for fault tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// As documented.
    Normal,
    /// 500 `exchange_error`.
    Failing,
    /// Never answers within any sane timeout.
    Hanging,
}

struct TempToken {
    user_id: String,
    package: String,
    issued: Instant,
    used: bool,
}

#[derive(Clone)]
struct Exchange {
    tokens: Arc<Mutex<HashMap<String, TempToken>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

fn reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

impl Respond for Exchange {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        match *self.behaviour.lock().unwrap() {
            Behaviour::Normal => {}
            Behaviour::Failing => {
                return reply(
                    500,
                    json!({"success": false, "code": "exchange_error", "error": "Failed to exchange token"}),
                );
            }
            Behaviour::Hanging => return reply(200, json!({})).set_delay(Duration::from_secs(600)),
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(credential) = auth.strip_prefix("Bearer ") else {
            return reply(
                401,
                json!({"error": "Missing or invalid Authorization header"}),
            );
        };
        let (package, key) = match credential.split_once(':') {
            Some((package, key)) => (package.to_owned(), key),
            None => match body.get("packageName").and_then(Value::as_str) {
                Some(package) => (package.to_owned(), credential),
                None => return reply(401, json!({"error": "Invalid token format"})),
            },
        };
        if let Some(body_package) = body.get("packageName").and_then(Value::as_str)
            && body_package != package
        {
            return reply(401, json!({"error": "Invalid credentials"}));
        }
        if package != PACKAGE_NAME || key != API_KEY {
            return reply(401, json!({"error": "Invalid API key"}));
        }
        let Some(temp) = body.get("aos_temp_token").and_then(Value::as_str) else {
            return reply(
                400,
                json!({"success": false, "error": "Missing aos_temp_token"}),
            );
        };
        let mut tokens = self.tokens.lock().unwrap();
        let Some(token) = tokens.get_mut(temp) else {
            return reply(
                401,
                json!({"success": false, "code": "token_not_found", "error": "Temporary token not found"}),
            );
        };
        if token.used {
            return reply(
                401,
                json!({"success": false, "code": "token_used", "error": "Temporary token already used"}),
            );
        }
        if token.issued.elapsed() > Duration::from_secs(60) {
            return reply(
                401,
                json!({"success": false, "code": "token_expired", "error": "Temporary token expired"}),
            );
        }
        if token.package != package {
            return reply(
                401,
                json!({"success": false, "code": "token_package_mismatch", "error": "Temporary token was issued for a different app"}),
            );
        }
        token.used = true;
        reply(200, json!({"success": true, "userId": token.user_id}))
    }
}

/// The test RSA key pair standing in for MentraOS's signing key (generated once per binary).
pub struct SigningKeyPair {
    pub private_pem: String,
    pub public_pem: String,
}

fn generate_key_pair() -> SigningKeyPair {
    let private = rsa::RsaPrivateKey::new(&mut rand08::rngs::OsRng, 2048).unwrap();
    SigningKeyPair {
        private_pem: private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public_pem: private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    }
}

pub fn signing_key() -> &'static SigningKeyPair {
    static KEY: OnceLock<SigningKeyPair> = OnceLock::new();
    KEY.get_or_init(generate_key_pair)
}

/// Another key, for "signed by the wrong key" tests.
pub fn other_signing_key() -> &'static SigningKeyPair {
    static KEY: OnceLock<SigningKeyPair> = OnceLock::new();
    KEY.get_or_init(generate_key_pair)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// What makes a signed user token (defaults: as MentraOS issues it for our app).
pub struct UserTokenSpec<'a> {
    pub user_id: &'a str,
    pub issuer: &'a str,
    /// Seconds relative to now.
    pub issued_at: i64,
    pub expires_in: i64,
    /// The API key whose hash binds the token to an app.
    pub bound_to_api_key: &'a str,
    pub key: &'a SigningKeyPair,
}

impl<'a> UserTokenSpec<'a> {
    pub fn for_user(user_id: &'a str) -> Self {
        Self {
            user_id,
            issuer: "https://prod.augmentos.cloud",
            issued_at: 0,
            expires_in: 600,
            bound_to_api_key: API_KEY,
            key: signing_key(),
        }
    }

    pub fn sign(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let frontend = format!(
            "{}:{}",
            self.user_id,
            sha256_hex(&format!(
                "{}{}",
                self.user_id,
                sha256_hex(self.bound_to_api_key)
            ))
        );
        let claims = json!({
            "sub": self.user_id, "frontendToken": frontend, "iss": self.issuer,
            "iat": now + self.issued_at, "exp": now + self.issued_at + self.expires_in,
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("v1".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_rsa_pem(self.key.private_pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }
}

pub struct FakeMentraCloud {
    pub server: MockServer,
    exchange: Exchange,
}

impl FakeMentraCloud {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let exchange = Exchange {
            tokens: Arc::default(),
            behaviour: Arc::new(Mutex::new(Behaviour::Normal)),
        };
        Mock::given(method("POST"))
            .and(path("/api/auth/exchange-user-token"))
            .respond_with(exchange.clone())
            .mount(&server)
            .await;
        Self { server, exchange }
    }

    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// What the phone app gets from `generate-webview-token` for `user_id` (64 hex chars).
    pub fn issue_temp_token(&self, user_id: &str) -> String {
        self.issue_temp_token_for(user_id, PACKAGE_NAME)
    }

    pub fn issue_temp_token_for(&self, user_id: &str, package: &str) -> String {
        let token = hex::encode(rand08::random::<[u8; 32]>());
        self.exchange.tokens.lock().unwrap().insert(
            token.clone(),
            TempToken {
                user_id: user_id.to_owned(),
                package: package.to_owned(),
                issued: Instant::now(),
                used: false,
            },
        );
        token
    }

    /// Makes a temp token look 61 s old.
    pub fn age_temp_token(&self, token: &str) {
        if let Some(t) = self.exchange.tokens.lock().unwrap().get_mut(token) {
            t.issued = Instant::now().checked_sub(Duration::from_secs(61)).unwrap();
        }
    }

    pub fn behave(&self, behaviour: Behaviour) {
        *self.exchange.behaviour.lock().unwrap() = behaviour;
    }
}
