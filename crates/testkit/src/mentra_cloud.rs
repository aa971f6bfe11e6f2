//! A fake MentraOS cloud for end-to-end tests of the app server, following
//! `shared/mentraos/app-protocol.md` (the NEW cloud, with v2-SDK semantics since our app sends no
//! `sdkVersion`): the session webhook with its retry and connect deadline, the app WebSocket
//! (init, ack, errors, pings, subscriptions, grace period and resurrection), the camera button,
//! photo uploads made by fake glasses, and audio requests answered by a fake phone.
//!
//! Its timers are the protocol's own (1 s webhook backoff, 6 s connect deadline, 5 s grace, 8 s
//! empty-subscription grace, 10 s pings); everything a test waits for is a condition.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// §1.3: each `session_request` attempt times out after 10 s; 2 attempts, 1 s apart.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const WEBHOOK_ATTEMPTS: u32 = 2;
const WEBHOOK_BACKOFF: Duration = Duration::from_secs(1);
/// §1.3 `APP_SESSION_TIMEOUT_MS`: the init must be processed this long after the start.
const CONNECT_DEADLINE: Duration = Duration::from_secs(6);
/// §1.3: the cloud sends `stop_request` with axios defaults (no timeout); a bound keeps a
/// hanging app from hanging the test forever.
const STOP_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// §2.7 `GRACE_PERIOD_MS`.
const GRACE_PERIOD: Duration = Duration::from_secs(5);
/// §2.7 `SUBSCRIPTION_GRACE_MS`.
const SUBSCRIPTION_GRACE: Duration = Duration::from_secs(8);
/// §2.6: `ws.ping()` every 10 s, and Bun's 120 s idle timeout.
const HEARTBEAT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long our close handshake waits for the app's close reply before dropping the socket.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(5);
/// §4.2: OkHttp on the glasses (connect 5 s, write 10 s, read 5 s), and 30 s per BLE upload.
const WIFI_UPLOAD_TIMEOUT: Duration = Duration::from_secs(20);
const BLE_UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a test waits for something the app should do.
const TEST_WAIT: Duration = Duration::from_secs(15);

#[derive(Clone, Debug)]
pub struct FakeCloudOptions {
    pub package_name: String,
    pub api_key: String,
    /// Where the app server listens, e.g. "http://127.0.0.1:4567": the cloud POSTs `{app_url}/webhook`.
    pub app_url: String,
    /// The app's CAMERA permission in the developer console (false → photo_request gets PERMISSION_DENIED + close 1008).
    pub camera_permission: bool,
}

/// The cloud; dropping it stops its tasks (the listener, sockets, timers and uploads).
pub struct FakeMentraCloud {
    cloud: Arc<Cloud>,
}

/// A handle on one user's session in the fake cloud.
#[derive(Clone)]
pub struct Wearer {
    cloud: Arc<Cloud>,
    session: Arc<UserSession>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Press {
    Short,
    Long,
}

#[derive(Clone, Debug)]
pub struct Speech {
    /// The `text` query parameter of `audioUrl`, decoded.
    pub text: String,
    pub url: String,
}

#[derive(Clone, Debug)]
pub struct Upload {
    pub request_id: String,
    /// The last attempt's HTTP status; 0 when it got no response.
    pub status: u16,
    pub body: String,
    /// The `photo_request` the app sent.
    pub photo_request: Value,
}

impl FakeMentraCloud {
    pub async fn start(options: FakeCloudOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("fake MentraOS cloud: cannot bind 127.0.0.1:0: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("fake MentraOS cloud: no local address: {e}"))
            .port();
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|e| panic!("fake MentraOS cloud: cannot build an HTTP client: {e}"));
        let cloud = Arc::new(Cloud {
            options,
            port,
            http,
            sessions: Mutex::default(),
            connections: AtomicUsize::new(0),
            next_socket_id: AtomicU64::new(1),
            tasks: Mutex::new(Tasks {
                set: JoinSet::new(),
                closed: false,
            }),
        });
        cloud.spawn(accept_loop(cloud.clone(), listener));
        Self { cloud }
    }

    /// "127.0.0.1:PORT", what the app's allow-list must contain.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.cloud.port)
    }

    /// "ws://127.0.0.1:PORT" (no path).
    pub fn ws_base(&self) -> String {
        self.cloud.ws_base()
    }

    /// Starts the app for `user_id` (lower-cased, as the cloud keys users by e-mail): the
    /// `session_request` webhook with the cloud's retry, while the 6 s connect deadline runs.
    /// Returns the status of the last webhook attempt (0 when it got no HTTP response).
    pub async fn session_request(&self, user_id: &str) -> (u16, Wearer) {
        let session = self.cloud.session_or_create(&user_id.to_lowercase());
        let status = self.cloud.start_app(&session).await;
        (
            status,
            Wearer {
                cloud: self.cloud.clone(),
                session,
            },
        )
    }

