//! RFC 8628, the OAuth 2.0 device authorization grant, on the same login requests:
//! `POST /oauth/device_authorization`, `POST /oauth/token` and the RFC 8414 metadata at
//! `/.well-known/oauth-authorization-server`, so any OAuth library can sign a user in.
//!
//! These endpoints speak OAuth's own error shape (`error`, `error_description`), which the
//! libraries parse; `message` repeats the description in qrlogin's shape.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::LoginState;
use qrlogin_auth::client::{ConfirmationMode, RegisteredClient, registry};
use qrlogin_auth::device::{self, DEVICE_CODE_GRANT, PACES, Pace};
use qrlogin_auth::flows::{self, FlowError};
use qrlogin_auth::signin::Requester;
use qrlogin_auth::store::{get_ephemeral_json, put_ephemeral_json};
use qrlogin_web::client::ClientInfo;
use qrlogin_web::error::ProtocolErrorBody;
use qrlogin_web::{ApiError, AppState, ErrorCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// An OAuth error answer (RFC 6749 §5.2, RFC 8628 §3.5).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.extensions_mut().insert(ProtocolErrorBody);
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({
            "error": error,
            "error_description": description,
            "message": description,
        }))
}

fn invalid_request(description: &str) -> HttpResponse {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// The form parameters (RFC 6749 §3.2: `application/x-www-form-urlencoded`, no parameter
/// twice), or why not (for an `invalid_request`).
fn form(request: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, String> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err("Send the parameters as application/x-www-form-urlencoded.".into());
    }
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body).into_owned() {
        if params.insert(name.clone(), value).is_some() {
            return Err(format!("The parameter {name} is repeated."));
        }
    }
    Ok(params)
}

/// The registered client `client_id`, or the answer for an unknown one.
async fn registered(state: &AppState, client_id: &str) -> Result<RegisteredClient, HttpResponse> {
    match registry::load(&*state.store, client_id).await {
        Ok(Some(registered)) => Ok(registered),
        // 400, not 401: the client did not try to authenticate with the Authorization header
        // (RFC 6749 §5.2).
        Ok(None) => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "No client is registered with that client_id.",
        )),
        Err(error) => Err(unavailable(error)),
    }
}

/// Trouble that is ours, not the client's (the store, a budget): answered in qrlogin's shape.
fn unavailable(error: impl Into<ApiError>) -> HttpResponse {
    actix_web::ResponseError::error_response(&error.into())
}

/// `POST /oauth/device_authorization` (`client_id`): a login request for a device, as codes.
#[tracing::instrument(name = "device authorization", skip_all)]
pub async fn device_authorization(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&request, &body) {
        Ok(params) => params,
        Err(why) => return invalid_request(&why),
    };
    let Some(client_id) = params.get("client_id") else {
        return invalid_request("client_id is required.");
    };
    let registered = match registered(&state, client_id).await {
        Ok(registered) => registered,
        Err(refused) => return refused,
    };
    if registered.confirmation == ConfirmationMode::Pin {
        // A device cannot type the phone's PIN, and silently tapping instead would weaken
        // what the client asked for.
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "This client confirms sign-ins with a PIN typed on its screen, which the device flow cannot do.",
        );
    }
    // Anyone may call this with a public client id: the caller's IP pays, not the client's
    // own budget (which its server needs).
    let new = match state
        .signin
        .create(&client, Requester::DeviceGrant(&registered))
        .await
    {
        Ok(new) => new,
        Err(refused) if refused.code == ErrorCode::RateLimited => {
            return oauth_error(StatusCode::TOO_MANY_REQUESTS, "slow_down", &refused.message);
        }
        Err(refused) => return unavailable(refused),
    };
    let now = state.now();
    let settings = &state.settings;
    let request = &new.request;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "device_code": device::device_code(&request.id, new.desktop_secret.expose_secret()),
            "user_code": request.user_code.display(),
            "verification_uri": settings.mobile_public_url.join("/scan"),
            "verification_uri_complete": settings.mobile_public_url.join(&format!("/s/{}", request.id)),
            "expires_in": (request.expires_at - now) / 1000,
            "interval": device::POLL_INTERVAL_S,
        }))
}

