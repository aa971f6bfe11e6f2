//! Prometheus metrics: requests by route and status, every audited event by outcome (which
//! covers each login-request transition and each rejection reason), the approval-to-screen
//! latency, open WebSockets and store errors.
//!
//! The `metrics` facade keeps one recorder per process by design; it is installed the first
//! time a state is built, and every state renders from it. So a process has one `GET /metrics`,
//! on its own address (`METRICS_ADDR`, loopback by default): the service ports, which face
//! the public, never answer it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "qrlogin_http_requests_total";
pub const EVENTS: &str = "qrlogin_events_total";
pub const APPROVAL_NOTIFY_SECONDS: &str = "qrlogin_approval_notify_seconds";
pub const WEBSOCKETS_OPEN: &str = "qrlogin_websockets_open";
/// Sockets refused before the upgrade, by socket and by the cap that was full.
pub const WEBSOCKETS_REFUSED: &str = "qrlogin_websockets_refused_total";
pub const STORE_ERRORS: &str = "qrlogin_store_errors_total";
/// Audit records the store has taken (the rest of `EVENTS` are in the log alone, or queued).
pub const AUDIT_RECORDS_STORED: &str = "qrlogin_audit_records_stored_total";

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

/// `METRICS_ADDR`: where a process serves `GET /metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsAddr {
    /// `loopback` (the default): 127.0.0.1 on the process's own port, 9098 when it serves the
    /// desktop (alone or with the mobile service) and 9096 for the mobile service alone, so the
    /// two split services can run on one host unconfigured.
    Loopback,
    /// `host:port`, e.g. `0.0.0.0:9100` in a container that Prometheus scrapes.
    At(SocketAddr),
    /// `off`: no metrics endpoint.
    Off,
}

impl MetricsAddr {
    pub const DESKTOP_PORT: u16 = 9098;
    pub const MOBILE_PORT: u16 = 9096;

    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "loopback" => Ok(Self::Loopback),
            "off" => Ok(Self::Off),
            other => other.parse().map(Self::At).map_err(|_| {
                "expected `loopback`, `off` or an address with a port (e.g. 0.0.0.0:9100)".into()
            }),
        }
    }

    /// The address to bind, given the process's loopback port; `None` when off.
    pub fn resolve(self, loopback_port: u16) -> Option<SocketAddr> {
        match self {
            Self::Loopback => Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                loopback_port,
            )),
            Self::At(addr) => Some(addr),
            Self::Off => None,
        }
    }
}

/// The process's `GET /metrics` server, on one worker: scrapes are rare and small.
pub struct MetricsEndpoint {
    addr: SocketAddr,
    handle: ServerHandle,
}

impl MetricsEndpoint {
    /// Binds `METRICS_ADDR` (nothing when it is `off`) and starts serving.
    pub fn start(addr: MetricsAddr, loopback_port: u16) -> anyhow::Result<Option<Self>> {
        let Some(addr) = addr.resolve(loopback_port) else {
            return Ok(None);
        };
        let listener = crate::server::bind(addr.ip(), addr.port(), "METRICS_ADDR")?;
        Self::serve(listener).map(Some)
    }

    fn serve(listener: TcpListener) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let recorder = web::Data::new(recorder());
        let server: Server = HttpServer::new(move || {
            App::new()
                .app_data(recorder.clone())
                .service(web::resource("/metrics").get(render))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        Ok(Self { addr, handle })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving; called once the services themselves have stopped.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// `GET /metrics`: the Prometheus text format.
async fn render(recorder: web::Data<PrometheusHandle>) -> HttpResponse {
    recorder.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(recorder.render())
}
