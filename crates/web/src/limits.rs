//! The rate limiter the use-case layer spends budgets from: the configured limit of each
//! bucket, kept in the store (so it holds across instances), refused with `rate_limited` and
//! a `Retry-After`.

use std::sync::Arc;

use async_trait::async_trait;
use qrlogin_auth::audit::AuditEvent;
use qrlogin_auth::clock::Clock;
use qrlogin_auth::rate_limit::RateLimit;
use qrlogin_auth::refusal::{ErrorCode, Refusal};
pub use qrlogin_auth::signin::Bucket;
use qrlogin_auth::signin::audit::Draft;
use qrlogin_auth::signin::{AuditSink, Caller, Limiter};
use qrlogin_auth::store::Store;

use crate::config::RateLimits;

fn limit_of(limits: &RateLimits, bucket: Bucket) -> &RateLimit {
    match bucket {
        Bucket::CreatePerIp => &limits.create_per_ip,
        Bucket::CreatePerClient => &limits.create_per_client,
        Bucket::ScanPerUser => &limits.scan_per_user,
        Bucket::ScanPerIp => &limits.scan_per_ip,
        Bucket::PollPerRequest => &limits.poll_per_request,
        Bucket::LoginPerIp => &limits.login_per_ip,
        Bucket::LoginPerAccount => &limits.login_per_account,
        Bucket::PinPerRequest => &limits.pin_per_request,
        Bucket::WebviewPerIp => &limits.webview_per_ip,
        Bucket::RejectedTokenPerIp => &limits.rejected_token_per_ip,
        Bucket::FramesPerUser => &limits.frames_per_user,
        Bucket::LinksPerUser => &limits.links_per_user,
        Bucket::LinkClaimsPerIp => &limits.link_claims_per_ip,
        Bucket::WebhooksPerIp => &limits.webhooks_per_ip,
    }
}

/// The configured limits over the store's buckets.
pub struct StoreLimiter {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub limits: RateLimits,
    pub audit: Arc<dyn AuditSink>,
}

#[async_trait]
impl Limiter for StoreLimiter {
    async fn spend(&self, caller: &Caller, bucket: Bucket, subject: &str) -> Result<(), Refusal> {
        let key = format!("{}:{subject}", bucket.name());
        let limit = limit_of(&self.limits, bucket);
        let Some(wait) = self.store.rate_limit(&key, limit).await? else {
            return Ok(());
        };
        let seconds = wait.as_millis().div_ceil(1000).max(1);
        tracing::info!(bucket = bucket.name(), "rate limited");
        let mut refusal = Refusal::new(
            ErrorCode::RateLimited,
            format!(
                "Too many attempts ({} allowed); try again in {seconds} s.",
                limit.describe()
            ),
        );
        refusal.retry_after_seconds = Some(u64::try_from(seconds).unwrap_or(u64::MAX));
        // One record per bucket and subject per period: a flood of refused requests cannot
        // push the real records out of the capped trail.
        let now = self.clock.now();
        let first = self
            .store
            .use_once(&format!("audited:{key}"), now + limit.per_ms)
            .await?;
        if first {
            let mut draft = Draft::new(AuditEvent::RateLimited, caller, now);
            draft.detail(bucket.name());
            draft.record_as(&*self.audit, Some(ErrorCode::RateLimited));
        }
        Err(refusal)
    }
}
