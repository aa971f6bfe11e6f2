//! The phone's pages: sign-in, the code entry, and the confirmation.

use actix_web::cookie::SameSite;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use qrlogin_auth::RequestId;
use qrlogin_auth::flows;
use qrlogin_auth::session::{Session, SessionKind};
use qrlogin_web::cookies::MOBILE_SESSION;
use qrlogin_web::i18n::Text;
use qrlogin_web::pages::html;
use qrlogin_web::{ApiError, AppState};

/// Where to go after signing in (a `/s/{id}` the user opened before they were signed in).
pub const NEXT_COOKIE: &str = "qrlogin_next";

/// What the sign-in page's script says.
const SIGN_IN_SCRIPT: &[(&str, &[&str])] = &[("signin-signing-in", &[]), ("signin-wrong", &[])];

/// What the scan page's script says, from the code entry to how the sign-in ended.
const SCAN_SCRIPT: &[(&str, &[&str])] = &[
    ("time-seconds-ago", &["seconds"]),
    ("time-minutes-ago", &["minutes"]),
    ("scan-camera-point", &[]),
    ("scan-camera-unsupported", &[]),
    ("scan-camera-denied", &[]),
    ("scan-camera-missing", &[]),
    ("scan-camera-failed", &[]),
    ("scan-code-invalid", &[]),
    ("scan-checking", &[]),
    ("confirm-same-network", &[]),
    ("confirm-different-network", &[]),
    ("pin-wrong-typed", &["count", "left"]),
    ("outcome-approved-title", &[]),
    ("outcome-approved-detail", &[]),
    ("outcome-signed-in-title", &[]),
    ("outcome-signed-in-detail", &[]),
    ("outcome-denied-title", &[]),
    ("outcome-denied-detail", &[]),
    ("outcome-expired-title", &[]),
    ("outcome-expired-detail", &[]),
    ("outcome-cancelled-title", &[]),
    ("outcome-cancelled-detail", &[]),
    ("outcome-locked-title", &[]),
    ("outcome-locked-detail", &[]),
    ("passkey-asking", &[]),
    ("passkey-unsupported", &[]),
    ("passkey-cancelled", &[]),
    ("passkey-first", &[]),
];

/// What the passkeys page's script says.
const PASSKEYS_SCRIPT: &[(&str, &[&str])] = &[
    ("passkeys-none", &[]),
    ("passkeys-added-on", &["date"]),
    ("passkeys-last-used", &["date"]),
    ("passkeys-never-used", &[]),
    ("passkeys-rename", &[]),
    ("passkeys-remove", &[]),
    ("passkeys-rename-label", &["name"]),
    ("passkeys-rename-button-label", &["name"]),
    ("passkeys-remove-label", &["name"]),
    ("passkeys-save", &[]),
    ("passkeys-added", &[]),
    ("passkeys-removed", &[]),
    ("passkeys-renamed", &[]),
    ("passkey-asking", &[]),
    ("passkey-unsupported", &[]),
    ("passkey-cancelled", &[]),
];

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    t: &'a Text,
    script_text: String,
    app_name: &'a str,
    local_accounts: bool,
    /// "Sign in with Mentra" is offered (the app's MentraOS credentials are set).
    mentra: bool,
    next: &'a str,
}

#[derive(Template)]
#[template(path = "scan.html")]
struct ScanPage<'a> {
    t: &'a Text,
    script_text: String,
    app_name: &'a str,
    name: &'a str,
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "passkeys.html")]
struct PasskeysPage<'a> {
    t: &'a Text,
    script_text: String,
    app_name: &'a str,
    name: &'a str,
    /// Passkeys cannot be used here (the phone pages are on an IP address).
    unavailable: bool,
}

/// A page, rendered whole.
fn shown(page: &impl Template) -> Result<HttpResponse, ApiError> {
    Ok(html(
        StatusCode::OK,
        page.render().map_err(ApiError::internal)?,
    ))
}

/// The remembered destination, if it is one of ours; else the scanner.
pub fn next_path(state: &AppState, request: &HttpRequest) -> String {
    state
        .mobile_cookies()
        .read(request, NEXT_COOKIE)
        .and_then(|next| next.strip_prefix("/s/").and_then(RequestId::parse))
        .map_or_else(|| "/scan".to_owned(), |id| format!("/s/{id}"))
}

async fn signed_in(state: &AppState, request: &HttpRequest) -> Result<Option<Session>, ApiError> {
    match state.mobile_cookies().read(request, MOBILE_SESSION) {
        Some(cookie) => Ok(flows::session_from_cookie(
            &*state.store,
            &cookie,
            SessionKind::Mobile,
            state.now(),
        )
        .await?),
        None => Ok(None),
    }
}

/// A page that says one thing, from the catalogue's `message-{what}-title` and `-detail`.
pub fn message(state: &AppState, t: &Text, status: StatusCode, what: &str) -> HttpResponse {
    let title = t.get(&format!("message-{what}-title"));
    let detail = t.get(&format!("message-{what}-detail"));
    qrlogin_web::pages::message_page(state, t, status, &title, &detail, None)
}