/// `POST /oauth/token` with the device-code grant: `authorization_pending` until the phone
/// approves, then the tokens, once; `slow_down` for polls too soon (the interval growing by
/// 5 s each time, for good); `access_denied`; `expired_token`.
#[tracing::instrument(name = "device token", skip_all)]
pub async fn token(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&request, &body) {
        Ok(params) => params,
        Err(why) => return invalid_request(&why),
    };
    let param = |name: &str| params.get(name).map(String::as_str);
    match param("grant_type") {
        Some(DEVICE_CODE_GRANT) => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only the device code grant is offered here.",
            );
        }
        None => return invalid_request("grant_type is required."),
    }
    let (Some(code), Some(client_id)) = (param("device_code"), param("client_id")) else {
        return invalid_request("device_code and client_id are required.");
    };
    let invalid_grant = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let Some((id, secret)) = device::parse_device_code(code) else {
        return invalid_grant("That device code is not one of ours.");
    };
    let registered = match registered(&state, client_id).await {
        Ok(registered) => registered,
        Err(refused) => return refused,
    };
    let now = state.now();
    let request = match flows::load(&*state.store, &id, now).await {
        Ok(request) => request,
        Err(FlowError::NotFound) => return invalid_grant("That device code is not one of ours."),
        Err(error) => return unavailable(error),
    };
    // Only the device grant's own requests: one a client's server made with its API key is
    // redeemed with that key, never here with a public client id.
    if !request.secret_hash.matches(secret)
        || !request.screen.device_grant
        || request.screen.client_id.as_deref() != Some(client_id)
    {
        return invalid_grant("That device code was not issued to this client.");
    }
    let previous = match get_ephemeral_json::<Pace>(&*state.store, PACES, id.as_str()).await {
        Ok(previous) => previous,
        Err(error) => return unavailable(error),
    };
    let (pace, too_soon) = Pace::poll(previous, now);
    let kept_until = request.expires_at + 60_000;
    if let Err(error) =
        put_ephemeral_json(&*state.store, PACES, id.as_str(), &pace, kept_until).await
    {
        return unavailable(error);
    }
    if too_soon {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "slow_down",
            &format!(
                "Polling too fast: wait {} seconds between polls from now on.",
                pace.interval_s
            ),
        );
    }
    match request.state_at(now) {
        LoginState::Pending | LoginState::Claimed => oauth_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "Waiting for the user to approve on their phone.",
        ),
        LoginState::Denied | LoginState::Cancelled | LoginState::Locked => oauth_error(
            StatusCode::BAD_REQUEST,
            "access_denied",
            "The user did not approve this sign-in.",
        ),
        LoginState::Expired => oauth_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            "The device code has expired: start again.",
        ),
        LoginState::Redeemed => invalid_grant("That device code was already used."),
        LoginState::Approved => {
            issue_tokens(&state, &client, &id, secret.to_owned().into(), &registered).await
        }
    }
}

async fn issue_tokens(
    state: &AppState,
    client: &ClientInfo,
    id: &qrlogin_auth::RequestId,
    secret: SecretString,
    registered: &RegisteredClient,
) -> HttpResponse {
    let client_id = registered.id.as_str();
    let now = state.now();
    let redeemed = state
        .signin
        .redeem_for_client(client, id, &secret, registered, Some("OAuth device token"))
        .await;
    let signed_in = match redeemed {
        Ok(signed_in) => signed_in,
        Err(refused) => {
            // Told in OAuth's terms, like every other answer here.
            let answer = match refused.code {
                ErrorCode::Expired => {
                    Some(("expired_token", "The device code has expired: start again."))
                }
                ErrorCode::Forbidden => Some((
                    "access_denied",
                    "This account is disabled, or its owner signed out everywhere.",
                )),
                ErrorCode::Conflict | ErrorCode::NotFound | ErrorCode::Locked => {
                    Some(("invalid_grant", "That device code was already used."))
                }
                _ => None,
            };
            return match answer {
                Some((code, description)) => {
                    oauth_error(StatusCode::BAD_REQUEST, code, description)
                }
                None => unavailable(refused),
            };
        }
    };
    let ttl = state.settings.lifetimes().access_token_ttl_ms;
    let tokens = state
        .keys
        .issue_for_client(client_id, &signed_in.user, now, ttl)
        .and_then(|(access, claims)| {
            let identity = state.keys.issue_identity(
                &signed_in.user,
                client_id,
                signed_in.approved_at,
                now,
            )?;
            Ok((access, claims, identity))
        });
    let (access_token, claims, id_token) = match tokens {
        Ok(tokens) => tokens,
        Err(error) => return unavailable(ApiError::internal(error)),
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({
            "access_token": access_token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": claims.exp - claims.iat,
            "id_token": id_token.expose_secret(),
        }))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let base = &state.settings.desktop_public_url;
    HttpResponse::Ok().json(json!({
        "issuer": state.keys.issuer(),
        "device_authorization_endpoint": base.join("/oauth/device_authorization"),
        "token_endpoint": base.join("/oauth/token"),
        "jwks_uri": base.join("/.well-known/jwks.json"),
        "grant_types_supported": [DEVICE_CODE_GRANT],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }))
}
