//! The use-case layer: every rule of a cross-device sign-in, once. Who may claim a request and
//! from which picture, what the approver is shown, what a network mismatch does, what "approve"
//! means, what ends when a user signs out everywhere, what is audited and which budget each
//! step spends. Pages, the JSON API, camera frames, glasses, device links and OAuth only
//! translate between their protocol and these calls.
//!
//! [`SignIn`] holds what the steps need (the store, the keys, the clock, the [`Policy`]) and
//! two ports it defines and the web layer implements ([`AuditSink`], [`Limiter`]).

use std::sync::Arc;

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::login_request::UnixMillis;
use crate::refusal::{ErrorCode, Refusal};
use crate::store::Store;
use crate::tokens::SigningKeys;

pub mod audit;
pub mod authorization;
mod callers;
mod claim;
pub mod device_grant;
mod glasses;
pub mod links;
mod mentra;
pub mod passkeys;
pub mod policy;
pub mod ports;
pub mod prompt;
mod screen;
mod sessions;

pub use claim::{ApprovalProof, Approver, ClaimSource, Claimed, Decided, Decision};
pub use mentra::{MentraFailure, MentraProof, MentraSignIn, SignedToken};
pub use policy::{Entry, Policy};
pub use ports::{AuditSink, Bucket, Limited, Limiter};
pub use prompt::Prompt;
pub use screen::Requester;
pub use sessions::{SignOutScope, SignedInCaller};

use audit::Draft;

/// Who is asking, as far as the network tells: the address (behind trusted proxies, the
/// client's), the user agent, and the HTTP request id for the log.
#[derive(Clone, Debug)]
pub struct Caller {
    pub ip: String,
    pub user_agent: String,
    pub request_id: Option<String>,
}

impl Caller {
    /// Where a session started for this caller comes from.
    pub fn device(&self) -> crate::flows::Device {
        crate::flows::Device {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// The sign-in service, built once at start and shared by every entry point.
pub struct SignIn {
    store: Arc<dyn Store>,
    keys: Arc<SigningKeys>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    audit: Arc<dyn AuditSink>,
    limiter: Arc<dyn Limiter>,
    password_checks: crate::account::PasswordChecks,
}

impl SignIn {
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<SigningKeys>,
        clock: Arc<dyn Clock>,
        policy: Policy,
        audit: Arc<dyn AuditSink>,
        limiter: Arc<dyn Limiter>,
    ) -> Self {
        Self {
            store,
            keys,
            clock,
            policy,
            audit,
            limiter,
            password_checks: crate::account::PasswordChecks::per_core(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn store(&self) -> &dyn Store {
        &*self.store
    }

    fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    fn draft(&self, event: AuditEvent, caller: &Caller) -> Draft {
        Draft::new(event, caller, self.now())
    }

    fn record<T>(&self, draft: Draft, outcome: &Result<T, Refusal>) {
        draft.record(&*self.audit, outcome);
    }

    /// Spends one event of `bucket` for `subject`; past the budget, `rate_limited` with when
    /// to retry, and one audit record of who hit which limit per bucket, subject and period, so
    /// a flood of refused requests cannot push the real records out of the capped trail.
    /// The caller's network: what every per-IP budget counts (an IPv6 connection's /64).
    pub fn network_of(&self, caller: &Caller) -> String {
        self.policy.networks.network_of(&caller.ip)
    }

    async fn spend(&self, caller: &Caller, bucket: Bucket, subject: &str) -> Result<(), Refusal> {
        self.spend_all(caller, &[(bucket, subject)]).await
    }

    /// Spends from several budgets in one go (one round trip): the first that refuses is the
    /// one shown, and where the store can, a refusal spends none of them.
    async fn spend_all(&self, caller: &Caller, spends: &[(Bucket, &str)]) -> Result<(), Refusal> {
        let Some((index, limited)) = self.limiter.spend(spends).await? else {
            return Ok(());
        };
        let (bucket, subject) = spends[index];
        let seconds = limited.retry_after.as_millis().div_ceil(1000).max(1);
        tracing::info!(bucket = bucket.name(), "rate limited");
        let mut refusal = Refusal::new(
            ErrorCode::RateLimited,
            format!(
                "Too many attempts ({} allowed); try again in {seconds} s.",
                limited.limit.describe()
            ),
        );
        refusal.retry_after_seconds = Some(u64::try_from(seconds).unwrap_or(u64::MAX));
        let now = self.now();
        let audited = format!("audited:{}:{subject}", bucket.name());
        if self
            .store()
            .use_once(&audited, now + limited.limit.per_ms)
            .await?
        {
            let mut draft = self.draft(AuditEvent::RateLimited, caller);
            draft.detail(bucket.name());
            draft.record_as(&*self.audit, Some(ErrorCode::RateLimited));
        }
        Err(refusal)
    }
}

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
