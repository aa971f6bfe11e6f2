//! `POST /api/scan` (claim what the QR or the typed code names) and the decision:
//! `POST /api/login-requests/{id}/approve` and `/deny`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::LoginState;
use qrlogin_auth::login_request::RequestId;
use qrlogin_auth::signin::{ApprovalProof, Approver, ClaimSource, Decision};
use qrlogin_web::auth::MobileUser;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::{ApiError, AppState, ErrorCode};
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use qrlogin_auth::LoginRequest;
use qrlogin_web::http::ServiceOrigin;
use qrlogin_web::live::{Follower, RequestFollower, SessionWatch, network_of, refuse_other_sites};
use qrlogin_web::sockets::SocketHolder;
use qrlogin_web::websocket::accept;

use crate::frames::{FrameReader, MAX_FRAME_BYTES, Reader};
use qrlogin_auth::signin::prompt::Prompt;
use qrlogin_web::openapi::{BinaryBody, IdPath};

/// Exactly one of the three ways to name a request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    /// What the camera read from the QR code.
    qr_text: Option<String>,
    /// The request's id.
    id: Option<String>,
    /// The code the screen shows under its QR (`WDJB-MJHT`).
    user_code: Option<String>,
}

fn no_such_request() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "No such sign-in request.")
}

pub(crate) fn parse_id(raw: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(raw).ok_or_else(no_such_request)
}

/// The one way of naming a request the body gives.
fn source(body: ScanBody) -> ClaimSource {
    match (body.qr_text, body.id, body.user_code) {
        (Some(text), None, None) => ClaimSource::QrText(text),
        (None, Some(id), None) => ClaimSource::Id(id),
        (None, None, Some(code)) => ClaimSource::UserCode(code),
        _ => ClaimSource::Unclear,
    }
}

/// Claims the request for the signed-in user. Exactly one user can; the same user scanning
/// again sees the same confirmation.
#[utoipa::path(post, path = "/api/scan", tag = "phone",
    request_body = ScanBody, security(("mobile_session" = [])),
    responses(
        (status = 200, description = "Claimed for the caller: what to show before approving.", body = Prompt),
        (status = 400, description = "Not exactly one way of naming a request, or a QR code that is not one of ours."),
        (status = 401, description = "Not signed in."),
        (status = 404, description = "No such request, or it has ended."),
        (status = 409, description = "Someone else claimed it."),
    ))]
#[tracing::instrument(name = "scan", skip_all)]
pub async fn scan(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    body: JsonObject<ScanBody>,
) -> Result<HttpResponse, ApiError> {
    let source = source(body.into_inner());
    let claimed = state.signin.claim(&client, caller.user, source).await?;
    Ok(HttpResponse::Ok().json(claimed.prompt))
}

/// `POST /api/frames`: a camera frame (JPEG, PNG or WebP) instead of the code's text. The
/// code of ours in it is claimed as `POST /api/scan` claims it; other codes are ignored, and
/// with several of ours in view none is claimed. A frame with none is answered 422
/// `no_code_found`; each frame spends the user's frame budget.
#[utoipa::path(post, path = "/api/frames", tag = "phone",
    request_body(content(
        (BinaryBody = "image/jpeg"), (BinaryBody = "image/png"), (BinaryBody = "image/webp"),
    ), description = "A camera frame, up to 8 MiB."),
    security(("mobile_session" = [])),
    responses(
        (status = 200, description = "The code in view was claimed for the caller.", body = Prompt),
        (status = 401, description = "Not signed in."),
        (status = 413, description = "Larger than 8 MiB."),
        (status = 415, description = "Not a JPEG, PNG or WebP."),
        (status = 422, description = "`no_code_found`, or `several_codes` of ours in view."),
        (status = 429, description = "The caller's frame budget is spent."),
    ))]
#[tracing::instrument(name = "frame", skip_all)]
pub async fn frame(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    reader: web::Data<FrameReader>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    state.signin.admit_frame(&client, &caller.user).await?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // Refused frames are never read: a refusal costs nothing, whatever the body's size.
    let reading = reader
        .begin(&Reader::Phone(caller.user.id.clone()), content_type)
        .await?;
    let body = read_frame(body).await?;
    let texts = reading.decode(body).await?;
    let claimed = state
        .signin
        .claim(&client, caller.user, ClaimSource::Frame(texts))
        .await?;
    Ok(HttpResponse::Ok().json(claimed.prompt))
}

/// The frame's bytes, up to [`MAX_FRAME_BYTES`].
async fn read_frame(body: web::Payload) -> Result<web::Bytes, ApiError> {
    match body.to_bytes_limited(MAX_FRAME_BYTES).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => Err(ApiError::invalid(format!(
            "The frame did not arrive whole: {error}"
        ))),
        Err(_) => Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            "The frame is larger than 8 MiB.",
        )),
    }
}

/// `GET /api/login-requests/{id}`: the claimant's view of the request it is deciding, polled
/// while the phone shows a PIN (to show the attempts the screen made).
#[utoipa::path(get, path = "/api/login-requests/{id}", operation_id = "claimed_request", tag = "phone",
    params(IdPath), security(("mobile_session" = [])),
    responses(
        (status = 200, description = "The request as its claimant sees it.", body = Prompt),
        (status = 401, description = "Not signed in."),
        (status = 404, description = "No such request of the caller's."),
    ))]
