//! One error shape for every failure, ours and actix's own:
//! `{"error": "snake_case_code", "message": "…", "request_id": "…"}`. A 500 never carries a cause.

use std::borrow::Cow;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use qrlogin_auth::LoginState;
use qrlogin_auth::flows::{BearerError, FlowError};
use qrlogin_auth::login_request::TransitionError;
use qrlogin_auth::store::StoreError;
use serde::Serialize;
use tracing_actix_web::RequestId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Expired,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// A camera frame in which no code of ours could be read.
    NoCodeFound,
    /// A device link that is unknown, used or expired.
    InvalidQrCode,
    RequestTimeout,
    Locked,
    /// The screen typed a PIN that is not the one the phone shows.
    WrongPin,
    /// The screen must type the phone's PIN before it can redeem.
    PinRequired,
    RateLimited,
    InternalError,
    UpstreamError,
    Unavailable,
}

impl ErrorCode {
    /// The code as it appears in the error body (and in the audit trail).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::Expired => "expired",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NoCodeFound => "no_code_found",
            Self::InvalidQrCode => "invalid_qr_code",
            Self::RequestTimeout => "request_timeout",
            Self::Locked => "locked",
            Self::WrongPin => "wrong_pin",
            Self::PinRequired => "pin_required",
            Self::RateLimited => "rate_limited",
            Self::InternalError => "internal_error",
            Self::UpstreamError => "upstream_error",
            Self::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Expired => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NoCodeFound => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidQrCode => StatusCode::BAD_REQUEST,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Locked => StatusCode::LOCKED,
            Self::WrongPin => StatusCode::FORBIDDEN,
            Self::PinRequired => StatusCode::CONFLICT,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::UpstreamError => StatusCode::BAD_GATEWAY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// For errors that reach us only as a status (actix's own, or a route that does not exist).
    fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            410 => Self::Expired,
            413 => Self::PayloadTooLarge,
            408 => Self::RequestTimeout,
            415 => Self::UnsupportedMediaType,
            423 => Self::Locked,
            429 => Self::RateLimited,
            502 => Self::UpstreamError,
            503 | 504 => Self::Unavailable,
            400..=499 => Self::InvalidRequest,
            _ => Self::InternalError,
        }
    }

    fn default_message(self) -> &'static str {
        match self {
            Self::NotFound => "There is nothing at this address.",
            Self::MethodNotAllowed => "This address does not accept that method.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::Unavailable => "A service qrlogin depends on is unreachable; try again shortly.",
            Self::InternalError => "Something went wrong on our side; try again.",
            _ => "The request could not be handled.",
        }
    }
}

pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    pub retry_after_seconds: Option<u64>,
    cause: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_seconds: None,
            cause: None,
        }
    }

    /// A 500 whose cause goes to the log and never to the client.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                ErrorCode::InternalError,
                ErrorCode::InternalError.default_message(),
            )
        }
    }

    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unauthenticated(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, "\ncaused by: {cause:?}")?;
        }
        Ok(())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorCode,
    message: &'a str,
    request_id: Option<String>,
}

fn error_body(code: ErrorCode, message: &str, request_id: Option<String>) -> HttpResponse {
    let mut response = HttpResponse::build(code.status());
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response.json(ErrorBody {
        error: code,
        message,
        request_id,
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    /// The body gets its `request_id` from [`render_errors`], which sees the request.
    fn error_response(&self) -> HttpResponse {
        let mut response = error_body(self.code, &self.message, None);
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
    let (code, message, keep_headers) = match response.response().error() {
        Some(error) => match error.as_error::<ApiError>() {
            Some(api) => {
                if api.code == ErrorCode::InternalError || api.code.status().is_server_error() {
                    tracing::error!(error = ?api, "request failed");
                }
                (api.code, api.message.to_string(), true)
            }
            None => {
                let code = ErrorCode::for_status(status);
                let message = if status.is_server_error() {
                    tracing::error!(error = ?error, "request failed");
                    code.default_message().to_owned()
                } else {
                    // actix's messages name the problem ("Json deserialize error: missing field
                    // `id`") and never carry secrets.
                    error.to_string()
                };
                (code, message, false)
            }
        },
        None => {
            let code = ErrorCode::for_status(status);
            (code, code.default_message().to_owned(), false)
        }
    };
    let (request, old) = response.into_parts();
    let mut fresh = error_body(code, &message, request_id);
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

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let kind = match &error {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Unexpected(_) => "unexpected",
        };
        metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => kind).increment(1);
        match error {
            StoreError::Unavailable(_) => Self::new(
                ErrorCode::Unavailable,
                "The session store is unreachable; try again shortly.",
            )
            .with_cause(error),
            StoreError::Unexpected(_) => Self::internal(error),
        }
    }
}

impl From<FlowError> for ApiError {
    fn from(error: FlowError) -> Self {
        match error {
            FlowError::NotFound => Self::new(
                ErrorCode::NotFound,
                "No such sign-in request. Scan the QR code again.",
            ),
            FlowError::Transition(refused) => refused.into(),
            FlowError::AccountDisabled => Self::new(
                ErrorCode::Forbidden,
                "This account is disabled; nothing can be signed in with it.",
            ),
            FlowError::WrongClient => Self::new(
                ErrorCode::Forbidden,
                "This sign-in request belongs to another client: redeem it with the API key of the client that created it (and a plain request with none).",
            ),
            FlowError::Store(store) => store.into(),
            FlowError::Unexpected(cause) => Self::internal(cause),
        }
    }
}

impl From<TransitionError> for ApiError {
    fn from(refused: TransitionError) -> Self {
        let message = refused.to_string();
        let code = match refused {
            TransitionError::Expired | TransitionError::Final(LoginState::Expired) => {
                ErrorCode::Expired
            }
            TransitionError::Final(LoginState::Locked) => ErrorCode::Locked,
            TransitionError::Final(_) | TransitionError::WrongState(_) => ErrorCode::Conflict,
            TransitionError::NotClaimant | TransitionError::WrongSecret => ErrorCode::Forbidden,
            TransitionError::PinRequired => ErrorCode::PinRequired,
            TransitionError::WrongPin { attempts_left: 0 } => {
                return Self::new(
                    ErrorCode::WrongPin,
                    "That PIN is wrong, and it was the last attempt: this sign-in is locked. Start again with a new QR code.",
                );
            }
            TransitionError::WrongPin { .. } => ErrorCode::WrongPin,
        };
        Self::new(code, message)
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

    #[test]
    fn the_body_has_exactly_the_documented_shape() {
        let response = error_body(ErrorCode::Conflict, "already used", Some("rid".into()));
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = serde_json::to_value(ErrorBody {
            error: ErrorCode::RateLimited,
            message: "m",
            request_id: None,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "rate_limited", "message": "m", "request_id": null})
        );
    }

    #[test]
    fn refusals_map_to_the_documented_statuses() {
        let status = |e: TransitionError| ApiError::from(e).code.status().as_u16();
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
