//! Local accounts (username + argon2id password) for people without a MentraOS account.
//!
//! Hashing is deliberately slow CPU work: callers on an async executor run it on a blocking
//! thread.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::login_request::UnixMillis;
use crate::user::User;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalAccount {
    pub username: Username,
    pub display_name: String,
    /// PHC string (`$argon2id$v=19$…`): algorithm, parameters and salt travel with the hash.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: UnixMillis,
}

impl LocalAccount {
    pub fn user(&self) -> User {
        User::local(self.username.as_str(), &self.display_name)
    }
}

/// 1–32 characters of `a-z 0-9 . _ -`, lower-cased on input.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim().to_ascii_lowercase();
        if name.is_empty() || name.len() > 32 {
            return Err("a username has 1 to 32 characters".into());
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        {
            return Err("a username uses only letters, digits, '.', '_' and '-'".into());
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The shortest password `qrlogin users add` accepts.
pub const MIN_PASSWORD_LENGTH: usize = 8;

pub fn hash_password(password: &SecretString) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&crate::secret::random_bytes::<16>())
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))?
        .to_string())
}

/// Constant-time verification against a stored PHC string.
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &hash)
            .is_ok()
    })
}

/// A valid hash of nothing anyone knows: verifying against it when the account does not exist
/// makes "no such user" take as long as "wrong password".
pub fn dummy_password_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Q3rP9jIYQx2oNbTqbsQ4/h4GpB1BZFjvx6L7Xx9lX0s"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password(&"hunter22hunter".to_owned().into()).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&"hunter22hunter".to_owned().into(), &hash));
        assert!(!verify_password(&"hunter22hunteR".to_owned().into(), &hash));
        assert!(!verify_password(
            &"x".to_owned().into(),
            dummy_password_hash()
        ));
    }

    #[test]
    fn usernames_are_normalised_and_validated() {
        assert_eq!(Username::parse(" Demo ").unwrap().as_str(), "demo");
        for bad in ["", "a b", "ünïcode", "<script>", &"x".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }
}
