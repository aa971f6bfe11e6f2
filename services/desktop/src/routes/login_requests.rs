//! `POST /api/login-requests`, `GET|DELETE /api/login-requests/{id}`, `POST …/redeem`.

use actix_web::cookie::SameSite;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::client::registry;
use qrlogin_auth::flows;
use qrlogin_auth::login_request::{LoginRequest, RequestId};
use qrlogin_auth::signin::Requester;
use qrlogin_auth::tokens::IDENTITY_TOKEN_TTL_MS;
use qrlogin_auth::{LoginState, UnixMillis};
use qrlogin_web::auth::ApiClient;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::cookies::{DESKTOP_SECRET_PREFIX, DESKTOP_SESSION};
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::openapi::IdPath;
use qrlogin_web::{ApiError, AppState, ErrorCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How long a redeem waits for its audit record to be stored before answering anyway.
const AUDIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The header API clients use to present a request's desktop secret (browsers use the cookie).
pub const DESKTOP_SECRET_HEADER: &str = "x-desktop-secret";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Include the QR code as SVG in the answer (what the page shows). Rendering it is the
    /// costliest part of a create, so API clients that draw their own do not pay for it.
    #[serde(default)]
    qr_svg: bool,
    /// A web app's sign-in page asks (OpenID Connect): the request is made for that app.
    #[serde(default)]
    authorization: Option<String>,
}

/// What anyone holding the desktop secret may know of a request: never who claimed it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestStatus {
    pub id: String,
    pub state: LoginState,
    pub version: u32,
    /// Milliseconds since the epoch.
    #[schema(value_type = i64)]
    pub expires_at: UnixMillis,
    /// Seconds left, by the server's clock.
    pub expires_in: i64,
    /// Approved in PIN mode: type the PIN the phone shows before redeeming.
    pub pin_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_attempts_left: Option<u8>,
}

impl RequestStatus {
    pub fn of(request: &LoginRequest, now: UnixMillis) -> Self {
        Self {
            id: request.id.to_string(),
            state: request.state_at(now),
            version: request.version,
            expires_at: request.expires_at,
            expires_in: (request.expires_at - now).max(0) / 1000,
            pin_required: request.pin.as_ref().is_some_and(|pin| !pin.confirmed),
            pin_attempts_left: request.pin.as_ref().map(|pin| pin.attempts_left()),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct Created {
    #[serde(flatten)]
    status: RequestStatus,
    user_code: String,
    qr_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    qr_svg: Option<String>,
    desktop_secret: String,
    events_url: String,
}

pub fn parse_id(raw: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(raw)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "No such sign-in request."))
}

fn secret_cookie_name(id: &RequestId) -> String {
    format!("{DESKTOP_SECRET_PREFIX}{id}")
}

/// The desktop secret the caller presents for `id`: the header, else the request's cookie.
pub fn presented_secret(
    request: &HttpRequest,
    state: &AppState,
    id: &RequestId,
) -> Result<SecretString, ApiError> {
    request
        .headers()
        .get(DESKTOP_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            state
                .desktop_cookies()
                .read(request, &secret_cookie_name(id))
        })
        .map(SecretString::from)
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "This sign-in request's desktop secret is missing (cookie or X-Desktop-Secret).",
            )
        })
}

/// The request `id` for its screen's socket (subscribed already, so the instance's newest
/// copy will do), checking the caller holds its desktop secret.
pub async fn load_owned_for_listener(
    request: &HttpRequest,
    state: &AppState,
    id: &RequestId,
) -> Result<LoginRequest, ApiError> {
    let secret = presented_secret(request, state, id)?;
    Ok(state.signin.owned_for_listener(id, &secret).await?)
}

/// `POST /api/login-requests`: a new request, its QR and its secret. With a registered
/// client's API key (`Authorization: Bearer`), the request is that client's.
#[utoipa::path(post, path = "/api/login-requests", operation_id = "create_login_request", tag = "sign-in requests",
    request_body = CreateBody,
    security((), ("api_key" = [])),
    responses(
        (status = 201, description = "A new request: show `qr_url` as a QR code (or `qr_svg`), and keep `desktop_secret` (also set as a cookie) to follow and redeem it.", body = Created),
        (status = 401, description = "The API key is not a registered client's."),
        (status = 429, description = "Too many requests created from this network: `Retry-After` says when to try again."),
    ))]
