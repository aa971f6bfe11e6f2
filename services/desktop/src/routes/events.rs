//! `GET /api/login-requests/{id}/events`: the screen's live view of its request.
//!
//! The socket subscribes before it reads the current state and sends that state first, so
//! an approval that happened before the page connected — on any instance — is never lost.
//! Then every newer state; pings keep it alive; it closes at a final state or at expiry.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::StreamExt;
use qrlogin_auth::LoginRequest;
use qrlogin_auth::LoginState;
use qrlogin_auth::events::SignInSubscription;
use qrlogin_auth::flows;
use qrlogin_auth::session::SessionKind;
use qrlogin_web::auth::DesktopUser;
use qrlogin_web::client::{ClientInfo, describe_user_agent};
use qrlogin_web::http::ServiceOrigin;
use qrlogin_web::metrics::APPROVAL_NOTIFY_SECONDS;
use qrlogin_web::sockets::{SocketHolder, SocketPermit};
use qrlogin_web::{ApiError, AppState, ErrorCode};
use serde::Serialize;
use tracing::Instrument;

use super::login_requests::{RequestStatus, load_owned, parse_id};

/// How often the server pings an idle socket.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);
/// A client silent for this long (no pong, no message) is gone.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Keeps a socket honest: pings it when idle, answers its pings and its Close, and notices a
/// client that went quiet. `Err(close)` ends the socket (with a Close frame, or without when
/// the client is gone).
struct Liveness {
    heartbeat: tokio::time::Interval,
    last_heard: tokio::time::Instant,
}

type Ended = Option<CloseReason>;

fn closing(code: CloseCode) -> Ended {
    Some(code.into())
}

impl Liveness {
    async fn start() -> Self {
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.tick().await;
        Self {
            heartbeat,
            last_heard: tokio::time::Instant::now(),
        }
    }

    async fn on_heartbeat(&self, session: &mut actix_ws::Session) -> Result<(), Ended> {
        if self.last_heard.elapsed() > CLIENT_TIMEOUT {
            return Err(closing(CloseCode::Away));
        }
        session.ping(b"").await.map_err(|_| None)
    }

    async fn on_incoming(
        &mut self,
        session: &mut actix_ws::Session,
        incoming: Option<Result<Message, actix_ws::ProtocolError>>,
    ) -> Result<(), Ended> {
        match incoming {
            Some(Ok(Message::Ping(bytes))) => {
                self.last_heard = tokio::time::Instant::now();
                session.pong(&bytes).await.map_err(|_| None)
            }
            // Answered at once with the client's own code: until it hears our Close, the
            // client keeps the connection (and its descriptor here) open.
            Some(Ok(Message::Close(reason))) => Err(reason.or(closing(CloseCode::Normal))),
            Some(Err(_)) | None => Err(None),
            Some(Ok(_)) => {
                self.last_heard = tokio::time::Instant::now();
                Ok(())
            }
        }
    }
}

/// Closes the socket with `close`, unless the client is already gone.
async fn end(session: actix_ws::Session, close: Ended) {
    if close.is_some() {
        let _ = session.close(close).await;
    }
}

#[derive(Serialize)]
struct StateMessage {
    r#type: &'static str,
    #[serde(flatten)]
    status: RequestStatus,
}

fn message(request: &LoginRequest, now: i64) -> String {
    let status = RequestStatus::of(request, now);
    serde_json::to_string(&StateMessage {
        r#type: "state",
        status,
    })
    .unwrap_or_default()
}

/// Browsers always send `Origin` on a WebSocket handshake; one from another site is refused
/// (a cookie-authenticated socket is otherwise open to cross-site hijacking).
fn refuse_other_sites(request: &HttpRequest, origin: &ServiceOrigin) -> Result<(), ApiError> {
    match request.headers().get(header::ORIGIN) {
        Some(sent) if sent.as_bytes() != origin.0.as_bytes() => Err(ApiError::new(
            ErrorCode::Forbidden,
            "WebSockets from other sites are refused.",
        )),
        _ => Ok(()),
    }
}

/// The caller's network, as every socket is counted against it.
fn network_of(state: &AppState, caller: &ClientInfo) -> SocketHolder {
    SocketHolder::Network(state.signin.network_of(caller))
}

pub async fn events(
    state: web::Data<AppState>,
    origin: web::Data<ServiceOrigin>,
    request: HttpRequest,
    caller: ClientInfo,
    body: web::Payload,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    refuse_other_sites(&request, &origin)?;
    let id = parse_id(&id)?;
    // Subscribe first: whatever happens after this point reaches the socket.
    let subscription = state.store.events().subscribe(&id);
    let current = load_owned(&request, &state, &id).await?;
    let permit = state.sockets.admit(
        "login_request",
        vec![
            SocketHolder::LoginRequest(id.to_string()),
            network_of(&state, &caller),
        ],
    )?;
    let (response, session, stream) = actix_ws::handle(&request, body)
        .map_err(|e| ApiError::invalid(format!("This address speaks WebSocket only: {e}")))?;
    let span = tracing::info_span!("login request socket", request = %id);
    actix_web::rt::spawn(
        stream_states(state, current, subscription, session, stream, permit).instrument(span),
    );
    Ok(response)
}

