//! Access tokens: Ed25519 JWTs with a `kid`, verifiable offline from the JWKS.
//!
//! Several keys may be configured (newest first): the newest signs, all verify, so keys rotate
//! without signing anyone out. An RSA key among them signs web apps' identity tokens (RS256,
//! which OpenID Connect requires a provider to offer); Ed25519 signs everything else.
//!
//! Every token says what it is in its header's `typ` (RFC 8725 §3.11): access tokens
//! `at+jwt` (RFC 9068), identity tokens `id_token+jwt`. A verifier checks `typ` besides `iss`
//! and `aud`, so one kind of token can never be passed off as the other.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

mod key_pair;

use key_pair::KeyPair;

use crate::login_request::UnixMillis;
use crate::secret::random_token;
use crate::user::User;

/// The audience of access tokens issued to screens signed in through qrlogin.
pub const ACCESS_TOKEN_AUDIENCE: &str = "qrlogin";

/// The `typ` of every access token qrlogin signs, its own and a client's (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The `typ` of identity tokens.
pub const IDENTITY_TOKEN_TYPE: &str = "id_token+jwt";
/// The `typ` of web apps' identity tokens: the one OpenID Connect libraries expect (Spring's
/// Nimbus refuses any other). No live token of ours is typed so (access tokens were, before
/// they were typed `at+jwt`, and have long expired); and an access token is still never
/// taken for one, nor one for an access token.
pub const APP_IDENTITY_TOKEN_TYPE: &str = "JWT";

/// Whether a header's `typ` is `expected`: media types are case-insensitive and may carry
/// the `application/` prefix (RFC 7515 §4.1.9, RFC 9068 §4).
pub fn is_token_type(typ: Option<&str>, expected: &str) -> bool {
    const PREFIX: &str = "application/";
    typ.is_some_and(|typ| {
        let bare = match typ.split_at_checked(PREFIX.len()) {
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case(PREFIX) => rest,
            _ => typ,
        };
        bare.eq_ignore_ascii_case(expected)
    })
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub name: String,
    /// Seconds since the epoch, as JWT wants.
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The server-side session this token was issued with.
    pub sid: String,
    /// A web app's token (OpenID Connect): the app it was issued to, as RFC 9068 says it;
    /// equal to `aud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A web app's token: what it was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl AccessClaims {
    pub fn user(&self) -> User {
        User {
            id: self.sub.clone(),
            name: self.name.clone(),
        }
    }
}

/// What a registered client learns of a sign-in: who, when and how; verifiable offline
/// against `/.well-known/jwks.json`, for that client only (`aud`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    /// The user's name; an OpenID Connect app gets it with the `profile` scope only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub iat: i64,
    pub exp: i64,
    /// When the user approved (seconds since the epoch).
    pub auth_time: i64,
    /// How (RFC 8176): `qr` (scanned or typed on a signed-in phone), then how the phone's
    /// approval was proved: `hwk` (a passkey with user verification) or `user` (a tap), and
    /// `pin` when the screen typed the phone's PIN.
    pub amr: Vec<String>,
    pub jti: String,
    /// OpenID Connect: the client's `nonce`, as it sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// OpenID Connect: the qrlogin session the sign-in started (what logout ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// What a record kept before approvals said how they were proved says of one.
pub fn qr_only() -> Vec<String> {
    vec!["qr".to_owned()]
}

/// How long an identity token may be presented to its client.
pub const IDENTITY_TOKEN_TTL_MS: i64 = 5 * 60 * 1000;

/// The keys this deployment signs and verifies with, built once at start.
pub struct SigningKeys {
    issuer: String,
    keys: Vec<KeyPair>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no signing key was given")]
    Empty,
    #[error("no Ed25519 key was given: one signs every access token")]
    NoEd25519,
    #[error("key {index} is not an Ed25519 or RSA private key in PKCS#8 PEM: {reason}")]
    Invalid { index: usize, reason: String },
}