#[tracing::instrument(name = "create login request", skip_all, fields(request = tracing::field::Empty))]
pub async fn create(
    state: web::Data<AppState>,
    client: ClientInfo,
    ApiClient(registered): ApiClient,
    body: JsonObject<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let web_app = match &body.authorization {
        Some(id) => Some((state.signin.authorization(id).await?.1, id.as_str())),
        None => None,
    };
    let requester = match (&registered, &web_app) {
        (Some(registered), _) => Requester::Client(registered),
        (None, Some((client, authorization))) => Requester::WebApp {
            client,
            authorization,
        },
        (None, None) => Requester::Screen,
    };
    let new = state.signin.create(&client, requester).await?;
    let request = new.request;
    tracing::Span::current().record("request", request.id.as_str());
    let settings = &state.settings;
    let qr_url = settings
        .mobile_public_url
        .join(&format!("/s/{}", request.id));
    let qr_svg = match body.qr_svg {
        true => Some(qrlogin_qr::svg(&qr_url).map_err(ApiError::internal)?),
        false => None,
    };
    let secret = new.desktop_secret.expose_secret().to_owned();
    let cookie = state.desktop_cookies().build(
        &secret_cookie_name(&request.id),
        secret.clone(),
        settings.qr_ttl + std::time::Duration::from_secs(60),
        SameSite::Strict,
    );
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .json(Created {
            status: RequestStatus::of(&request, state.now()),
            user_code: request.user_code.display(),
            events_url: format!("/api/login-requests/{}/events", request.id),
            qr_url,
            qr_svg,
            desktop_secret: secret,
        }))
}

/// `GET /api/login-requests/{id}`: the state, for clients that poll instead of listening.
#[utoipa::path(get, path = "/api/login-requests/{id}", operation_id = "poll_login_request", tag = "sign-in requests",
    params(IdPath), security(("desktop_secret" = [])),
    responses(
        (status = 200, description = "The request's state, never who claimed it.", body = RequestStatus),
        (status = 401, description = "The desktop secret is missing or wrong."),
        (status = 404, description = "No such request."),
    ))]
pub async fn poll(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let secret = presented_secret(&request, &state, &id)?;
    let login = state.signin.screen_view(&client, &id, &secret).await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(origin) = client_origin(&state, &request, &login).await? {
        allow_origin(&mut response, &origin);
    }
    Ok(response.json(RequestStatus::of(&login, state.now())))
}

/// The caller's `Origin`, when it is one of the origins the request's registered client
/// allows: a page of that app may follow the request (with its desktop secret, sent in
/// `X-Desktop-Secret`). Nothing else is opened to other sites.
async fn client_origin(
    state: &AppState,
    request: &HttpRequest,
    login: &LoginRequest,
) -> Result<Option<String>, ApiError> {
    let (Some(origin), Some(client_id)) = (
        request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok()),
        login.screen.client_id.as_deref(),
    ) else {
        return Ok(None);
    };
    let allowed = registry::load(&*state.store, client_id)
        .await?
        .is_some_and(|registered| registered.allows_origin(origin));
    Ok(allowed.then(|| origin.to_owned()))
}

fn allow_origin(response: &mut actix_web::HttpResponseBuilder, origin: &str) {
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_owned()))
        .insert_header((header::VARY, "Origin"));
}

/// `OPTIONS /api/login-requests/{id}`: the CORS preflight of a registered client's page
/// that polls its request with the desktop secret in `X-Desktop-Secret`.
pub async fn poll_preflight(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let login = flows::load(&*state.store, &id, state.now()).await?;
    let Some(origin) = client_origin(&state, &request, &login).await? else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "This site may not follow this sign-in request.",
        ));
    };
    let mut response = HttpResponse::NoContent();
    allow_origin(&mut response, &origin);
    Ok(response
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, DESKTOP_SECRET_HEADER))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish())
}

/// `DELETE /api/login-requests/{id}`: the screen gives up on this request.
#[utoipa::path(delete, path = "/api/login-requests/{id}", operation_id = "cancel_login_request", tag = "sign-in requests",
    params(IdPath), security(("desktop_secret" = [])),
    responses(
        (status = 204, description = "Cancelled: the phone that claimed it is told."),
        (status = 401, description = "The desktop secret is missing or wrong."),
        (status = 409, description = "The request has already ended."),
    ))]
pub async fn cancel(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let secret = presented_secret(&request, &state, &id)?;
    state.signin.cancel(&client, &id, &secret).await?;
    Ok(HttpResponse::NoContent()
        .cookie(state.desktop_cookies().removal(&secret_cookie_name(&id)))
        .finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinBody {
    /// The digits the phone shows.
    pin: String,
}

/// `POST /api/login-requests/{id}/pin`: the screen types the PIN the phone shows. Wrong PINs
/// are counted atomically; the fifth locks the request (423 from then on, even for the right
/// PIN). A malformed PIN is refused without being counted.
#[utoipa::path(post, path = "/api/login-requests/{id}/pin", tag = "sign-in requests",
    params(IdPath), request_body = PinBody, security(("desktop_secret" = [])),
    responses(
        (status = 200, description = "The right PIN: the request may be redeemed.", body = RequestStatus),
        (status = 403, description = "`wrong_pin`, with `attempts_left`."),
        (status = 409, description = "`conflict`: the request is not waiting for a PIN."),
        (status = 423, description = "`locked`: too many wrong PINs."),
    ))]
