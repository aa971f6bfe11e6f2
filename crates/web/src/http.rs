//! Middleware both services wrap around every route: the request id header, security
//! headers, and the cross-site check on state changes.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tracing_actix_web::RequestId;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// How long a whole request may take (`REQUEST_TIMEOUT`).
pub struct RequestDeadline(pub std::time::Duration);

/// Answers 408 when a request (a slowly sent body, or a handler waiting on something) runs past
/// its deadline, so no client holds a worker for longer.
pub async fn request_deadline(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let deadline = request
        .app_data::<web::Data<RequestDeadline>>()
        .map_or(std::time::Duration::from_secs(30), |d| d.0);
    match tokio::time::timeout(deadline, next.call(request)).await {
        Ok(response) => response,
        Err(_) => Err(ApiError::new(
            ErrorCode::RequestTimeout,
            "The request took too long (a body sent too slowly?); send it again.",
        )
        .into()),
    }
}

/// Echoes the request id in `x-request-id`, so a user's report can be found in the log.
pub async fn request_id_header(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string());
    let mut response = next.call(request).await?;
    if let Some(value) = id.and_then(|id| header::HeaderValue::from_str(&id).ok()) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}

/// The content security policy of our pages, whose forms may go (or be redirected) to
/// `form_targets` besides us: origins like `https://account.mentra.glass`.
/// An answer no cache may keep (it carries a secret, a challenge, or state of the moment).
pub fn no_store(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

pub fn content_security_policy(form_targets: &[&str]) -> String {
    let targets: String = form_targets.iter().map(|t| format!(" {t}")).collect();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'{targets}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Lets the forms of the page `response` carries go (or be redirected) to `origin` too, and
/// carry its own origin when they post: under the default `no-referrer` a form post says
/// `Origin: null`, which the cross-site check refuses.
pub fn allow_forms_to(response: &mut actix_web::HttpResponse, origin: &str) {
    let headers = response.headers_mut();
    if let Ok(value) = header::HeaderValue::from_str(&content_security_policy(&[origin])) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
}

/// Headers every response carries. Pages load scripts and styles only from us (no inline
/// script, no CDN) and may not be framed; a page whose form leaves for another site says so
/// in its own policy ([`content_security_policy`]), which this one does not replace.
pub fn security_headers(https: bool) -> actix_web::middleware::DefaultHeaders {
    let mut headers = actix_web::middleware::DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(&[]),
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"));
    if https {
        headers = headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    headers
}

/// A state change (anything but GET/HEAD/OPTIONS) whose `Origin` is not this service's own
/// is refused: a page on another site cannot act with our cookies. Requests without `Origin`
/// are not from a browser page and carry no ambient cookie authority that matters here.
pub async fn same_origin_state_changes(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe
        && !CROSS_SITE_BY_DESIGN.contains(&request.path())
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let expected = request
            .app_data::<web::Data<ServiceOrigin>>()
            .map(|o| o.0.clone())
            .unwrap_or_default();
        if origin.as_bytes() != expected.as_bytes() {
            let refused = ApiError::new(
                ErrorCode::Forbidden,
                "Requests from other sites are refused.",
            );
            // Answered as a response (not an `Err`), so the error renderer adds the request id.
            let (request, _) = request.into_parts();
            return Ok(ServiceResponse::from_err(refused, request).map_into_right_body());
        }
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// OAuth endpoints other sites post to by design, which act on no cookie of ours: a web
/// app's page logs its user out with a form post (OpenID Connect RP-Initiated Logout §2,
/// with the identity token as its proof), and a browser-based app exchanges and revokes its
/// own tokens (authenticated by its PKCE verifier or client credentials).
const CROSS_SITE_BY_DESIGN: &[&str] = &["/oauth/logout", "/oauth/token", "/oauth/revoke"];

/// The origin (`scheme://host[:port]`) browsers use for this service's pages.
#[derive(Clone, Debug)]
pub struct ServiceOrigin(pub String);

/// What the health checks answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (the process is up) or `ready` (and its store answers).
    #[schema(examples("ok", "ready"))]
    status: &'static str,
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The process is up.", body = Health)))]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// `GET /readyz`: the store answers (a load balancer stops sending traffic when it does not).
#[utoipa::path(get, path = "/readyz", tag = "service", responses(
    (status = 200, description = "The store answers: send traffic here.", body = Health),
    (status = 503, description = "The store does not answer, or this instance is shutting down.", body = crate::error::ErrorBody),
))]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    if state.shutdown.is_draining() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "This instance is shutting down.",
        ));
    }
    state.store.ping().await?;
    Ok(web::Json(Health { status: "ready" }))
}