    /// `session_request`, then asserts a 2xx and waits until the app is subscribed.
    pub async fn wearer(&self, user_id: &str) -> Wearer {
        let (status, wearer) = self.session_request(user_id).await;
        assert!(
            (200..300).contains(&status),
            "the app answered the session_request webhook for {user_id} with HTTP {status} (0 = no response)"
        );
        wearer.wait_subscribed().await;
        wearer
    }

    /// POSTs an arbitrary JSON body to `{app_url}/webhook` (forged webhooks); returns (status, body).
    pub async fn post_webhook(&self, body: Value) -> (u16, String) {
        let url = format!("{}/webhook", self.cloud.app_url());
        match self.cloud.post_json(&url, &body, WEBHOOK_TIMEOUT).await {
            Ok(reply) => reply,
            Err(e) => panic!("POST {url} got no HTTP response: {e}"),
        }
    }

    /// How many WebSocket upgrades this cloud has accepted so far (any path, any outcome).
    pub fn connections(&self) -> usize {
        self.cloud.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakeMentraCloud {
    fn drop(&mut self) {
        let mut tasks = lock(&self.cloud.tasks);
        tasks.closed = true;
        tasks.set.abort_all();
    }
}

impl Wearer {
    pub fn user_id(&self) -> &str {
        &self.session.user_id
    }

    pub fn session_id(&self) -> String {
        self.session.session_id.clone()
    }

    /// The image the glasses upload for the next `photo_request` (FIFO). With none queued, a
    /// `photo_request` is answered with `photo_response` `CAMERA_CAPTURE_FAILED`.
    pub fn queue_photo(&self, image: Vec<u8>) {
        self.session.update(|s| s.photos.push_back(image));
    }

    /// The next photo request is recorded but neither uploaded nor answered, as from a camera
    /// that is slow to deliver: the test makes (or forges) the upload itself.
    pub fn hold_next_photo(&self) {
        self.session.update(|s| s.held += 1);
    }

    /// The `nth` (from 0) `photo_request` the app sent, once it has been sent.
    pub async fn photo_request(&self, nth: usize) -> Value {
        let is_photo_request = |m: &&Value| m["type"] == "photo_request";
        self.session
            .wait_until("the photo request", |s| {
                s.received.iter().filter(is_photo_request).count() > nth
            })
            .await;
        let state = lock(&self.session.state);
        state
            .received
            .iter()
            .filter(is_photo_request)
            .nth(nth)
            .cloned()
            .unwrap_or_default()
    }

    /// The camera button (§3.2). Panics unless the app has a live socket subscribed to
    /// `button_press` (or `all`/`*`), since the cloud would relay the press to nobody.
    pub async fn press(&self, press: Press) {
        let socket = {
            let state = lock(&self.session.state);
            match &state.socket {
                Some(socket) if subscribed_to_buttons(&state.subscriptions) => socket.clone(),
                Some(_) => panic!(
                    "press(): the app is not subscribed to button_press on {} (subscriptions: {:?})",
                    self.session.session_id, state.subscriptions
                ),
                None => panic!(
                    "press(): the app has no live socket for {} (phase {:?})",
                    self.session.session_id, state.phase
                ),
            }
        };
        let press_type = match press {
            Press::Short => "short",
            Press::Long => "long",
        };
        let envelope = json!({
            "type": "data_stream",
            "sessionId": self.session.session_id,
            "streamType": "button_press",
            "data": {
                "type": "button_press",
                "buttonId": "camera",
                "pressType": press_type,
                "timestamp": epoch_ms(),
            },
            "timestamp": iso_now(),
        });
        let (sent, delivered) = oneshot::channel();
        socket.send_then(envelope, sent);
        // A socket that dies meanwhile loses the press, as the real relay would.
        let _ = tokio::time::timeout(TEST_WAIT, delivered).await;
    }

    /// The next `audio_play_request` the app sent (each is answered with a successful
    /// `audio_play_response`, duration 1500 ms).
    pub async fn next_speech(&self) -> Speech {
        self.session
            .speeches
            .next(&self.session.session_id, "an audio_play_request")
            .await
    }

    /// The next photo upload the fake glasses made (see `glasses_upload`).
    pub async fn next_upload(&self) -> Upload {
        self.session
            .uploads
            .next(&self.session.session_id, "a photo upload")
            .await
    }

    /// The cloud drops the app socket without a close frame, like a network failure; the
    /// session enters the 5 s grace period (§2.7).
    pub async fn drop_socket(&self) {
        let id = {
            let state = lock(&self.session.state);
            match &state.socket {
                Some(socket) => {
                    socket.command(Command::Drop);
                    socket.id
                }
                None => panic!(
                    "drop_socket(): the app has no live socket for {}",
                    self.session.session_id
                ),
            }
        };
        self.session
            .wait_until("the dropped socket to be detached", |s| {
                s.socket.as_ref().map(|socket| socket.id) != Some(id)
            })
            .await;
    }

    /// Waits until the app has a live, initialised socket subscribed to `button_press`. After a
    /// `session_request` this needs an init made after it, so an older socket never counts.
    pub async fn wait_subscribed(&self) {
        self.session
            .wait_until("a live socket subscribed to button_press", |s| {
                s.phase == Phase::Running
                    && s.socket.is_some()
                    && s.deadline.is_none()
                    && subscribed_to_buttons(&s.subscriptions)
            })
            .await;
    }

    /// The user stops the app (§2.7 "App stopped"): `stop_request` webhook, awaited, then
    /// `app_stopped` and close 1000. Like the cloud, does nothing unless the app is running
    /// or connecting.
    pub async fn stop(&self) {
        let stopping = self.session.update(|s| {
            if !matches!(s.phase, Phase::Running | Phase::Connecting) {
                return false;
            }
            s.phase = Phase::Stopping;
            s.deadline = None;
            true
        });
        if !stopping {
            return;
        }
        self.cloud.post_stop_request(&self.session).await;
        let socket = self.session.update(|s| {
            s.subscriptions.clear();
            s.phase = Phase::Stopped;
            s.socket.take()
        });
        if let Some(socket) = socket {
            socket.send(json!({"type": "app_stopped", "timestamp": iso_now()}));
            let (sent, closed) = oneshot::channel();
            socket.command(Command::Close(1000, "App stopped".into(), Some(sent)));
            let _ = tokio::time::timeout(TEST_WAIT, closed).await;
        }
    }

    /// Every JSON message the app has sent on this session's sockets so far, in order.
    pub fn received(&self) -> Vec<Value> {
        lock(&self.session.state).received.clone()
    }

    /// How many `tpa_connection_init` this session has accepted.
    pub fn inits(&self) -> usize {
        lock(&self.session.state).inits
    }
}

// ----- The cloud -----

struct Cloud {
    options: FakeCloudOptions,
    port: u16,
    http: reqwest::Client,
    /// The phone-side user sessions, by user id: one exists once the user's app was started.
    sessions: Mutex<HashMap<String, Arc<UserSession>>>,
    connections: AtomicUsize,
    next_socket_id: AtomicU64,
    tasks: Mutex<Tasks>,
}

/// Every task the cloud runs, so that dropping the cloud can abort them all.
struct Tasks {
    set: JoinSet<()>,
    closed: bool,
}

impl Cloud {
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = lock(&self.tasks);
        if tasks.closed {
            return;
        }
        while tasks.set.try_join_next().is_some() {}
        tasks.set.spawn(task);
    }

    fn ws_base(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    fn app_url(&self) -> &str {
        self.options.app_url.trim_end_matches('/')
    }

    fn session(&self, user_id: &str) -> Option<Arc<UserSession>> {
        lock(&self.sessions).get(user_id).cloned()
    }

    fn session_or_create(&self, user_id: &str) -> Arc<UserSession> {
        lock(&self.sessions)
            .entry(user_id.to_owned())
            .or_insert_with(|| {
                Arc::new(UserSession::new(
                    user_id.to_owned(),
                    format!("{user_id}-{}", self.options.package_name),
                ))
            })
            .clone()
    }

    /// `AppManager.startApp`: the app session goes connecting, the 6 s deadline starts, and the
    /// webhook is sent with its retry. A webhook that fails twice stops the app session.
    async fn start_app(&self, session: &Arc<UserSession>) -> u16 {
        let generation = session.update(|s| {
            s.generation += 1;
            s.deadline = Some(Instant::now() + CONNECT_DEADLINE);
            // A live app keeps its socket until it replaces it (a duplicate webhook, §1.3);
            // anything else is a fresh app session, without subscriptions.
            if !(s.phase == Phase::Running && s.socket.is_some()) {
                s.phase = Phase::Connecting;
                s.subscriptions.clear();
            }
            s.generation
        });
        let ws_base = self.ws_base();
        let body = json!({
            "type": "session_request",
            "sessionId": session.session_id,
            "userId": session.user_id,
            "timestamp": iso_now(),
            "websocketUrl": format!("{ws_base}/ws/miniapp"),
            "mentraOSWebsocketUrl": format!("{ws_base}/app-ws"),
            "augmentOSWebsocketUrl": format!("{ws_base}/app-ws"),
        });
        let url = format!("{}/webhook", self.app_url());
        let mut status = 0;
        for attempt in 0..WEBHOOK_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(WEBHOOK_BACKOFF * 2u32.pow(attempt - 1)).await;
            }
            status = match self.post_json(&url, &body, WEBHOOK_TIMEOUT).await {
                Ok((status, _)) => status,
                Err(_) => 0,
            };
            if (200..300).contains(&status) {
                return status;
            }
        }
        // Stage "WEBHOOK": `markStopped()`, which also forgets the socket.
        session.update(|s| {
            if s.generation == generation {
                s.phase = Phase::Stopped;
                s.deadline = None;
                s.socket = None;
            }
        });
        status
    }

