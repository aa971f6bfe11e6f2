//! The mobile service's OpenAPI document, derived from its handlers (`/api/openapi.json`).
//!
//! Every JSON route is here. Not here: the phone's pages (`/`, `/scan`, `/s/{id}`,
//! `/webview`, `/mentra-auth`, `/assets/…`), which answer with HTML and redirects, and the
//! claimant's WebSocket (`/api/login-requests/{id}/events`), which OpenAPI cannot describe:
//! `docs/API.md` tells them.

use qrlogin_web::openapi::MobileSecurity;
use utoipa::OpenApi;

use crate::routes::{glasses, local, passkeys, scan};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qrlogin mobile service",
        description = "The phone's side of scan-to-sign-in: signing the phone in, claiming a screen's request (by its QR text, id, code or a camera frame) and deciding it (with the owner's passkey where asked), the account's passkeys, and the MentraOS cloud's calls. Errors come in one shape (`Error`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        local::login,
        local::logout,
        scan::scan,
        scan::frame,
        scan::status,
        scan::approve,
        scan::deny,
        passkeys::list,
        passkeys::manage_check,
        passkeys::approval_check,
        passkeys::begin_registration,
        passkeys::finish_registration,
        passkeys::rename,
        passkeys::remove,
        glasses::webhook,
        glasses::photo_upload,
        qrlogin_web::http::healthz,
        qrlogin_web::http::readyz,
        qrlogin_web::openapi::document,
    ),
    modifiers(&MobileSecurity),
)]
struct Mobile;

/// The document, as `/api/openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    Mobile::openapi()
}

#[cfg(test)]
mod tests {
    /// The mobile routes that answer with pages, redirects or a WebSocket, not JSON.
    const NOT_JSON: &[&str] = &[
        "/",
        "/scan",
        "/s/{id}",
        "/passkeys",
        "/webview",
        "/mentra-auth",
        "/assets/{file}",
        "/api/login-requests/{id}/events",
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
