//! Random values from the OS CSPRNG, and the hashes we keep instead of secrets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Fills `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// Only when the OS has no entropy source at all, which no supported platform lacks; there is
/// nothing safe to fall back to for an auth product.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    #[expect(
        clippy::expect_used,
        reason = "an OS without a CSPRNG cannot run an auth server"
    )]
    getrandom::fill(&mut bytes).expect("the OS CSPRNG is unavailable");
    bytes
}

/// `N` random bytes written as unpadded base64url: what ids and secrets look like on the wire.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// The SHA-256 of a secret, hex-encoded. Only these are stored; comparisons are constant-time.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    /// Constant-time: the time taken says nothing about how much of `secret` was right.
    pub fn matches(&self, secret: &str) -> bool {
        self.0
            .as_bytes()
            .ct_eq(Self::of(secret).0.as_bytes())
            .into()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(<hidden>)")
    }
}

/// base64url of the first 16 bytes of SHA-256: a public handle derived from a secret, so the
/// secret itself never needs to be a store key.
pub fn public_id_of(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(secret.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_requested_entropy_and_differ() {
        let a = random_token::<32>();
        let b = random_token::<32>();
        assert_eq!(a.len(), 43, "32 bytes are 43 base64url characters");
        assert_ne!(a, b);
    }

    #[test]
    fn a_hash_matches_only_its_own_secret() {
        let hash = SecretHash::of("correct horse");
        assert!(hash.matches("correct horse"));
        assert!(!hash.matches("correct horsf"));
        assert!(!hash.matches(""));
        assert!(!format!("{hash:?}").contains(hash.as_str()));
    }
}