    async fn post_stop_request(&self, session: &UserSession) {
        let body = json!({
            "type": "stop_request",
            "sessionId": session.session_id,
            "userId": session.user_id,
            "reason": "user_disabled",
            "timestamp": iso_now(),
        });
        let url = format!("{}/webhook", self.app_url());
        // The cloud only logs a failed stop webhook.
        let _ = self.post_json(&url, &body, STOP_WEBHOOK_TIMEOUT).await;
    }

    async fn post_json(
        &self,
        url: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<(u16, String), reqwest::Error> {
        let response = self
            .http
            .post(url)
            .json(body)
            .timeout(timeout)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    async fn post_form(
        &self,
        url: &str,
        form: Form,
        token: Option<&str>,
        timeout: Duration,
    ) -> (u16, String) {
        let mut request = self.http.post(url).multipart(form).timeout(timeout);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }
}

/// After the grace period, v2 semantics: `stopApp(restart)` then `startApp`, i.e. a
/// `stop_request` webhook followed by a `session_request` webhook (resurrection).
async fn grace_expiry(cloud: Arc<Cloud>, session: Arc<UserSession>, epoch: u64) {
    tokio::time::sleep(GRACE_PERIOD).await;
    let expired = session.update(|s| {
        let expired = s.phase == Phase::Grace && s.grace_epoch == epoch && !s.ownership_released;
        if expired {
            s.phase = Phase::Resurrecting;
        }
        expired
    });
    if !expired {
        return;
    }
    cloud.post_stop_request(&session).await;
    let restart = session.update(|s| {
        let restart = s.phase == Phase::Resurrecting;
        if restart {
            s.subscriptions.clear();
            s.phase = Phase::Stopped;
        }
        restart
    });
    if restart {
        cloud.start_app(&session).await;
    }
}

// ----- A user's session -----

/// The app session's state, as `AppSession` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    Running,
    Grace,
    Resurrecting,
    Stopping,
    Stopped,
    Dormant,
}

struct UserSession {
    user_id: String,
    session_id: String,
    state: Mutex<SessionState>,
    /// Bumped on every change of `state`, for waiting on conditions.
    changed: watch::Sender<u64>,
    speeches: Queue<Speech>,
    uploads: Queue<Upload>,
}

struct SessionState {
    phase: Phase,
    /// The connect deadline of a start still waiting for its init.
    deadline: Option<Instant>,
    /// Counts starts, so a late webhook failure only stops its own start.
    generation: u64,
    /// Counts grace periods, so an init or a new disconnect cancels an older timer.
    grace_epoch: u64,
    ownership_released: bool,
    socket: Option<Socket>,
    subscriptions: Vec<String>,
    last_connect: Option<Instant>,
    inits: usize,
    received: Vec<Value>,
    photos: VecDeque<Vec<u8>>,
    /// Photo requests to take without uploading (a slow camera), before the queued photos.
    held: usize,
}

impl UserSession {
    fn new(user_id: String, session_id: String) -> Self {
        Self {
            user_id,
            session_id,
            state: Mutex::new(SessionState {
                phase: Phase::Stopped,
                deadline: None,
                generation: 0,
                grace_epoch: 0,
                ownership_released: false,
                socket: None,
                subscriptions: Vec::new(),
                last_connect: None,
                inits: 0,
                received: Vec::new(),
                photos: VecDeque::new(),
                held: 0,
            }),
            changed: watch::Sender::new(0),
            speeches: Queue::new(),
            uploads: Queue::new(),
        }
    }

