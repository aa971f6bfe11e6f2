//! What the use-case layer's own tests run on: a real embedded store in a temporary folder,
//! a manual clock, an audit sink that keeps what it is given and a limiter that allows
//! everything. No web framework.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::audit::AuditRecord;
use crate::client::ConfirmationMode;
use crate::clock::ManualClock;
use crate::flows::Lifetimes;
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

pub struct NoLimits;

#[async_trait]
impl Limiter for NoLimits {
    async fn spend(&self, _: Bucket, _: &str) -> Result<Option<Limited>, StoreError> {
        Ok(None)
    }
}

pub struct World {
    pub signin: SignIn,
    pub audit: Arc<KeptAudit>,
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
    pub async fn new(policy: Policy) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::default();
        let store: Arc<dyn Store> =
            SqliteStore::open_with_clock(&dir.path().join("t.sqlite3"), Arc::new(clock.clone()))
                .await
                .unwrap();
        let pem = SigningKeys::generate_pem().unwrap();
        let keys = Arc::new(SigningKeys::from_pem(&pem, "http://screen.test".into()).unwrap());
        let audit = Arc::new(KeptAudit::default());
        let signin = SignIn::new(
            Arc::clone(&store),
            keys,
            Arc::new(clock.clone()),
            policy,
            audit.clone(),
            Arc::new(NoLimits),
        );
        Self {
            signin,
            audit,
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
