//! Building the desktop server.

use std::net::TcpListener;

use actix_web::web;
use qrlogin_web::AppState;
use qrlogin_web::http::{healthz, readyz};
use qrlogin_web::openapi::{self, ApiDocument};
use qrlogin_web::server::Application;

use crate::{pages, routes};

/// The desktop service on `listener`.
pub fn build(state: web::Data<AppState>, listener: TcpListener) -> anyhow::Result<Application> {
    let public_url = state.settings.desktop_public_url.clone();
    let document = web::Data::new(ApiDocument::new(crate::openapi::document())?);
    Application::build("desktop", state, &public_url, listener, move |config| {
        config.app_data(document.clone());
        configure(config);
    })
}

/// A resource taking a form body (read whole, within the body limit).
fn form_post(path: &str) -> actix_web::Resource {
    web::resource(path).app_data(web::PayloadConfig::new(qrlogin_web::server::BODY_LIMIT))
}

/// Every desktop route.
pub fn configure(config: &mut web::ServiceConfig) {
    use routes::{device_links, events, link_events, login_requests, me, oauth, oidc};
    config
        .service(web::resource("/").get(pages::index))
        .service(web::resource("/dashboard").get(pages::dashboard))
        .service(web::resource("/assets/{file}").get(pages::asset))
        .service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz))
        .service(web::resource(openapi::DOCUMENT_PATH).get(openapi::document))
        .service(web::resource("/.well-known/jwks.json").get(me::jwks))
        .service(web::resource("/.well-known/oauth-authorization-server").get(oauth::metadata))
        .service(web::resource("/.well-known/openid-configuration").get(oidc::discovery))
        .service(web::resource("/oauth/authorize").get(oidc::authorize))
        .service(form_post("/oauth/authorize/finish").post(oidc::finish))
        .service(form_post("/oauth/authorize/cancel").post(oidc::cancel))
        .service(form_post("/oauth/revoke").post(oauth::revoke))
        .service(
            web::resource("/oauth/userinfo")
                .get(oidc::userinfo)
                .post(oidc::userinfo),
        )
        .service(
            form_post("/oauth/logout")
                .get(oidc::logout)
                .post(oidc::logout),
        )
        .service(form_post("/oauth/device_authorization").post(oauth::device_authorization))
        .service(form_post("/oauth/token").post(oauth::token))
        .service(web::resource("/api/login-requests").post(login_requests::create))
        .service(
            web::resource("/api/login-requests/{id}")
                .get(login_requests::poll)
                .route(
                    web::method(actix_web::http::Method::OPTIONS)
                        .to(login_requests::poll_preflight),
                )
                .delete(login_requests::cancel),
        )
        .service(web::resource("/api/login-requests/{id}/pin").post(login_requests::enter_pin))
        .service(web::resource("/api/login-requests/{id}/redeem").post(login_requests::redeem))
        .service(web::resource("/api/login-requests/{id}/events").get(events::events))
        .service(web::resource("/link/{id}").get(pages::link))
        .service(web::resource("/api/device-links").post(device_links::create))
        .service(web::resource("/api/device-links/{id}").get(device_links::status))
        .service(web::resource("/api/device-links/{id}/claim").post(device_links::claim))
        .service(web::resource("/api/device-links/{id}/confirm").post(device_links::confirm))
        .service(
            web::resource("/api/device-links/{id}/passkey-check").post(device_links::passkey_check),
        )
        .service(web::resource("/api/device-links/{id}/redeem").post(device_links::redeem))
        .service(web::resource("/api/device-links/{id}/events").get(link_events::events))
        .service(web::resource("/api/me").get(me::me))
        .service(web::resource("/api/me/activity").get(me::activity))
        .service(web::resource("/api/me/events").get(events::sign_ins))
        .service(web::resource("/api/sessions").get(me::sessions))
        .service(web::resource("/api/sessions/{id}").delete(me::revoke_session))
        .service(web::resource("/api/logout").post(me::logout));
}
