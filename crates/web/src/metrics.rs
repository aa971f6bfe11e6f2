//! Prometheus metrics, `GET /metrics` on both services: requests by route and status, every
//! audited event by outcome (which covers each login-request transition and each rejection
//! reason), the approval-to-screen latency, open WebSockets and store errors.
//!
//! The `metrics` facade keeps one recorder per process by design; it is installed the first
//! time a state is built, and every state renders from it.

use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

pub const HTTP_REQUESTS: &str = "qrlogin_http_requests_total";
pub const EVENTS: &str = "qrlogin_events_total";
pub const APPROVAL_NOTIFY_SECONDS: &str = "qrlogin_approval_notify_seconds";
pub const WEBSOCKETS_OPEN: &str = "qrlogin_websockets_open";
/// Sockets refused before the upgrade, by socket and by the cap that was full.
pub const WEBSOCKETS_REFUSED: &str = "qrlogin_websockets_refused_total";
pub const STORE_ERRORS: &str = "qrlogin_store_errors_total";

/// From a millisecond to ten seconds: where an approval reaching its screen should land.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 10.0,
];

/// The process's recorder, installed on first use.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder.set_buckets_for_metric(
                Matcher::Full(APPROVAL_NOTIFY_SECONDS.to_owned()),
                &LATENCY_BUCKETS,
            ) {
                Ok(with_buckets) => with_buckets,
                Err(_) => PrometheusBuilder::new(),
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// The service a metric came from (`desktop` or `mobile`).
#[derive(Clone, Copy)]
pub struct ServiceName(pub &'static str);

/// Counts every answer by service, route pattern (never the raw path: ids would explode the
/// label space) and status.
pub async fn count_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let service = request
        .app_data::<web::Data<ServiceName>>()
        .map_or("unknown", |s| s.0);
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.call(request).await?;
    metrics::counter!(
        HTTP_REQUESTS,
        "service" => service,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    Ok(response)
}

/// `GET /metrics`: the Prometheus text format.
pub async fn render(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
