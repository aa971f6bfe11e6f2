//! Local accounts on the phone: `POST /api/local/login`, and `POST /api/logout`.

use actix_web::cookie::SameSite;
use actix_web::{HttpResponse, web};
use qrlogin_auth::account::{Username, dummy_password_hash, verify_password};
use qrlogin_auth::audit::AuditEvent;
use qrlogin_auth::flows;
use qrlogin_auth::session::SessionKind;
use qrlogin_web::audit::Audit;
use qrlogin_web::auth::MobileUser;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::cookies::MOBILE_SESSION;
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::limits::{self, Bucket};
use qrlogin_web::telemetry::spawn_blocking_with_tracing;
use qrlogin_web::{ApiError, AppState, ErrorCode};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: SecretString,
}

/// Starts a mobile session and sets its cookie; shared by every way of signing in.
pub async fn signed_in_response(
    state: &AppState,
    user: qrlogin_auth::User,
    client: &ClientInfo,
    mut response: actix_web::HttpResponseBuilder,
) -> Result<HttpResponse, ApiError> {
    let signed_in = flows::sign_in(
        &*state.store,
        &state.keys,
        SessionKind::Mobile,
        user,
        client.device(),
        state.now(),
        &state.settings.lifetimes(),
    )
    .await?;
    let cookie = state.mobile_cookies().build(
        MOBILE_SESSION,
        signed_in.token.expose().to_owned(),
        state.settings.session_ttl,
        SameSite::Lax,
    );
    Ok(response
        .cookie(cookie)
        .json(serde_json::json!({ "user": signed_in.session.user })))
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
    let wrong = || ApiError::unauthenticated("Wrong username or password.");
    let account_key = body.username.trim().to_ascii_lowercase();
    let mut audit = Audit::of(&state, &client, AuditEvent::PhoneSignIn);
    audit.detail("local account");
    let signed_in = async {
        // Spent before the password is checked: parallel guesses cannot outrun the count.
        limits::spend(&state, &client, Bucket::LoginPerIp, &client.ip).await?;
        limits::spend(&state, &client, Bucket::LoginPerAccount, &account_key).await?;
        let account = match Username::parse(&body.username) {
            Ok(username) => state.store.load_account(&username).await?,
            Err(_) => None,
        };
        // Verify even when there is no such account, so timing does not tell which it was.
        let hash = account.as_ref().map_or_else(
            || dummy_password_hash().to_owned(),
            |a| a.password_hash.clone(),
        );
        let password = body.password;
        let verified = spawn_blocking_with_tracing(move || verify_password(&password, &hash))
            .await
            .map_err(ApiError::internal)?;
        let account = account.filter(|_| verified).ok_or_else(wrong)?;
        // Named only once the password is right: the trail does not record guessed names as users.
        audit.user(&account.user().id);
        if account.disabled {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "This account is disabled.",
            ));
        }
        signed_in_response(&state, account.user(), &client, HttpResponse::Ok()).await
    }
    .await;
    audit.record(&state, &signed_in).await;
    signed_in
}

pub async fn logout(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let mut audit = Audit::of(&state, &client, AuditEvent::Logout);
    audit.user(&caller.user.id);
    let ended = flows::end_session(&*state.store, &caller.session_id, state.now())
        .await
        .map_err(ApiError::from);
    audit.record(&state, &ended).await;
    ended?;
    Ok(HttpResponse::NoContent()
        .cookie(state.mobile_cookies().removal(MOBILE_SESSION))
        .finish())
}
