//! `GET /api/login-requests/{id}/events`: the screen's live view of its request.
//!
//! The socket subscribes before it reads the current state and sends that state first, so
//! an approval that happened before the page connected — on any instance — is never lost.
//! Then every newer state; pings keep it alive; it closes at a final state or at expiry.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::LoginRequest;
use qrlogin_auth::events::{AccountNotice, AccountSubscription};
use qrlogin_auth::session::SessionKind;
use qrlogin_web::auth::DesktopUser;
use qrlogin_web::client::{ClientInfo, DeviceName, describe_user_agent};
use qrlogin_web::http::ServiceOrigin;
use qrlogin_web::live::{
    CloseCode, Ended, Follower, Liveness, RequestFollower, closing, end, network_of,
    refuse_other_sites,
};
use qrlogin_web::sockets::{SocketHolder, SocketPermit};
use qrlogin_web::websocket::{Socket, accept};
use qrlogin_web::{ApiError, AppState};
use serde::Serialize;

use super::login_requests::{RequestStatus, load_owned_for_listener, parse_id};

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
    caller: ClientInfo,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    refuse_other_sites(&request, &origin)?;
    let id = parse_id(&id)?;
    // Subscribe first: whatever happens after this point reaches the socket.
    let subscription = state.store.events().subscribe(&id);
    let current = load_owned_for_listener(&request, &state, &id).await?;
    let permit = state.sockets.admit(
        "login_request",
        vec![
            SocketHolder::LoginRequest(id.to_string()),
            network_of(&state, &caller),
        ],
    )?;
    let follower = RequestFollower {
        state,
        follower: Follower::Screen,
        render: message,
        subscription,
        permit,
        session: None,
    };
    accept(&request, move |socket| {
        follower.run(Arc::new(current), socket)
    })
}

/// What the dashboard of `own_session` is told of `notice`: `Ok(None)` is nothing for it;
/// `Err` ends its socket (its own session ended: the page leaves).
async fn told(
    state: &AppState,
    own_session: &str,
    notice: AccountNotice,
) -> Result<Option<String>, Ended> {
    let notice = match notice {
        AccountNotice::SessionEnded { session_id, .. } if session_id == own_session => {
            return Err(closing(CloseCode::Policy));
        }
        // Another session of the account ended: its row goes from the list.
        AccountNotice::SessionEnded { session_id, .. } => {
            let message = serde_json::json!({ "type": "session_ended", "session_id": session_id });
            return Ok(Some(message.to_string()));
        }
        // A link of the account changed: the dashboard that made it reads it again.
        AccountNotice::LinkChanged { link_id, .. } => {
            let message = serde_json::json!({ "type": "link_changed", "link_id": link_id });
            return Ok(Some(message.to_string()));
        }
        AccountNotice::SignedIn(notice) if notice.session_id == own_session => return Ok(None),
        AccountNotice::SignedIn(notice) => notice,
    };
    // A dashboard signed out meanwhile hears nothing more about the account.
    match state.store.load_session(own_session).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(closing(CloseCode::Policy)),
        Err(_) => return Ok(None),
    }
    let message = SignInMessage {
        r#type: "signed_in",
        expected: notice.linked_from.as_deref() == Some(own_session),
        device: describe_user_agent(&notice.user_agent),
        device_name: DeviceName::of(&notice.user_agent),
        session_id: notice.session_id,
        kind: notice.session_kind,
        ip: notice.ip,
        at: notice.at,
    };
    Ok(serde_json::to_string(&message).ok())
}

#[derive(Serialize)]
struct SignInMessage {
    r#type: &'static str,
    /// This dashboard's own device link brought the new session: no warning needed.
    expected: bool,
    session_id: String,
    kind: SessionKind,
    /// "Firefox on Linux".
    device: String,
    /// `device`'s parts, for a page to word in its reader's language.
    device_name: DeviceName,
    ip: String,
    at: i64,
}

/// `GET /api/me/events`: the signed-in user's dashboard hears of each new session of theirs
/// at once, on any instance, so a sign-in they did not make can be revoked right away; and
/// when its own session ends (signed out or revoked elsewhere), the socket closes with 1008
/// at once, and the dashboard leaves. A device link of the account that changed is named
/// (`link_changed`): the dashboard that made it reads it again, to ask about its device.
pub async fn sign_ins(
    state: web::Data<AppState>,
    origin: web::Data<ServiceOrigin>,
    request: HttpRequest,
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
    let subscription = state.store.events().subscribe_account(&caller.user.id);
    let own_session = caller.session_id;
    accept(&request, move |socket| {
        stream_sign_ins(state, own_session, subscription, socket, permit)
    })
}

async fn stream_sign_ins(
    state: web::Data<AppState>,
    own_session: String,
    mut subscription: AccountSubscription,
    mut socket: Socket,
    _permit: SocketPermit,
) {
    let mut live = Liveness::start().await;
    let close = loop {
        tokio::select! {
            notice = subscription.next() => {
                match told(&state, &own_session, notice).await {
                    Ok(Some(text)) => if socket.text(text).await.is_err() { break None; },
                    Ok(None) => {}
                    Err(close) => break close,
                }
            }
            () = state.shutdown.draining() => break closing(CloseCode::Restart),
            _ = live.heartbeat.tick() => {
                // A dashboard signed out elsewhere stops listening within a heartbeat.
                if let Ok(None) = state.store.load_session(&own_session).await {
                    break closing(CloseCode::Policy);
                }
                if let Err(close) = live.on_heartbeat(&mut socket).await { break close; }
            }
            incoming = socket.next() => {
                if let Err(close) = live.on_incoming(&mut socket, incoming).await { break close; }
            }
        }
    };
    end(socket, close).await;
}
