//! Local accounts on the phone: `POST /api/local/login`, and `POST /api/logout`.

use actix_web::{HttpResponse, web};
use qrlogin_auth::signin::{SignOutScope, SignedInCaller};
use qrlogin_web::auth::MobileUser;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::cookies::MOBILE_SESSION;

use crate::signed_in::{PhoneSignedIn, signed_in_response};
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::{ApiError, AppState, ErrorCode};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// `POST /api/local/login`: a local account signs the phone in.
#[utoipa::path(post, path = "/api/local/login", tag = "phone",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in: the session is set as the `qrlogin_mobile` cookie.", body = PhoneSignedIn),
        (status = 401, description = "Wrong username or password (the same answer for both)."),
        (status = 403, description = "Local accounts are turned off on this server."),
        (status = 429, description = "Too many attempts: `Retry-After` says when to try again."),
    ))]
#[tracing::instrument(name = "local login", skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: JsonObject<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    if !state.settings.local_accounts {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Local accounts are turned off on this server.",
        ));
    }
    let body = body.into_inner();
    let signed_in = state
        .signin
        .local_sign_in(&client, &body.username, body.password)
        .await?;
    Ok(signed_in_response(&state, signed_in, HttpResponse::Ok()))
}

/// `POST /api/logout`: the phone signs out.
#[utoipa::path(post, path = "/api/logout", tag = "phone",
    request_body = EmptyBody, security(("mobile_session" = [])),
    responses(
        (status = 204, description = "Signed out: the cookie is removed."),
        (status = 401, description = "Not signed in."),
    ))]
pub async fn logout(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let who = SignedInCaller {
        user: &caller.user,
        session_id: &caller.session_id,
        access_token: None,
    };
    state
        .signin
        .sign_out(&client, who, SignOutScope::ThisSession)
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(state.mobile_cookies().removal(MOBILE_SESSION))
        .finish())
}
