//! RFC 8628, the OAuth 2.0 device authorization grant, on the same login requests:
//! `POST /oauth/device_authorization`, `POST /oauth/token` and the RFC 8414 metadata at
//! `/.well-known/oauth-authorization-server`, so any OAuth library can sign a user in.
//!
//! These endpoints speak OAuth's own error shape (`error`, `error_description`), which the
//! libraries parse; `message` repeats the description in qrlogin's shape.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use qrlogin_auth::client::registry;
use qrlogin_auth::device::DEVICE_CODE_GRANT;
use qrlogin_auth::signin::authorization::{AppTokens, ClientCredentials};
use qrlogin_auth::signin::device_grant::GrantError;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::error::ProtocolErrorBody;
use qrlogin_web::{ApiError, AppState};
use secrecy::ExposeSecret;
use serde_json::json;

/// OAuth's error shape (RFC 6749 §5.2, RFC 8628 §3.5), with qrlogin's `message` beside it.
/// Trouble of ours (the store away…) is answered in qrlogin's shape, which has `error` and
/// `message` too.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OAuthError<'a> {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `authorization_pending`, `slow_down`, `access_denied`,
    /// `expired_token`; or one of qrlogin's codes for trouble of ours.
    error: &'a str,
    #[schema(required = false)]
    error_description: &'a str,
    message: &'a str,
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 8628 §3.5).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.extensions_mut().insert(ProtocolErrorBody);
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(OAuthError {
            error,
            error_description: description,
            message: description,
        })
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
    parameters(body)
}

/// Query or form parameters, none twice (RFC 6749 §3.1, §3.2), or why not.
pub fn parameters(encoded: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(encoded).into_owned() {
        if params.insert(name.clone(), value).is_some() {
            return Err(format!("The parameter {name} is repeated."));
        }
    }
    Ok(params)
}

/// Trouble that is ours, not the client's (the store, …): answered in qrlogin's shape. The
/// response carries the error, so the error renderer keeps its message and headers.
fn unavailable(error: impl Into<ApiError>) -> HttpResponse {
    HttpResponse::from_error(error.into())
}

/// A refusal of the grant in OAuth's shape (`slow_down` with `slow_down_status`); trouble of
/// ours in qrlogin's.
fn grant_error(refused: GrantError, slow_down_status: StatusCode) -> HttpResponse {
    let status = match refused {
        GrantError::Refused(refusal) => return unavailable(refusal),
        GrantError::SlowDown(_) => slow_down_status,
        // A client that tried to authenticate and failed (RFC 6749 §5.2).
        GrantError::ClientAuthentication => {
            let mut response = oauth_error(
                StatusCode::UNAUTHORIZED,
                refused.code(),
                refused.description(),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(r#"Basic realm="qrlogin""#),
            );
            return response;
        }
        // 400 for an unknown client too, not 401: the client did not try to authenticate
        // with the Authorization header (RFC 6749 §5.2).
        _ => StatusCode::BAD_REQUEST,
    };
    oauth_error(status, refused.code(), refused.description())
}

/// The device authorization request's form (RFC 8628 §3.1).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Read parameter by parameter (none twice); this names them for the document.
struct DeviceAuthorizationForm {
    client_id: String,
}

/// The codes a device shows (RFC 8628 §3.2).
#[derive(serde::Serialize, utoipa::ToSchema)]
struct DeviceAuthorization<'a> {
    /// What the device polls the token endpoint with.
    device_code: &'a str,
    /// What the user may type on the phone instead of scanning.
    user_code: String,
    verification_uri: String,
    /// What the device shows as a QR code.
    verification_uri_complete: String,
    expires_in: i64,
    /// Seconds to wait between polls.
    interval: i64,
}

/// `POST /oauth/device_authorization` (`client_id`): a login request for a device, as codes,
/// for a client registered for the device grant (else `unauthorized_client`).
#[utoipa::path(post, path = "/oauth/device_authorization", tag = "OAuth and OpenID Connect",
    request_body(content = DeviceAuthorizationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The codes to show (RFC 8628 §3.2).", body = DeviceAuthorization),
        (status = 429, description = "Too many codes asked for from this network.", body = OAuthError),
        (status = "default", description = "Refused (RFC 6749 §5.2).", body = OAuthError),
    ))]
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
        .json(DeviceAuthorization {
            device_code: codes.device_code.expose_secret(),
            user_code: request.user_code.display(),
            verification_uri: settings.mobile_public_url.join("/scan"),
            verification_uri_complete: settings
                .mobile_public_url
                .join(&format!("/s/{}", request.id)),
            expires_in: codes.expires_in_s,
            interval: codes.interval_s,
        })
}