#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    /// Not a JWT at all.
    #[error("the access token is not valid")]
    Malformed,
    /// Anything but EdDSA and RS256 (`none`, or HS256 made with our public key, …) is refused
    /// outright, and either only with a key of its own kind.
    #[error("the access token is not valid")]
    DisallowedAlgorithm,
    /// No `kid`, or one that names none of our keys.
    #[error("the access token is not valid")]
    UnknownKey,
    #[error("the access token is not valid")]
    WrongAudience,
    #[error("the access token is not valid")]
    WrongIssuer,
    /// Signed by us, but not an access token: its `typ` is not `at+jwt` (an identity token,
    /// or a token from before access tokens were typed).
    #[error("the access token is not valid")]
    WrongType,
    /// A bad signature, or claims missing or of the wrong shape.
    #[error("the access token is not valid")]
    Invalid,
}

impl TokenError {
    /// Why, for the audit trail (the caller is told only "not valid").
    pub fn reason(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Malformed => "malformed",
            Self::DisallowedAlgorithm => "disallowed_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::WrongAudience => "wrong_audience",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongType => "wrong_type",
            Self::Invalid => "invalid_signature_or_claims",
        }
    }
}

impl SigningKeys {
    /// Keys from PEM text holding one or more `PRIVATE KEY` blocks, newest first.
    pub fn from_pem(pem: &SecretString, issuer: String) -> Result<Self, KeyError> {
        let text = pem.expose_secret();
        let mut keys = Vec::new();
        let end = "-----END PRIVATE KEY-----";
        for (index, block) in text.split_inclusive(end).enumerate() {
            let block = block.trim();
            if block.is_empty() {
                continue;
            }
            let key =
                KeyPair::from_pem(block).map_err(|reason| KeyError::Invalid { index, reason })?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        if !keys.iter().any(|k| k.algorithm == Algorithm::EdDSA) {
            return Err(KeyError::NoEd25519);
        }
        Ok(Self { issuer, keys })
    }

    /// A new random Ed25519 key as PKCS#8 PEM.
    pub fn generate_pem() -> anyhow::Result<SecretString> {
        key_pair::generate_ed25519_pem()
    }

    /// A new Ed25519 key and a new RSA key, as PKCS#8 PEM: what dev mode keeps in the store.
    pub fn generate_pem_with_rsa() -> anyhow::Result<SecretString> {
        let (ed25519, rsa) = (Self::generate_pem()?, key_pair::generate_rsa_pem()?);
        Ok(format!("{}{}", ed25519.expose_secret(), rsa.expose_secret()).into())
    }

    /// The algorithms identity tokens are signed with: RS256 for web apps' when an RSA key
    /// is configured (OpenID Connect's default), EdDSA for the others'.
    pub fn identity_algorithms(&self) -> Vec<&'static str> {
        match self.newest(Algorithm::RS256) {
            Some(_) => vec!["RS256", "EdDSA"],
            None => vec!["EdDSA"],
        }
    }

