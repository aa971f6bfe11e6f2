#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! What a redeem does when the store goes quiet at the worst moment: after its
//! compare-and-set landed, before the answer came back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use qrlogin_auth::account::{LocalAccount, Username};
use qrlogin_auth::audit::{AuditEntry, AuditQuery, AuditRecord};
use qrlogin_auth::clock::{Clock, ManualClock};
use qrlogin_auth::events::{AccountNotice, EventHub};
use qrlogin_auth::flows::{self, Device, Lifetimes};
use qrlogin_auth::glasses::PhotoOutcome;
use qrlogin_auth::login_request::{
    ApprovedWith, Claim, LoginRequest, RequestId, ScreenContext, Transition,
};
use qrlogin_auth::rate_limit::RateLimit;
use qrlogin_auth::session::Session;
use qrlogin_auth::store::sqlite::SqliteStore;
use qrlogin_auth::store::{Store, StoreError};
use qrlogin_auth::tokens::SigningKeys;
use qrlogin_auth::user_code::UserCode;
use qrlogin_auth::{LoginState, User};
use secrecy::SecretString;

/// A store whose next compare-and-set is applied but answered as a timeout, once armed.
struct QuietAfterSwap {
    inner: Arc<dyn Store>,
    armed: AtomicBool,
}

#[async_trait]
impl Store for QuietAfterSwap {
    async fn swap_request(
        &self,
        next: &LoginRequest,
        expected: u32,
        notice: Option<&AccountNotice>,
    ) -> Result<bool, StoreError> {
        let swapped = self.inner.swap_request(next, expected, notice).await?;
        if self.armed.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("timed out (simulated)".into()));
        }
        Ok(swapped)
    }
    async fn insert_request(&self, r: &LoginRequest) -> Result<bool, StoreError> {
        self.inner.insert_request(r).await
    }
    async fn load_request(&self, id: &RequestId) -> Result<Option<LoginRequest>, StoreError> {
        self.inner.load_request(id).await
    }
    async fn find_request_by_code(&self, c: &UserCode) -> Result<Option<RequestId>, StoreError> {
        self.inner.find_request_by_code(c).await
    }
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        self.inner.insert_session(s).await
    }
    async fn load_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.inner.load_session(id).await
    }
    async fn touch_session(&self, s: &Session) -> Result<(), StoreError> {
        self.inner.touch_session(s).await
    }
    async fn delete_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.inner.delete_session(id).await
    }
    async fn list_sessions(&self, user: &str) -> Result<Vec<Session>, StoreError> {
        self.inner.list_sessions(user).await
    }
    async fn set_not_before(&self, user: &str, at: i64) -> Result<(), StoreError> {
        self.inner.set_not_before(user, at).await
    }
    async fn not_before(&self, user: &str) -> Result<Option<i64>, StoreError> {
        self.inner.not_before(user).await
    }
    async fn use_once(&self, key: &str, until: i64) -> Result<bool, StoreError> {
        self.inner.use_once(key, until).await
    }
    async fn revoke_token(&self, jti: &str, until: i64) -> Result<(), StoreError> {
        self.inner.revoke_token(jti, until).await
    }
    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        self.inner.is_token_revoked(jti).await
    }
    async fn insert_account(&self, a: &LocalAccount) -> Result<bool, StoreError> {
        self.inner.insert_account(a).await
    }
    async fn load_account(&self, u: &Username) -> Result<Option<LocalAccount>, StoreError> {
        self.inner.load_account(u).await
    }
    async fn update_account(&self, a: &LocalAccount) -> Result<bool, StoreError> {
        self.inner.update_account(a).await
    }
    async fn list_accounts(&self) -> Result<Vec<LocalAccount>, StoreError> {
        self.inner.list_accounts().await
    }
    async fn delete_account(&self, u: &Username) -> Result<bool, StoreError> {
        self.inner.delete_account(u).await
    }
    async fn append_audit(&self, r: &[AuditRecord]) -> Result<(), StoreError> {
        self.inner.append_audit(r).await
    }
    async fn read_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.read_audit(q).await
    }
    async fn shared_signing_key(&self, c: SecretString) -> Result<SecretString, StoreError> {
        self.inner.shared_signing_key(c).await
    }
    async fn stored_signing_key(&self) -> Result<Option<SecretString>, StoreError> {
        self.inner.stored_signing_key().await
    }
    async fn rate_limit(
        &self,
        buckets: &[(&str, &RateLimit)],
    ) -> Result<Option<(usize, std::time::Duration)>, StoreError> {
        self.inner.rate_limit(buckets).await
    }
    async fn announce(&self, n: &AccountNotice) -> Result<(), StoreError> {
        self.inner.announce(n).await
    }
    async fn insert_entry(&self, k: &str, id: &str, d: &str) -> Result<bool, StoreError> {
        self.inner.insert_entry(k, id, d).await
    }
    async fn update_entry(&self, k: &str, id: &str, d: &str) -> Result<bool, StoreError> {
        self.inner.update_entry(k, id, d).await
    }
    async fn load_entry(&self, k: &str, id: &str) -> Result<Option<String>, StoreError> {
        self.inner.load_entry(k, id).await
    }
    async fn list_entries(&self, k: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_entries(k).await
    }
    async fn delete_entry(&self, k: &str, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_entry(k, id).await
    }
    async fn put_ephemeral(
        &self,
        k: &str,
        id: &str,
        d: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        self.inner.put_ephemeral(k, id, d, until).await
    }
    async fn get_ephemeral(&self, k: &str, id: &str) -> Result<Option<String>, StoreError> {
        self.inner.get_ephemeral(k, id).await
    }
    async fn announce_photo(&self, o: &PhotoOutcome) -> Result<(), StoreError> {
        self.inner.announce_photo(o).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    fn events(&self) -> &Arc<EventHub> {
        self.inner.events()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redeem_whose_answer_is_lost_still_signs_in_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::default();
    let sqlite =
        SqliteStore::open_with_clock(&dir.path().join("q.sqlite3"), Arc::new(clock.clone()))
            .await
            .unwrap();
    let store = QuietAfterSwap {
        inner: sqlite,
        armed: AtomicBool::new(false),
    };
    let now = clock.now();
    let screen = ScreenContext {
        client_name: "qrlogin".into(),
        ip: "192.0.2.1".into(),
        user_agent: "test".into(),
        ..ScreenContext::default()
    };
    let new = flows::create_request(&store, screen, now, 60_000)
        .await
        .unwrap();
    let id = new.request.id.clone();
    let ann = User::mentra("ann@example.com");
    let claim = Transition::Claim(Claim {
        user: ann.clone(),
        ip: "192.0.2.2".into(),
        at: now,
        had_passkeys: false,
    });
    flows::transition(&store, &id, &claim, now).await.unwrap();
    let approve = Transition::Approve {
        user: ann.clone(),
        pin: None,
        with: ApprovedWith::Tap,
    };
    flows::transition(&store, &id, &approve, now).await.unwrap();

    let keys = SigningKeys::from_pem(&SigningKeys::generate_pem().unwrap(), "i".into()).unwrap();
    let lifetimes = Lifetimes {
        qr_ttl_ms: 60_000,
        session_ttl_ms: 3_600_000,
        access_token_ttl_ms: 1_800_000,
    };
    let device = || Device {
        ip: "192.0.2.1".into(),
        user_agent: "test".into(),
    };
    store.armed.store(true, Ordering::SeqCst);
    let signed_in = flows::redeem(
        &store,
        &keys,
        &id,
        &new.desktop_secret,
        device(),
        now,
        &lifetimes,
    )
    .await
    .expect("the redeem landed, so it is a sign-in, not an error");
    assert_eq!(
        store.load_request(&id).await.unwrap().unwrap().state,
        LoginState::Redeemed
    );
    assert!(
        store
            .load_session(&signed_in.session.id)
            .await
            .unwrap()
            .is_some()
    );

    // And a second redeem is still refused: exactly once.
    let again = flows::redeem(
        &store,
        &keys,
        &id,
        &new.desktop_secret,
        device(),
        now,
        &lifetimes,
    )
    .await;
    assert!(again.is_err());
    assert_eq!(store.list_sessions(&ann.id).await.unwrap().len(), 1);
}
