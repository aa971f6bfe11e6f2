//! `GET /api/me`, `POST /api/logout`, `GET /.well-known/jwks.json`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use qrlogin_auth::flows;
use qrlogin_web::auth::DesktopUser;
use qrlogin_web::cookies::DESKTOP_SESSION;
use qrlogin_web::{ApiError, AppState};
use serde::Serialize;

use super::login_requests::EmptyBody;

#[derive(Serialize)]
struct Me {
    user: qrlogin_auth::User,
    session_id: String,
    /// Milliseconds since the epoch, when the caller came with the session cookie.
    signed_in_at: Option<i64>,
}

pub async fn me(DesktopUser(caller): DesktopUser) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Me {
            user: caller.user,
            session_id: caller.session_id,
            signed_in_at: caller.session_started_at,
        })
}

/// Ends the session and its access token at once, whichever of the two the caller used.
pub async fn logout(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
    _body: web::Json<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let now = state.now();
    flows::end_session(&*state.store, &caller.session_id, now).await?;
    if let Some(claims) = &caller.access_token {
        state
            .store
            .revoke_token(&claims.jti, claims.exp.saturating_mul(1000))
            .await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(state.desktop_cookies().removal(DESKTOP_SESSION))
        .finish())
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(state.keys.jwks())
}
