//! `POST /api/scan` (claim what the QR or the typed code names) and the decision:
//! `POST /api/login-requests/{id}/approve` and `/deny`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::audit::AuditEvent;
use qrlogin_auth::client::ConfirmationMode;
use qrlogin_auth::flows::{self, ScanTarget};
use qrlogin_auth::login_request::{Claim, LoginRequest, RequestId, Transition};
use qrlogin_auth::user_code::UserCode;
use qrlogin_auth::{LoginState, UnixMillis, User};
use qrlogin_web::audit::Audit;
use qrlogin_web::auth::MobileUser;
use qrlogin_web::client::{ClientInfo, describe_user_agent, same_network};
use qrlogin_web::config::{LoginConfirmation, NetworkMismatch};
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::limits::{self, Bucket};
use qrlogin_web::{ApiError, AppState, ErrorCode};
use serde::{Deserialize, Serialize};

use crate::frames::FrameReader;

/// Exactly one of the three ways to name a request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    qr_text: Option<String>,
    id: Option<String>,
    user_code: Option<String>,
}

/// What the phone shows before the user decides: everything the screen reported about itself.
#[derive(Serialize)]
pub struct Confirmation {
    id: String,
    state: LoginState,
    /// `WDJB-MJHT`: to compare with what the screen shows.
    user_code: String,
    client_name: String,
    /// "Firefox on Linux".
    screen_device: String,
    screen_ip: String,
    /// Whether the screen and this phone look like one network.
    same_network: bool,
    started_seconds_ago: i64,
    expires_in: i64,
    /// In PIN mode, after approval: how many wrong PINs the screen has typed so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pin_failed_attempts: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin_attempts_left: Option<u8>,
    /// The screen typed the right PIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pin_confirmed: Option<bool>,
}

impl Confirmation {
    fn of(request: &LoginRequest, phone_ip: &str, now: UnixMillis) -> Self {
        Self {
            id: request.id.to_string(),
            state: request.state_at(now),
            user_code: request.user_code.display(),
            client_name: request.screen.client_name.clone(),
            screen_device: describe_user_agent(&request.screen.user_agent),
            screen_ip: request.screen.ip.clone(),
            same_network: same_network(&request.screen.ip, phone_ip),
            started_seconds_ago: (now - request.created_at).max(0) / 1000,
            expires_in: (request.expires_at - now).max(0) / 1000,
            pin_failed_attempts: request.pin.as_ref().map(|pin| pin.failed_attempts),
            pin_attempts_left: request.pin.as_ref().map(|pin| pin.attempts_left()),
            pin_confirmed: request.pin.as_ref().map(|pin| pin.confirmed),
        }
    }
}

/// How a relayed-looking claim is described in the audit trail.
fn network_mismatch(screen_ip: &str, phone_ip: &str) -> String {
    format!("network mismatch: screen {screen_ip}, phone {phone_ip}")
}

fn no_such_request() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "No such sign-in request.")
}

fn parse_id(raw: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(raw).ok_or_else(no_such_request)
}

fn target(body: ScanBody, state: &AppState) -> Result<ScanTarget, ApiError> {
    let unknown = || {
        ApiError::new(
            ErrorCode::NotFound,
            "That is not a sign-in code of ours. Scan the QR code on the screen, or type the code shown under it.",
        )
    };
    match (body.qr_text, body.id, body.user_code) {
        (Some(text), None, None) => {
            ScanTarget::from_qr_text(&text, state.settings.mobile_public_url.as_str())
                .ok_or_else(unknown)
        }
        (None, Some(id), None) => RequestId::parse(&id)
            .map(ScanTarget::Id)
            .ok_or_else(unknown),
        (None, None, Some(code)) => UserCode::parse(&code)
            .map(ScanTarget::UserCode)
            .ok_or_else(|| ApiError::invalid("A code has 8 letters, like WDJB-MJHT.")),
        _ => Err(ApiError::invalid(
            "Send exactly one of qr_text, id or user_code.",
        )),
    }
}

/// Claims the request for the signed-in user. Exactly one user can; the same user scanning
/// again sees the same confirmation.
#[tracing::instrument(name = "scan", skip_all, fields(request = tracing::field::Empty))]
pub async fn scan(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    body: JsonObject<ScanBody>,
) -> Result<HttpResponse, ApiError> {
    let mut audit = Audit::of(&state, &client, AuditEvent::Claim);
    audit.user(&caller.user.id);
    let target = target(body.into_inner(), &state);
    let claimed = claim_as(&state, caller.user, &client, target, &mut audit).await;
    audit.record(&state, &claimed).await;
    confirmation(&state, &client, claimed?)
}

fn confirmation(
    state: &AppState,
    client: &ClientInfo,
    claimed: LoginRequest,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Confirmation::of(&claimed, &client.ip, state.now())))
}

/// `POST /api/frames`: a camera frame (JPEG, PNG or WebP) instead of the code's text. The
/// code of ours in it is claimed as `POST /api/scan` claims it; other codes are ignored.
/// A frame with none is answered 422 `no_code_found` and is not audited (a scanning phone
/// sends a few a second); each frame spends the user's frame budget.
#[tracing::instrument(name = "frame", skip_all, fields(request = tracing::field::Empty))]
pub async fn frame(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    reader: web::Data<FrameReader>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    limits::spend(&state, &client, Bucket::FramesPerUser, &caller.user.id).await?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let public_url = state.settings.mobile_public_url.as_str().to_owned();
    let is_ours = move |text: &str| ScanTarget::from_frame_text(text, &public_url).is_some();
    let texts = reader.read(content_type, body, is_ours).await?;
    let ours = texts.iter().find_map(|text| {
        ScanTarget::from_frame_text(text, state.settings.mobile_public_url.as_str())
    });
    let Some(target) = ours else {
        return Err(ApiError::new(
            ErrorCode::NoCodeFound,
            "No sign-in code of ours is in that picture. Hold the phone so the whole QR code on the screen is in view, or type the code shown under it.",
        ));
    };
    let mut audit = Audit::of(&state, &client, AuditEvent::Claim);
    audit.user(&caller.user.id);
    audit.detail("read from a camera frame");
    let claimed = claim_as(&state, caller.user, &client, Ok(target), &mut audit).await;
    audit.record(&state, &claimed).await;
    confirmation(&state, &client, claimed?)
}