#[tracing::instrument(name = "enter pin", skip_all, fields(request = %id.as_str()))]
pub async fn enter_pin(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    id: web::Path<String>,
    body: JsonObject<PinBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let secret = presented_secret(&request, &state, &id)?;
    let pin = body.into_inner().pin;
    let confirmed = state.signin.enter_pin(&client, &id, &secret, &pin).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RequestStatus::of(&confirmed, state.now())))
}

/// A screen signed in: its session (also set as the `qrlogin_desktop` cookie) and access token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Redeemed {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    user: qrlogin_auth::User,
}

/// What a registered client learns from its redeem: who signed in, for it alone.
#[derive(Serialize, utoipa::ToSchema)]
struct ClientRedeemed {
    id_token: String,
    /// Seconds the identity token may be presented.
    expires_in: i64,
    user: qrlogin_auth::User,
}

/// What a redeem answers: the screen's own sign-in, or a registered client's.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum RedeemAnswer {
    Screen(Redeemed),
    Client(ClientRedeemed),
}

/// `POST /api/login-requests/{id}/redeem`: exactly once, turns an approval into a session
/// (cookie) and an access token (JSON). With a registered client's API key, for that
/// client's request: an identity token for the client instead, and no qrlogin session.
#[utoipa::path(post, path = "/api/login-requests/{id}/redeem", operation_id = "redeem_login_request", tag = "sign-in requests",
    params(IdPath), request_body = EmptyBody,
    security(("desktop_secret" = []), ("desktop_secret" = [], "api_key" = [])),
    responses(
        (status = 200, description = "Signed in, once: a screen's session and access token, or with a client's API key, an identity token for that client.", body = RedeemAnswer),
        (status = 401, description = "The desktop secret is missing or wrong."),
        (status = 409, description = "`conflict`: not approved (yet), or already redeemed; `pin_required`: type the phone's PIN first."),
    ))]
#[tracing::instrument(name = "redeem login request", skip_all, fields(request = %id.as_str()))]
pub async fn redeem(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    ApiClient(registered): ApiClient,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let secret = presented_secret(&request, &state, &id)?;
    let secret_removal = state.desktop_cookies().removal(&secret_cookie_name(&id));
    if let Some(registered) = registered {
        let signed_in = state
            .signin
            .redeem_for_client(&client, &id, &secret, &registered, None)
            .await?;
        let id_token = state
            .keys
            .issue_identity(
                &signed_in.user,
                &registered.id,
                (signed_in.approved_at, &signed_in.amr),
                state.now(),
            )
            .map_err(ApiError::internal)?;
        return Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(secret_removal)
            .json(RedeemAnswer::Client(ClientRedeemed {
                id_token: id_token.expose_secret().to_owned(),
                expires_in: IDENTITY_TOKEN_TTL_MS / 1000,
                user: signed_in.user,
            })));
    }
    let signed_in = state.signin.redeem(&client, &id, &secret).await?;
    // The dashboard this screen opens next lists its own sign-in: stored before we answer,
    // unless the store is slow, in which case the sign-in is not held back for it.
    let _ = tokio::time::timeout(AUDIT_WAIT, state.audit.flush()).await;
    let mut response = signed_in_response(&state, signed_in)?;
    response
        .add_cookie(&secret_removal)
        .map_err(ApiError::internal)?;
    Ok(response)
}

/// A screen that is now signed in: its session cookie, and its access token in the body.
pub fn signed_in_response(
    state: &AppState,
    signed_in: flows::SignedIn,
) -> Result<HttpResponse, ApiError> {
    let (token, claims) = signed_in.access_token.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("a desktop session without an access token"))
    })?;
    let session_cookie = state.desktop_cookies().build(
        DESKTOP_SESSION,
        signed_in.token.expose().to_owned(),
        state.settings.session_ttl,
        SameSite::Strict,
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(session_cookie)
        .json(RedeemAnswer::Screen(Redeemed {
            access_token: token.expose_secret().to_owned(),
            token_type: "Bearer",
            expires_in: claims.exp - claims.iat,
            user: signed_in.session.user,
        })))
}
