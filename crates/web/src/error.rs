//! One error shape for every failure, ours and actix's own:
//! `{"error": "snake_case_code", "message": "…", "request_id": "…"}`. A 500 never carries a cause.

use std::borrow::Cow;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use qrlogin_auth::flows::{BearerError, FlowError};
use qrlogin_auth::login_request::TransitionError;
use qrlogin_auth::refusal::Refusal;
use qrlogin_auth::store::StoreError;
use serde::Serialize;
use tracing_actix_web::RequestId;

pub use qrlogin_auth::refusal::ErrorCode;

/// The HTTP status each refusal is answered with.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Expired => StatusCode::GONE,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::NoCodeFound | ErrorCode::SeveralCodes => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidQrCode => StatusCode::BAD_REQUEST,
        ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::Locked => StatusCode::LOCKED,
        ErrorCode::WrongPin => StatusCode::FORBIDDEN,
        ErrorCode::PinRequired => StatusCode::CONFLICT,
        ErrorCode::PasskeyRequired | ErrorCode::PasskeyFailed => StatusCode::FORBIDDEN,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::UpstreamError => StatusCode::BAD_GATEWAY,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// For errors that reach us only as a status (actix's own, or a route that does not exist).
fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        409 => ErrorCode::Conflict,
        410 => ErrorCode::Expired,
        413 => ErrorCode::PayloadTooLarge,
        408 => ErrorCode::RequestTimeout,
        415 => ErrorCode::UnsupportedMediaType,
        423 => ErrorCode::Locked,
        429 => ErrorCode::RateLimited,
        502 => ErrorCode::UpstreamError,
        503 | 504 => ErrorCode::Unavailable,
        400..=499 => ErrorCode::InvalidRequest,
        _ => ErrorCode::InternalError,
    }
}

fn default_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::NotFound => "There is nothing at this address.",
        ErrorCode::MethodNotAllowed => "This address does not accept that method.",
        ErrorCode::PayloadTooLarge => "The request body is too large.",
        ErrorCode::Unavailable => "A service qrlogin depends on is unreachable; try again shortly.",
        ErrorCode::InternalError => "Something went wrong on our side; try again.",
        _ => "The request could not be handled.",
    }
}

/// A refusal on its way out as HTTP: the use-case layer's [`Refusal`], answered in the one
/// error shape with the status its code stands for.
pub struct ApiError(Refusal);

impl std::ops::Deref for ApiError {
    type Target = Refusal;

    fn deref(&self) -> &Refusal {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Refusal {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Refusal::new(code, message))
    }

    /// A 500 whose cause goes to the log and never to the client.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self(Refusal::internal(cause))
    }

    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unauthenticated(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.0.cause = Some(cause.into());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

/// qrlogin's one error shape.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    error: ErrorCode,
    /// A sentence for people, in English.
    message: &'a str,
    /// The id of the request, as the `X-Request-Id` header and the log give it.
    #[schema(required = true)]
    request_id: Option<String>,
    /// After a wrong PIN or link code only.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u8>,
}

