//! Building the desktop server: routes, middleware and the listener.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use qrlogin_web::AppState;
use qrlogin_web::http::{ServiceOrigin, healthz, readyz};

use crate::{pages, routes};

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Serves on `listener` (bound by the caller, so tests can use port 0).
    pub fn build(state: web::Data<AppState>, listener: TcpListener) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let https = state.settings.desktop_public_url.is_https();
        let origin = web::Data::new(ServiceOrigin(state.settings.desktop_public_url.origin()));
        let server = HttpServer::new(move || {
            qrlogin_web::wrap_common!(App::new(), https)
                .app_data(state.clone())
                .app_data(origin.clone())
                .configure(qrlogin_web::server::configure_extractors)
                .configure(configure)
        })
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Every desktop route.
pub fn configure(config: &mut web::ServiceConfig) {
    use routes::{events, login_requests, me};
    config
        .service(web::resource("/").get(pages::index))
        .service(web::resource("/dashboard").get(pages::dashboard))
        .service(web::resource("/assets/{file}").get(pages::asset))
        .service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz))
        .service(web::resource("/.well-known/jwks.json").get(me::jwks))
        .service(web::resource("/api/login-requests").post(login_requests::create))
        .service(
            web::resource("/api/login-requests/{id}")
                .get(login_requests::poll)
                .delete(login_requests::cancel),
        )
        .service(web::resource("/api/login-requests/{id}/redeem").post(login_requests::redeem))
        .service(web::resource("/api/login-requests/{id}/events").get(events::events))
        .service(web::resource("/api/me").get(me::me))
        .service(web::resource("/api/logout").post(me::logout));
}
