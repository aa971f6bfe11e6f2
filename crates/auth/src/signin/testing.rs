//! What the use-case layer's own tests run on: a real embedded store in a temporary folder,
//! a manual clock, an audit sink that keeps what it is given and a limiter that allows
//! everything. No web framework.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::audit::AuditRecord;
use crate::client::ConfirmationMode;
use crate::clock::ManualClock;
use crate::flows::Lifetimes;
use crate::rate_limit::RateLimit;
use crate::signin::policy::{GlassesNetworkMismatch, LinkConfirmation, NetworkMismatch};
use crate::signin::{AuditSink, Bucket, Caller, Limited, Limiter, Policy, SignIn};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};
use crate::tokens::SigningKeys;

/// Where the phone pages live in these tests: a QR's text is `{MOBILE}/s/{id}`.
pub const MOBILE: &str = "http://phone.test";

#[derive(Default)]
pub struct KeptAudit(Mutex<Vec<AuditRecord>>);

impl AuditSink for KeptAudit {
    fn record(&self, record: AuditRecord) {
        self.0.lock().unwrap().push(record);
    }
}

/// A limiter that records every spend, and refuses one bucket if asked to.
#[derive(Default)]
pub struct Limits {
    spent: Mutex<Vec<(Bucket, String)>>,
    refused: Option<Bucket>,
}

impl Limits {
    pub fn counting() -> Self {
        Self::default()
    }

    pub fn refusing(bucket: Bucket) -> Self {
        Self {
            refused: Some(bucket),
            ..Self::default()
        }
    }

    /// Every bucket spent from so far, with its subject, in order.
    pub fn spent(&self) -> Vec<(Bucket, String)> {
        self.spent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Limiter for Limits {
    async fn spend(
        &self,
        spends: &[(Bucket, &str)],
    ) -> Result<Option<(usize, Limited)>, StoreError> {
        let mut spent = self.spent.lock().unwrap();
        for (index, (bucket, subject)) in spends.iter().enumerate() {
            spent.push((*bucket, (*subject).to_owned()));
            if self.refused == Some(*bucket) {
                let limit = RateLimit {
                    count: 10,
                    per_ms: 60_000,
                };
                let retry_after = Duration::from_secs(6);
                return Ok(Some((index, Limited { limit, retry_after })));
            }
        }
        Ok(None)
    }
}

pub struct World {
    pub signin: SignIn,
    pub audit: Arc<KeptAudit>,
    pub limits: Arc<Limits>,
    pub store: Arc<dyn Store>,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
}

/// The deployment's defaults.
pub fn policy() -> Policy {
    Policy {
        app_name: "qrlogin".into(),
        mobile_public_url: MOBILE.into(),
        desktop_public_url: "http://screen.test".into(),
        network_mismatch: NetworkMismatch::Warn,
        glasses_network_mismatch: GlassesNetworkMismatch::Refuse,
        confirmation: ConfirmationMode::Tap,
        lifetimes: Lifetimes {
            qr_ttl_ms: 120_000,
            session_ttl_ms: 3_600_000,
            access_token_ttl_ms: 900_000,
        },
        link_confirmation: LinkConfirmation::Confirm,
        link_ttl_ms: 300_000,
        networks: crate::network::NetworkGrouping::default(),
        passkeys: passkey_policy(),
    }
}

/// Passkeys as the deployment's defaults have them, for pages on `phone.test`.
pub fn passkey_policy() -> crate::signin::policy::PasskeyPolicy {
    let url = |u: &str| url::Url::parse(u).expect("a constant URL");
    crate::signin::policy::PasskeyPolicy {
        approval: crate::signin::policy::PasskeyApproval::WhenRegistered,
        relying_party: Some(
            crate::signin::passkeys::RelyingParty::new(
                "phone.test",
                "qrlogin",
                &url("https://phone.test"),
                &url("https://screen.test"),
            )
            .expect("a valid relying party"),
        ),
    }
}

pub fn caller(ip: &str) -> Caller {
    Caller {
        ip: ip.into(),
        user_agent: "test".into(),
        request_id: None,
    }
}

impl World {
    /// Budgets never run out.
    pub async fn new(policy: Policy) -> Self {
        Self::with_limiter(policy, Limits::counting()).await
    }

    pub async fn with_limiter(policy: Policy, limits: Limits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::default();
        let store: Arc<dyn Store> =
            SqliteStore::open_with_clock(&dir.path().join("t.sqlite3"), Arc::new(clock.clone()))
                .await
                .unwrap();
        let pem = SigningKeys::generate_pem().unwrap();
        let keys = Arc::new(SigningKeys::from_pem(&pem, "http://screen.test".into()).unwrap());
        let audit = Arc::new(KeptAudit::default());
        let limits = Arc::new(limits);
        let signin = SignIn::new(
            Arc::clone(&store),
            keys,
            Arc::new(clock.clone()),
            policy,
            audit.clone(),
            limits.clone(),
        );
        Self {
            signin,
            audit,
            limits,
            store,
            clock,
            _dir: dir,
        }
    }

    /// Every audit record written so far, oldest first.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.audit.0.lock().unwrap().clone()
    }
}