pub async fn status(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let prompt = state
        .signin
        .claimant_view(&client, &caller.user, &id)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(prompt))
}

/// `GET /api/login-requests/{id}/events`: the claimant's live view of the request it decides,
/// as `GET /api/login-requests/{id}` answers it, first now and then at every change until the
/// request ends: the phone learns at once that the screen signed in, left, or was locked. It
/// closes (1008) as soon as the phone's session ends.
pub async fn events(
    state: web::Data<AppState>,
    origin: web::Data<ServiceOrigin>,
    request: HttpRequest,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    refuse_other_sites(&request, &origin)?;
    let id = parse_id(&id)?;
    // Subscribe first: whatever happens after this point reaches the socket.
    let subscription = state.store.events().subscribe(&id);
    let notices = state.store.events().subscribe_account(&caller.user.id);
    state
        .signin
        .claimant_view(&client, &caller.user, &id)
        .await?;
    let watch = SessionWatch {
        notices,
        session_id: caller.session_id,
    };
    let current = qrlogin_auth::flows::load(&*state.store, &id, state.now()).await?;
    let permit = state.sockets.admit(
        "claimant",
        vec![
            SocketHolder::User(caller.user.id.clone()),
            network_of(&state, &client),
        ],
    )?;
    let follower = RequestFollower {
        render: prompt_for(Arc::clone(&state.signin), caller.user),
        state,
        follower: Follower::Phone,
        subscription,
        permit,
        session: Some(watch),
    };
    accept(&request, move |socket| {
        follower.run(Arc::new(current), socket)
    })
}

/// The request as `user`, its claimant, sees it: what the claimant's socket sends.
fn prompt_for(
    signin: Arc<qrlogin_auth::signin::SignIn>,
    user: qrlogin_auth::User,
) -> impl Fn(&LoginRequest, qrlogin_auth::UnixMillis) -> String {
    move |request, now| {
        signin
            .prompt_for(request, &user, now)
            .and_then(|prompt| serde_json::to_string(&prompt).ok())
            .unwrap_or_default()
    }
}

/// What the phone learns from its decision; in PIN mode, the PIN to show (only here, once).
#[derive(Serialize, utoipa::ToSchema)]
struct DecidedView {
    id: String,
    state: LoginState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin_expires_in: Option<i64>,
}

async fn decide(
    state: &AppState,
    caller: qrlogin_web::auth::SignedInUser,
    client: &ClientInfo,
    id: &str,
    decision: Decision,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(id)?;
    let decided = state
        .signin
        .decide(
            client,
            Approver {
                user: caller.user,
                standing_since: caller.session_started_at,
            },
            &id,
            decision,
        )
        .await?;
    let now = state.now();
    let request = decided.request;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DecidedView {
            id: request.id.to_string(),
            state: request.state,
            pin_expires_in: decided
                .pin
                .as_ref()
                .map(|_| (request.expires_at - now).max(0) / 1000),
            pin: decided.pin,
        }))
}

/// An approval: with the owner's passkey where the policy asks for one (answering
/// `POST /api/login-requests/{id}/passkey-check`), else nothing.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// `PublicKeyCredential.toJSON()` of the assertion.
    #[schema(value_type = Object)]
    passkey: Option<qrlogin_auth::passkey::PublicKeyCredential>,
}

/// `POST /api/login-requests/{id}/approve`: the claimant signs the screen in.
#[utoipa::path(post, path = "/api/login-requests/{id}/approve", operation_id = "approve", tag = "phone",
    params(IdPath), request_body = ApproveBody, security(("mobile_session" = [])),
    responses(
        (status = 200, description = "Approved; in PIN mode, with the `pin` the screen must type.", body = DecidedView),
        (status = 400, description = "Not a JSON object of that shape."),
        (status = 401, description = "Not signed in."),
        (status = 403, description = "`passkey_required`: this approval needs the account's passkey (or the account must add one first); `passkey_failed`: the passkey check failed."),
        (status = 404, description = "No such request of the caller's."),
        (status = 409, description = "Already decided, or ended."),
    ))]
pub async fn approve(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    id: web::Path<String>,
    body: JsonObject<ApproveBody>,
) -> Result<HttpResponse, ApiError> {
    let proof = match body.into_inner().passkey {
        Some(credential) => ApprovalProof::Passkey(Box::new(credential)),
        None => ApprovalProof::Tap,
    };
    decide(&state, caller, &client, &id, Decision::Approve(proof)).await
}

/// `POST /api/login-requests/{id}/deny`: the claimant refuses; the screen is told.
#[utoipa::path(post, path = "/api/login-requests/{id}/deny", tag = "phone",
    params(IdPath), request_body = EmptyBody, security(("mobile_session" = [])),
    responses(
        (status = 200, description = "Denied.", body = DecidedView),
        (status = 401, description = "Not signed in."),
        (status = 404, description = "No such request of the caller's."),
        (status = 409, description = "Already decided, or ended."),
    ))]
pub async fn deny(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    decide(&state, caller, &client, &id, Decision::Deny).await
}