fn error_body(body: ErrorBody<'_>) -> HttpResponse {
    let mut response = HttpResponse::build(status_of(body.error));
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response.json(body)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    /// The body gets its `request_id` from [`render_errors`], which sees the request.
    fn error_response(&self) -> HttpResponse {
        let mut response = error_body(ErrorBody {
            error: self.code,
            message: &self.message,
            request_id: None,
            attempts_left: self.attempts_left,
        });
        if let Some(seconds) = self.retry_after_seconds
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.code == ErrorCode::Unauthenticated {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Marks an error response whose body follows another protocol's error shape (OAuth's
/// `error` + `error_description`, which its client libraries parse): left as it is.
pub struct ProtocolErrorBody;

/// Rewrites every 4xx/5xx response into the one JSON shape with the request id: ours keep
/// their code and message; actix's own (bad JSON, unknown route, …) get a code by status.
/// Register with `ErrorHandlers::new().default_handler(render_errors)`.
pub fn render_errors<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let is_protocol = response
        .response()
        .extensions()
        .contains::<ProtocolErrorBody>();
    if (is_page || is_protocol) && response.response().error().is_none() {
        // Pages explain their own errors to people, in HTML.
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let request_id = response
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string());
    let status = response.status();
    let mut attempts_left = None;
    let (code, message, keep_headers) = match response.response().error() {
        Some(error) => match error.as_error::<ApiError>() {
            Some(api) => {
                if api.code == ErrorCode::InternalError || status_of(api.code).is_server_error() {
                    tracing::error!(error = ?api, "request failed");
                }
                attempts_left = api.attempts_left;
                (api.code, api.message.to_string(), true)
            }
            None => {
                let code = code_for_status(status);
                let message = if status.is_server_error() {
                    tracing::error!(error = ?error, "request failed");
                    default_message(code).to_owned()
                } else {
                    // actix's messages name the problem ("Json deserialize error: missing field
                    // `id`") and never carry secrets.
                    error.to_string()
                };
                (code, message, false)
            }
        },
        None => {
            let code = code_for_status(status);
            (code, default_message(code).to_owned(), false)
        }
    };
    let (request, old) = response.into_parts();
    // A browser that opened an address gets a page in words; scripts and API clients get JSON.
    if crate::pages::wants_a_page(&request)
        && let Some(page) = crate::pages::error_page(&request, status, code, request_id.as_deref())
    {
        let mut page: HttpResponse<BoxBody> = page;
        for name in [header::ALLOW, header::RETRY_AFTER] {
            if let Some(value) = old.headers().get(&name) {
                page.headers_mut().insert(name, value.clone());
            }
        }
        return Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(request, page).map_into_right_body::<B>(),
        ));
    }
    let mut fresh = error_body(ErrorBody {
        error: code,
        message: &message,
        request_id,
        attempts_left,
    });
    *fresh.status_mut() = status;
    for (name, value) in old.headers() {
        let carried = keep_headers || name == header::ALLOW || name == header::RETRY_AFTER;
        if carried && name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let fresh: HttpResponse<BoxBody> = fresh;
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, fresh).map_into_right_body::<B>(),
    ))
}

/// The body type `render_errors` produces.
pub type ErrorRenderedBody<B> = EitherBody<B>;

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        if let Some(store) = refusal
            .cause
            .as_ref()
            .and_then(|cause| cause.downcast_ref::<StoreError>())
        {
            let kind = match store {
                StoreError::Unavailable(_) => "unavailable",
                StoreError::Unexpected(_) => "unexpected",
            };
            metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => kind).increment(1);
        }
        Self(refusal)
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        error.0
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Refusal::from(error).into()
    }
}

impl From<FlowError> for ApiError {
    fn from(error: FlowError) -> Self {
        Refusal::from(error).into()
    }
}

impl From<TransitionError> for ApiError {
    fn from(refused: TransitionError) -> Self {
        Refusal::from(refused).into()
    }
}

impl From<BearerError> for ApiError {
    fn from(error: BearerError) -> Self {
        match error {
            BearerError::Store(store) => store.into(),
            other => Self::unauthenticated(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrlogin_auth::LoginState;

    #[test]
    fn the_body_has_exactly_the_documented_shape() {
        let response = error_body(ErrorBody {
            error: ErrorCode::Conflict,
            message: "already used",
            request_id: Some("rid".into()),
            attempts_left: None,
        });
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = serde_json::to_value(ErrorBody {
            error: ErrorCode::RateLimited,
            message: "m",
            request_id: None,
            attempts_left: None,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "rate_limited", "message": "m", "request_id": null})
        );
        let wrong_pin = serde_json::to_value(ErrorBody {
            error: ErrorCode::WrongPin,
            message: "m",
            request_id: None,
            attempts_left: Some(2),
        })
        .unwrap();
        assert_eq!(wrong_pin["attempts_left"], 2, "and only after a wrong code");
    }

    #[test]
    fn refusals_map_to_the_documented_statuses() {
        let status = |e: TransitionError| status_of(ApiError::from(e).code).as_u16();
        assert_eq!(status(TransitionError::Expired), 410);
        assert_eq!(status(TransitionError::Final(LoginState::Redeemed)), 409);
        assert_eq!(
            status(TransitionError::WrongState(LoginState::Claimed)),
            409
        );
        assert_eq!(status(TransitionError::Final(LoginState::Locked)), 423);
        assert_eq!(status(TransitionError::NotClaimant), 403);
    }

    #[test]
    fn an_internal_error_never_shows_its_cause() {
        let error = ApiError::internal(anyhow::anyhow!("password=hunter2 in a stack"));
        assert!(!error.to_string().contains("hunter2"));
        assert!(
            format!("{error:?}").contains("hunter2"),
            "but the log gets it"
        );
    }
}