    fn update<R>(&self, change: impl FnOnce(&mut SessionState) -> R) -> R {
        let result = change(&mut lock(&self.state));
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
        result
    }

    async fn wait_until(&self, what: &str, condition: impl Fn(&SessionState) -> bool) {
        let mut changes = self.changed.subscribe();
        let waited = tokio::time::timeout(TEST_WAIT, async {
            loop {
                let done = condition(&lock(&self.state));
                if done || changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        if waited.is_err() {
            let state = lock(&self.state);
            panic!(
                "{}: no {what} within {TEST_WAIT:?} (phase {:?}, live socket: {}, awaiting init: {}, subscriptions {:?}, inits {})",
                self.session_id,
                state.phase,
                state.socket.is_some(),
                state.deadline.is_some(),
                state.subscriptions,
                state.inits,
            );
        }
    }
}

/// What the fake glasses and phone report to the test, in order.
struct Queue<T> {
    tx: mpsc::UnboundedSender<T>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<T>>,
}

impl<T> Queue<T> {
    fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: tokio::sync::Mutex::new(rx),
        }
    }

    fn push(&self, item: T) {
        let _ = self.tx.send(item);
    }

    async fn next(&self, session_id: &str, what: &str) -> T {
        let next =
            tokio::time::timeout(TEST_WAIT, async { self.rx.lock().await.recv().await }).await;
        match next {
            Ok(Some(item)) => item,
            Ok(None) => panic!("{session_id}: the fake cloud is gone"),
            Err(_) => panic!("{session_id}: no {what} within {TEST_WAIT:?}"),
        }
    }
}

fn subscribed_to_buttons(subscriptions: &[String]) -> bool {
    subscriptions
        .iter()
        .any(|s| s == "button_press" || s == "all" || s == "*")
}

// ----- App sockets -----

enum Command {
    /// A JSON message, then a signal once it is written.
    Send(Value, Option<oneshot::Sender<()>>),
    /// A close frame, then a signal once it is written.
    Close(u16, String, Option<oneshot::Sender<()>>),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// The cloud's side of one app socket, as the session holds it.
#[derive(Clone)]
struct Socket {
    id: u64,
    tx: mpsc::UnboundedSender<Command>,
}

impl Socket {
    fn command(&self, command: Command) {
        let _ = self.tx.send(command);
    }

