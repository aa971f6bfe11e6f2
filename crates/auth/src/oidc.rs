//! OpenID Connect's authorization code flow, as data and pure rules: what a web app asked for
//! ([`Authorization`]), the single-use code its browser brings back ([`CodeGrant`]), PKCE, and
//! the refresh-token family that rotates on every use ([`RefreshFamily`]). The use cases that
//! load, check and store them are `signin::authorization`.
//!
//! The rules, from RFC 6749 §4.1 and §10, RFC 7636 (S256 only), RFC 9700 (the current OAuth
//! security practice) and OpenID Connect Core:
//! - a redirect URI is trusted only if it is exactly one the client registered; until it is,
//!   errors are shown to the person, never sent anywhere;
//! - every authorization carries a PKCE challenge, and the code is bound to the client, the
//!   redirect URI and the verifier; it lives 60 s and is used once;
//! - a refresh token is replaced on every use; presenting a replaced one means it leaked, and
//!   the whole family (the session behind it) ends.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::login_request::UnixMillis;
use crate::secret::{SecretHash, public_id_of, random_token};
use crate::user::User;

/// How long a code may take to come back to the token endpoint.
pub const CODE_TTL_MS: i64 = 60_000;

/// How long the sign-in page of one authorization may keep showing (and renewing) QR codes.
pub const AUTHORIZATION_TTL_MS: i64 = 15 * 60_000;

/// Replaced refresh tokens remembered per family, to recognise a replay.
const REMEMBERED_REFRESHES: usize = 64;

/// The store's kinds.
pub const AUTHORIZATIONS: &str = "oidc-authorization";
pub const CODES: &str = "oidc-code";
pub const REFRESH_FAMILIES: &str = "oidc-refresh";

/// The scopes we grant: `openid` always (it is what makes this OpenID Connect), `profile` if
/// asked (the name). Others are ignored, as RFC 6749 §3.3 allows, and the answer says which
/// were granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes {
    pub profile: bool,
}

impl Scopes {
    /// The scopes in `scope` (space-separated), or None without `openid`.
    pub fn parse(scope: &str) -> Option<Self> {
        let asked: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
        asked.contains(&"openid").then(|| Self {
            profile: asked.contains(&"profile"),
        })
    }

    /// The granted scopes, as `scope` says them.
    pub fn as_scope(self) -> &'static str {
        match self.profile {
            true => "openid profile",
            false => "openid",
        }
    }
}

/// A PKCE `code_challenge` made with `S256`: the base64url SHA-256 of the verifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// A challenge as sent: 43 base64url characters (a SHA-256), else None.
    pub fn parse(challenge: &str) -> Option<Self> {
        let decoded = URL_SAFE_NO_PAD.decode(challenge).ok()?;
        (challenge.len() == 43 && decoded.len() == 32).then(|| Self(challenge.to_owned()))
    }

    /// Whether `verifier` (43 to 128 unreserved characters, RFC 7636 §4.1) is the one this
    /// challenge was made from. Constant-time.
    pub fn verifies(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        let made = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        well_formed && bool::from(made.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// What a web app asked for at `/oauth/authorize`, checked, kept while its sign-in page shows
/// QR codes for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub id: String,
    pub client_id: String,
    /// Trusted: exactly one the client registered.
    pub redirect_uri: String,
    pub scopes: Scopes,
    /// Returned to the client as it was sent.
    pub state: Option<String>,
    /// Copied into the identity token.
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub expires_at: UnixMillis,
}

/// What a client asked for, as sent (every field a query parameter).
#[derive(Clone, Debug, Default)]
pub struct AuthorizationParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    /// Request objects (RFC 9101) are not supported; their presence is an error.
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// Why an authorization request was refused, once its redirect URI is trusted: sent back to
/// the client as `error` and `error_description` (RFC 6749 §4.1.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectedError {
    pub error: &'static str,
    pub description: &'static str,
}

const fn refused(error: &'static str, description: &'static str) -> RedirectedError {
    RedirectedError { error, description }
}

