//! Logging through `tracing`: one span per request with its id, pretty in dev and JSON in
//! production. The request span records the path but never the query string: MentraOS
//! hands tokens to `/webview` in the query.

use actix_web::Error;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init<W>(format: LogFormat, filter: &str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_span_events(FmtSpan::CLOSE);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// The per-request span: method, path (no query), route, status and the request id.
pub struct RequestSpan;

/// Paths that orchestrators call every few seconds: their spans are DEBUG, so an INFO log shows
/// what people did, and a failed probe is logged once as a warning. (`/metrics` is served on its
/// own address, without this logging; on the service ports it is an ordinary 404.)
const PROBES: [&str; 2] = ["/healthz", "/readyz"];

fn is_probe(path: &str) -> bool {
    PROBES.contains(&path)
}

macro_rules! request_span {
    ($level:expr, $request:expr, $request_id:expr) => {
        tracing::span!(
            $level,
            "request",
            http.method = %$request.method(),
            http.path = %$request.path(),
            http.route = tracing::field::Empty,
            http.status_code = tracing::field::Empty,
            request_id = %$request_id,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    };
}

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        // `span!` needs a constant level, hence one arm per level.
        if is_probe(request.path()) {
            request_span!(tracing::Level::DEBUG, request, request_id)
        } else {
            request_span!(tracing::Level::INFO, request, request_id)
        }
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        if let Ok(response) = outcome {
            if let Some(route) = response.request().match_pattern() {
                span.record("http.route", route);
            }
            let path = response.request().path();
            let status = response.status();
            if is_probe(path) && !status.is_success() {
                tracing::warn!(parent: &span, http.path = path, http.status_code = status.as_u16(), "probe failed");
            }
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Runs CPU-heavy or blocking work (argon2, SQLite, image decoding) off the async executor,
/// inside the caller's span.
pub async fn spawn_blocking_with_tracing<F, R>(work: F) -> Result<R, tokio::task::JoinError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work)).await
}
