//! Sign in on another device: `POST /api/device-links` (the signed-in screen makes a link),
//! `POST /api/device-links/{id}/claim` (the device that opened `/link/{id}` asks, with a
//! click, and is given the code it shows), `GET /api/device-links/{id}` (either side follows
//! it), `POST …/confirm` (the signed-in screen allows, with the device's code, or refuses),
//! `POST …/redeem` (the allowed device collects its own session). The device follows its
//! link live on `GET /api/device-links/{id}/events` (`link_events`), the dashboard on its
//! account's socket (`events`): nobody polls.
//!
//! The rules are `SignIn`'s (`qrlogin_auth::signin::links`); these handlers translate HTTP,
//! and keep the claiming device's secret and code in its own cookie.
//!
//! An unknown, used or expired link is answered 400 `invalid_qr_code`, whatever the step.

use actix_web::cookie::SameSite;
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::device_link::{Answer, DeviceLink, LinkState};
use qrlogin_auth::passkey::PasskeyCheck;
use qrlogin_auth::signin::links::LinkClaimed;
use qrlogin_auth::signin::passkeys::ProofPurpose;
use qrlogin_auth::signin::{ApprovalProof, SignedInCaller};
use qrlogin_web::auth::{DesktopUser, SignedInUser};
use qrlogin_web::client::{ClientInfo, DeviceName, describe_user_agent};
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::{ApiError, AppState};
use serde::{Deserialize, Serialize};

use qrlogin_web::http::no_store;
use qrlogin_web::openapi::IdPath;

use super::login_requests::{Redeemed, signed_in_response};

/// The cookie (per link) holding the secret of the device that claimed it, and the code it
/// shows: `{secret}.{code}`. The store keeps only their hashes; the device can show its code
/// again after a reload.
const CLAIM_COOKIE_PREFIX: &str = "qrlink_";

fn claim_cookie(id: &str) -> String {
    format!("{CLAIM_COOKIE_PREFIX}{id}")
}

/// What this browser holds for link `id`: its claim secret and its code, if it claimed it.
pub struct HeldClaim {
    pub secret: String,
    pub code: Option<String>,
}

/// The claim this browser holds for link `id` (from its cookie), if any.
pub fn held_claim(state: &AppState, request: &HttpRequest, id: &str) -> Option<HeldClaim> {
    let value = state.desktop_cookies().read(request, &claim_cookie(id))?;
    // The secret is base64url: it has no '.'.
    Some(match value.split_once('.') {
        Some((secret, code)) => HeldClaim {
            secret: secret.to_owned(),
            code: Some(code.to_owned()).filter(|code| !code.is_empty()),
        },
        None => HeldClaim {
            secret: value,
            code: None,
        },
    })
}

fn who(caller: &SignedInUser) -> SignedInCaller<'_> {
    SignedInCaller {
        user: &caller.user,
        session_id: &caller.session_id,
        access_token: caller.access_token.as_ref(),
    }
}

/// What either side may see of a link.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct LinkView {
    id: String,
    state: LinkState,
    /// Where the new device goes: the QR's content.
    url: String,
    expires_in: i64,
    /// Whose account the new device joins (its display name).
    account: String,
    /// For the signed-in screen's question: "Allow Chrome on Android, 203.0.113.7?"
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    /// `device`'s parts, for a page to word in its reader's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_name: Option<DeviceName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_ip: Option<String>,
    /// Whether the signed-in screen must allow the device (typing its code).
    confirmation: bool,
    /// The code the new device shows: only ever to that device.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    /// Wrong codes the signed-in screen may still type.
    #[serde(skip_serializing_if = "Option::is_none")]
    code_attempts_left: Option<u8>,
}

impl LinkView {
    pub(super) fn of(state: &AppState, link: &DeviceLink) -> Self {
        let confirmation = state.signin.policy().confirms_links();
        Self {
            id: link.id.clone(),
            state: link.state,
            url: state
                .settings
                .desktop_public_url
                .join(&format!("/link/{}", link.id)),
            expires_in: (link.expires_at - state.now()).max(0) / 1000,
            account: link.user.name.clone(),
            device: link
                .claimant
                .as_ref()
                .map(|c| describe_user_agent(&c.user_agent)),
            device_name: link
                .claimant
                .as_ref()
                .map(|c| DeviceName::of(&c.user_agent)),
            device_ip: link.claimant.as_ref().map(|c| c.ip.clone()),
            confirmation,
            code: None,
            code_attempts_left: (confirmation && link.state == LinkState::Claimed)
                .then(|| link.code_attempts_left()),
        }
    }