/// Claims what `target` names for `user`, within the user's and the IP's scan budgets (the
/// caller records `audit`).
pub(crate) async fn claim_as(
    state: &AppState,
    user: User,
    client: &ClientInfo,
    target: Result<ScanTarget, ApiError>,
    audit: &mut Audit,
) -> Result<LoginRequest, ApiError> {
    limits::spend(state, client, Bucket::ScanPerUser, &user.id).await?;
    // Guessing codes is what the per-IP budget stops. Every attempt spends it up front, so
    // parallel guesses cannot outrun the count and a hit refunds nothing.
    limits::spend(state, client, Bucket::ScanPerIp, &client.ip).await?;
    let resolved = match target {
        Ok(target) => target.resolve(&*state.store).await.map_err(|e| match e {
            flows::FlowError::NotFound => ApiError::new(
                ErrorCode::NotFound,
                "No sign-in is waiting for that code. It may have expired: check the screen.",
            ),
            other => other.into(),
        }),
        Err(error) => Err(error),
    };
    let id = resolved?;
    tracing::Span::current().record("request", id.as_str());
    audit.login_request(&id);
    let now = state.now();
    if state.settings.network_mismatch == NetworkMismatch::Deny {
        let request = flows::load(&*state.store, &id, now).await?;
        if !same_network(&request.screen.ip, &client.ip) {
            audit.detail(network_mismatch(&request.screen.ip, &client.ip));
            tracing::warn!(request = %id, "claim refused: the phone is on another network than the screen");
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "This screen is on a different network from your phone, and this server refuses such sign-ins. Scan a screen you are in front of, on the same network.",
            ));
        }
    }
    let claim = Transition::Claim(Claim {
        user,
        ip: client.ip.clone(),
        at: now,
    });
    let claimed = flows::transition(&*state.store, &id, &claim, now)
        .await
        .map_err(|e| match e {
            flows::FlowError::Transition(
                qrlogin_auth::login_request::TransitionError::WrongState(LoginState::Claimed),
            ) => ApiError::new(
                ErrorCode::Conflict,
                "Someone else already scanned this code. If that was not you, do not approve anything; start again on the screen.",
            ),
            other => other.into(),
        })?;
    audit.client(&claimed.screen.client_name);
    if !same_network(&claimed.screen.ip, &client.ip) {
        // Allowed (NETWORK_MISMATCH=warn), flagged on the phone and here.
        audit.detail(network_mismatch(&claimed.screen.ip, &client.ip));
    }
    Ok(claimed)
}

/// `GET /api/login-requests/{id}`: the claimant's view of the request it is deciding, polled
/// while the phone shows a PIN (to show the attempts the screen made).
pub async fn status(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let now = state.now();
    let request = flows::load(&*state.store, &id, now).await?;
    // Only the claimant learns anything: to anyone else the request does not exist.
    if request.claim.as_ref().map(|c| &c.user.id) != Some(&caller.user.id) {
        return Err(no_such_request());
    }
    limits::spend(
        &state,
        &client,
        Bucket::PollPerRequest,
        &format!("phone:{id}"),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(Confirmation::of(&request, &client.ip, now)))
}

/// What the phone learns from its decision; in PIN mode, the PIN to show (only here, once).
#[derive(Serialize)]
struct Decided {
    id: String,
    state: LoginState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin_expires_in: Option<i64>,
}

/// The claimant's decision on request `id`, audited; in PIN mode an approval also returns
/// the PIN the screen must type.
pub(crate) async fn decide_as(
    state: &AppState,
    user: User,
    client: &ClientInfo,
    id: &RequestId,
    approve: bool,
) -> Result<(LoginRequest, Option<String>), ApiError> {
    let event = match approve {
        true => AuditEvent::Approve,
        false => AuditEvent::Deny,
    };
    let mut audit = Audit::of(state, client, event);
    audit.user(&user.id).login_request(id);
    let default = match state.settings.login_confirmation {
        LoginConfirmation::Pin => ConfirmationMode::Pin,
        LoginConfirmation::Tap => ConfirmationMode::Tap,
    };
    let now = state.now();
    let decided = match approve {
        true => flows::approve(&*state.store, id, user, default, now).await,
        false => flows::transition(&*state.store, id, &Transition::Deny { user }, now)
            .await
            .map(|denied| (denied, None)),
    }
    .map_err(ApiError::from);
    audit.record(state, &decided).await;
    decided
}

async fn decide(
    state: &AppState,
    caller: qrlogin_web::auth::SignedInUser,
    client: &ClientInfo,
    id: &str,
    approve: bool,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(id)?;
    let (decided, pin) = decide_as(state, caller.user, client, &id, approve).await?;
    let now = state.now();
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(Decided {
            id: decided.id.to_string(),
            state: decided.state,
            pin_expires_in: pin
                .as_ref()
                .map(|_| (decided.expires_at - now).max(0) / 1000),
            pin,
        }))
}

pub async fn approve(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    decide(&state, caller, &client, &id, true).await
}

pub async fn deny(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    decide(&state, caller, &client, &id, false).await
}
