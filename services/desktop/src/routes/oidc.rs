//! OpenID Connect, the browser's side: `GET /oauth/authorize` (the QR page, made for the web
//! app that sent the browser), `POST /oauth/authorize/finish` (the approval goes back to the
//! app with a code), `POST /oauth/authorize/cancel` (back without one), `/oauth/userinfo`,
//! `/oauth/logout` (RP-initiated logout) and `/.well-known/openid-configuration`. The token
//! endpoint and revocation are in `oauth`, with the device grant.
//!
//! The rules are `SignIn`'s (`qrlogin_auth::signin::authorization`); these handlers translate.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::oidc::AuthorizationParams;
use qrlogin_auth::refusal::{ErrorCode, Refusal};
use qrlogin_auth::signin::authorization::{AppLogout, AuthorizeRefusal, LoggedOut};
use qrlogin_web::client::ClientInfo;
use qrlogin_web::i18n::Text;
use qrlogin_web::pages::message_page;
use qrlogin_web::{ApiError, AppState};
use serde_json::json;

use super::login_requests::{parse_id, presented_secret};
use super::oauth::parameters;

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A refusal shown to the person: nothing is sent to an address we do not trust.
fn refused_page(state: &AppState, t: &Text, refusal: &Refusal) -> HttpResponse {
    let status = qrlogin_web::error::status_of(refusal.code);
    message_page(
        state,
        t,
        status,
        &t.get("message-app-signin-refused-title"),
        &refusal.message,
        None,
    )
}

/// `GET /oauth/authorize`: the web app's request checked, then the QR page made for it.
pub async fn authorize(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    t: Text,
) -> Result<HttpResponse, ApiError> {
    let mut params = match parameters(request.query_string().as_bytes()) {
        Ok(params) => params,
        Err(why) => return Ok(refused_page(&state, &t, &Refusal::invalid(why))),
    };
    let mut take = |name: &str| params.remove(name);
    let asked = AuthorizationParams {
        response_type: take("response_type"),
        client_id: take("client_id"),
        redirect_uri: take("redirect_uri"),
        scope: take("scope"),
        state: take("state"),
        nonce: take("nonce"),
        code_challenge: take("code_challenge"),
        code_challenge_method: take("code_challenge_method"),
        prompt: take("prompt"),
        request: take("request"),
        request_uri: take("request_uri"),
    };
    match state.signin.begin_authorization(&client, &asked).await {
        Ok((authorization, client)) => {
            let returns_to = url::Url::parse(&authorization.redirect_uri)
                .map(|url| url.origin().ascii_serialization())
                .map_err(ApiError::internal)?;
            let app = crate::pages::ForApp {
                authorization: &authorization.id,
                returns_to: &returns_to,
            };
            crate::pages::sign_in_page(&t, &client.name, Some(app))
        }
        Err(AuthorizeRefusal::Redirected { redirect }) => Ok(see_other(&redirect)),
        Err(AuthorizeRefusal::Shown(refusal)) if refusal.code == ErrorCode::RateLimited => {
            Err(refusal.into())
        }
        Err(AuthorizeRefusal::Shown(refusal)) => Ok(refused_page(&state, &t, &refusal)),
    }
}

fn form_field(form: &HashMap<String, String>, name: &str) -> Result<String, ApiError> {
    form.get(name)
        .cloned()
        .ok_or_else(|| ApiError::invalid(format!("{name} is required.")))
}

/// `POST /oauth/authorize/finish` (`authorization`, `request`): the page's request was
/// approved; redeemed with this browser's desktop secret, and the browser goes back to the
/// app with its code.
pub async fn finish(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    t: Text,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = parameters(&body).map_err(ApiError::invalid)?;
    let authorization = form_field(&form, "authorization")?;
    let id = parse_id(&form_field(&form, "request")?)?;
    let secret = presented_secret(&request, &state, &id)?;
    match state
        .signin
        .complete_authorization(&client, &authorization, &id, &secret)
        .await
    {
        Ok(back) => Ok(see_other(&back)),
        Err(refusal) => Ok(refused_page(&state, &t, &refusal)),
    }
}

/// `POST /oauth/authorize/cancel` (`authorization`): back to the app without signing in
/// (`access_denied`).
pub async fn cancel(
    state: web::Data<AppState>,
    t: Text,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = parameters(&body).map_err(ApiError::invalid)?;
    let authorization = form_field(&form, "authorization")?;
    match state.signin.abandon_authorization(&authorization).await {
        Ok(back) => Ok(see_other(&back)),
        Err(refusal) => Ok(refused_page(&state, &t, &refusal)),
    }
}

