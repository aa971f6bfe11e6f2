//! Building and binding an actix server the same way for both services.

use std::net::{IpAddr, SocketAddr, TcpListener};

use std::rc::Rc;

use actix_codec::Framed;
use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{Extensions, HttpService, Request, h1};
use actix_server::GracefulShutdownSignal;
use actix_service::{
    IntoServiceFactory, ServiceFactory, ServiceFactoryExt, fn_factory, fn_service, map_config,
};
use actix_web::dev::{AppConfig, Server, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
use futures_util::future::LocalBoxFuture;
use tokio::net::TcpStream;

use crate::AppState;
use crate::config::{PublicUrl, Settings};
use crate::error::ApiError;
use crate::http::{RequestDeadline, ServiceOrigin};
use crate::metrics::ServiceName;
use crate::websocket;

/// Binds `addr:port`. A permission error on a low port says what to do about it.
pub fn bind(addr: IpAddr, port: u16, variable: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(addr, port)).map_err(|error| {
        if error.kind() == std::io::ErrorKind::PermissionDenied {
            anyhow::anyhow!(
                "cannot listen on port {port}: permission denied. Ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (e.g. `sudo setcap cap_net_bind_service=+ep <binary>`); or choose another port with {variable}=8098 (then set DESKTOP_PUBLIC_URL/MOBILE_PUBLIC_URL to match)."
            )
        } else if error.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("cannot listen on {addr}:{port}: the address is in use. Stop the other process or set {variable}.")
        } else {
            anyhow::anyhow!("cannot listen on {addr}:{port}: {error}")
        }
    })
}

/// Extractor settings both services share: JSON bodies up to 16 KiB, and every extractor
/// failure answered in the one error shape.
/// The largest body of a JSON call, a form or a webhook (camera frames and photos have their
/// own limits).
pub const BODY_LIMIT: usize = 16 * 1024;

pub fn configure_extractors(config: &mut web::ServiceConfig) {
    config
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(|error, _| {
                    let api = match &error {
                        actix_web::error::JsonPayloadError::Overflow { .. }
                        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                            ApiError::new(
                                crate::error::ErrorCode::PayloadTooLarge,
                                "The request body is too large.",
                            )
                        }
                        actix_web::error::JsonPayloadError::ContentType => ApiError::new(
                            crate::error::ErrorCode::UnsupportedMediaType,
                            "Send the body as JSON (Content-Type: application/json).",
                        ),
                        other => ApiError::invalid(format!("The JSON body is not valid: {other}")),
                    };
                    api.into()
                }),
        )
        .app_data(
            web::PathConfig::default().error_handler(|error, _| {
                ApiError::invalid(format!("Invalid path: {error}")).into()
            }),
        )
        .app_data(
            web::QueryConfig::default().error_handler(|error, _| {
                ApiError::invalid(format!("Invalid query: {error}")).into()
            }),
        );
}

/// The middleware stack, outermost last: the request span (and id), the id header, the
/// security headers, then the error rendering (which needs the request id).
#[macro_export]
macro_rules! wrap_common {
    ($app:expr, $https:expr) => {
        $app.wrap(actix_web::middleware::from_fn(
            $crate::http::same_origin_state_changes,
        ))
        .wrap(actix_web::middleware::from_fn(
            $crate::http::request_deadline,
        ))
        .wrap(
            actix_web::middleware::ErrorHandlers::new()
                .default_handler($crate::error::render_errors),
        )
        // Outside the error renderer, which rebuilds responses: every answer gets them.
        .wrap($crate::http::security_headers($https))
        .wrap(actix_web::middleware::from_fn(
            $crate::http::request_id_header,
        ))
        .wrap(tracing_actix_web::TracingLogger::<
            $crate::telemetry::RequestSpan,
        >::new())
        .wrap(actix_web::middleware::from_fn(
            $crate::metrics::count_requests,
        ))
    };
}

/// Whether an accepted connection sends each write at once (TCP_NODELAY), as read back from
/// its socket when it was accepted: in every request's connection data.
#[derive(Clone, Copy, Debug)]
pub struct SendsAtOnce(pub bool);

/// Every accepted connection sends at once. With Nagle's algorithm on, a response written
/// in two pieces waited for the client's delayed ACK: some 40 ms a call, most of a serial
/// sign-in's time.
fn send_at_once(tcp: &TcpStream, data: &mut Extensions) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::warn!(%error, "cannot turn Nagle's algorithm off on an accepted connection");
    }
    data.insert(SendsAtOnce(tcp.nodelay().unwrap_or(false)));
}

