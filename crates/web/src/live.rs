//! What every live socket of ours shares: the cross-site check on the handshake, keeping the
//! connection honest (pings, answers, a client gone quiet), and following one login request
//! to its end, for the screen that waits for it and for the phone that decides it.

use std::sync::Arc;
use std::time::Duration;

pub use actix_http::ws::CloseCode;
use actix_http::ws::CloseReason;
use actix_web::HttpRequest;
use actix_web::http::header;
use qrlogin_auth::events::{AccountNotice, AccountSubscription, Subscription};
use qrlogin_auth::flows;
use qrlogin_auth::{LoginRequest, LoginState, UnixMillis};

use crate::client::ClientInfo;
use crate::http::ServiceOrigin;
use crate::metrics::APPROVAL_NOTIFY_SECONDS;
use crate::sockets::{SocketHolder, SocketPermit};
use crate::websocket::{Incoming, Socket};
use crate::{ApiError, AppState, ErrorCode};

/// How often the server pings an idle socket.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);
/// A client silent for this long (no pong, no message) is gone.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// How a socket ends: with a Close frame, or without one when the client is already gone.
pub type Ended = Option<CloseReason>;

pub fn closing(code: CloseCode) -> Ended {
    Some(code.into())
}

/// Keeps a socket honest: pings it when idle, answers its pings and its Close, and notices a
/// client that went quiet. `Err(close)` ends the socket.
pub struct Liveness {
    pub heartbeat: tokio::time::Interval,
    last_heard: tokio::time::Instant,
}

impl Liveness {
    pub async fn start() -> Self {
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.tick().await;
        Self {
            heartbeat,
            last_heard: tokio::time::Instant::now(),
        }
    }

    pub async fn on_heartbeat(&self, socket: &mut Socket) -> Result<(), Ended> {
        if self.last_heard.elapsed() > CLIENT_TIMEOUT {
            return Err(closing(CloseCode::Away));
        }
        socket.ping(b"").await.map_err(|_| None)
    }

    pub async fn on_incoming(
        &mut self,
        socket: &mut Socket,
        incoming: Incoming,
    ) -> Result<(), Ended> {
        match incoming {
            Incoming::Ping(bytes) => {
                self.last_heard = tokio::time::Instant::now();
                socket.pong(&bytes).await.map_err(|_| None)
            }
            // Answered at once with the client's own code: until it hears our Close, the
            // client keeps the connection (and its descriptor here) open.
            Incoming::Close(reason) => Err(reason.or(closing(CloseCode::Normal))),
            Incoming::Broken(code) => Err(closing(code)),
            Incoming::Gone => Err(None),
            Incoming::Other => {
                self.last_heard = tokio::time::Instant::now();
                Ok(())
            }
        }
    }

    /// Keeps the socket alive (pings, pongs, a client's Close) until `wait` resolves: what
    /// `wait` says, or how the socket ended meanwhile.
    pub async fn until(
        &mut self,
        socket: &mut Socket,
        wait: impl Future<Output = Result<(), Ended>>,
    ) -> Result<(), Ended> {
        tokio::pin!(wait);
        loop {
            tokio::select! {
                done = &mut wait => return done,
                _ = self.heartbeat.tick() => self.on_heartbeat(socket).await?,
                incoming = socket.next() => self.on_incoming(socket, incoming).await?,
            }
        }
    }
}

/// Closes the socket with `close`, unless the client is already gone.
pub async fn end(socket: Socket, close: Ended) {
    if close.is_some() {
        socket.close(close).await;
    }
}

/// Browsers always send `Origin` on a WebSocket handshake; one from another site is refused
/// (a cookie-authenticated socket is otherwise open to cross-site hijacking).
pub fn refuse_other_sites(request: &HttpRequest, origin: &ServiceOrigin) -> Result<(), ApiError> {
    match request.headers().get(header::ORIGIN) {
        Some(sent) if sent.as_bytes() != origin.0.as_bytes() => Err(ApiError::new(
            ErrorCode::Forbidden,
            "WebSockets from other sites are refused.",
        )),
        _ => Ok(()),
    }
}

/// The caller's network, as every socket is counted against it.
pub fn network_of(state: &AppState, caller: &ClientInfo) -> SocketHolder {
    SocketHolder::Network(state.signin.network_of(caller))
}

/// Who follows a request, which decides what each change is rendered as.
pub enum Follower {
    /// The screen that created it (its approval is timed: `APPROVAL_NOTIFY_SECONDS`).
    Screen,
    /// The phone that claimed it.
    Phone,
}