    fn send(&self, message: Value) {
        self.command(Command::Send(message, None));
    }

    fn send_then(&self, message: Value, sent: oneshot::Sender<()>) {
        self.command(Command::Send(message, Some(sent)));
    }
}

#[derive(Default)]
struct UpgradeHeaders {
    user_id: Option<String>,
    session_id: Option<String>,
    package_name: Option<String>,
    api_key: Option<String>,
}

async fn accept_loop(cloud: Arc<Cloud>, listener: TcpListener) {
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            cloud.spawn(serve_connection(cloud.clone(), stream));
        }
    }
}

async fn serve_connection(cloud: Arc<Cloud>, stream: TcpStream) {
    let mut headers = UpgradeHeaders::default();
    // The callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let path = request.uri().path();
        if path != "/app-ws" && path != "/ws/miniapp" {
            let mut error = ErrorResponse::new(Some("Unknown WebSocket path".to_owned()));
            *error.status_mut() = StatusCode::NOT_FOUND;
            return Err(error);
        }
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        headers = UpgradeHeaders {
            user_id: header("x-user-id").map(|u| u.to_lowercase()),
            session_id: header("x-session-id"),
            package_name: header("x-package-name"),
            api_key: header("x-api-key"),
        };
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    cloud.connections.fetch_add(1, Ordering::SeqCst);

    let (tx, mut commands) = mpsc::unbounded_channel();
    // With `x-user-id` the user session is known from the upgrade on (§2.2).
    let session = headers.user_id.as_deref().and_then(|u| cloud.session(u));
    let id = cloud.next_socket_id.fetch_add(1, Ordering::SeqCst);
    let mut conn = Conn {
        cloud,
        id,
        tx,
        headers,
        session,
    };
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_inbound = Instant::now();
    loop {
        tokio::select! {
            biased;
            Some(command) = commands.recv() => match command {
                Command::Send(message, sent) => {
                    if ws.send(Message::Text(message.to_string().into())).await.is_err() {
                        break;
                    }
                    if let Some(sent) = sent {
                        let _ = sent.send(());
                    }
                }
                Command::Close(code, reason, sent) => {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = ws.close(Some(frame)).await;
                    if let Some(sent) = sent {
                        let _ = sent.send(());
                    }
                    // Nothing the app sends after our close frame is processed.
                    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, async {
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                    break;
                }
                Command::Drop => break,
            },
            incoming = ws.next() => match incoming {
                Some(Ok(message)) => {
                    last_inbound = Instant::now();
                    if let Message::Text(text) = message {
                        match serde_json::from_str::<Value>(text.as_str()) {
                            Ok(value) => conn.handle(value),
                            Err(_) => conn.close(1011, "Internal server error"),
                        }
                    }
                    // Binary frames are audio-stream data; pings, pongs and the app's close
                    // frame are answered by tungstenite (the stream ends after a close).
                }
                Some(Err(_)) | None => break,
            },
            _ = heartbeat.tick() => {
                if last_inbound.elapsed() >= IDLE_TIMEOUT
                    || ws.send(Message::Ping(Default::default())).await.is_err()
                {
                    break;
                }
            }
        }
    }
    drop(ws);
    conn.disconnected();
}

/// One app socket's handling of what the app sends.
struct Conn {
    cloud: Arc<Cloud>,
    id: u64,
    tx: mpsc::UnboundedSender<Command>,
    headers: UpgradeHeaders,
    session: Option<Arc<UserSession>>,
}

impl Conn {
    fn send(&self, message: Value) {
        let _ = self.tx.send(Command::Send(message, None));
    }

    fn close(&self, code: u16, reason: &str) {
        let _ = self.tx.send(Command::Close(code, reason.to_owned(), None));
    }

    /// `sendError`: the error, then close 1008 with the message as the reason.
    fn fail(&self, code: &str, message: &str) {
        self.send(connection_error(code, message));
        self.close(1008, message);
    }

    fn handle(&mut self, message: Value) {
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if kind == "tpa_connection_init" {
            self.init(message);
            return;
        }
        let Some(session) = self.session.clone() else {
            // No user session to route to: the error, without a close (§2.5).
            self.send(connection_error("SESSION_NOT_FOUND", "Session not found"));
            return;
        };
        session.update(|s| s.received.push(message.clone()));
        match kind.as_str() {
            "ping" => self.send(json!({"type": "pong", "timestamp": epoch_ms()})),
            "subscription_update" => self.subscription_update(&session, &message),
            "photo_request" => self.photo_request(&session, message),
            "audio_play_request" => self.audio_play_request(&session, &message),
            "ownership_release"
                if str_field(&message, "packageName")
                    == Some(self.cloud.options.package_name.as_str()) =>
            {
                session.update(|s| s.ownership_released = true);
            }
            // `pong`, `display_event` (dropped on a display-less device) and every other type:
            // accepted or logged as unhandled, with no reply.
            _ => {}
        }
    }

    /// `handleAppInit` (§2.3–2.5).
    fn init(&mut self, message: Value) {
        let field = |name: &str| str_field(&message, name).map(str::to_owned);
        let package = field("packageName")
            .or_else(|| self.headers.package_name.clone())
            .unwrap_or_default();
        let api_key = field("apiKey")
            .or_else(|| self.headers.api_key.clone())
            .unwrap_or_default();
        let session_id = field("sessionId").or_else(|| self.headers.session_id.clone());
        let options = &self.cloud.options;
        let user_id = self.headers.user_id.clone().or_else(|| {
            session_id
                .as_deref()
                .and_then(|id| user_of_session_id(id, &[&package, &options.package_name]))
        });
        let Some(user_id) = user_id else {
            self.close(1008, "User session identity missing");
            return;
        };
        let Some(session) = self.cloud.session(&user_id) else {
            self.fail("SESSION_NOT_FOUND", "Session not found");
            return;
        };
        self.session = Some(session.clone());
        session.update(|s| s.received.push(message.clone()));
        if package != options.package_name || api_key != options.api_key {
            self.fail("INVALID_API_KEY", "Invalid API key");
            return;
        }

        let now = Instant::now();
        let socket = Socket {
            id: self.id,
            tx: self.tx.clone(),
        };
        // The cloud attaches the socket and sends the ack in one tick (`attachAppSocket`), so
        // nothing relayed to the app (a button press) can come before the ack: the ack and the
        // device state are queued while the session's lock is held.
        let ack_for = |subscriptions: &[String], user_id: &str| {
            let mut ack = json!({
                "type": "tpa_connection_ack",
                "settings": [],
                "mentraosSettings": mentraos_settings(),
                "capabilities": mentra_live_capabilities(),
                "subscriptions": subscriptions,
                "userId": user_id,
                "timestamp": iso_now(),
            });
            // The cloud echoes the init's sessionId (absent from a v3 init).
            if let (Some(id), Some(ack)) = (session_id.clone(), ack.as_object_mut()) {
                ack.insert("sessionId".into(), Value::String(id));
            }
            ack
        };
        let accepted = session.update(|s| {
            let startable = match s.phase {
                Phase::Connecting => s.deadline.is_none_or(|deadline| now <= deadline),
                Phase::Running | Phase::Grace | Phase::Dormant => true,
                Phase::Resurrecting | Phase::Stopping | Phase::Stopped => false,
            };
            if !startable {
                if s.phase == Phase::Connecting {
                    // The start timed out ("TIMEOUT"): `markStopped()`.
                    s.phase = Phase::Stopped;
                    s.deadline = None;
                }
                return None;
            }
            let previous = s.socket.replace(socket);
            s.phase = Phase::Running;
            s.deadline = None;
            s.grace_epoch += 1;
            s.ownership_released = false;
            s.last_connect = Some(now);
            s.inits += 1;
            self.send(ack_for(&s.subscriptions, &session.user_id));
            self.send(json!({
                "type": "device_state_update",
                "state": {
                    "connected": true,
                    "modelName": "Mentra Live",
                    "batteryLevel": 80,
                    "charging": false,
                    "wifiConnected": true,
                },
                "fullSnapshot": true,
                "timestamp": iso_now(),
            }));
            Some(previous)
        });
        let Some(previous) = accepted else {
            self.fail("APP_NOT_STARTED", "App not started for this session");
            return;
        };
        if let Some(previous) = previous
            && previous.id != self.id
        {
            previous.command(Command::Close(1000, "Connection replaced".into(), None));
        }
    }

    /// §3.1: replaces the set; an empty set is ignored for 8 s after a (re)connect.
    fn subscription_update(&self, session: &UserSession, message: &Value) {
        if str_field(message, "packageName") != Some(self.cloud.options.package_name.as_str()) {
            // The cloud applies it to the package the message names, which is not this app.
            return;
        }
        let Some(list) = message.get("subscriptions").and_then(Value::as_array) else {
            self.fail(
                "MALFORMED_MESSAGE",
                "Invalid subscription type: subscriptions is not an array",
            );
            return;
        };
        let streams: Vec<String> = list
            .iter()
            .filter_map(|entry| match entry {
                Value::String(stream) => Some(stream.clone()),
                Value::Object(_) => str_field(entry, "stream")
                    .filter(|stream| *stream == "location_stream")
                    .map(str::to_owned),
                _ => None,
            })
            .collect();
        session.update(|s| {
            let in_grace = s
                .last_connect
                .is_some_and(|at| at.elapsed() <= SUBSCRIPTION_GRACE);
            if !(streams.is_empty() && in_grace) {
                s.subscriptions = streams;
            }
        });
    }

    /// §4.1: permission first, then the phone and glasses take over.
    fn photo_request(&self, session: &Arc<UserSession>, message: Value) {
        let options = &self.cloud.options;
        // The permission is looked up for the package the message names.
        if !options.camera_permission
            || str_field(&message, "packageName") != Some(options.package_name.as_str())
        {
            self.fail(
                "PERMISSION_DENIED",
                "Camera permission required to take photos",
            );
            return;
        }
        let Some(request_id) = str_field(&message, "requestId").filter(|id| !id.is_empty()) else {
            self.fail("INTERNAL_ERROR", "Photo request requires a requestId");
            return;
        };
        let request_id = request_id.to_owned();
        let held = session.update(|s| {
            let held = s.held > 0;
            s.held = s.held.saturating_sub(1);
            held
        });
        if held {
            // Taken, not (yet) uploaded: the test uploads in the glasses' place.
            return;
        }
        let Some(image) = session.update(|s| s.photos.pop_front()) else {
            self.send(json!({
                "type": "photo_response",
                "requestId": request_id,
                "success": false,
                "error": {"code": "CAMERA_CAPTURE_FAILED", "message": "Failed to capture photo"},
            }));
            return;
        };
        if let Some(custom) = str_field(&message, "customWebhookUrl").filter(|u| !u.is_empty()) {
            self.send(json!({
                "type": "photo_response",
                "requestId": request_id,
                "success": true,
                "photoUrl": custom,
                "savedToGallery": message.get("saveToGallery").and_then(Value::as_bool).unwrap_or(false),
                "timestamp": iso_now(),
            }));
        }
        self.cloud.spawn(glasses_upload(
            self.cloud.clone(),
            session.clone(),
            message,
            image,
        ));
    }

    /// §5.1: the phone plays the URL and reports when done.
    fn audio_play_request(&self, session: &UserSession, message: &Value) {
        let url = str_field(message, "audioUrl")
            .unwrap_or_default()
            .to_owned();
        session.speeches.push(Speech {
            text: speech_text(&url),
            url,
        });
        self.send(json!({
            "type": "audio_play_response",
            "sessionId": session.session_id,
            "requestId": message.get("requestId").cloned().unwrap_or(Value::Null),
            "success": true,
            "error": null,
            "duration": 1500,
            "timestamp": iso_now(),
        }));
    }

    /// `handleDisconnect`: only the session's current socket counts; closing it outside a stop
    /// starts the grace period, or makes the app dormant after an `ownership_release`.
    fn disconnected(&self) {
        let Some(session) = &self.session else {
            return;
        };
        let grace = session.update(|s| {
            if s.socket.as_ref().map(|socket| socket.id) != Some(self.id) {
                return None;
            }
            s.socket = None;
            if s.phase == Phase::Stopping {
                s.phase = Phase::Stopped;
                None
            } else if s.ownership_released {
                s.phase = Phase::Dormant;
                None
            } else {
                s.phase = Phase::Grace;
                s.grace_epoch += 1;
                Some(s.grace_epoch)
            }
        });
        if let Some(epoch) = grace {
            self.cloud
                .spawn(grace_expiry(self.cloud.clone(), session.clone(), epoch));
        }
    }
}

/// The glasses upload over Wi-Fi, and on a non-2xx the phone uploads again over its BLE copy (§4.2).
async fn glasses_upload(
    cloud: Arc<Cloud>,
    session: Arc<UserSession>,
    request: Value,
    image: Vec<u8>,
) {
    let field = |name: &str| {
        str_field(&request, name)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let request_id = field("requestId").unwrap_or_default();
    let url =
        field("customWebhookUrl").unwrap_or_else(|| format!("{}/photo-upload", cloud.app_url()));
    let token = field("authToken");
    let wifi = Form::new()
        .part("photo", jpeg_part(image.clone(), "IMG_0001.jpg".to_owned()))
        .text("requestId", request_id.clone())
        .text("type", "photo_upload")
        .text("success", "true");
    let (mut status, mut body) = cloud
        .post_form(&url, wifi, token.as_deref(), WIFI_UPLOAD_TIMEOUT)
        .await;
    if !(200..300).contains(&status) {
        let ble = Form::new()
            .text("requestId", request_id.clone())
            .text("source", "ble_transfer")
            .part("photo", jpeg_part(image, format!("{request_id}.jpg")));
        (status, body) = cloud
            .post_form(&url, ble, token.as_deref(), BLE_UPLOAD_TIMEOUT)
            .await;
    }
    session.uploads.push(Upload {
        request_id,
        status,
        body,
        photo_request: request,
    });
}

fn jpeg_part(bytes: Vec<u8>, file_name: String) -> Part {
    Part::bytes(bytes)
        .file_name(file_name)
        .mime_str("image/jpeg")
        .unwrap_or_else(|e| panic!("image/jpeg is a valid MIME type: {e}"))
}

// ----- Wire details -----

fn connection_error(code: &str, message: &str) -> Value {
    json!({"type": "tpa_connection_error", "code": code, "message": message, "timestamp": iso_now()})
}

fn str_field<'a>(message: &'a Value, name: &str) -> Option<&'a str> {
    message.get(name).and_then(Value::as_str)
}

/// The user id inside a legacy `<userId>-<packageName>` session id. The user id is an e-mail
/// whose domain may hold hyphens, so a known package name is stripped first; failing that, the
/// package is taken to start after the last hyphen (or the first, without an `@`).
fn user_of_session_id(session_id: &str, packages: &[&str]) -> Option<String> {
    let stripped = packages
        .iter()
        .filter(|p| !p.is_empty())
        .find_map(|package| {
            session_id
                .strip_suffix(package)
                .and_then(|rest| rest.strip_suffix('-'))
        });
    let user = match stripped {
        Some(user) => user,
        None if session_id.contains('@') => session_id.rsplit_once('-')?.0,
        None => session_id.split_once('-')?.0,
    };
    (!user.is_empty()).then(|| user.to_lowercase())
}

/// The `text` parameter of a TTS URL; relative URLs (the v3 SDK's, §5.2) are read too.
fn speech_text(audio_url: &str) -> String {
    let parsed = url::Url::parse(audio_url).or_else(|_| {
        url::Url::parse("http://relative.invalid/").and_then(|base| base.join(audio_url))
    });
    parsed
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .find(|(key, _)| key == "text")
                .map(|(_, value)| value.into_owned())
        })
        .unwrap_or_default()
}

