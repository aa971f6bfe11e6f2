//! What the use-case layer needs from outside and defines itself: somewhere to write the audit
//! trail and a rate limiter. The web layer implements both (the log, the audit writer, the
//! configured limits).

use async_trait::async_trait;

use crate::audit::AuditRecord;
use crate::refusal::Refusal;
use crate::signin::Caller;

/// Where audit records go: the log first and always, then the store off the request path.
pub trait AuditSink: Send + Sync + 'static {
    fn record(&self, record: AuditRecord);
}

/// Spends budgets. A refused spend is a [`Refusal`] with `rate_limited` and when to retry,
/// and the limiter audits who hit which limit itself (once per period, not per refusal).
#[async_trait]
pub trait Limiter: Send + Sync + 'static {
    async fn spend(&self, caller: &Caller, bucket: Bucket, subject: &str) -> Result<(), Refusal>;
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
    LoginPerAccount,
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