    pub(super) fn with_code(mut self, code: Option<String>) -> Self {
        self.code = code;
        self
    }
}

/// A new link, for the signed-in screen to show.
#[derive(Serialize, utoipa::ToSchema)]
struct NewLink {
    id: String,
    state: LinkState,
    /// Where the new device goes: the QR's content.
    url: String,
    expires_in: i64,
    /// Whether the signed-in screen must allow the device (typing its code).
    confirmation: bool,
    /// `url` as a QR code.
    qr_svg: String,
}

/// `POST /api/device-links`: a single-use link for another device to sign in as the caller.
#[utoipa::path(post, path = "/api/device-links", operation_id = "create_device_link", tag = "device links",
    request_body = EmptyBody, security(("desktop_session" = []), ("access_token" = [])),
    responses(
        (status = 201, description = "A link for another device: show `qr_svg` or `url`.", body = NewLink),
        (status = 401, description = "Not signed in."),
        (status = 429, description = "Too many links made: `Retry-After` says when to try again."),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
    client: ClientInfo,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let link = state.signin.create_link(&client, who(&caller)).await?;
    let view = LinkView::of(&state, &link);
    let qr_svg = qrlogin_qr::svg(&view.url).map_err(ApiError::internal)?;
    Ok(no_store(HttpResponse::Created()).json(NewLink {
        id: view.id,
        state: view.state,
        url: view.url,
        expires_in: view.expires_in,
        confirmation: view.confirmation,
        qr_svg,
    }))
}

/// `POST /api/device-links/{id}/claim`: the device that opened the link asks to sign in
/// (the link page's button). Once: a second device gets `invalid_qr_code`. A browser signed
/// in as someone else gets 409 `conflict` and stays as it is. With confirmation: 202 with the
/// `code` to show; without, 200 signed in at once.
#[utoipa::path(post, path = "/api/device-links/{id}/claim", operation_id = "claim_device_link", tag = "device links",
    params(IdPath), request_body = EmptyBody,
    responses(
        (status = 200, description = "Signed in at once (links need no confirmation on this server).", body = Redeemed),
        (status = 202, description = "Claimed: show `code`, which the signed-in screen types to allow this device.", body = LinkView),
        (status = 400, description = "`invalid_qr_code`: the link is unknown, used, expired, or another device claimed it."),
        (status = 409, description = "This browser is signed in as someone else."),
    ))]
pub async fn claim(
    state: web::Data<AppState>,
    client: ClientInfo,
    browser: Option<DesktopUser>,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let browser = browser.map(|DesktopUser(caller)| caller.user);
    match state
        .signin
        .claim_link(&client, &id, browser.as_ref())
        .await?
    {
        LinkClaimed::SignedIn(signed_in) => signed_in_response(&state, signed_in),
        LinkClaimed::Waiting { link, secret, code } => {
            let cookie = state.desktop_cookies().build(
                &claim_cookie(&link.id),
                format!("{secret}.{code}"),
                state.settings.link_ttl,
                SameSite::Strict,
            );
            Ok(no_store(HttpResponse::Accepted())
                .cookie(cookie)
                .json(LinkView::of(&state, &link).with_code(Some(code))))
        }
    }
}

/// `GET /api/device-links/{id}`: the link's state, for the signed-in screen (which then
/// asks its user about the device and for its code) or for the device waiting to be allowed
/// (which is given its own code again).
#[utoipa::path(get, path = "/api/device-links/{id}", operation_id = "device_link", tag = "device links",
    params(IdPath),
    responses(
        (status = 200, description = "The link, as the screen that made it or the device that claimed it may see it.", body = LinkView),
        (status = 400, description = "`invalid_qr_code`: unknown, used or expired, or not yours to see."),
    ))]
