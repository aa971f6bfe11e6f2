//! The desktop service's OpenAPI document, derived from its handlers (`/api/openapi.json`).
//!
//! Every JSON route is here. Not here: the pages (`/`, `/dashboard`, `/link/{id}`,
//! `/assets/…`), the browser's side of OpenID Connect (`/oauth/authorize`, its `finish` and
//! `cancel` form posts, `/oauth/logout`), which answer with HTML and redirects, and the three
//! WebSockets (`…/events`), which OpenAPI cannot describe: `docs/API.md` tells them.

use qrlogin_web::openapi::DesktopSecurity;
use utoipa::OpenApi;

use crate::routes::{device_links, login_requests, me, oauth, oidc};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qrlogin desktop service",
        description = "The screen's side of scan-to-sign-in: sign-in requests and their redeem, device links, the signed-in account, and the OAuth 2.0 / OpenID Connect provider. Errors come in one shape (`Error`), except the OAuth endpoints', which speak OAuth's (`OAuthError`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        login_requests::create,
        login_requests::poll,
        login_requests::cancel,
        login_requests::enter_pin,
        login_requests::redeem,
        device_links::create,
        device_links::status,
        device_links::claim,
        device_links::confirm,
        device_links::passkey_check,
        device_links::redeem,
        me::me,
        me::activity,
        me::sessions,
        me::revoke_session,
        me::logout,
        me::jwks,
        oauth::device_authorization,
        oauth::token,
        oauth::revoke,
        oauth::metadata,
        oidc::userinfo,
        oidc::discovery,
        qrlogin_web::http::healthz,
        qrlogin_web::http::readyz,
        qrlogin_web::openapi::document,
    ),
    modifiers(&DesktopSecurity),
)]
struct Desktop;

/// The document, as `/api/openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    Desktop::openapi()
}

#[cfg(test)]
mod tests {
    /// The desktop routes that answer with pages, redirects or a WebSocket, not JSON.
    const NOT_JSON: &[&str] = &[
        "/",
        "/dashboard",
        "/assets/{file}",
        "/link/{id}",
        "/oauth/authorize",
        "/oauth/authorize/finish",
        "/oauth/authorize/cancel",
        "/oauth/logout",
        "/api/login-requests/{id}/events",
        "/api/device-links/{id}/events",
        "/api/me/events",
    ];

    #[test]
    fn every_route_but_pages_and_sockets_is_in_the_document() {
        qrlogin_web::openapi::assert_documents_every_route(
            &super::document(),
            include_str!("startup.rs"),
            NOT_JSON,
        );
    }
}