fn sign_in_page(state: &AppState, t: &Text, next: &str) -> Result<HttpResponse, ApiError> {
    let mentra = &state.settings.mentra;
    let offers_mentra = mentra.package_name.is_some() && mentra.api_key.is_some();
    let page = SignInPage {
        script_text: t.for_script(SIGN_IN_SCRIPT),
        t,
        app_name: &state.settings.app_name,
        local_accounts: state.settings.local_accounts,
        mentra: offers_mentra,
        next,
    };
    let mut response = html(StatusCode::OK, page.render().map_err(ApiError::internal)?);
    if offers_mentra {
        // "Sign in with Mentra" posts to us and is redirected to MentraOS's account site,
        // which the form's policy must allow (browsers check a form's redirects too).
        let account = mentra.account_url.origin().ascii_serialization();
        qrlogin_web::http::allow_forms_to(&mut response, &account);
    }
    Ok(response)
}

/// `GET /mentra-auth`: "Sign in with Mentra" from a plain link, with nowhere to come back to:
/// any remembered destination is forgotten, so none planted earlier is followed.
pub async fn mentra_auth(state: web::Data<AppState>, t: Text) -> HttpResponse {
    with_cookie(
        to_mentra_account(&state, &t),
        &state.mobile_cookies().removal(NEXT_COOKIE),
    )
}

#[derive(serde::Deserialize)]
pub struct MentraAuthForm {
    next: String,
}

/// `POST /mentra-auth`: "Sign in with Mentra" pressed on the sign-in page of a code
/// (`/s/{id}`). MentraOS's account page signs the visitor in and sends them to our webview
/// URL with a signed user token; that redirect carries no state, so where they were going
/// waits in our own short-lived cookie. It is set by this press only, a form post from our
/// own page (another site's post is refused for its `Origin`): merely visiting someone's
/// `/s/{id}` leaves nothing behind that a later sign-in would follow.
pub async fn mentra_auth_from_page(
    state: web::Data<AppState>,
    form: web::Form<MentraAuthForm>,
    t: Text,
) -> HttpResponse {
    let next = form
        .into_inner()
        .next
        .strip_prefix("/s/")
        .and_then(RequestId::parse)
        .map(|id| format!("/s/{id}"));
    let cookie = match next {
        Some(next) => state.mobile_cookies().build(
            NEXT_COOKIE,
            next,
            std::time::Duration::from_secs(600),
            SameSite::Lax,
        ),
        None => state.mobile_cookies().removal(NEXT_COOKIE),
    };
    with_cookie(to_mentra_account(&state, &t), &cookie)
}

fn with_cookie(mut response: HttpResponse, cookie: &actix_web::cookie::Cookie<'_>) -> HttpResponse {
    if let Err(error) = response.add_cookie(cookie) {
        tracing::warn!(%error, "a cookie could not be set");
    }
    response
}

fn to_mentra_account(state: &AppState, t: &Text) -> HttpResponse {
    let mentra = &state.settings.mentra;
    let (Some(package), Some(_)) = (&mentra.package_name, &mentra.api_key) else {
        return message(state, t, StatusCode::SERVICE_UNAVAILABLE, "mentra-off");
    };
    let mut target = mentra.account_url.clone();
    target.set_path("/auth");
    target
        .query_pairs_mut()
        .clear()
        .append_pair("packagename", package);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, target.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

pub async fn home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/scan"))
        .finish()
}

/// `GET /scan`: type the code from the screen (signed in), or sign in first.
pub async fn scan(
    state: web::Data<AppState>,
    request: HttpRequest,
    t: Text,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = signed_in(&state, &request).await? else {
        return sign_in_page(&state, &t, "/scan");
    };
    let page = ScanPage {
        script_text: t.for_script(SCAN_SCRIPT),
        t: &t,
        app_name: &state.settings.app_name,
        name: &session.user.name,
        request_id: "",
    };
    shown(&page)
}

/// `GET /s/{id}`: what the QR opens. Signed in: the page claims the request and asks for a
/// decision. Not signed in: sign in first, and come back here afterwards.
pub async fn scanned(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
    t: Text,
) -> Result<HttpResponse, ApiError> {
    let Some(id) = RequestId::parse(&id) else {
        return Ok(message(&state, &t, StatusCode::NOT_FOUND, "unknown-code"));
    };
    let here = format!("/s/{id}");
    let Some(session) = signed_in(&state, &request).await? else {
        return sign_in_page(&state, &t, &here);
    };
    let page = ScanPage {
        script_text: t.for_script(SCAN_SCRIPT),
        t: &t,
        app_name: &state.settings.app_name,
        name: &session.user.name,
        request_id: id.as_str(),
    };
    shown(&page)
}

/// `GET /passkeys`: the account's passkeys, to add, name and remove (signed in), or sign in
/// first.
pub async fn passkeys(
    state: web::Data<AppState>,
    request: HttpRequest,
    t: Text,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = signed_in(&state, &request).await? else {
        return sign_in_page(&state, &t, "/scan");
    };
    let page = PasskeysPage {
        script_text: t.for_script(PASSKEYS_SCRIPT),
        t: &t,
        app_name: &state.settings.app_name,
        name: &session.user.name,
        unavailable: state.settings.passkeys.relying_party.is_none(),
    };
    shown(&page)
}

/// `GET /assets/{file}`: the page scripts and the stylesheet, compiled into the binary.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    qrlogin_web::pages::asset(
        &file,
        &[
            ("mobile.js", include_str!("../assets/mobile.js")),
            ("passkeys.js", include_str!("../assets/passkeys.js")),
        ],
    )
}
