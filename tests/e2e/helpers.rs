//! The harness: a "cluster" of desktop instances and a mobile instance sharing one store,
//! one manual clock and a fake MentraOS cloud; clients that behave like a screen and a phone.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;
use qrlogin_auth::clock::{Clock, ManualClock};
use qrlogin_auth::store::Store;
use qrlogin_auth::store::redis::{RedisStore, RedisTarget};
use qrlogin_auth::store::sqlite::SqliteStore;
use qrlogin_testkit::mentra::{API_KEY, FakeMentraCloud, PACKAGE_NAME, signing_key};
use qrlogin_testkit::mentra_cloud::{FakeCloudOptions, FakeMentraCloud as GlassesCloud};
use qrlogin_testkit::{RedisServer, unique_prefix};
use qrlogin_web::AppState;
use qrlogin_web::config::{LogFormat, Settings};
use qrlogin_web::metrics::{MetricsAddr, MetricsEndpoint};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The test binary's shared redis-server, each cluster on its own key prefix.
    Redis,
    /// A redis-server of the cluster's own, which the test may stop and start.
    OwnRedis,
    Sqlite,
}

pub struct TestCluster {
    pub desktops: Vec<String>,
    pub mobile: String,
    /// The process's `GET /metrics` endpoint (one per process, as in the binaries).
    pub metrics: String,
    pub clock: ManualClock,
    pub cloud: FakeMentraCloud,
    /// The MentraOS cloud as Mentra Live glasses meet it (webhook, app socket, uploads).
    pub glasses: GlassesCloud,
    pub store: Arc<dyn Store>,
    /// With [`Backend::OwnRedis`]: the server, to stop and start.
    pub own_redis: Option<RedisServer>,
    /// Every instance's state, to flush their audit writers.
    states: Vec<web::Data<AppState>>,
    _dir: Option<tempfile::TempDir>,
}

/// Everything every service logs during the tests, to check that no secret is ever in it.
pub static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    let buffer = LOGS.get_or_init(Arc::default).clone();
    let capture = Capture(buffer);
    qrlogin_web::telemetry::init(
        LogFormat::Json,
        "debug,actix_server=warn,cookie_store=warn,tungstenite=warn,tokio_tungstenite=warn,hyper_util=warn",
        move || capture.clone(),
    );
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.get_or_init(Arc::default).lock().unwrap()).into_owned()
}

/// A listener on loopback, and its address under `host` (`127.0.0.1`, or `localhost` where
/// a browser must see a host name, as WebAuthn does).
fn listener(host: &str) -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{host}:{}", listener.local_addr().unwrap().port());
    (listener, url)
}

/// The signing keys every test cluster of this binary uses: Ed25519 and RSA, as dev mode
/// makes them.
pub fn test_signing_keys() -> &'static str {
    static KEYS: OnceLock<String> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pem = qrlogin_auth::tokens::SigningKeys::generate_pem_with_rsa().unwrap();
        secrecy::ExposeSecret::expose_secret(&pem).to_owned()
    })
}

impl TestCluster {
    /// `desktops` desktop instances and one mobile instance. On Redis each instance has its
    /// own connections, as separate processes would. `None` when Redis is wanted but missing.
    pub async fn start(backend: Backend, desktops: usize, extra: &[(&str, &str)]) -> Option<Self> {
        Self::start_on("127.0.0.1", backend, desktops, extra).await
    }