impl AuthorizationParams {
    /// Checks everything but the client and its redirect URI (the caller trusted those
    /// first): the authorization to keep, or the error to send back.
    pub fn check(
        &self,
        client_id: &str,
        redirect_uri: &str,
        now: UnixMillis,
    ) -> Result<Authorization, RedirectedError> {
        if self.request.is_some() {
            return Err(refused(
                "request_not_supported",
                "Request objects are not supported.",
            ));
        }
        if self.request_uri.is_some() {
            return Err(refused(
                "request_uri_not_supported",
                "request_uri is not supported.",
            ));
        }
        match self.response_type.as_deref() {
            Some("code") => {}
            Some(_) => {
                return Err(refused(
                    "unsupported_response_type",
                    "Only response_type=code is offered.",
                ));
            }
            None => return Err(refused("invalid_request", "response_type is required.")),
        }
        let scopes = Scopes::parse(self.scope.as_deref().unwrap_or_default())
            .ok_or(refused("invalid_scope", "The scope must include openid."))?;
        if self.prompt.as_deref() == Some("none") {
            // Every sign-in here is a scan of a new code: nothing can happen without the user.
            return Err(refused(
                "login_required",
                "Signing in always needs the user's phone here.",
            ));
        }
        let code_challenge = self.challenge()?;
        Ok(Authorization {
            id: random_token::<16>(),
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state: self.state.clone(),
            nonce: self.nonce.clone(),
            code_challenge,
            expires_at: now.saturating_add(AUTHORIZATION_TTL_MS),
        })
    }

    fn challenge(&self) -> Result<CodeChallenge, RedirectedError> {
        match self.code_challenge_method.as_deref() {
            Some("S256") => {}
            Some(_) => {
                return Err(refused(
                    "invalid_request",
                    "Only code_challenge_method=S256 is accepted.",
                ));
            }
            None => {
                return Err(refused(
                    "invalid_request",
                    "PKCE is required: send code_challenge with code_challenge_method=S256.",
                ));
            }
        }
        let challenge = self.code_challenge.as_deref().unwrap_or_default();
        CodeChallenge::parse(challenge).ok_or(refused(
            "invalid_request",
            "code_challenge must be the 43-character base64url SHA-256 of the verifier.",
        ))
    }
}

/// A code issued to the client's browser: what the token endpoint needs to check it and to
/// say who signed in. Kept under the public id of the code, never the code itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub user: User,
    /// When the phone approved.
    pub auth_time: UnixMillis,
    /// How the phone's approval was proved.
    #[serde(default = "crate::tokens::qr_only")]
    pub amr: Vec<String>,
    /// The browser that showed the QR: where the session the code starts is said to be.
    pub ip: String,
    pub user_agent: String,
    pub expires_at: UnixMillis,
}

impl CodeGrant {
    /// The store key of `code`.
    pub fn key_of(code: &str) -> String {
        public_id_of(code)
    }
}

/// A new authorization code: 256 random bits.
pub fn new_code() -> String {
    random_token::<32>()
}

/// One sign-in's refresh tokens: the current one, and the ones it replaced (a replay of one
/// of those ends the family). A token is `{family id}.{secret}`; only hashes are kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    pub id: String,
    pub client_id: String,
    /// The qrlogin session the sign-in started: the family dies with it.
    pub session_id: String,
    pub user: User,
    pub scopes: Scopes,
    pub auth_time: UnixMillis,
    /// Families started before `amr` was kept say only `qr`.
    #[serde(default = "crate::tokens::qr_only")]
    pub amr: Vec<String>,
    pub current: SecretHash,
    /// How many times it was replaced: the one-time mark of each replacement.
    pub generation: u32,
    pub replaced: Vec<SecretHash>,
    pub expires_at: UnixMillis,
}

/// What a presented refresh token is to its family.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    Current,
    /// Already replaced: it leaked, or the client lost the answer that replaced it.
    Replaced,
    Unknown,
}

impl RefreshFamily {
    /// A new family and its first token.
    pub fn start(
        client_id: &str,
        session_id: &str,
        user: User,
        scopes: Scopes,
        (auth_time, amr): (UnixMillis, Vec<String>),
        expires_at: UnixMillis,
    ) -> (Self, String) {
        let id = random_token::<16>();
        let secret = random_token::<32>();
        let family = Self {
            current: SecretHash::of(&secret),
            id: id.clone(),
            client_id: client_id.to_owned(),
            session_id: session_id.to_owned(),
            user,
            scopes,
            auth_time,
            amr,
            generation: 0,
            replaced: Vec::new(),
            expires_at,
        };
        (family, format!("{id}.{secret}"))
    }

    /// The family id a token names (nothing is known to be true of it yet).
    pub fn id_in(token: &str) -> Option<&str> {
        token.split_once('.').map(|(id, _)| id)
    }