/// `POST /oauth/token`: the device-code grant (`authorization_pending` until the phone
/// approves, then the tokens, once; `slow_down` for polls too soon, the interval growing by
/// 5 s each time, for good; `access_denied`; `expired_token`), and for web apps (OpenID
/// Connect) the `authorization_code` and `refresh_token` grants, with the client
/// authenticated by `client_secret_basic`, `client_secret_post`, or nothing but PKCE for a
/// public client. The rules are the sign-in service's.
#[utoipa::path(post, path = "/oauth/token", tag = "OAuth and OpenID Connect",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "The tokens (RFC 6749 §5.1): `refresh_token` and `scope` for web apps' grants.", body = Tokens),
        (status = 400, description = "Refused (RFC 6749 §5.2, RFC 8628 §3.5): `authorization_pending`, `slow_down`, `invalid_grant`…", body = OAuthError),
        (status = 401, description = "`invalid_client`: the client's credentials are wrong.", body = OAuthError),
        (status = "default", description = "Refused.", body = OAuthError),
    ))]
#[tracing::instrument(name = "token", skip_all)]
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
    let answer = token_answer(&state, &request, &client, &params).await;
    open_to_app(&state, &request, params.get("client_id"), answer).await
}

/// The token request's form: one grant's parameters (RFC 6749 §4.1.3, §6; RFC 8628 §3.4).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Read parameter by parameter (none twice); this names them for the document.
struct TokenForm {
    /// `authorization_code`, `refresh_token` or `urn:ietf:params:oauth:grant-type:device_code`.
    grant_type: String,
    client_id: Option<String>,
    /// `client_secret_post`; or send `Authorization: Basic`; a public client sends neither.
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    /// PKCE (RFC 7636): the verifier of the authorization's `code_challenge`.
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    device_code: Option<String>,
}

/// What a grant gives (RFC 6749 §5.1).
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Tokens<'a> {
    /// An `at+jwt`, for the userinfo endpoint (web apps) or the app's own API.
    access_token: &'a str,
    #[schema(examples("Bearer"))]
    token_type: &'static str,
    expires_in: i64,
    /// Who signed in, signed with a key of the JWKS.
    id_token: &'a str,
    /// Web apps' grants only: rotated at every use.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    /// Web apps' grants only.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

async fn token_answer(
    state: &AppState,
    request: &HttpRequest,
    client: &ClientInfo,
    params: &HashMap<String, String>,
) -> HttpResponse {
    let param = |name: &str| params.get(name).map(String::as_str);
    match param("grant_type") {
        Some(DEVICE_CODE_GRANT) => device_token(state, client, params).await,
        Some(grant @ ("authorization_code" | "refresh_token")) => {
            let credentials = match credentials(request, params) {
                Ok(credentials) => credentials,
                Err(why) => return invalid_request(&why),
            };
            let presented = ClientCredentials {
                client_id: &credentials.0,
                secret: credentials.1.as_deref(),
            };
            let signin = &state.signin;
            let tokens = match (grant, param("code"), param("refresh_token")) {
                ("authorization_code", Some(code), _) => {
                    let (redirect_uri, verifier) = (param("redirect_uri"), param("code_verifier"));
                    signin
                        .exchange_code(client, &presented, code, redirect_uri, verifier)
                        .await
                }
                ("refresh_token", _, Some(token)) => {
                    signin.refresh_app_tokens(client, &presented, token).await
                }
                ("authorization_code", ..) => return invalid_request("code is required."),
                _ => return invalid_request("refresh_token is required."),
            };
            match tokens {
                Ok(tokens) => app_tokens(&tokens),
                Err(refused) => grant_error(refused, StatusCode::BAD_REQUEST),
            }
        }
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The grants offered are authorization_code, refresh_token and the device code.",
        ),
        None => invalid_request("grant_type is required."),
    }
}

async fn device_token(
    state: &AppState,
    client: &ClientInfo,
    params: &HashMap<String, String>,
) -> HttpResponse {
    let (Some(code), Some(client_id)) = (params.get("device_code"), params.get("client_id")) else {
        return invalid_request("device_code and client_id are required.");
    };
    let tokens = match state.signin.device_token(client, client_id, code).await {
        Ok(tokens) => tokens,
        Err(refused) => return grant_error(refused, StatusCode::BAD_REQUEST),
    };
    no_store(HttpResponse::Ok()).json(Tokens {
        access_token: tokens.access_token.expose_secret(),
        token_type: "Bearer",
        expires_in: tokens.expires_in_s,
        id_token: tokens.id_token.expose_secret(),
        refresh_token: None,
        scope: None,
    })
}

fn app_tokens(tokens: &AppTokens) -> HttpResponse {
    no_store(HttpResponse::Ok()).json(Tokens {
        access_token: tokens.access_token.expose_secret(),
        token_type: "Bearer",
        expires_in: tokens.expires_in_s,
        id_token: tokens.id_token.expose_secret(),
        refresh_token: Some(tokens.refresh_token.expose_secret()),
        scope: Some(tokens.scope),
    })
}

