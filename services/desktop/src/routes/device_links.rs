//! Sign in on another device: `POST /api/device-links` (the signed-in screen makes a link),
//! `POST /api/device-links/{id}/claim` (the device that opened `/link/{id}` asks),
//! `GET /api/device-links/{id}` (either side follows it), `POST …/confirm` (the signed-in
//! screen allows or refuses), `POST …/redeem` (the allowed device collects its own session).
//!
//! An unknown, used or expired link is answered 400 `invalid_qr_code`, whatever the step.

use actix_web::cookie::SameSite;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::audit::AuditEvent;
use qrlogin_auth::device_link::{Claimant, DeviceLink, LinkState, new_claim_secret};
use qrlogin_auth::flows;
use qrlogin_auth::secret::SecretHash;
use qrlogin_auth::session::SessionKind;
use qrlogin_web::auth::DesktopUser;
use qrlogin_web::client::{ClientInfo, describe_user_agent};
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::limits::{self, Bucket};
use qrlogin_web::{ApiError, AppState, ErrorCode};
use serde::{Deserialize, Serialize};

use super::login_requests::signed_in_response;

/// The cookie (per link) holding the secret of the device that claimed it.
const CLAIM_COOKIE_PREFIX: &str = "qrlink_";

fn invalid_link() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidQrCode,
        "This sign-in link is unknown, already used or expired. Make a new one on the signed-in screen.",
    )
}

/// The link, while it lives and the session that made it is still signed in: signing out
/// there (or everywhere, or a new password, or a disabled account, which end every session)
/// ends the link too.
async fn live_link(state: &AppState, id: &str) -> Result<DeviceLink, ApiError> {
    let link = DeviceLink::load(&*state.store, id)
        .await?
        .ok_or_else(invalid_link)?;
    if state
        .store
        .load_session(&link.creator_session)
        .await?
        .is_none()
    {
        return Err(invalid_link());
    }
    Ok(link)
}

/// Links are made and answered by a signed-in screen's own session: an access token alone
/// could otherwise mint sessions for ever.
fn screen_session(caller: &qrlogin_web::auth::SignedInUser) -> Result<(), ApiError> {
    match caller.access_token {
        Some(_) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "Sign-in links are made and allowed on a signed-in screen, not with an access token.",
        )),
        None => Ok(()),
    }
}

fn claim_cookie(id: &str) -> String {
    format!("{CLAIM_COOKIE_PREFIX}{id}")
}

/// What either side may see of a link.
#[derive(Serialize)]
struct LinkView {
    id: String,
    state: LinkState,
    /// Where the new device goes: the QR's content.
    url: String,
    expires_in: i64,
    /// For the signed-in screen's question: "Allow Chrome on Android, 203.0.113.7?"
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_ip: Option<String>,
    /// Whether the signed-in screen must allow the device.
    confirmation: bool,
}

impl LinkView {
    fn of(state: &AppState, link: &DeviceLink) -> Self {
        Self {
            id: link.id.clone(),
            state: link.state,
            url: state
                .settings
                .desktop_public_url
                .join(&format!("/link/{}", link.id)),
            expires_in: (link.expires_at - state.now()).max(0) / 1000,
            device: link
                .claimant
                .as_ref()
                .map(|c| describe_user_agent(&c.user_agent)),
            device_ip: link.claimant.as_ref().map(|c| c.ip.clone()),
            confirmation: state.settings.link_confirmation,
        }
    }
}