    /// [`Self::start`] with public addresses under `host` (`localhost` for passkeys: WebAuthn
    /// refuses IP addresses).
    pub async fn start_on(
        host: &str,
        backend: Backend,
        desktops: usize,
        extra: &[(&str, &str)],
    ) -> Option<Self> {
        init_logs();
        let own_redis = match backend {
            Backend::OwnRedis => Some(RedisServer::start()?),
            _ => None,
        };
        let redis_url = match backend {
            Backend::Redis => Some(RedisServer::shared()?.url()),
            Backend::OwnRedis => own_redis.as_ref().map(RedisServer::url),
            Backend::Sqlite => None,
        };
        let clock = ManualClock::default();
        let cloud = FakeMentraCloud::start().await;
        let desktop_listeners: Vec<_> = (0..desktops).map(|_| listener(host)).collect();
        let (mobile_listener, mobile_url) = listener(host);
        let glasses = GlassesCloud::start(FakeCloudOptions {
            package_name: PACKAGE_NAME.to_owned(),
            api_key: API_KEY.to_owned(),
            app_url: mobile_url.clone(),
            camera_permission: true,
        })
        .await;
        let glasses_host = glasses.host();
        // All desktop instances stand behind one public address, as behind a load balancer.
        let public_desktop = desktop_listeners[0].1.clone();
        let mut vars: HashMap<String, String> = [
            ("DESKTOP_PUBLIC_URL", public_desktop.as_str()),
            ("MOBILE_PUBLIC_URL", mobile_url.as_str()),
            ("PACKAGE_NAME", PACKAGE_NAME),
            ("MENTRAOS_API_KEY", API_KEY),
            ("MENTRAOS_CLOUD_URL", &cloud.url()),
            ("MENTRAOS_USER_TOKEN_PUBLIC_KEY", &signing_key().public_pem),
            ("MENTRAOS_TIMEOUT", "500ms"),
            ("MENTRAOS_CLOUD_HOSTS", glasses_host.as_str()),
            // Every test phone signs in from 127.0.0.1; tests of this limit set their own.
            ("RATE_LIMIT_WEBVIEW_PER_IP", "1000/1m"),
            // One set of keys for the whole test binary: an RSA key takes a while to make.
            // (The real binary's tests keep dev mode's generated keys.)
            ("JWT_SIGNING_KEYS", test_signing_keys()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let settings = Settings::from_vars(|name| vars.get(name).cloned()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let prefix = unique_prefix();
        let sqlite: Option<Arc<dyn Store>> = match backend {
            Backend::Sqlite => Some(
                SqliteStore::open_with_clock(
                    &dir.path().join("q.sqlite3"),
                    Arc::new(clock.clone()),
                )
                .await
                .unwrap(),
            ),
            Backend::Redis | Backend::OwnRedis => None,
        };
        let store_for_instance = || async {
            match (&sqlite, &redis_url) {
                (Some(store), _) => store.clone(),
                (None, Some(url)) => {
                    let store: Arc<dyn Store> = RedisStore::connect_with_clock(
                        &RedisTarget::standalone(url.clone().into()),
                        &prefix,
                        Arc::new(clock.clone()),
                    )
                    .await
                    .unwrap();
                    store
                }
                (None, None) => unreachable!(),
            }
        };
        let state_for = |store: Arc<dyn Store>| {
            let settings = settings.clone();
            let clock: Arc<dyn Clock> = Arc::new(clock.clone());
            async move { web::Data::new(AppState::with_store(settings, store, clock).await.unwrap()) }
        };
        let mut desktop_urls = Vec::new();
        let mut states = Vec::new();
        for (listener, url) in desktop_listeners {
            let state = state_for(store_for_instance().await).await;
            states.push(state.clone());
            let app = qrlogin_desktop::build(state, listener).unwrap();
            tokio::spawn(app.run_until_stopped());
            desktop_urls.push(url);
        }
        let store = store_for_instance().await;
        let state = state_for(store.clone()).await;
        states.push(state.clone());
        let mentra = web::Data::new(qrlogin_mobile::MentraLogin::from_settings(&settings).unwrap());
        let app = qrlogin_mobile::build(state, mentra, mobile_listener).unwrap();
        tokio::spawn(app.run_until_stopped());
        let metrics = MetricsEndpoint::start(MetricsAddr::At(([127, 0, 0, 1], 0).into()), 0)
            .unwrap()
            .unwrap();
        Some(Self {
            desktops: desktop_urls,
            mobile: mobile_url,
            metrics: format!("http://{}", metrics.addr()),
            clock,
            cloud,
            glasses,
            store,
            own_redis,
            states,
            _dir: Some(dir),
        })
    }

    /// Desktop instance `instance` is told to shut down, as SIGTERM would.
    /// The state instance `instance` was built with (the mobile instance is the last).
    pub fn state(&self, instance: usize) -> web::Data<AppState> {
        self.states[instance].clone()
    }

    pub fn shut_down_desktop(&self, instance: usize) {
        self.states[instance].shutdown.begin();
    }

    /// Waits until every instance has stored the audit records it queued.
    pub async fn flush_audit(&self) {
        for state in &self.states {
            state.audit.flush().await;
        }
    }

    /// The whole audit trail, oldest first, once every instance has stored what it queued.
    pub async fn audit_trail(&self) -> Vec<qrlogin_auth::audit::AuditRecord> {
        self.flush_audit().await;
        let everything = qrlogin_auth::audit::AuditQuery {
            limit: 100_000,
            ..Default::default()
        };
        let entries = self.store.read_audit(&everything).await.unwrap();
        entries.into_iter().map(|e| e.record).collect()
    }

    /// A local account, as `qrlogin users add` makes one.
    pub async fn add_local_account(&self, username: &str, display_name: &str, password: &str) {
        let username = qrlogin_auth::account::Username::parse(username).unwrap();
        let created = qrlogin_auth::flows::create_account(
            &*self.store,
            username,
            display_name.into(),
            password.to_owned().into(),
            self.clock.now(),
        )
        .await;
        assert_eq!(created.unwrap(), qrlogin_auth::flows::NewAccount::Created);
    }

    /// A phone that has not signed in yet.
    pub fn signed_out_phone(&self) -> Phone {
        Phone {
            client: client(),
            base: self.mobile.clone(),
        }
    }

    pub fn screen(&self, instance: usize) -> Screen {
        Screen {
            client: client(),
            base: self.desktops[instance].clone(),
        }
    }

    /// A phone signed in through the MentraOS webview as `user_id`.
    pub async fn phone(&self, user_id: &str) -> Phone {
        Phone::signed_in_through_webview(&self.cloud, &self.mobile, user_id).await
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A screen (desktop browser or API client); its cookie jar is shared across instances, as
/// one browser's is behind a load balancer.
pub struct Screen {
    pub client: reqwest::Client,
    pub base: String,
}

pub struct Created {
    pub id: String,
    pub secret: String,
    pub user_code: String,
    pub qr_url: String,
}

impl Screen {
    pub fn on(&self, base: &str) -> Screen {
        Screen {
            client: self.client.clone(),
            base: base.to_owned(),
        }
    }

    pub async fn create(&self) -> Created {
        self.create_with(None).await
    }

    /// A request from a screen elsewhere: a trusted proxy (`TRUST_PROXY=127.0.0.1`) reports
    /// the screen's address as `address`.
    pub async fn create_from(&self, address: &str) -> Created {
        self.create_with(Some(address)).await
    }

    async fn create_with(&self, forwarded_for: Option<&str>) -> Created {
        let mut request = self
            .client
            .post(format!("{}/api/login-requests", self.base))
            .json(&serde_json::json!({}));
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        Created {
            id: body["id"].as_str().unwrap().to_owned(),
            secret: body["desktop_secret"].as_str().unwrap().to_owned(),
            user_code: body["user_code"].as_str().unwrap().to_owned(),
            qr_url: body["qr_url"].as_str().unwrap().to_owned(),
        }
    }

    /// Redeems with the desktop secret in the header (as an API client does).
    pub async fn redeem(&self, created: &Created) -> reqwest::Response {
        self.client
            .post(format!(
                "{}/api/login-requests/{}/redeem",
                self.base, created.id
            ))
            .header("x-desktop-secret", &created.secret)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
    }

    /// `GET {path}` with this screen's cookies, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// Types `pin` on the screen.
    pub async fn enter_pin(&self, created: &Created, pin: &str) -> reqwest::Response {
        self.client
            .post(format!(
                "{}/api/login-requests/{}/pin",
                self.base, created.id
            ))
            .header("x-desktop-secret", &created.secret)
            .json(&serde_json::json!({ "pin": pin }))
            .send()
            .await
            .unwrap()
    }

    pub async fn me(&self) -> reqwest::Response {
        self.client
            .get(format!("{}/api/me", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn poll(&self, created: &Created) -> Value {
        let response = self
            .client
            .get(format!("{}/api/login-requests/{}", self.base, created.id))
            .header("x-desktop-secret", &created.secret)
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    pub async fn events(&self, created: &Created) -> Events {
        let url = format!(
            "{}/api/login-requests/{}/events",
            self.base.replace("http://", "ws://"),
            created.id
        );
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("x-desktop-secret", created.secret.parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Events(socket)
    }
}

/// Opens the WebSocket at `base` (http://…) + `path` with `headers`: the socket, or the HTTP
/// status that refused it before the upgrade.
pub async fn socket(base: &str, path: &str, headers: &[(&str, &str)]) -> Result<Events, u16> {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}{path}", base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes());
        request
            .headers_mut()
            .insert(name.unwrap(), value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(Events(socket)),
        Err(Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("{other}"),
    }
}

pub struct Events(
    pub tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Events {
    /// Reads until the server closes the socket; the close code it gave.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("no close within 10 s");
            match message? {
                Ok(tokio_tungstenite::tungstenite::Message::Close(frame)) => {
                    return frame.map(|f| u16::from(f.code));
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The next state message (skipping pings), or `None` when the server closed the socket.
    pub async fn next_state(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("no message within 10 s");
            match message? {
                Ok(tokio_tungstenite::tungstenite::Message::Text(text)) => {
                    return Some(serde_json::from_str(&text).unwrap());
                }
                Ok(tokio_tungstenite::tungstenite::Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }
}

pub struct Phone {
    pub client: reqwest::Client,
    pub base: String,
}

impl Phone {
    /// A phone at `mobile` signed in as `user_id` through the MentraOS webview, as the
    /// MentraOS app opens it with a temporary token from `cloud`.
    pub async fn signed_in_through_webview(
        cloud: &FakeMentraCloud,
        mobile: &str,
        user_id: &str,
    ) -> Phone {
        let phone = Phone {
            client: client(),
            base: mobile.to_owned(),
        };
        let token = cloud.issue_temp_token(user_id);
        let response = phone
            .client
            .get(format!("{mobile}/webview?aos_temp_token={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        phone
    }

    pub async fn local_login(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/local/login", self.base))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn scan(&self, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/scan", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn scan_id(&self, id: &str) -> reqwest::Response {
        self.scan(serde_json::json!({ "id": id })).await
    }

    /// The claimant's view of a request it is deciding.
    pub async fn status(&self, id: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/api/login-requests/{id}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn decide(&self, id: &str, verb: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/login-requests/{id}/{verb}", self.base))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
    }
}

/// Creates on `screen`, scans and approves from `phone`: an approved request.
pub async fn approved(screen: &Screen, phone: &Phone) -> Created {
    let created = screen.create().await;
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
    created
}

pub async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].is_string() && body["request_id"].is_string(),
        "the error shape: {body}"
    );
    (status, body["error"].as_str().unwrap().to_owned())
}

/// Grey `pixels` (`width`×`height`, one byte each) as an image file in `format`.
pub fn encoded(width: u32, height: u32, pixels: Vec<u8>, format: image::ImageFormat) -> Vec<u8> {
    let image = image::GrayImage::from_raw(width, height, pixels).unwrap();
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}