    fn newest(&self, algorithm: Algorithm) -> Option<&KeyPair> {
        self.keys.iter().find(|k| k.algorithm == algorithm)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Issues an access token for `user` on session `sid`; returns the token and its claims.
    pub fn issue(
        &self,
        user: &User,
        sid: &str,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> anyhow::Result<(SecretString, AccessClaims)> {
        self.issue_for(ACCESS_TOKEN_AUDIENCE, user, sid, now, ttl_ms)
    }

    /// An access token for a registered client's own API (`aud` = its id, no qrlogin
    /// session): qrlogin's API refuses it, the client's accepts it.
    pub fn issue_for_client(
        &self,
        client_id: &str,
        user: &User,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> anyhow::Result<(SecretString, AccessClaims)> {
        self.issue_for(client_id, user, "", now, ttl_ms)
    }

    fn issue_for(
        &self,
        audience: &str,
        user: &User,
        sid: &str,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> anyhow::Result<(SecretString, AccessClaims)> {
        let claims = self.access_claims(audience, user, sid, now, ttl_ms);
        Ok((self.sign(&claims, ACCESS_TOKEN_TYPE)?, claims))
    }

    fn access_claims(
        &self,
        audience: &str,
        user: &User,
        sid: &str,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> AccessClaims {
        AccessClaims {
            iss: self.issuer.clone(),
            sub: user.id.clone(),
            aud: audience.to_owned(),
            name: user.name.clone(),
            iat: now / 1000,
            exp: (now.saturating_add(ttl_ms)) / 1000,
            jti: random_token::<16>(),
            sid: sid.to_owned(),
            client_id: None,
            scope: None,
        }
    }

    /// An access token for web app `client_id`, signed in through OpenID Connect on session
    /// `sid` with `scope`: for the app's API and our userinfo endpoint, never qrlogin's API.
    pub fn issue_for_app(
        &self,
        client_id: &str,
        user: &User,
        sid: &str,
        scope: &str,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> anyhow::Result<(SecretString, AccessClaims)> {
        let mut claims = self.access_claims(client_id, user, sid, now, ttl_ms);
        claims.client_id = Some(client_id.to_owned());
        claims.scope = Some(scope.to_owned());
        Ok((self.sign(&claims, ACCESS_TOKEN_TYPE)?, claims))
    }

    fn sign(&self, claims: &impl Serialize, typ: &str) -> anyhow::Result<SecretString> {
        let signer = self.newest(Algorithm::EdDSA).ok_or(KeyError::NoEd25519)?;
        Self::sign_with(signer, claims, typ)
    }

    fn sign_with(
        signer: &KeyPair,
        claims: &impl Serialize,
        typ: &str,
    ) -> anyhow::Result<SecretString> {
        let mut header = Header::new(signer.algorithm);
        header.kid = Some(signer.kid.clone());
        header.typ = Some(typ.to_owned());
        Ok(signer.sign(&header, claims)?.into())
    }

    /// An identity token for `client_id` about `user`, who approved at `auth_time`.
    pub fn issue_identity(
        &self,
        user: &User,
        client_id: &str,
        approval: (UnixMillis, &[String]),
        now: UnixMillis,
    ) -> anyhow::Result<SecretString> {
        self.sign_identity(&self.identity_claims(user, client_id, approval, now))
    }

    /// What an identity token for `client_id` about `user` says, before the caller adds what
    /// its protocol needs (OpenID Connect's `nonce` and `sid`).
    pub fn identity_claims(
        &self,
        user: &User,
        client_id: &str,
        (auth_time, amr): (UnixMillis, &[String]),
        now: UnixMillis,
    ) -> IdentityClaims {
        IdentityClaims {
            iss: self.issuer.clone(),
            sub: user.id.clone(),
            aud: client_id.to_owned(),
            name: Some(user.name.clone()),
            iat: now / 1000,
            exp: now.saturating_add(IDENTITY_TOKEN_TTL_MS) / 1000,
            auth_time: auth_time / 1000,
            amr: amr.to_vec(),
            jti: random_token::<16>(),
            nonce: None,
            sid: None,
        }
    }

    pub fn sign_identity(&self, claims: &IdentityClaims) -> anyhow::Result<SecretString> {
        // Typed, so it can never be taken for an access token (RFC 8725 §3.11).
        self.sign(claims, IDENTITY_TOKEN_TYPE)
    }

    /// A web app's identity token (OpenID Connect): RS256 with the newest RSA key, what
    /// every client library verifies; EdDSA when no RSA key is configured.
    pub fn sign_app_identity(&self, claims: &IdentityClaims) -> anyhow::Result<SecretString> {
        match self.newest(Algorithm::RS256) {
            Some(rsa) => Self::sign_with(rsa, claims, APP_IDENTITY_TOKEN_TYPE),
            None => self.sign(claims, APP_IDENTITY_TOKEN_TYPE),
        }
    }

    /// Checks signature (only our keys by `kid`, each with its own algorithm), issuer, audience, type (only
    /// `at+jwt`: never an identity token) and expiry. Revocation is the caller's second step:
    /// it needs the store.
    pub fn verify(&self, token: &str, now: UnixMillis) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims =
            self.decode_ours(token, Some(ACCESS_TOKEN_AUDIENCE), &[ACCESS_TOKEN_TYPE])?;
        unexpired(claims.exp, now)?;
        Ok(claims)
    }

    /// A web app's access token (OpenID Connect), checked as [`Self::verify`] checks ours,
    /// with the app it names (`client_id`) as its audience.
    pub fn verify_app_access(
        &self,
        token: &str,
        now: UnixMillis,
    ) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.decode_ours(token, None, &[ACCESS_TOKEN_TYPE])?;
        if claims.client_id.as_deref() != Some(claims.aud.as_str()) {
            return Err(TokenError::WrongAudience);
        }
        unexpired(claims.exp, now)?;
        Ok(claims)
    }

    /// An identity token we signed, presented back as a hint (OpenID Connect logout): expired
    /// ones too, as the specification wants; the caller checks whose it is.
    pub fn verify_identity_hint(&self, token: &str) -> Result<IdentityClaims, TokenError> {
        self.decode_ours(token, None, &[IDENTITY_TOKEN_TYPE, APP_IDENTITY_TOKEN_TYPE])
    }

    /// `token`'s claims if we signed it with one of our keys (with that key's algorithm:
    /// EdDSA or RS256, never one for another, nor `none` or HMAC), for our issuer,
    /// typed as one of `types`, and (when given) for `audience`. Expiry is the caller's: it is checked against
    /// our own clock, so tests can control time.
    fn decode_ours<C: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        audience: Option<&str>,
        types: &[&str],
    ) -> Result<C, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            // `alg: none` (which the JWT library cannot even name) is a refusal of its own.
            match declared_algorithm(token) {
                Some(alg) if alg != "EdDSA" && alg != "RS256" => TokenError::DisallowedAlgorithm,
                _ => TokenError::Malformed,
            }
        })?;
        if !matches!(header.alg, Algorithm::EdDSA | Algorithm::RS256) {
            return Err(TokenError::DisallowedAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(TokenError::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(TokenError::DisallowedAlgorithm);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        validation.leeway = 0;
        let data =
            jsonwebtoken::decode::<C>(token, &key.decoding, &validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::InvalidAudience => TokenError::WrongAudience,
                    ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                    _ => TokenError::Invalid,
                }
            })?;
        // Checked once the signature is: only then is the header known to be ours.
        if !types
            .iter()
            .any(|typ| is_token_type(header.typ.as_deref(), typ))
        {
            return Err(TokenError::WrongType);
        }
        Ok(data.claims)
    }

    /// `/.well-known/jwks.json`: every key that may still have live tokens.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self.keys.iter().map(|k| k.jwk.clone()).collect();
        serde_json::json!({ "keys": keys })
    }
}

