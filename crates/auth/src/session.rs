//! Server-side sessions: the cookie holds a random secret, the store holds the session under
//! an id derived from it, so a stolen database holds no usable cookie.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::login_request::UnixMillis;
use crate::secret::{public_id_of, random_token};
use crate::user::User;

/// Which service a session belongs to: a desktop session never works on the mobile service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Desktop,
    Mobile,
    /// Signed in to a web app through OpenID Connect: no cookie of ours ever names it; the
    /// app's refresh tokens and the userinfo endpoint live as long as it does.
    App,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Public handle, derived from the secret (see [`crate::secret::public_id_of`]).
    pub id: String,
    pub kind: SessionKind,
    pub user: User,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub ip: String,
    pub user_agent: String,
    /// The access token issued with this session, revoked with it.
    pub access_jti: Option<String>,
    pub access_expires_at: Option<UnixMillis>,
    /// When the session was last used, to the minute (see [`LAST_SEEN_GRANULARITY_MS`]).
    #[serde(default)]
    pub last_seen_at: UnixMillis,
    /// For an [`SessionKind::App`] session: the web app's name, as its user knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// How stale a session's "last seen" may get before a request refreshes it: one write per
/// session per minute at most, not one per request.
pub const LAST_SEEN_GRANULARITY_MS: i64 = 60 * 1000;

/// The secret a session cookie carries, and after a `.` the session's user (base64url of the
/// id). The user is only a hint, read before the session itself so both can be fetched in one
/// round trip (the session, and the user's "sign out everywhere" time); a session whose user
/// is not the hint is no session. It reveals nothing the holder lacks: the cookie is theirs,
/// and a desktop's access token names its user too. A cookie of the secret alone (as issued
/// before the hint) still works, at one more round trip.
pub struct SessionToken {
    value: SecretString,
    /// The user the cookie names, decoded once, when it was read or made.
    user_hint: Option<String>,
}

/// Characters in the secret part: base64url of 32 random bytes.
const SECRET_LEN: usize = 43;

impl SessionToken {
    /// A token without a user hint: for sessions no cookie names (an app's).
    pub fn generate() -> Self {
        Self {
            value: random_token::<32>().into(),
            user_hint: None,
        }
    }

    /// A token whose cookie names `user`, for a session of theirs.
    pub fn generate_for(user: &User) -> Self {
        let hint = URL_SAFE_NO_PAD.encode(user.id.as_bytes());
        Self {
            value: format!("{}.{hint}", random_token::<32>()).into(),
            user_hint: Some(user.id.clone()),
        }
    }

    pub fn from_cookie(value: &str) -> Option<Self> {
        let user_hint = match value.split_at_checked(SECRET_LEN)? {
            (_, "") => None,
            (_, rest) => {
                let hint = rest.strip_prefix('.').filter(|hint| !hint.is_empty())?;
                let user = URL_SAFE_NO_PAD.decode(hint).ok()?;
                Some(String::from_utf8(user).ok()?)
            }
        };
        Some(Self {
            value: value.to_owned().into(),
            user_hint,
        })
    }

    fn secret(&self) -> &str {
        let value = self.value.expose_secret();
        value.get(..SECRET_LEN).unwrap_or(value)
    }

    pub fn session_id(&self) -> String {
        public_id_of(self.secret())
    }

    /// The user the cookie says the session is of, if it says.
    pub fn user_hint(&self) -> Option<&str> {
        self.user_hint.as_deref()
    }

    /// The whole cookie value.
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }
}

impl Session {
    #[expect(
        clippy::too_many_arguments,
        reason = "a plain record of what a session is"
    )]
    pub fn new(
        token: &SessionToken,
        kind: SessionKind,
        user: User,
        now: UnixMillis,
        ttl_ms: i64,
        ip: String,
        user_agent: String,
        access: Option<(String, UnixMillis)>,
    ) -> Self {
        let (access_jti, access_expires_at) = access.unzip();
        Self {
            id: token.session_id(),
            kind,
            user,
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
            ip,
            user_agent,
            access_jti,
            access_expires_at,
            last_seen_at: now,
            app: None,
        }
    }

    /// When the session was last used.
    pub fn last_seen(&self) -> UnixMillis {
        self.last_seen_at.max(self.created_at)
    }

    pub fn is_live(&self, now: UnixMillis) -> bool {
        now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::SessionToken;
    use crate::User;

    fn user(id: &str) -> User {
        User {
            id: id.to_owned(),
            name: id.to_owned(),
        }
    }

    #[test]
    fn a_cookie_names_its_user_and_its_session_by_the_secret_alone() {
        let token = SessionToken::generate_for(&user("mentra:alice@example.com"));
        let read = SessionToken::from_cookie(token.expose()).unwrap();
        assert_eq!(read.user_hint(), Some("mentra:alice@example.com"));
        assert_eq!(read.session_id(), token.session_id());
        // The same secret with another user named is the same session (whose user the
        // store then compares with the hint), never another one.
        let secret = &token.expose()[..43];
        let renamed = format!(
            "{secret}.{}",
            &SessionToken::generate_for(&user("x")).expose()[44..]
        );
        let renamed = SessionToken::from_cookie(&renamed).unwrap();
        assert_eq!(renamed.session_id(), token.session_id());
        assert_eq!(renamed.user_hint(), Some("x"));
    }

    #[test]
    fn a_cookie_of_the_secret_alone_still_names_its_session() {
        let token = SessionToken::generate();
        let read = SessionToken::from_cookie(token.expose()).unwrap();
        assert_eq!(read.user_hint(), None);
        assert_eq!(read.session_id(), token.session_id());
    }

    #[test]
    fn malformed_cookies_name_no_session() {
        let secret = SessionToken::generate().expose().to_owned();
        for value in [
            String::new(),
            secret[..42].to_owned(),
            format!("{secret}."),
            format!("{secret}x"),
            format!("{secret}.not base64"),
            format!("{secret}._-8"),
        ] {
            assert!(SessionToken::from_cookie(&value).is_none(), "{value:?}");
        }
    }
}