fn no_store(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// `POST /api/device-links`: a single-use link for another device to sign in as the caller.
pub async fn create(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
    client: ClientInfo,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    screen_session(&caller)?;
    limits::spend(&state, &client, Bucket::LinksPerUser, &caller.user.id).await?;
    let ttl = i64::try_from(state.settings.link_ttl.as_millis()).unwrap_or(i64::MAX);
    let link = DeviceLink::new(caller.user, &caller.session_id, state.now(), ttl);
    link.save(&*state.store).await?;
    let view = LinkView::of(&state, &link);
    let qr_svg = qrlogin_qr::svg(&view.url).map_err(ApiError::internal)?;
    Ok(no_store(HttpResponse::Created()).json(serde_json::json!({
        "id": view.id,
        "state": view.state,
        "url": view.url,
        "expires_in": view.expires_in,
        "confirmation": view.confirmation,
        "qr_svg": qr_svg,
    })))
}

/// `POST /api/device-links/{id}/claim`: the device that opened the link asks to sign in.
/// Once: a second device gets `invalid_qr_code`. Without confirmation, it is signed in at once.
pub async fn claim(
    state: web::Data<AppState>,
    client: ClientInfo,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    // Spent before anything is looked up: guessing links costs the guesser's budget.
    limits::spend(&state, &client, Bucket::LinkClaimsPerIp, &client.ip).await?;
    let mut link = live_link(&state, &id).await?;
    if link.state != LinkState::Waiting
        || !state
            .store
            .use_once(&link.once_key("claim"), link.expires_at)
            .await?
    {
        return Err(invalid_link());
    }
    let secret = new_claim_secret();
    let now = state.now();
    link.claimant = Some(Claimant {
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        at: now,
        secret: SecretHash::of(&secret),
    });
    if !state.settings.link_confirmation {
        return issue(&state, &client, link).await;
    }
    link.state = LinkState::Claimed;
    link.save(&*state.store).await?;
    let cookie = state.desktop_cookies().build(
        &claim_cookie(&link.id),
        secret,
        state.settings.link_ttl,
        SameSite::Strict,
    );
    Ok(no_store(HttpResponse::Accepted())
        .cookie(cookie)
        .json(LinkView::of(&state, &link)))
}

/// Who is asking about a link: the user who made it, or the device that claimed it.
fn is_claimant(state: &AppState, request: &HttpRequest, link: &DeviceLink) -> bool {
    let presented = state
        .desktop_cookies()
        .read(request, &claim_cookie(&link.id));
    match (&link.claimant, presented) {
        (Some(claimant), Some(secret)) => claimant.secret.matches(&secret),
        _ => false,
    }
}

/// `GET /api/device-links/{id}`: the link's state, for the signed-in screen (which then
/// asks its user about the device) or for the device waiting to be allowed.
pub async fn status(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Option<DesktopUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let link = live_link(&state, &id).await?;
    let is_creator = caller.is_some_and(|DesktopUser(caller)| caller.user.id == link.user.id);
    if !is_creator && !is_claimant(&state, &request, &link) {
        return Err(invalid_link());
    }
    Ok(no_store(HttpResponse::Ok()).json(LinkView::of(&state, &link)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    allow: bool,
}

/// `POST /api/device-links/{id}/confirm`: the signed-in screen allows (or refuses) the
/// device that opened its link.
pub async fn confirm(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
    client: ClientInfo,
    id: web::Path<String>,
    body: JsonObject<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    screen_session(&caller)?;
    let mut link = live_link(&state, &id).await?;
    // Only the screen that made the link answers for it.
    if caller.session_id != link.creator_session {
        return Err(invalid_link());
    }
    if link.state != LinkState::Claimed
        || !state
            .store
            .use_once(&link.once_key("confirm"), link.expires_at)
            .await?
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "No device has opened this link yet (or it was already answered).",
        ));
    }
    let allow = body.into_inner().allow;
    link.state = if allow {
        LinkState::Allowed
    } else {
        LinkState::Denied
    };
    let mut audit = qrlogin_web::audit::draft(
        &state,
        &client,
        if allow {
            AuditEvent::Approve
        } else {
            AuditEvent::Deny
        },
    );
    audit.user(&caller.user.id).detail("device link");
    let saved = link.save(&*state.store).await.map_err(ApiError::from);
    audit.record_as(&*state.audit, saved.as_ref().err().map(|e| e.code));
    saved?;
    Ok(no_store(HttpResponse::Ok()).json(LinkView::of(&state, &link)))
}

/// `POST /api/device-links/{id}/redeem`: the allowed device collects its own session and
/// access token, once; the link is then gone.
pub async fn redeem(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let link = live_link(&state, &id).await?;
    if !is_claimant(&state, &request, &link) {
        return Err(invalid_link());
    }
    match link.state {
        LinkState::Allowed => issue(&state, &client, link).await,
        LinkState::Denied => {
            link.delete(&*state.store, state.now()).await?;
            Err(ApiError::new(
                ErrorCode::Forbidden,
                "The signed-in screen did not allow this device.",
            ))
        }
        LinkState::Waiting | LinkState::Claimed => Err(ApiError::new(
            ErrorCode::Conflict,
            "Not allowed yet: confirm on the signed-in screen.",
        )),
    }
}

/// Signs the link's device in with a session of its own, once, and deletes the link.
async fn issue(
    state: &AppState,
    client: &ClientInfo,
    link: DeviceLink,
) -> Result<HttpResponse, ApiError> {
    if !state
        .store
        .use_once(&link.once_key("issue"), link.expires_at)
        .await?
    {
        return Err(invalid_link());
    }
    let now = state.now();
    let user = link.user.clone();
    let id = link.id.clone();
    link.delete(&*state.store, now).await?;
    let mut audit = qrlogin_web::audit::draft(state, client, AuditEvent::Redeem);
    audit.user(&user.id).detail("device link");
    if !flows::account_enabled(&*state.store, &user).await? {
        audit.record_as(&*state.audit, Some(ErrorCode::Forbidden));
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "This account is disabled; nothing can be signed in with it.",
        ));
    }
    let signed_in = flows::sign_in(
        &*state.store,
        &state.keys,
        SessionKind::Desktop,
        user,
        client.device(),
        now,
        &state.settings.lifetimes(),
    )
    .await
    .map_err(ApiError::from);
    audit.record_as(&*state.audit, signed_in.as_ref().err().map(|e| e.code));
    let mut response = signed_in_response(state, signed_in?)?;
    response
        .add_cookie(&state.desktop_cookies().removal(&claim_cookie(&id)))
        .map_err(ApiError::internal)?;
    Ok(response)
}