fn unexpired(exp_s: i64, now: UnixMillis) -> Result<(), TokenError> {
    match now / 1000 >= exp_s {
        true => Err(TokenError::Expired),
        false => Ok(()),
    }
}

/// The `alg` a token's header declares, read without trusting anything else in it.
fn declared_algorithm(token: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> (SigningKeys, Vec<SecretString>) {
        let pems: Vec<SecretString> = (0..n)
            .map(|_| SigningKeys::generate_pem().unwrap())
            .collect();
        let joined: String = pems.iter().map(|p| p.expose_secret().to_owned()).collect();
        (
            SigningKeys::from_pem(&joined.into(), "http://issuer".into()).unwrap(),
            pems,
        )
    }

    fn ann() -> User {
        User::local("ann", "Ann")
    }

    #[test]
    fn a_token_round_trips_and_expires() {
        let (keys, _) = keys(1);
        let (token, claims) = keys.issue(&ann(), "sid", 1_000_000, 60_000).unwrap();
        let verified = keys.verify(token.expose_secret(), 1_000_000).unwrap();
        assert_eq!(verified, claims);
        assert_eq!(verified.user(), ann());
        assert_eq!(
            keys.verify(token.expose_secret(), 1_060_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn older_keys_still_verify_after_rotation() {
        let (old, old_pems) = keys(1);
        let (token, _) = old.issue(&ann(), "sid", 0, 60_000).unwrap();
        let new_pem = SigningKeys::generate_pem().unwrap();
        let rotated = format!("{}{}", new_pem.expose_secret(), old_pems[0].expose_secret());
        let rotated = SigningKeys::from_pem(&rotated.into(), "http://issuer".into()).unwrap();
        assert!(rotated.verify(token.expose_secret(), 1).is_ok());
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
        let (fresh, _) = rotated.issue(&ann(), "sid", 0, 60_000).unwrap();
        assert!(
            old.verify(fresh.expose_secret(), 1).is_err(),
            "new tokens use the new key"
        );
    }

    #[test]
    fn tokens_from_other_keys_or_tampered_are_invalid() {
        let (a, _) = keys(1);
        let (b, _) = keys(1);
        let (token, _) = a.issue(&ann(), "sid", 0, 60_000).unwrap();
        assert_eq!(
            b.verify(token.expose_secret(), 1),
            Err(TokenError::UnknownKey)
        );
        let mut tampered = token.expose_secret().to_owned();
        tampered.pop();
        assert_eq!(a.verify(&tampered, 1), Err(TokenError::Invalid));
        assert_eq!(a.verify("not a token", 1), Err(TokenError::Malformed));
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            token.expose_secret().split('.').nth(1).unwrap()
        );
        assert_eq!(a.verify(&unsigned, 1), Err(TokenError::DisallowedAlgorithm));
    }

    /// The header of a token, as anyone can read it.
    fn header_of(token: &SecretString) -> Header {
        jsonwebtoken::decode_header(token.expose_secret()).unwrap()
    }

    #[test]
    fn access_tokens_and_identity_tokens_say_what_they_are() {
        let (keys, _) = keys(1);
        let (own, _) = keys.issue(&ann(), "sid", 0, 60_000).unwrap();
        let (clients, _) = keys
            .issue_for_client("cl_space", &ann(), 0, 60_000)
            .unwrap();
        let identity = keys
            .issue_identity(&ann(), "cl_space", (0, &qr_only()), 0)
            .unwrap();
        assert_eq!(header_of(&own).typ.as_deref(), Some("at+jwt"));
        assert_eq!(header_of(&clients).typ.as_deref(), Some("at+jwt"));
        assert_eq!(header_of(&identity).typ.as_deref(), Some("id_token+jwt"));
    }

    #[test]
    fn only_a_token_typed_as_an_access_token_is_one() {
        let (keys, _) = keys(1);
        let (token, claims) = keys.issue(&ann(), "sid", 0, 60_000).unwrap();
        assert!(keys.verify(token.expose_secret(), 1).is_ok());
        // The very same claims, signed with our key, under any other type (an identity
        // token's, the untyped `JWT` of tokens from before the upgrade, none at all).
        for typ in ["id_token+jwt", "JWT", "application/id_token+jwt", "jwt", ""] {
            let retyped = keys.sign(&claims, typ).unwrap();
            assert_eq!(
                keys.verify(retyped.expose_secret(), 1),
                Err(TokenError::WrongType),
                "typ {typ:?}"
            );
        }
        let signer = &keys.keys[0];
        let mut untyped = Header::new(Algorithm::EdDSA);
        untyped.kid = Some(signer.kid.clone());
        untyped.typ = None;
        let untyped = signer.sign(&untyped, &claims).unwrap();
        assert_eq!(keys.verify(&untyped, 1), Err(TokenError::WrongType));
        assert_eq!(TokenError::WrongType.reason(), "wrong_type");
        // RFC 9068 §4: the media type's long form, in any case, is the same type.
        for typ in ["application/at+jwt", "AT+JWT", "Application/At+Jwt"] {
            let retyped = keys.sign(&claims, typ).unwrap();
            assert!(
                keys.verify(retyped.expose_secret(), 1).is_ok(),
                "typ {typ:?}"
            );
        }
    }

    #[test]
    fn an_identity_token_is_never_an_access_token_even_for_our_own_audience() {
        let (keys, _) = keys(1);
        // A token typed as an identity token is refused for its type alone, even with every
        // claim of an access token, for qrlogin's own audience.
        let (_, claims) = keys.issue(&ann(), "sid", 0, 60_000).unwrap();
        let as_identity = keys.sign(&claims, IDENTITY_TOKEN_TYPE).unwrap();
        assert_eq!(
            keys.verify(as_identity.expose_secret(), 1),
            Err(TokenError::WrongType)
        );
        // A real one, were it ever for qrlogin's audience, is refused too.
        let identity = keys
            .issue_identity(&ann(), ACCESS_TOKEN_AUDIENCE, (0, &qr_only()), 0)
            .unwrap();
        assert!(keys.verify(identity.expose_secret(), 1).is_err());
        // A client's access token is typed right but not for qrlogin's audience.
        let (clients, _) = keys
            .issue_for_client("cl_space", &ann(), 0, 60_000)
            .unwrap();
        assert_eq!(
            keys.verify(clients.expose_secret(), 1),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn token_types_compare_as_media_types() {
        assert!(is_token_type(Some("at+jwt"), ACCESS_TOKEN_TYPE));
        assert!(is_token_type(Some("application/AT+JWT"), ACCESS_TOKEN_TYPE));
        assert!(!is_token_type(Some("application/"), ACCESS_TOKEN_TYPE));
        assert!(!is_token_type(Some("text/at+jwt"), ACCESS_TOKEN_TYPE));
        assert!(!is_token_type(Some("at+jwt "), ACCESS_TOKEN_TYPE));
        assert!(!is_token_type(Some("JWT"), ACCESS_TOKEN_TYPE));
        assert!(!is_token_type(None, ACCESS_TOKEN_TYPE));
        assert!(!is_token_type(Some("at+jwt"), IDENTITY_TOKEN_TYPE));
        assert!(is_token_type(Some("id_token+jwt"), IDENTITY_TOKEN_TYPE));
    }

    fn with_rsa() -> SigningKeys {
        let pem = SigningKeys::generate_pem_with_rsa().unwrap();
        SigningKeys::from_pem(&pem, "http://issuer".into()).unwrap()
    }

    #[test]
    fn web_apps_identity_tokens_are_rs256_and_verify_from_the_jwks_key() {
        let keys = with_rsa();
        assert_eq!(keys.identity_algorithms(), ["RS256", "EdDSA"]);
        let claims = keys.identity_claims(&ann(), "space", (0, &qr_only()), 1_000);
        let token = keys.sign_app_identity(&claims).unwrap();
        let header = header_of(&token);
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        // Never taken for an access token.
        assert!(
            keys.verify_app_access(token.expose_secret(), 1_000)
                .is_err()
        );
        let jwks = keys.jwks();
        let published = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header.kid.as_deref().unwrap())
            .unwrap();
        assert_eq!(published["kty"], "RSA");
        assert_eq!(published["alg"], "RS256");
        let (n, e) = (
            published["n"].as_str().unwrap(),
            published["e"].as_str().unwrap(),
        );
        let decoding = jsonwebtoken::DecodingKey::from_rsa_components(n, e).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["space"]);
        validation.validate_exp = false;
        jsonwebtoken::decode::<IdentityClaims>(token.expose_secret(), &decoding, &validation)
            .unwrap();
        let hint = keys.verify_identity_hint(token.expose_secret()).unwrap();
        assert_eq!(hint.sub, "local:ann");
        // Qrlogin's own tokens stay EdDSA.
        let (access, _) = keys.issue(&ann(), "sid", 1_000, 60_000).unwrap();
        assert_eq!(header_of(&access).alg, Algorithm::EdDSA);
    }

    #[test]
    fn without_an_rsa_key_web_apps_identity_tokens_are_eddsa() {
        let (keys, _) = keys(1);
        assert_eq!(keys.identity_algorithms(), ["EdDSA"]);
        let claims = keys.identity_claims(&ann(), "space", (0, &qr_only()), 1_000);
        let token = keys.sign_app_identity(&claims).unwrap();
        assert_eq!(header_of(&token).alg, Algorithm::EdDSA);
    }

    #[test]
    fn a_token_naming_one_key_with_another_keys_algorithm_is_refused() {
        let keys = with_rsa();
        let rsa = keys.newest(Algorithm::RS256).unwrap();
        let ed25519 = keys.newest(Algorithm::EdDSA).unwrap();
        // Signed by the Ed25519 key, but naming the RSA key.
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(rsa.kid.clone());
        header.typ = Some(IDENTITY_TOKEN_TYPE.into());
        let claims = keys.identity_claims(&ann(), "space", (0, &qr_only()), 1_000);
        let forged = ed25519.sign(&header, &claims).unwrap();
        assert_eq!(
            keys.verify_identity_hint(&forged).err(),
            Some(TokenError::DisallowedAlgorithm)
        );
    }

    #[test]
    fn rsa_keys_need_2048_bits_and_an_ed25519_key_beside_them() {
        use rsa::pkcs8::EncodePrivateKey as _;
        let small = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
        let small = small.to_pkcs8_pem(Default::default()).unwrap().to_string();
        let refused = SigningKeys::from_pem(&small.into(), "i".into())
            .err()
            .unwrap();
        assert!(refused.to_string().contains("2048 bits"), "{refused}");
        let rsa_only = key_pair::generate_rsa_pem().unwrap();
        assert!(matches!(
            SigningKeys::from_pem(&rsa_only, "i".into()),
            Err(KeyError::NoEd25519)
        ));
    }

    #[test]
    fn garbage_pem_is_named() {
        let err = SigningKeys::from_pem(&"nonsense".to_owned().into(), "i".into());
        assert!(err.is_err());
    }
}
