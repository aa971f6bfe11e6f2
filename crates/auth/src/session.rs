//! Server-side sessions: the cookie holds a random secret, the store holds the session under
//! an id derived from it, so a stolen database holds no usable cookie.

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

/// The secret a session cookie carries.
pub struct SessionToken(SecretString);

impl SessionToken {
    pub fn generate() -> Self {
        Self(random_token::<32>().into())
    }

    pub fn from_cookie(value: &str) -> Option<Self> {
        (value.len() == 43).then(|| Self(value.to_owned().into()))
    }

    pub fn session_id(&self) -> String {
        public_id_of(self.0.expose_secret())
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
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
