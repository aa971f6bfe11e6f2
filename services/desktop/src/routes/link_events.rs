//! `GET /api/device-links/{id}/events`: the device that opened a link follows it live, so it
//! signs in the moment the signed-in screen allows it (and learns at once of a refusal, a
//! spent link or the end of the session that made it).
//!
//! Only the device that claimed the link may listen (its claim cookie). The socket subscribes
//! to the account's notices before it reads the link, so a change in between is never missed;
//! it sends the link as it is, then the link again after each change, and closes once the
//! link is answered or gone. A `gone` message carries the error code a request would get.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::device_link::{DeviceLink, LinkState};
use qrlogin_auth::events::{AccountNotice, AccountSubscription};
use qrlogin_web::client::ClientInfo;
use qrlogin_web::http::ServiceOrigin;
use qrlogin_web::live::{CloseCode, Liveness, closing, end, network_of, refuse_other_sites};
use qrlogin_web::sockets::{SocketHolder, SocketPermit};
use qrlogin_web::websocket::{Socket, accept};
use qrlogin_web::{ApiError, AppState, ErrorCode};

use super::device_links::{HeldClaim, LinkView, held_claim};

/// The claimant's socket on link `id`.
pub async fn events(
    state: web::Data<AppState>,
    origin: web::Data<ServiceOrigin>,
    request: HttpRequest,
    client: ClientInfo,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    refuse_other_sites(&request, &origin)?;
    let held = held_claim(&state, &request, &id);
    // Without the claim cookie the link is as unknown as it is to a request.
    let first = state
        .signin
        .follow_link(&id, None, held.as_ref().map(|held| held.secret.as_str()))
        .await?;
    // (The link's user, signed in here, follows it on the account's socket instead.)
    let Some(held) = held.filter(|_| first.as_claimant) else {
        return Err(ApiError::new(
            ErrorCode::InvalidQrCode,
            "Only the device that opened this link follows it here.",
        ));
    };
    let notices = state.store.events().subscribe_account(&first.link.user.id);
    let permit = state.sockets.admit(
        "device_link",
        vec![
            SocketHolder::DeviceLink(first.link.id.clone()),
            network_of(&state, &client),
        ],
    )?;
    let follower = LinkFollower {
        state,
        held,
        link_id: first.link.id.clone(),
        creator_session: first.link.creator_session.clone(),
        notices,
        _permit: permit,
    };
    accept(&request, move |socket| follower.run(socket))
}

struct LinkFollower {
    state: web::Data<AppState>,
    held: HeldClaim,
    link_id: String,
    /// The link dies with this session: its end is a change too.
    creator_session: String,
    notices: AccountSubscription,
    _permit: SocketPermit,
}

/// What the device is told: the link, or why it is gone; and whether that is the end.
struct Told {
    message: String,
    last: bool,
    /// When the link expires, if it lives.
    expires_at: Option<i64>,
}

impl LinkFollower {
    async fn run(mut self, mut socket: Socket) {
        let state = self.state.clone();
        let mut live = Liveness::start().await;
        let close = loop {
            // Read after subscribing (and after every change): nothing is missed.
            let told = self.read().await;
            if socket.text(told.message).await.is_err() {
                break None;
            }
            if told.last {
                break closing(CloseCode::Normal);
            }
            let until_expiry = Duration::from_millis(
                u64::try_from(told.expires_at.unwrap_or(0) - state.now()).unwrap_or(0),
            );
            let wait = async {
                tokio::select! {
                    () = self.changed() => Ok(()),
                    // Expired: read again, and the device is told it is gone.
                    () = tokio::time::sleep(until_expiry) => Ok(()),
                    () = state.shutdown.draining() => Err(closing(CloseCode::Restart)),
                }
            };
            if let Err(close) = live.until(&mut socket, wait).await {
                break close;
            }
        };
        end(socket, close).await;
    }

    /// Resolves at the next notice about this link or the session that made it.
    async fn changed(&mut self) {
        loop {
            match self.notices.next().await {
                AccountNotice::LinkChanged { link_id, .. } if link_id == self.link_id => return,
                AccountNotice::SessionEnded { session_id, .. }
                    if session_id == self.creator_session =>
                {
                    return;
                }
                _ => {}
            }
        }
    }

    async fn read(&self) -> Told {
        let sight = self
            .state
            .signin
            .follow_link(&self.link_id, None, Some(&self.held.secret))
            .await;
        match sight {
            Ok(sight) => told_link(&self.state, &sight.link, self.held.code.clone()),
            Err(refusal) => Told {
                message: serde_json::json!({
                    "type": "gone",
                    "error": refusal.code.as_str(),
                    "message": refusal.message,
                })
                .to_string(),
                last: true,
                expires_at: None,
            },
        }
    }
}

fn told_link(state: &AppState, link: &DeviceLink, code: Option<String>) -> Told {
    let view = LinkView::of(state, link).with_code(code);
    let mut message = serde_json::to_value(&view).unwrap_or_default();
    message["type"] = "link".into();
    Told {
        message: message.to_string(),
        // Answered: the device collects its session (or stops) by itself.
        last: !matches!(link.state, LinkState::Waiting | LinkState::Claimed),
        expires_at: Some(link.expires_at),
    }
}
