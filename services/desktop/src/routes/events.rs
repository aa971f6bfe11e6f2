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
use qrlogin_auth::flows;
use qrlogin_web::http::ServiceOrigin;
use qrlogin_web::{ApiError, AppState, ErrorCode};
use serde::Serialize;
use tracing::Instrument;

use super::login_requests::{RequestStatus, load_owned, parse_id};

/// How often the server pings an idle socket.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);
/// A client silent for this long (no pong, no message) is gone.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

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

pub async fn events(
    state: web::Data<AppState>,
    origin: web::Data<ServiceOrigin>,
    request: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if let Some(sent) = request.headers().get(header::ORIGIN)
        && sent.as_bytes() != origin.0.as_bytes()
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "WebSockets from other sites are refused.",
        ));
    }
    let id = parse_id(&id)?;
    // Subscribe first: whatever happens after this point reaches the socket.
    let subscription = state.store.events().subscribe(&id);
    let current = load_owned(&request, &state, &id).await?;
    let (response, session, stream) = actix_ws::handle(&request, body)
        .map_err(|e| ApiError::invalid(format!("This address speaks WebSocket only: {e}")))?;
    let span = tracing::info_span!("login request socket", request = %id);
    actix_web::rt::spawn(
        stream_states(state, current, subscription, session, stream).instrument(span),
    );
    Ok(response)
}

async fn stream_states(
    state: web::Data<AppState>,
    current: LoginRequest,
    mut subscription: qrlogin_auth::events::Subscription,
    mut session: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
) {
    let mut latest = Arc::new(current);
    let close = 'socket: {
        if session.text(message(&latest, state.now())).await.is_err() {
            break 'socket None;
        }
        if latest.state_at(state.now()).is_final() {
            break 'socket Some(CloseCode::Normal);
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.tick().await;
        let mut last_heard = tokio::time::Instant::now();
        loop {
            let until_expiry =
                Duration::from_millis(u64::try_from(latest.expires_at - state.now()).unwrap_or(0));
            tokio::select! {
                newer = subscription.newer_than(latest.version) => {
                    latest = newer;
                    if session.text(message(&latest, state.now())).await.is_err() { break None; }
                    if latest.state_at(state.now()).is_final() { break Some(CloseCode::Normal); }
                }
                () = tokio::time::sleep(until_expiry) => {
                    // Records the expiry for every instance; our own copy says the same if the
                    // store cannot be reached.
                    let now = state.now();
                    if let Ok(stored) = flows::load(&*state.store, &latest.id, now).await {
                        latest = Arc::new(stored);
                    }
                    let _ = session.text(message(&latest, now)).await;
                    if latest.state_at(now).is_final() { break Some(CloseCode::Normal); }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > CLIENT_TIMEOUT { break Some(CloseCode::Away); }
                    if session.ping(b"").await.is_err() { break None; }
                }
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Ping(bytes))) => {
                        last_heard = tokio::time::Instant::now();
                        if session.pong(&bytes).await.is_err() { break None; }
                    }
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                    Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
                },
            }
        }
    };
    if let Some(code) = close {
        let _ = session
            .close(Some(CloseReason {
                code,
                description: None,
            }))
            .await;
    }
}
