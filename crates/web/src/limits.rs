//! The rate limiter the use-case layer spends budgets from: the configured limit of each
//! bucket, kept in the store (so it holds across instances).

use std::sync::Arc;

use async_trait::async_trait;
use qrlogin_auth::rate_limit::RateLimit;
use qrlogin_auth::signin::{Bucket, Limited, Limiter};
use qrlogin_auth::store::{Store, StoreError};

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
        Bucket::LoginPerAccountNetwork => &limits.login_per_account_network,
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
    pub limits: RateLimits,
}

#[async_trait]
impl Limiter for StoreLimiter {
    async fn spend(
        &self,
        spends: &[(Bucket, &str)],
    ) -> Result<Option<(usize, Limited)>, StoreError> {
        let keys: Vec<String> = spends
            .iter()
            .map(|(bucket, subject)| format!("{}:{subject}", bucket.name()))
            .collect();
        let buckets: Vec<(&str, &RateLimit)> = spends
            .iter()
            .zip(&keys)
            .map(|((bucket, _), key)| (key.as_str(), limit_of(&self.limits, *bucket)))
            .collect();
        Ok(self
            .store
            .rate_limit(&buckets)
            .await?
            .map(|(index, retry_after)| {
                let limit = *limit_of(&self.limits, spends[index].0);
                (index, Limited { limit, retry_after })
            }))
    }
}
