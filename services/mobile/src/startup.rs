//! Building the mobile server.

use std::net::TcpListener;

use actix_web::web;
use qrlogin_mentra::{MentraClient, MentraConfig};
use qrlogin_web::AppState;
use qrlogin_web::config::Settings;
use qrlogin_web::http::{healthz, readyz};
use qrlogin_web::openapi::{self, ApiDocument};
use qrlogin_web::server::Application;

use crate::glasses::Glasses;
use crate::{pages, routes};

/// The MentraOS client, when `PACKAGE_NAME` and `MENTRAOS_API_KEY` are configured.
pub struct MentraLogin(pub Option<MentraClient>);

impl MentraLogin {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let mentra = &settings.mentra;
        let (Some(package_name), Some(api_key)) = (&mentra.package_name, &mentra.api_key) else {
            tracing::warn!(
                "MentraOS sign-in is off: set PACKAGE_NAME and MENTRAOS_API_KEY to turn it on"
            );
            return Ok(Self(None));
        };
        let client = MentraClient::new(&MentraConfig {
            package_name: package_name.clone(),
            api_key: api_key.clone(),
            cloud_url: mentra.cloud_url.as_str().to_owned(),
            user_token_public_key: mentra.user_token_public_key.clone(),
            timeout: mentra.timeout,
        })?;
        Ok(Self(Some(client)))
    }
}

/// The mobile service on `listener`.
pub fn build(
    state: web::Data<AppState>,
    mentra: web::Data<MentraLogin>,
    listener: TcpListener,
) -> anyhow::Result<Application> {
    let public_url = state.settings.mobile_public_url.clone();
    let frames = web::Data::new(crate::frames::FrameReader::default());
    let glasses = web::Data::new(Glasses::from_settings(&state.settings));
    let document = web::Data::new(ApiDocument::new(crate::openapi::document())?);
    Application::build("mobile", state, &public_url, listener, move |config| {
        config
            .app_data(document.clone())
            .app_data(mentra.clone())
            .app_data(frames.clone())
            .app_data(glasses.clone());
        configure(config);
    })
}

pub fn configure(config: &mut web::ServiceConfig) {
    use routes::{glasses, local, passkeys, scan, webview};
    config
        .service(web::resource("/").get(pages::home))
        .service(web::resource("/scan").get(pages::scan))
        .service(web::resource("/passkeys").get(pages::passkeys))
        .service(web::resource("/s/{id}").get(pages::scanned))
        .service(web::resource("/webview").get(webview::webview))
        .service(
            web::resource("/mentra-auth")
                .get(pages::mentra_auth)
                .post(pages::mentra_auth_from_page),
        )
        .service(web::resource("/assets/{file}").get(pages::asset))
        .service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz))
        .service(web::resource(openapi::DOCUMENT_PATH).get(openapi::document))
        .service(web::resource("/api/local/login").post(local::login))
        .service(web::resource("/api/logout").post(local::logout))
        .service(web::resource("/api/scan").post(scan::scan))
        .service(web::resource("/api/frames").post(scan::frame))
        .service(
            web::resource("/webhook")
                .app_data(web::PayloadConfig::new(qrlogin_web::server::BODY_LIMIT))
                .post(glasses::webhook),
        )
        .service(web::resource("/photo-upload").post(glasses::photo_upload))
        .service(web::resource("/api/login-requests/{id}").get(scan::status))
        .service(web::resource("/api/login-requests/{id}/events").get(scan::events))
        .service(web::resource("/api/login-requests/{id}/approve").post(scan::approve))
        .service(web::resource("/api/login-requests/{id}/deny").post(scan::deny))
        .service(
            web::resource("/api/login-requests/{id}/passkey-check").post(passkeys::approval_check),
        )
        .service(
            web::resource("/api/passkeys")
                .get(passkeys::list)
                .post(passkeys::finish_registration),
        )
        .service(web::resource("/api/passkeys/check").post(passkeys::manage_check))
        .service(web::resource("/api/passkeys/registration").post(passkeys::begin_registration))
        .service(web::resource("/api/passkeys/{id}").patch(passkeys::rename))
        .service(web::resource("/api/passkeys/{id}/remove").post(passkeys::remove));
}
