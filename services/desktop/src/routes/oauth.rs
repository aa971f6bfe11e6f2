//! RFC 8628, the OAuth 2.0 device authorization grant, on the same login requests:
//! `POST /oauth/device_authorization`, `POST /oauth/token` and the RFC 8414 metadata at
//! `/.well-known/oauth-authorization-server`, so any OAuth library can sign a user in.
//!
//! These endpoints speak OAuth's own error shape (`error`, `error_description`), which the
//! libraries parse; `message` repeats the description in qrlogin's shape.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::device::DEVICE_CODE_GRANT;
use qrlogin_auth::signin::device_grant::GrantError;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::error::ProtocolErrorBody;
use qrlogin_web::{ApiError, AppState};
use secrecy::ExposeSecret;
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

/// Trouble that is ours, not the client's (the store, …): answered in qrlogin's shape.
fn unavailable(error: impl Into<ApiError>) -> HttpResponse {
    actix_web::ResponseError::error_response(&error.into())
}

/// A refusal of the grant in OAuth's shape (`slow_down` with `slow_down_status`); trouble of
/// ours in qrlogin's.
fn grant_error(refused: GrantError, slow_down_status: StatusCode) -> HttpResponse {
    let status = match refused {
        GrantError::Refused(refusal) => return unavailable(refusal),
        GrantError::SlowDown(_) => slow_down_status,
        // 400 for an unknown client too, not 401: the client did not try to authenticate
        // with the Authorization header (RFC 6749 §5.2).
        _ => StatusCode::BAD_REQUEST,
    };
    oauth_error(status, refused.code(), refused.description())
}

/// `POST /oauth/device_authorization` (`client_id`): a login request for a device, as codes,
/// for a client registered for the device grant (else `unauthorized_client`).
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
    let codes = match state.signin.authorize_device(&client, client_id).await {
        Ok(codes) => codes,
        // Too many codes asked for from this address: 429, with OAuth's word for it.
        Err(refused) => return grant_error(refused, StatusCode::TOO_MANY_REQUESTS),
    };
    let settings = &state.settings;
    let request = &codes.request;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "device_code": codes.device_code.expose_secret(),
            "user_code": request.user_code.display(),
            "verification_uri": settings.mobile_public_url.join("/scan"),
            "verification_uri_complete": settings.mobile_public_url.join(&format!("/s/{}", request.id)),
            "expires_in": codes.expires_in_s,
            "interval": codes.interval_s,
        }))
}

/// `POST /oauth/token` with the device-code grant: `authorization_pending` until the phone
/// approves, then the tokens, once; `slow_down` for polls too soon (the interval growing by
/// 5 s each time, for good); `access_denied`; `expired_token`. The rules are the sign-in
/// service's ([`qrlogin_auth::signin::device_grant`]).
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
    let tokens = match state.signin.device_token(&client, client_id, code).await {
        Ok(tokens) => tokens,
        Err(refused) => return grant_error(refused, StatusCode::BAD_REQUEST),
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({
            "access_token": tokens.access_token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": tokens.expires_in_s,
            "id_token": tokens.id_token.expose_secret(),
        }))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414). The device code grant is
/// supported, for the clients registered for it; the others are told `unauthorized_client`
/// (RFC 8414 has no per-client field to say so here).
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
