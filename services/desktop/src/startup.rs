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
    config
        .route("/", web::get().to(pages::index))
        .route("/dashboard", web::get().to(pages::dashboard))
        .route("/assets/{file}", web::get().to(pages::asset))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/.well-known/jwks.json", web::get().to(routes::me::jwks))
        .route(
            "/api/login-requests",
            web::post().to(routes::login_requests::create),
        )
        .route(
            "/api/login-requests/{id}",
            web::get().to(routes::login_requests::poll),
        )
        .route(
            "/api/login-requests/{id}",
            web::delete().to(routes::login_requests::cancel),
        )
        .route(
            "/api/login-requests/{id}/redeem",
            web::post().to(routes::login_requests::redeem),
        )
        .route(
            "/api/login-requests/{id}/events",
            web::get().to(routes::events::events),
        )
        .route("/api/me", web::get().to(routes::me::me))
        .route("/api/logout", web::post().to(routes::me::logout));
}