/// OAuth's answers are not cached by HTTP/1.0 caches either (RFC 6749 §5.1).
fn no_store(response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    let mut response = qrlogin_web::http::no_store(response);
    response.insert_header((header::PRAGMA, "no-cache"));
    response
}

/// The client's id and secret: from `Authorization: Basic` (RFC 6749 §2.3.1, both parts
/// form-encoded) or from the form (`client_secret_post`; a public client sends its id
/// alone), never both.
fn credentials(
    request: &HttpRequest,
    params: &HashMap<String, String>,
) -> Result<(String, Option<String>), String> {
    let basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim().to_owned());
    match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            Err("Authenticate one way: the Authorization header or client_secret, not both.".into())
        }
        (Some(encoded), None) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or("The Authorization header is not valid Basic credentials.")?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or("The Authorization header is not valid Basic credentials.")?;
            let decode = |part: &str| {
                url::form_urlencoded::parse(format!("v={part}").as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default()
            };
            let id = decode(id);
            if params.get("client_id").is_some_and(|sent| *sent != id) {
                return Err("client_id does not match the Authorization header.".into());
            }
            Ok((id, Some(decode(secret))))
        }
        (None, secret) => {
            let id = params.get("client_id").ok_or("client_id is required.")?;
            Ok((id.clone(), secret.cloned()))
        }
    }
}

/// `POST /oauth/revoke` (RFC 7009): the client revokes one of its tokens (a refresh token
/// ends its sign-in). 200 whatever the token was, as the RFC asks.
#[utoipa::path(post, path = "/oauth/revoke", tag = "OAuth and OpenID Connect",
    request_body(content = RevocationForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or it was no live token of this client's (RFC 7009 §2.2): an empty body."),
        (status = 401, description = "`invalid_client`: the client's credentials are wrong.", body = OAuthError),
        (status = "default", description = "Refused (RFC 7009 §2.2.1).", body = OAuthError),
    ))]
#[tracing::instrument(name = "revoke", skip_all)]
pub async fn revoke(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&request, &body) {
        Ok(params) => params,
        Err(why) => return invalid_request(&why),
    };
    let (id, secret) = match credentials(&request, &params) {
        Ok(credentials) => credentials,
        Err(why) => return invalid_request(&why),
    };
    let Some(token) = params.get("token") else {
        return invalid_request("token is required.");
    };
    let presented = ClientCredentials {
        client_id: &id,
        secret: secret.as_deref(),
    };
    let answer = match state.signin.revoke_app_token(&presented, token).await {
        Ok(()) => no_store(HttpResponse::Ok()).finish(),
        Err(refused) => grant_error(refused, StatusCode::BAD_REQUEST),
    };
    open_to_app(&state, &request, Some(&id), answer).await
}

/// The revocation request's form (RFC 7009 §2.1).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Read parameter by parameter (none twice); this names them for the document.
struct RevocationForm {
    /// A refresh token (ends its sign-in) or an access token.
    token: String,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Lets a page of a browser-based app read the answer (CORS), when the caller's `Origin` is
/// one the app registered (`clients add --origin`). Its posts need no preflight: a form body
/// and no header of its own (a public app sends no secret).
async fn open_to_app(
    state: &AppState,
    request: &HttpRequest,
    client_id: Option<&String>,
    mut answer: HttpResponse,
) -> HttpResponse {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let (Some(origin), Some(client_id)) = (origin, client_id) else {
        return answer;
    };
    let registered = registry::load(&*state.store, client_id).await;
    if let Ok(Some(app)) = registered
        && app.allows_origin(origin)
        && let Ok(value) = header::HeaderValue::from_str(origin)
    {
        let headers = answer.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
    }
    answer
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414). The device code grant is
/// supported for the clients registered for it (the others are told `unauthorized_client`:
/// RFC 8414 has no per-client field to say so here); the code flow for web apps, with PKCE.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "OAuth and OpenID Connect",
    responses((status = 200, description = "The authorization server's metadata (RFC 8414).", body = Object)))]
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(provider_metadata(&state))
}

/// What RFC 8414 and OpenID Connect Discovery both say of this provider.
pub fn provider_metadata(state: &AppState) -> serde_json::Value {
    let base = &state.settings.desktop_public_url;
    json!({
        "issuer": state.keys.issuer(),
        "authorization_endpoint": base.join("/oauth/authorize"),
        "device_authorization_endpoint": base.join("/oauth/device_authorization"),
        "token_endpoint": base.join("/oauth/token"),
        "revocation_endpoint": base.join("/oauth/revoke"),
        "jwks_uri": base.join("/.well-known/jwks.json"),
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "scopes_supported": ["openid", "profile"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "id_token_signing_alg_values_supported": state.keys.identity_algorithms(),
        "authorization_response_iss_parameter_supported": true,
    })
}
