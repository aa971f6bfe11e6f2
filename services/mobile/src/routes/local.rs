//! Local accounts on the phone: `POST /api/local/login`, and `POST /api/logout`.

use actix_web::{HttpResponse, web};
use qrlogin_auth::signin::{SignOutScope, SignedInCaller};
use qrlogin_web::auth::MobileUser;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::cookies::MOBILE_SESSION;

use crate::signed_in::signed_in_response;
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::{ApiError, AppState, ErrorCode};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: SecretString,
}

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