/// What an `App` of ours is built from: its routes and middleware as one service factory,
/// answering with bodies of type `B`.
trait AppServices<B>:
    ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
        InitError = (),
    > + 'static
{
}

impl<B, T> AppServices<B> for T where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static
{
}

/// Takes over the connections that ask for a WebSocket: each handshake is answered by its own
/// instance of the application (one per worker, as for every other request), and an accepted
/// socket then keeps only what it needs (see [`crate::websocket`]).
fn socket_handover<A, T, B>(
    app: A,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = actix_web::Error,
    InitError = (),
>
where
    A: Fn() -> App<T> + 'static,
    T: AppServices<B>,
    B: MessageBody + 'static,
{
    fn_factory(move || {
        let app = app().into_factory();
        async move {
            let app = Rc::new(app.new_service(AppConfig::default()).await?);
            Ok(fn_service(move |(request, framed)| {
                // Boxed: in place, the hand-over's future would widen every connection's task,
                // plain ones too (actix-http keeps it inside its dispatcher).
                let served: LocalBoxFuture<'static, Result<(), actix_web::Error>> =
                    Box::pin(websocket::hand_over(Rc::clone(&app), request, framed));
                served
            }))
        }
    })
}

/// How one worker serves its connections: plain requests by `app`, WebSocket handshakes
/// handed over (see [`socket_handover`]).
fn serve_connections<A, T, B>(
    app: A,
    settings: &Settings,
    stopping: GracefulShutdownSignal,
) -> impl ServiceFactory<TcpStream, Config = (), Response = (), Error = DispatchError, InitError = ()>
+ use<A, T, B>
where
    A: Fn() -> App<T> + 'static,
    T: AppServices<B>,
    B: MessageBody + 'static,
{
    let plain = app().into_factory().map_err(|error| error.error_response());
    HttpService::build()
        // Idle or slow clients cannot hold a connection: the head must arrive in time, an idle
        // keep-alive connection is closed, and the whole request has a deadline.
        .client_request_timeout(settings.header_timeout)
        .keep_alive(settings.keep_alive)
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .on_connect_ext(send_at_once)
        // Idle keep-alive connections close at once when the server stops.
        .graceful_shutdown_signal(move || {
            let stopping = stopping.clone();
            async move { stopping.notified().await }
        })
        .upgrade(socket_handover(app))
        .finish(map_config(plain, |_| AppConfig::default()))
        .tcp()
}

/// A running service: the desktop or the mobile one, built the same way.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Serves `routes` on `listener` (bound by the caller, so tests can use port 0), with the
    /// shared middleware, extractor settings and state. `public_url` is what browsers use for
    /// this service: it sets the expected `Origin` and whether HSTS applies.
    pub fn build<F>(
        service: &'static str,
        state: web::Data<AppState>,
        public_url: &PublicUrl,
        listener: TcpListener,
        routes: F,
    ) -> anyhow::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let port = listener.local_addr()?.port();
        let https = public_url.is_https();
        let origin = web::Data::new(ServiceOrigin(public_url.origin()));
        let settings = std::sync::Arc::clone(&state.settings);
        let shutdown = state.shutdown.clone();
        let deadline = web::Data::new(RequestDeadline(settings.request_timeout));
        let service_name = web::Data::new(ServiceName(service));
        let app = move || {
            crate::wrap_common!(App::new(), https)
                .app_data(state.clone())
                .app_data(origin.clone())
                .app_data(deadline.clone())
                .app_data(service_name.clone())
                .configure(configure_extractors)
                .configure(crate::pages::common_routes)
                .configure(routes.clone())
        };
        let builder = actix_server::Server::build()
            // Signals are the state's to handle (see `shutdown`), so draining comes first.
            .disable_signals()
            .shutdown_timeout(settings.shutdown_timeout.as_secs().max(1));
        let stopping = builder.graceful_shutdown_signal();
        let connection_settings = std::sync::Arc::clone(&settings);
        let server = builder
            .listen(format!("qrlogin-{service}"), listener, move || {
                serve_connections(app.clone(), &connection_settings, stopping.clone())
            })?
            .run();
        let handle = server.handle();
        let drain = settings.shutdown_drain;
        tokio::spawn(async move {
            shutdown.draining().await;
            tokio::time::sleep(drain).await;
            handle.stop(true).await;
        });
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