pub async fn status(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Option<DesktopUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let held = held_claim(&state, &request, &id);
    let user = caller.map(|DesktopUser(caller)| caller.user);
    let sight = state
        .signin
        .follow_link(
            &id,
            user.as_ref(),
            held.as_ref().map(|held| held.secret.as_str()),
        )
        .await?;
    let code = held
        .and_then(|held| held.code)
        .filter(|_| sight.as_claimant);
    Ok(no_store(HttpResponse::Ok()).json(LinkView::of(&state, &sight.link).with_code(code)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    allow: bool,
    /// The code the new device shows: needed to allow it, not to refuse.
    #[serde(default)]
    code: Option<String>,
    /// Where allowing needs the account's passkey: `PublicKeyCredential.toJSON()` of an
    /// assertion answering `POST /api/device-links/{id}/passkey-check`.
    #[serde(default)]
    #[schema(value_type = Object)]
    passkey: Option<qrlogin_auth::passkey::PublicKeyCredential>,
}

/// `POST /api/device-links/{id}/passkey-check`: the challenge that allowing the device which
/// opened link `id` answers, where the policy asks for the account's passkey.
#[utoipa::path(post, path = "/api/device-links/{id}/passkey-check", operation_id = "device_link_passkey_check", tag = "device links",
    params(IdPath), request_body = EmptyBody,
    security(("desktop_session" = []), ("access_token" = [])),
    responses(
        (status = 200, description = "Options for `navigator.credentials.get`.", body = PasskeyCheck),
        (status = 400, description = "`invalid_qr_code`: the link is unknown, used or expired."),
        (status = 403, description = "`passkey_required`: the account has no passkey."),
        (status = 404, description = "Not a link of the caller's."),
    ))]
pub async fn passkey_check(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let check = (state.signin)
        .begin_passkey_check(&caller.user, ProofPurpose::AllowLink(&id))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(PasskeyCheck(check)))
}

/// `POST /api/device-links/{id}/confirm`: the signed-in screen that made the link allows
/// (`{"allow": true, "code": "123456"}`) or refuses (`{"allow": false}`) the device that
/// opened it. A missing code is 409 `pin_required`, a malformed one 400 `invalid_request`, a
/// wrong one 403 `wrong_pin`; the third wrong one spends the link: 423 `locked`, and every
/// answer after it is 423 too, until the device that claimed it learns the link is spent
/// (then it is gone: 400 `invalid_qr_code`).
#[utoipa::path(post, path = "/api/device-links/{id}/confirm", operation_id = "confirm_device_link", tag = "device links",
    params(IdPath), request_body = ConfirmBody,
    security(("desktop_session" = []), ("access_token" = [])),
    responses(
        (status = 200, description = "Answered: the device is told at once.", body = LinkView),
        (status = 403, description = "`wrong_pin`: not the device's code, with `attempts_left`; `passkey_required`: allowing needs the account's passkey; `passkey_failed`: the passkey check failed."),
        (status = 409, description = "`pin_required`: allowing needs the device's code."),
        (status = 423, description = "`locked`: too many wrong codes; the link is spent."),
    ))]
pub async fn confirm(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
    client: ClientInfo,
    id: web::Path<String>,
    body: JsonObject<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let answer = match body.allow {
        true => Answer::Allow { code: body.code },
        false => Answer::Refuse,
    };
    let proof = match body.passkey {
        Some(credential) => ApprovalProof::Passkey(Box::new(credential)),
        None => ApprovalProof::Tap,
    };
    let link = state
        .signin
        .confirm_link(&client, who(&caller), &id, answer, proof)
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(LinkView::of(&state, &link)))
}

/// `POST /api/device-links/{id}/redeem`: the allowed device collects its own session and
/// access token, once; the link is then gone. A browser signed in as someone else meanwhile
/// gets 409 `conflict` and stays as it is.
#[utoipa::path(post, path = "/api/device-links/{id}/redeem", operation_id = "redeem_device_link", tag = "device links",
    params(IdPath), request_body = EmptyBody,
    responses(
        (status = 200, description = "Signed in, once; the link is gone.", body = Redeemed),
        (status = 400, description = "`invalid_qr_code`: the link is unknown, used or expired."),
        (status = 409, description = "Not allowed yet, or this browser is signed in as someone else."),
    ))]
pub async fn redeem(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    browser: Option<DesktopUser>,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let held = held_claim(&state, &request, &id);
    let browser = browser.map(|DesktopUser(caller)| caller.user);
    let signed_in = state
        .signin
        .redeem_link(
            &client,
            &id,
            held.as_ref().map(|held| held.secret.as_str()),
            browser.as_ref(),
        )
        .await?;
    let mut response = signed_in_response(&state, signed_in)?;
    response
        .add_cookie(&state.desktop_cookies().removal(&claim_cookie(&id)))
        .map_err(ApiError::internal)?;
    Ok(response)
}
