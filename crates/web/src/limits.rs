//! Spending rate-limit budgets (kept in the store, so they hold across instances), answered
//! with 429 `rate_limited` and `Retry-After`.

use qrlogin_auth::rate_limit::RateLimit;

use qrlogin_auth::audit::AuditEvent;

use crate::audit::Audit;
use crate::client::ClientInfo;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

#[derive(Clone, Copy, Debug)]
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
    fn name(self) -> &'static str {
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

    fn limit(self, state: &AppState) -> &RateLimit {
        let limits = &state.settings.rate_limits;
        match self {
            Self::CreatePerIp => &limits.create_per_ip,
            Self::CreatePerClient => &limits.create_per_client,
            Self::ScanPerUser => &limits.scan_per_user,
            Self::ScanPerIp => &limits.scan_per_ip,
            Self::PollPerRequest => &limits.poll_per_request,
            Self::LoginPerIp => &limits.login_per_ip,
            Self::LoginPerAccount => &limits.login_per_account,
            Self::PinPerRequest => &limits.pin_per_request,
            Self::WebviewPerIp => &limits.webview_per_ip,
            Self::RejectedTokenPerIp => &limits.rejected_token_per_ip,
            Self::FramesPerUser => &limits.frames_per_user,
            Self::LinksPerUser => &limits.links_per_user,
            Self::LinkClaimsPerIp => &limits.link_claims_per_ip,
            Self::WebhooksPerIp => &limits.webhooks_per_ip,
        }
    }
}

/// Spends one event from `bucket` for `subject`; 429 when the budget is gone (and an audit
/// record of who hit which limit).
pub async fn spend(
    state: &AppState,
    client: &ClientInfo,
    bucket: Bucket,
    subject: &str,
) -> Result<(), ApiError> {
    let key = format!("{}:{subject}", bucket.name());
    let limit = bucket.limit(state);
    match state.store.rate_limit(&key, limit).await? {
        None => Ok(()),
        Some(wait) => {
            let seconds = wait.as_millis().div_ceil(1000).max(1);
            tracing::info!(bucket = bucket.name(), "rate limited");
            let mut error = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "Too many attempts ({} allowed); try again in {seconds} s.",
                    limit.describe()
                ),
            );
            error.retry_after_seconds = Some(u64::try_from(seconds).unwrap_or(u64::MAX));
            let refused = Err(error);
            // One record per bucket and subject per period: a flood of refused requests
            // cannot push the real records out of the capped trail.
            let first = state
                .store
                .use_once(&format!("audited:{key}"), state.now() + limit.per_ms)
                .await?;
            if first {
                let mut audit = Audit::of(state, client, AuditEvent::RateLimited);
                audit.detail(bucket.name());
                audit.record(state, &refused).await;
            }
            refused
        }
    }
}
