//! One signing key, from its PKCS#8 PEM: Ed25519 (EdDSA, what qrlogin signs its own tokens
//! with) or RSA (RS256, what OpenID Connect requires every provider to offer for identity
//! tokens, and what many client libraries assume).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ed25519_dalek::{Signer as _, SigningKey};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use ring::signature::RsaKeyPair;
use rsa::RsaPrivateKey;
use rsa::traits::PublicKeyParts as _;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// Below this, an RSA key is refused (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

pub(super) struct KeyPair {
    pub kid: String,
    pub algorithm: Algorithm,
    signer: Signer,
    pub decoding: DecodingKey,
    /// The public key as the JWKS publishes it (RFC 7517).
    pub jwk: serde_json::Value,
}

/// How a key signs. RSA goes through ring, whose private-key operation takes the same time
/// whatever the key (the `rsa` crate's does not: RUSTSEC-2023-0071), since anyone can have us
/// sign (each code exchange or refresh does). The Ed25519 key is kept expanded: jsonwebtoken
/// would decode it from PKCS#8 and derive its public half again at every signature, which
/// cost as much again as the signature itself (a token at every sign-in).
enum Signer {
    Ed25519(Box<SigningKey>),
    Rsa(Box<RsaKeyPair>),
}

impl KeyPair {
    /// A compact JWS of `claims` under `header` (whose `alg` is this key's).
    pub fn sign(&self, header: &Header, claims: &impl serde::Serialize) -> anyhow::Result<String> {
        let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let input = format!(
            "{}.{}",
            encode(&serde_json::to_vec(header)?),
            encode(&serde_json::to_vec(claims)?)
        );
        let signature = match &self.signer {
            Signer::Ed25519(key) => key.sign(input.as_bytes()).to_bytes().to_vec(),
            Signer::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                let random = ring::rand::SystemRandom::new();
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &random,
                    input.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| anyhow::anyhow!("signing with the RSA key failed"))?;
                signature
            }
        };
        Ok(format!("{input}.{}", encode(&signature)))
    }

    /// The key in one `PRIVATE KEY` PEM block, or why it is none we sign with.
    pub fn from_pem(block: &str) -> Result<Self, String> {
        if let Ok(key) = SigningKey::from_pkcs8_pem(block) {
            return Self::ed25519(&key);
        }
        match RsaPrivateKey::from_pkcs8_pem(block) {
            Ok(key) => Self::rsa(&key),
            Err(e) => Err(format!("neither Ed25519 nor RSA: {e}")),
        }
    }

    fn ed25519(key: &SigningKey) -> Result<Self, String> {
        let public = key.verifying_key().to_bytes();
        let x = URL_SAFE_NO_PAD.encode(public);
        let kid = kid_of(&public);
        Ok(Self {
            jwk: serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": x,
            }),
            kid,
            algorithm: Algorithm::EdDSA,
            signer: Signer::Ed25519(Box::new(key.clone())),
            decoding: DecodingKey::from_ed_components(&x).map_err(|e| e.to_string())?,
        })
    }

    fn rsa(key: &RsaPrivateKey) -> Result<Self, String> {
        if key.n().bits() < MIN_RSA_BITS {
            return Err(format!("an RSA key needs at least {MIN_RSA_BITS} bits"));
        }
        let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
        let signer = RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| e.to_string())?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let kid = kid_of(n.as_bytes());
        Ok(Self {
            jwk: serde_json::json!({
                "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n, "e": e,
            }),
            kid,
            algorithm: Algorithm::RS256,
            signer: Signer::Rsa(Box::new(signer)),
            decoding: DecodingKey::from_rsa_components(&n, &e).map_err(|e| e.to_string())?,
        })
    }
}

/// A short stable id for a public key.
fn kid_of(public: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..8])
}

/// A new random Ed25519 key as PKCS#8 PEM.
pub(super) fn generate_ed25519_pem() -> anyhow::Result<SecretString> {
    let key = SigningKey::from_bytes(&crate::secret::random_bytes::<32>());
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| anyhow::anyhow!("encoding the new signing key: {e}"))?;
    Ok(pem.to_string().into())
}

/// A new random 2048-bit RSA key as PKCS#8 PEM.
pub(super) fn generate_rsa_pem() -> anyhow::Result<SecretString> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, MIN_RSA_BITS)
        .map_err(|e| anyhow::anyhow!("generating an RSA key: {e}"))?;
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| anyhow::anyhow!("encoding the new RSA key: {e}"))?;
    Ok(pem.to_string().into())
}
