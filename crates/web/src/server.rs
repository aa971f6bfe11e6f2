//! Building and binding an actix server the same way for both services.

use std::net::{IpAddr, SocketAddr, TcpListener};

use actix_web::web;

use crate::error::ApiError;

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
pub fn configure_extractors(config: &mut web::ServiceConfig) {
    config
        .app_data(
            web::JsonConfig::default()
                .limit(16 * 1024)
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

/// The middleware stack, outermost last: the request span (and id) first, then the error
/// rendering that needs it.
#[macro_export]
macro_rules! wrap_common {
    ($app:expr, $https:expr) => {
        $app.wrap(actix_web::middleware::from_fn(
            $crate::http::same_origin_state_changes,
        ))
        .wrap($crate::http::security_headers($https))
        .wrap(
            actix_web::middleware::ErrorHandlers::new()
                .default_handler($crate::error::render_errors),
        )
        .wrap(actix_web::middleware::from_fn(
            $crate::http::request_id_header,
        ))
        .wrap(tracing_actix_web::TracingLogger::<
            $crate::telemetry::RequestSpan,
        >::new())
    };
}
