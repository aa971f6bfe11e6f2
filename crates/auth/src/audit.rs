//! The audit trail: one record for every security-relevant thing that happens (or is
//! refused), kept in the store (a capped Redis stream, a table on SQLite) and written to the
//! log under the target `audit`.

use serde::{Deserialize, Serialize};

use crate::login_request::UnixMillis;

/// How many records the store keeps, newest last; older ones are dropped.
pub const AUDIT_CAPACITY: usize = 100_000;
/// How many records the store keeps per user (what the dashboard shows from).
pub const AUDIT_CAPACITY_PER_USER: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    /// A screen created a login request.
    Create,
    /// A phone scanned the QR or typed the code.
    Claim,
    Approve,
    Deny,
    /// The screen typed a PIN (the outcome says whether it was right).
    Pin,
    /// The fifth wrong PIN locked the request.
    Lock,
    /// The screen turned an approval into a session.
    Redeem,
    /// The screen gave up on its request.
    Cancel,
    /// A sign-in on the phone with a local account or MentraOS.
    PhoneSignIn,
    Logout,
    /// Sign out everywhere.
    LogoutEverywhere,
    /// A session ended from another device's session list.
    Revoke,
    RateLimited,
    /// An access token or a signed user token was refused.
    TokenRejected,
    AccountCreated,
    AccountDisabled,
    AccountEnabled,
    AccountPasswordChanged,
    AccountRemoved,
    /// A third-party app was registered, had its API key replaced, was changed, or was removed.
    ClientRegistered,
    ClientKeyRotated,
    /// A registered app's settings changed (the device grant turned on or off).
    ClientUpdated,
    ClientRemoved,
    /// The phone added a passkey to the account, or removed one.
    PasskeyAdded,
    PasskeyRemoved,
    /// An operator removed every passkey of the account (and ended its sessions).
    PasskeysReset,
}

impl AuditEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Claim => "claim",
            Self::Approve => "approve",
            Self::Deny => "deny",
            Self::Pin => "pin",
            Self::Lock => "lock",
            Self::Redeem => "redeem",
            Self::Cancel => "cancel",
            Self::PhoneSignIn => "phone_sign_in",
            Self::Logout => "logout",
            Self::LogoutEverywhere => "logout_everywhere",
            Self::Revoke => "revoke",
            Self::RateLimited => "rate_limited",
            Self::TokenRejected => "token_rejected",
            Self::AccountCreated => "account_created",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::AccountPasswordChanged => "account_password_changed",
            Self::AccountRemoved => "account_removed",
            Self::ClientRegistered => "client_registered",
            Self::ClientKeyRotated => "client_key_rotated",
            Self::ClientUpdated => "client_updated",
            Self::ClientRemoved => "client_removed",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::PasskeysReset => "passkeys_reset",
        }
    }
}

/// What was recorded. `outcome` is `ok`, or the error code the caller was answered with
/// (`expired`, `wrong_pin`, `rate_limited`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: UnixMillis,
    pub event: AuditEvent,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The login request concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_request: Option<String>,
    /// The app being signed in to, as the confirmation screen names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The HTTP request id (`x-request-id`), to find the request's log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What else explains it (the bucket that was exceeded, why a token was refused, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditRecord {
    pub fn new(event: AuditEvent, at: UnixMillis) -> Self {
        Self {
            at,
            event,
            outcome: "ok".into(),
            user: None,
            login_request: None,
            client: None,
            ip: None,
            user_agent: None,
            request_id: None,
            detail: None,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.outcome == "ok"
    }
}

/// A stored record and where it sits in the trail (to read on after it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub cursor: String,
    #[serde(flatten)]
    pub record: AuditRecord,
}

/// Which records to read.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only this user's (from the per-user trail, which keeps the newest
    /// [`AUDIT_CAPACITY_PER_USER`]).
    pub user: Option<String>,
    /// Only records at or after this time.
    pub since: UnixMillis,
    /// Only records after this cursor (for following the trail).
    pub after: Option<String>,
    pub limit: usize,
    /// Newest first (a dashboard), instead of oldest first (reading or following the trail).
    pub newest_first: bool,
}