    fn secret_in(token: &str) -> &str {
        token.split_once('.').map_or("", |(_, secret)| secret)
    }

    pub fn recognise(&self, token: &str) -> Presented {
        let secret = Self::secret_in(token);
        if self.current.matches(secret) {
            Presented::Current
        } else if self.replaced.iter().any(|hash| hash.matches(secret)) {
            Presented::Replaced
        } else {
            Presented::Unknown
        }
    }

    /// The family after its current token is replaced, and the new token.
    pub fn rotate(&self) -> (Self, String) {
        let secret = random_token::<32>();
        let mut next = self.clone();
        next.replaced.push(std::mem::replace(
            &mut next.current,
            SecretHash::of(&secret),
        ));
        if next.replaced.len() > REMEMBERED_REFRESHES {
            next.replaced.remove(0);
        }
        next.generation = self.generation.saturating_add(1);
        (next, format!("{}.{secret}", self.id))
    }

    /// The one-time mark replacing generation `generation` takes: two uses of one token race
    /// for it, and the loser is treated as a replay.
    pub fn rotation_mark(&self) -> String {
        format!("oidc-refresh-rotate:{}:{}", self.id, self.generation)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params() -> AuthorizationParams {
        AuthorizationParams {
            response_type: Some("code".into()),
            scope: Some("openid profile email".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            state: Some("xyz".into()),
            nonce: Some("n-0S6_WzA2Mj".into()),
            ..AuthorizationParams::default()
        }
    }

    #[test]
    fn the_verifier_of_rfc_7636_matches_its_challenge_and_nothing_else_does() {
        let challenge = CodeChallenge::parse(CHALLENGE).unwrap();
        assert!(challenge.verifies(VERIFIER));
        assert!(!challenge.verifies(&VERIFIER.replace('d', "e")));
        assert!(
            !challenge.verifies(CHALLENGE),
            "the challenge is no verifier"
        );
        assert!(!challenge.verifies(""));
        assert!(CodeChallenge::parse("short").is_none());
        assert!(CodeChallenge::parse(&"A".repeat(43)).is_some());
    }

    #[test]
    fn a_request_needs_code_openid_and_s256() {
        let checked = params().check("cl_x", "https://app/cb", 0).unwrap();
        assert_eq!(checked.scopes.as_scope(), "openid profile");
        assert_eq!(checked.state.as_deref(), Some("xyz"));
        let error = |params: AuthorizationParams| params.check("cl_x", "https://app/cb", 0);
        let plain = AuthorizationParams {
            code_challenge_method: Some("plain".into()),
            ..params()
        };
        assert_eq!(error(plain).unwrap_err().error, "invalid_request");
        let no_pkce = AuthorizationParams {
            code_challenge: None,
            code_challenge_method: None,
            ..params()
        };
        assert_eq!(error(no_pkce).unwrap_err().error, "invalid_request");
        let no_openid = AuthorizationParams {
            scope: Some("profile".into()),
            ..params()
        };
        assert_eq!(error(no_openid).unwrap_err().error, "invalid_scope");
        let token = AuthorizationParams {
            response_type: Some("token".into()),
            ..params()
        };
        assert_eq!(error(token).unwrap_err().error, "unsupported_response_type");
        let silent = AuthorizationParams {
            prompt: Some("none".into()),
            ..params()
        };
        assert_eq!(error(silent).unwrap_err().error, "login_required");
    }

    #[test]
    fn a_refresh_token_is_replaced_on_use_and_a_replaced_one_is_recognised() {
        let user = User::local("bob", "Bob");
        let scopes = Scopes { profile: false };
        let (family, first) = RefreshFamily::start(
            "cl_x",
            "s1",
            user,
            scopes,
            (0, crate::tokens::qr_only()),
            1_000,
        );
        assert_eq!(RefreshFamily::id_in(&first), Some(family.id.as_str()));
        assert_eq!(family.recognise(&first), Presented::Current);
        let (next, second) = family.rotate();
        assert_eq!(next.recognise(&second), Presented::Current);
        assert_eq!(next.recognise(&first), Presented::Replaced);
        assert_eq!(next.recognise("nope.nope"), Presented::Unknown);
        assert_ne!(next.rotation_mark(), family.rotation_mark());
        let stored = serde_json::to_string(&next).unwrap();
        assert!(!stored.contains(second.split_once('.').unwrap().1));
    }
}
