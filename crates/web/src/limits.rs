//! Spending rate-limit budgets (kept in the store, so they hold across instances), answered
//! with 429 `rate_limited` and `Retry-After`.

use qrlogin_auth::rate_limit::RateLimit;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

#[derive(Clone, Copy, Debug)]
pub enum Bucket {
    CreatePerIp,
    ScanPerUser,
    ScanFailuresPerIp,
    PollPerRequest,
    LoginFailuresPerIp,
    LoginFailuresPerAccount,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Self::CreatePerIp => "create-ip",
            Self::ScanPerUser => "scan-user",
            Self::ScanFailuresPerIp => "scan-fail-ip",
            Self::PollPerRequest => "poll-request",
            Self::LoginFailuresPerIp => "login-fail-ip",
            Self::LoginFailuresPerAccount => "login-fail-account",
        }
    }

    fn limit(self, state: &AppState) -> &RateLimit {
        let limits = &state.settings.rate_limits;
        match self {
            Self::CreatePerIp => &limits.create_per_ip,
            Self::ScanPerUser => &limits.scan_per_user,
            Self::ScanFailuresPerIp => &limits.scan_failures_per_ip,
            Self::PollPerRequest => &limits.poll_per_request,
            Self::LoginFailuresPerIp => &limits.login_failures_per_ip,
            Self::LoginFailuresPerAccount => &limits.login_failures_per_account,
        }
    }
}

async fn step(
    state: &AppState,
    bucket: Bucket,
    subject: &str,
    commit: bool,
) -> Result<(), ApiError> {
    let key = format!("{}:{subject}", bucket.name());
    let limit = bucket.limit(state);
    match state.store.rate_limit(&key, limit, commit).await? {
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
            Err(error)
        }
    }
}

/// Spends one event from `bucket` for `subject`; 429 when the budget is gone.
pub async fn spend(state: &AppState, bucket: Bucket, subject: &str) -> Result<(), ApiError> {
    step(state, bucket, subject, true).await
}

/// Refuses when a failures-only budget is already gone, spending nothing: what is checked
/// before an attempt whose failure (and only failure) is then [`spend`]t.
pub async fn check(state: &AppState, bucket: Bucket, subject: &str) -> Result<(), ApiError> {
    step(state, bucket, subject, false).await
}