async fn stream_states(
    state: web::Data<AppState>,
    current: LoginRequest,
    mut subscription: qrlogin_auth::events::Subscription,
    mut session: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
    _permit: SocketPermit,
) {
    let mut latest = Arc::new(current);
    let close = 'socket: {
        if session.text(message(&latest, state.now())).await.is_err() {
            break 'socket None;
        }
        if latest.state_at(state.now()).is_final() {
            break 'socket closing(CloseCode::Normal);
        }
        let mut live = Liveness::start().await;
        loop {
            let until_expiry =
                Duration::from_millis(u64::try_from(latest.expires_at - state.now()).unwrap_or(0));
            tokio::select! {
                newer = subscription.newer_than(latest.version) => {
                    if newer.state == LoginState::Approved && latest.state != LoginState::Approved {
                        // From the approval (stamped by whichever instance took it) to here.
                        let waited_ms = (state.now() - newer.updated_at).max(0) as f64;
                        metrics::histogram!(APPROVAL_NOTIFY_SECONDS).record(waited_ms / 1000.0);
                    }
                    latest = newer;
                    if session.text(message(&latest, state.now())).await.is_err() { break None; }
                    if latest.state_at(state.now()).is_final() { break closing(CloseCode::Normal); }
                }
                () = tokio::time::sleep(until_expiry) => {
                    // Records the expiry for every instance; our own copy says the same if the
                    // store cannot be reached.
                    let now = state.now();
                    if let Ok(stored) = flows::load(&*state.store, &latest.id, now).await {
                        latest = Arc::new(stored);
                    }
                    let _ = session.text(message(&latest, now)).await;
                    if latest.state_at(now).is_final() { break closing(CloseCode::Normal); }
                }
                () = state.shutdown.draining() => break closing(CloseCode::Restart),
                _ = live.heartbeat.tick() => {
                    if let Err(close) = live.on_heartbeat(&mut session).await { break close; }
                }
                incoming = stream.next() => {
                    if let Err(close) = live.on_incoming(&mut session, incoming).await { break close; }
                }
            }
        }
    };
    end(session, close).await;
}

#[derive(Serialize)]
struct SignInMessage {
    r#type: &'static str,
    session_id: String,
    kind: SessionKind,
    /// "Firefox on Linux".
    device: String,
    ip: String,
    at: i64,
}

/// `GET /api/me/events`: the signed-in user's dashboard hears of each new session of theirs
/// at once, on any instance, so a sign-in they did not make can be revoked right away.
pub async fn sign_ins(
    state: web::Data<AppState>,
    origin: web::Data<ServiceOrigin>,
    request: HttpRequest,
    body: web::Payload,
    client: ClientInfo,
    DesktopUser(caller): DesktopUser,
) -> Result<HttpResponse, ApiError> {
    refuse_other_sites(&request, &origin)?;
    let permit = state.sockets.admit(
        "sign_ins",
        vec![
            SocketHolder::User(caller.user.id.clone()),
            network_of(&state, &client),
        ],
    )?;
    let subscription = state.store.events().subscribe_sign_ins(&caller.user.id);
    let (response, session, stream) = actix_ws::handle(&request, body)
        .map_err(|e| ApiError::invalid(format!("This address speaks WebSocket only: {e}")))?;
    let span = tracing::info_span!("sign-in notices socket");
    let own_session = caller.session_id;
    actix_web::rt::spawn(
        stream_sign_ins(state, own_session, subscription, session, stream, permit).instrument(span),
    );
    Ok(response)
}

async fn stream_sign_ins(
    state: web::Data<AppState>,
    own_session: String,
    mut subscription: SignInSubscription,
    mut session: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
    _permit: SocketPermit,
) {
    let mut live = Liveness::start().await;
    let close = loop {
        tokio::select! {
            notice = subscription.next() => {
                if notice.session_id == own_session { continue; }
                // A dashboard signed out meanwhile hears nothing more about the account.
                match state.store.load_session(&own_session).await {
                    Ok(Some(_)) => {}
                    Ok(None) => break closing(CloseCode::Policy),
                    Err(_) => continue,
                }
                let message = SignInMessage {
                    r#type: "signed_in",
                    device: describe_user_agent(&notice.user_agent),
                    session_id: notice.session_id,
                    kind: notice.session_kind,
                    ip: notice.ip,
                    at: notice.at,
                };
                let text = serde_json::to_string(&message).unwrap_or_default();
                if session.text(text).await.is_err() { break None; }
            }
            () = state.shutdown.draining() => break closing(CloseCode::Restart),
            _ = live.heartbeat.tick() => {
                // A dashboard signed out elsewhere stops listening within a heartbeat.
                if let Ok(None) = state.store.load_session(&own_session).await {
                    break closing(CloseCode::Policy);
                }
                if let Err(close) = live.on_heartbeat(&mut session).await { break close; }
            }
            incoming = stream.next() => {
                if let Err(close) = live.on_incoming(&mut session, incoming).await { break close; }
            }
        }
    };
    end(session, close).await;
}
