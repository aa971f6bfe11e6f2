//! What every request handler of both services shares, built once at start.

use std::sync::Arc;

use qrlogin_auth::UnixMillis;
use qrlogin_auth::clock::{Clock, SystemClock};
use qrlogin_auth::store::Store;
use qrlogin_auth::store::redis::RedisStore;
use qrlogin_auth::store::sqlite::SqliteStore;
use qrlogin_auth::tokens::SigningKeys;

use qrlogin_auth::signin::SignIn;

use crate::audit::AuditLog;
use crate::config::Settings;
use crate::cookies::CookiePolicy;
use crate::limits::StoreLimiter;
use crate::sockets::{SocketRegistry, descriptor_limit, raise_descriptor_limit};

/// Key prefix of everything qrlogin keeps in Redis.
pub const REDIS_PREFIX: &str = "qrlogin:";
/// The embedded database's file name inside `DATA_DIR`.
pub const DATABASE_FILE: &str = "qrlogin.sqlite3";

pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub keys: Arc<SigningKeys>,
    pub clock: Arc<dyn Clock>,
    pub audit: Arc<AuditLog>,
    /// Every sign-in step, with its rules: what handlers call.
    pub signin: Arc<SignIn>,
    /// The WebSockets open on this instance, within their caps.
    pub sockets: Arc<SocketRegistry>,
    /// The catalogues of what pages say, one per language.
    pub text: Arc<crate::i18n::Catalogues>,
    pub shutdown: crate::shutdown::Shutdown,
}

impl AppState {
    /// Settings → the store (Redis when `REDIS_URL` is set, else SQLite in `DATA_DIR`) →
    /// the signing keys. One store per process, shared by both services when embedded.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        raise_descriptor_limit();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = open_store(&settings, Arc::clone(&clock), REDIS_PREFIX).await?;
        Self::with_store(settings, store, clock).await
    }

    /// For tests and embedding: a given store and clock.
    pub async fn with_store(
        settings: Settings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let issuer = settings.desktop_public_url.as_str().to_owned();
        let pem = match &settings.jwt_signing_keys {
            Some(pem) => pem.clone(),
            None => {
                let pem = match store.stored_signing_key().await? {
                    Some(stored) => stored,
                    None => {
                        store
                            .shared_signing_key(SigningKeys::generate_pem_with_rsa()?)
                            .await?
                    }
                };
                tracing::warn!(
                    "dev mode: signing access tokens with a generated key kept in the store; set JWT_SIGNING_KEYS for production"
                );
                pem
            }
        };
        let keys = Arc::new(SigningKeys::from_pem(&pem, issuer)?);
        if !keys.identity_algorithms().contains(&"RS256") {
            tracing::warn!(
                "no RSA key among the signing keys: web apps' identity tokens are signed EdDSA, which many OpenID Connect libraries do not accept by default; add one to JWT_SIGNING_KEYS (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)"
            );
        }
        let audit = Arc::new(AuditLog::start(Arc::clone(&store)));
        let limiter = Arc::new(StoreLimiter {
            store: Arc::clone(&store),
            limits: settings.rate_limits.clone(),
        });
        let signin = Arc::new(SignIn::new(
            Arc::clone(&store),
            Arc::clone(&keys),
            Arc::clone(&clock),
            settings.policy(),
            audit.clone(),
            limiter,
        ));
        let sockets = Arc::new(SocketRegistry::new(settings.sockets, descriptor_limit()));
        tracing::debug!(max_websockets = sockets.instance_cap(), "socket caps");
        // Installed before anything is counted; `MetricsEndpoint` serves it.
        crate::metrics::recorder();
        Ok(Self {
            sockets,
            text: Arc::new(crate::i18n::Catalogues::load()?),
            settings: Arc::new(settings),
            audit,
            signin,
            shutdown: crate::shutdown::Shutdown::default(),
            store,
            keys,
            clock,
        })
    }

    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    pub fn desktop_cookies(&self) -> CookiePolicy {
        CookiePolicy {
            secure: self.settings.desktop_public_url.is_https(),
        }
    }

    pub fn mobile_cookies(&self) -> CookiePolicy {
        CookiePolicy {
            secure: self.settings.mobile_public_url.is_https(),
        }
    }
}

pub async fn open_store(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    prefix: &str,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &settings.redis {
        Some(target) => {
            let (name, setting) = match target.is_cluster() {
                false => ("Redis", "REDIS_URL"),
                true => ("Redis Cluster", "REDIS_CLUSTER_URLS"),
            };
            let store = RedisStore::connect_with_clock(target, prefix, clock)
                .await
                .map_err(|e| anyhow::anyhow!("cannot use the {name} at {setting}: {e}"))?;
            tracing::info!("store: {name}");
            store
        }
        None => {
            let path = settings.data_dir.join(DATABASE_FILE);
            let store = SqliteStore::open_with_clock(&path, clock).await?;
            tracing::info!(path = %path.display(), "store: embedded SQLite");
            store
        }
    })
}