/// What the userinfo endpoint says of the user (OpenID Connect Core §5.3.2).
#[derive(serde::Serialize, utoipa::ToSchema)]
struct UserInfoClaims {
    /// The user's stable id (`local:alice`, `mentra:…`).
    sub: String,
    /// With the `profile` scope only.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// `GET|POST /oauth/userinfo` with a web app's access token: who it is about (`sub`, and
/// `name` with the `profile` scope), while the sign-in lasts.
#[utoipa::path(method(get, post), path = "/oauth/userinfo", tag = "OAuth and OpenID Connect",
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The claims, while the sign-in lasts.", body = UserInfoClaims),
        (status = 401, description = "No token, or not a live one: `WWW-Authenticate` says which (RFC 6750 §3.1).",
            headers(("WWW-Authenticate" = String, description = "`Bearer`, or `Bearer error=\"invalid_token\"`."))),
    ))]
pub async fn userinfo(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let token = qrlogin_web::auth::bearer_token(&request);
    let info = match &token {
        Some(token) => state.signin.userinfo(token).await,
        None => Err(Refusal::new(
            ErrorCode::Unauthenticated,
            "Send the access token as Authorization: Bearer.",
        )),
    };
    match info {
        Ok(info) => {
            let claims = UserInfoClaims {
                sub: info.user.id,
                name: info.scopes.profile.then_some(info.user.name),
            };
            Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(claims))
        }
        // RFC 6750 §3.1: a refused token's challenge says why; a missing one's says only
        // how to authenticate; trouble of ours is no challenge at all.
        Err(refusal) => {
            let challenge = match (&token, refusal.code) {
                (_, code) if code != ErrorCode::Unauthenticated => None,
                (Some(_), _) => Some(r#"Bearer error="invalid_token""#),
                (None, _) => Some("Bearer"),
            };
            // Carrying the error, the response keeps its message and the challenge below
            // through the error renderer.
            let mut response = HttpResponse::from_error(ApiError::from(refusal));
            if let Some(challenge) = challenge {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(challenge),
                );
            }
            Ok(response)
        }
    }
}

/// `GET|POST /oauth/logout` (OpenID Connect RP-initiated logout): the sign-in the
/// `id_token_hint` names ends; the browser goes back to the app at a registered
/// `post_logout_redirect_uri`, or is shown that it is signed out.
pub async fn logout(
    state: web::Data<AppState>,
    request: HttpRequest,
    client: ClientInfo,
    t: Text,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let encoded = match request.method() == actix_web::http::Method::POST {
        true => body.to_vec(),
        false => request.query_string().as_bytes().to_vec(),
    };
    let params = match parameters(&encoded) {
        Ok(params) => params,
        Err(why) => return Ok(refused_page(&state, &t, &Refusal::invalid(why))),
    };
    let param = |name: &str| params.get(name).map(String::as_str);
    let asked = AppLogout {
        id_token_hint: param("id_token_hint"),
        client_id: param("client_id"),
        post_logout_redirect_uri: param("post_logout_redirect_uri"),
        state: param("state"),
    };
    match state.signin.end_app_session(&client, &asked).await {
        Ok(LoggedOut {
            back: Some(back), ..
        }) => Ok(see_other(&back)),
        Ok(LoggedOut { back: None, app }) => Ok(message_page(
            &state,
            &t,
            StatusCode::OK,
            &t.get("message-app-signed-out-title"),
            &t.with("message-app-signed-out-detail", &[("app", &app)]),
            None,
        )),
        Err(refusal) => Ok(refused_page(&state, &t, &refusal)),
    }
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0), consistent with
/// the RFC 8414 metadata and the JWKS.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "OAuth and OpenID Connect",
    responses((status = 200, description = "The provider's configuration (OpenID Connect Discovery 1.0), the RFC 8414 metadata and more.", body = Object)))]
pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let base = &state.settings.desktop_public_url;
    let mut metadata = super::oauth::provider_metadata(&state);
    metadata["userinfo_endpoint"] = base.join("/oauth/userinfo").into();
    metadata["end_session_endpoint"] = base.join("/oauth/logout").into();
    metadata["subject_types_supported"] = json!(["public"]);
    metadata["request_parameter_supported"] = false.into();
    metadata["request_uri_parameter_supported"] = false.into();
    metadata["claims_supported"] = json!([
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "amr",
        "sid",
        "name"
    ]);
    HttpResponse::Ok().json(metadata)
}
