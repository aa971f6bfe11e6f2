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

/// Where password checks run: on blocking threads, at most `limit` at once (one per core by
/// default). An argon2id check takes 19 MiB and tens of milliseconds of one core; a burst of
/// sign-ins unbounded held a 19 MiB buffer on each of as many threads as arrived (each thread
/// keeping a malloc arena of its own), and went no faster for it: the cores are the limit.
pub struct PasswordChecks {
    permits: tokio::sync::Semaphore,
    running: std::sync::atomic::AtomicUsize,
    most_at_once: std::sync::atomic::AtomicUsize,
}

impl PasswordChecks {
    pub fn new(limit: usize) -> Self {
        Self {
            permits: tokio::sync::Semaphore::new(limit.max(1)),
            running: std::sync::atomic::AtomicUsize::new(0),
            most_at_once: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// As many at once as the machine has cores.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// [`verify_password`], waiting for a turn first.
    pub async fn verify(&self, password: SecretString, phc: String) -> anyhow::Result<bool> {
        use std::sync::atomic::Ordering::SeqCst;
        let _turn = self.permits.acquire().await?;
        let span = tracing::Span::current();
        let running = &self.running;
        let now_running = running.fetch_add(1, SeqCst) + 1;
        self.most_at_once.fetch_max(now_running, SeqCst);
        let verified = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            verify_password(&password, &phc)
        })
        .await;
        running.fetch_sub(1, SeqCst);
        Ok(verified?)
    }

    /// The most checks that ever ran at once.
    pub fn most_at_once(&self) -> usize {
        self.most_at_once.load(std::sync::atomic::Ordering::SeqCst)
    }
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_password_checks_run_at_once_than_allowed() {
        let hash = hash_password(&"hunter22hunter".to_owned().into()).unwrap();
        let checks = PasswordChecks::new(2);
        let burst = (0..8).map(|i| {
            let password = if i % 2 == 0 {
                "hunter22hunter"
            } else {
                "wrong guess!"
            };
            checks.verify(password.to_owned().into(), hash.clone())
        });
        let verified: Vec<bool> = futures_util::future::join_all(burst)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            verified,
            [true, false].repeat(4),
            "every check is answered, rightly"
        );
        assert_eq!(checks.most_at_once(), 2, "never more than two at once");
    }
}