/// One socket following one request: its current state first, then every newer one, until a
/// final state or expiry (or the instance drains). `render` turns a state into the message.
pub struct RequestFollower<R> {
    pub state: actix_web::web::Data<AppState>,
    pub follower: Follower,
    pub render: R,
    pub subscription: Subscription,
    pub permit: SocketPermit,
    /// A follower signed in with a session stops hearing when that session ends (1008).
    pub session: Option<SessionWatch>,
}

/// The session a socket was opened with, and the account's notices that tell of its end.
pub struct SessionWatch {
    pub notices: AccountSubscription,
    pub session_id: String,
}

impl SessionWatch {
    /// Resolves when the session ends (never, without a watch).
    async fn ended(watch: Option<&mut Self>) {
        let Some(watch) = watch else {
            return std::future::pending().await;
        };
        loop {
            if let AccountNotice::SessionEnded { session_id, .. } = watch.notices.next().await
                && session_id == watch.session_id
            {
                return;
            }
        }
    }
}

impl<R: Fn(&LoginRequest, UnixMillis) -> String> RequestFollower<R> {
    /// `current` comes in shared: an argument sits in the socket's future for its whole life,
    /// and a whole request there would weigh on every waiting page.
    pub async fn run(mut self, current: Arc<LoginRequest>, mut socket: Socket) {
        let state = self.state.clone();
        let mut latest = current;
        let close = 'socket: {
            let now = state.now();
            if let Err(close) = self.tell(&mut socket, &latest, now).await {
                break 'socket close;
            }
            let mut live = Liveness::start().await;
            // One timer for the socket's life, moved when the request's deadline does.
            let expiry = tokio::time::sleep_until(deadline(&latest, now));
            tokio::pin!(expiry);
            loop {
                tokio::select! {
                    newer = self.subscription.newer_than(latest.version) => {
                        self.time_approval(&latest, &newer);
                        latest = newer;
                        let now = state.now();
                        expiry.as_mut().reset(deadline(&latest, now));
                        if let Err(close) = self.tell(&mut socket, &latest, now).await { break close; }
                    }
                    () = &mut expiry => {
                        // Records the expiry for every instance; our own copy says the same if
                        // the store cannot be reached. Boxed: a load holds a whole request,
                        // which would otherwise take room in every waiting socket.
                        let now = state.now();
                        if let Ok(stored) = Box::pin(flows::load(&*state.store, &latest.id, now)).await {
                            latest = Arc::new(stored);
                        }
                        expiry.as_mut().reset(deadline(&latest, now));
                        if let Err(close) = self.tell(&mut socket, &latest, now).await { break close; }
                    }
                    () = state.shutdown.draining() => break closing(CloseCode::Restart),
                    () = SessionWatch::ended(self.session.as_mut()) => break closing(CloseCode::Policy),
                    _ = live.heartbeat.tick() => {
                        if let Err(close) = live.on_heartbeat(&mut socket).await { break close; }
                    }
                    incoming = socket.next() => {
                        if let Err(close) = live.on_incoming(&mut socket, incoming).await { break close; }
                    }
                }
            }
        };
        drop(self.permit);
        end(socket, close).await;
    }

    /// Sends `request` as it stands at `now`; `Err` ends the socket: the client is gone, or
    /// has been told a final state. The message and the decision to close read one moment:
    /// read twice, a request that expired in between closed the socket untold.
    async fn tell(
        &self,
        socket: &mut Socket,
        request: &LoginRequest,
        now: UnixMillis,
    ) -> Result<(), Ended> {
        if socket.text((self.render)(request, now)).await.is_err() {
            return Err(None);
        }
        if request.state_at(now).is_final() {
            return Err(closing(CloseCode::Normal));
        }
        Ok(())
    }

    /// From the approval (stamped by whichever instance took it) to the screen hearing of it.
    fn time_approval(&self, before: &LoginRequest, after: &LoginRequest) {
        if matches!(self.follower, Follower::Screen)
            && after.state == LoginState::Approved
            && before.state != LoginState::Approved
        {
            let waited_ms = (self.state.now() - after.updated_at).max(0) as f64;
            metrics::histogram!(APPROVAL_NOTIFY_SECONDS).record(waited_ms / 1000.0);
        }
    }
}

/// When, on the runtime's timer, `request` expires, judged from `now` on the service's clock
/// (at once if that has passed).
fn deadline(request: &LoginRequest, now: UnixMillis) -> tokio::time::Instant {
    let left = Duration::from_millis(u64::try_from(request.expires_at - now).unwrap_or(0));
    tokio::time::Instant::now() + left
}
