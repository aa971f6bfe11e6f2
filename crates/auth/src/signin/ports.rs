//! What the use-case layer needs from outside and defines itself: somewhere to write the audit
//! trail and a rate limiter. The web layer implements both (the log, the audit writer, the
//! configured limits).

use async_trait::async_trait;

use crate::audit::AuditRecord;
use crate::rate_limit::RateLimit;
use crate::store::StoreError;

/// Where audit records go: the log first and always, then the store off the request path.
pub trait AuditSink: Send + Sync + 'static {
    fn record(&self, record: AuditRecord);
}

/// The configured budgets, kept where every instance sees them. What a refusal says, and
/// that it is audited once per period, is the use-case layer's.
#[async_trait]
pub trait Limiter: Send + Sync + 'static {
    /// Spends one event of each bucket for its subject, in order, stopping at the first that
    /// refuses: `None` when all allowed, else its position in `spends`, its limit and how
    /// long until one more event would be allowed. Where the store can, a refusal spends
    /// none of them.
    async fn spend(
        &self,
        spends: &[(Bucket, &str)],
    ) -> Result<Option<(usize, Limited)>, StoreError>;
}

/// A budget that ran out.
#[derive(Clone, Copy, Debug)]
pub struct Limited {
    pub limit: RateLimit,
    pub retry_after: std::time::Duration,
}

/// Every rate-limit budget a sign-in spends from, by what it protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    CreatePerIp,
    /// Requests a registered client creates (server to server: one IP for all its users).
    CreatePerClient,
    ScanPerUser,
    ScanPerIp,
    PollPerRequest,
    LoginPerIp,
    /// Password tries on an account from networks that never signed in to it: a spray from
    /// many networks is slowed, and the owner on a usual network is not locked out by it.
    LoginPerAccount,
    /// Password tries on one account from one network.
    LoginPerAccountNetwork,
    PinPerRequest,
    WebviewPerIp,
    RejectedTokenPerIp,
    FramesPerUser,
    /// Device links a signed-in user makes.
    LinksPerUser,
    /// Device links opened (claimed) per IP: guessing links is what it stops.
    LinkClaimsPerIp,
    /// MentraOS session webhooks per IP: each makes us dial the cloud with our API key.
    WebhooksPerIp,
}

impl Bucket {
    /// The bucket's name: part of its store key and of the audit record of a refusal.
    pub fn name(self) -> &'static str {
        match self {
            Self::CreatePerIp => "create-ip",
            Self::CreatePerClient => "create-client",
            Self::ScanPerUser => "scan-user",
            Self::ScanPerIp => "scan-ip",
            Self::PollPerRequest => "poll-request",
            Self::LoginPerIp => "login-ip",
            Self::LoginPerAccount => "login-account",
            Self::LoginPerAccountNetwork => "login-account-network",
            Self::PinPerRequest => "pin-request",
            Self::WebviewPerIp => "webview-ip",
            Self::RejectedTokenPerIp => "rejected-token-ip",
            Self::FramesPerUser => "frames-user",
            Self::LinksPerUser => "links-user",
            Self::LinkClaimsPerIp => "link-claims-ip",
            Self::WebhooksPerIp => "webhooks-ip",
        }
    }
}