fn mentraos_settings() -> Value {
    json!({
        "metricSystemEnabled": false, "contextualDashboard": true, "headUpAngle": 45,
        "brightness": 50, "autoBrightness": true, "sensingEnabled": true,
        "alwaysOnStatusBar": false, "bypassVad": false, "bypassAudioEncoding": false,
        "preferredMic": "auto", "useOnboardMic": false, "userTimezone": "Europe/Berlin",
    })
}

/// `T/capabilities/mentra-live.ts` (§6).
fn mentra_live_capabilities() -> Value {
    json!({
        "modelName": "Mentra Live",
        "hasCamera": true,
        "camera": {
            "resolution": {"width": 1920, "height": 1080},
            "hasHDR": false,
            "hasFocus": true,
            "video": {
                "canRecord": true,
                "canStream": true,
                "supportedStreamTypes": ["rtmp"],
                "supportedResolutions": [
                    {"width": 1920, "height": 1080},
                    {"width": 1280, "height": 720},
                    {"width": 640, "height": 480},
                ],
            },
        },
        "hasDisplay": false,
        "display": null,
        "hasMicrophone": true,
        "microphone": {"count": 1, "hasVAD": true},
        "hasSpeaker": true,
        "speaker": {"count": 1, "isPrivate": false},
        "hasIMU": true,
        "imu": {"axisCount": 6, "hasAccelerometer": true, "hasCompass": false, "hasGyroscope": true},
        "hasButton": true,
        "button": {
            "count": 1,
            "buttons": [{"type": "press", "events": ["press", "double_press", "long_press"], "isCapacitive": false}],
        },
        "hasLight": true,
        "light": {
            "count": 2,
            "lights": [
                {"id": "privacy", "purpose": "privacy", "isFullColor": false, "color": "white", "position": "front_facing"},
                {"id": "user_feedback", "purpose": "user_feedback", "isFullColor": true, "color": "rgb", "position": "user_facing"},
            ],
        },
        "power": {"hasExternalBattery": false},
        "hasWifi": true,
    })
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn epoch_ms() -> u64 {
    u64::try_from(since_epoch().as_millis()).unwrap_or(u64::MAX)
}

/// `new Date()` as JSON serialises it.
fn iso_now() -> String {
    iso(since_epoch())
}

fn iso(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Howard Hinnant's `civil_from_days`, for days since 1970-01-01 (non-negative).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_give_their_user() {
        let packages = ["com.example.qrlogin"];
        assert_eq!(
            user_of_session_id("alice@my-host.example-com.example.qrlogin", &packages).as_deref(),
            Some("alice@my-host.example")
        );
        assert_eq!(
            user_of_session_id("Bob@example.com-com.other.app", &packages).as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(
            user_of_session_id("carol-com.other.app", &packages).as_deref(),
            Some("carol")
        );
        assert_eq!(user_of_session_id("nohyphen", &packages), None);
        assert_eq!(user_of_session_id("-com.example.qrlogin", &packages), None);
    }

    #[test]
    fn timestamps_are_iso_8601() {
        assert_eq!(iso(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            iso(Duration::from_millis(1_782_561_600_123)),
            "2026-06-27T12:00:00.123Z"
        );
    }

    #[test]
    fn speech_text_is_decoded() {
        assert_eq!(
            speech_text("https://127.0.0.1:1/api/tts?text=Photo%20taken&voice_id=x"),
            "Photo taken"
        );
        assert_eq!(speech_text("/api/tts?text=Hi+there"), "Hi there");
        assert_eq!(speech_text("not a url"), "");
    }
}
