//! The answer every way of signing a phone in ends with.

use actix_web::HttpResponse;
use actix_web::cookie::SameSite;
use qrlogin_auth::flows::SignedIn;
use qrlogin_web::AppState;
use qrlogin_web::cookies::MOBILE_SESSION;

/// Who a phone signed in as.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PhoneSignedIn {
    pub user: qrlogin_auth::User,
}

/// A phone that is now signed in: its session cookie, and who it is in the body.
pub fn signed_in_response(
    state: &AppState,
    signed_in: SignedIn,
    mut response: actix_web::HttpResponseBuilder,
) -> HttpResponse {
    let cookie = state.mobile_cookies().build(
        MOBILE_SESSION,
        signed_in.token.expose().to_owned(),
        state.settings.session_ttl,
        SameSite::Lax,
    );
    response.cookie(cookie).json(PhoneSignedIn {
        user: signed_in.session.user,
    })
}
