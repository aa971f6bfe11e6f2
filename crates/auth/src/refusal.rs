//! Why a sign-in step was refused, in the words the caller is answered with and the audit
//! trail records: one vocabulary of codes for the use-case layer and both services.
//! The HTTP status of each code is the web layer's business.

use std::borrow::Cow;

use crate::LoginState;
use crate::flows::FlowError;
use crate::login_request::TransitionError;
use crate::store::StoreError;

/// Serialized by [`ErrorCode::as_str`]; the schema names the same words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
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
    /// A camera frame or photo with more than one code of ours: which screen is meant cannot
    /// be told, so none is claimed.
    SeveralCodes,
    /// A device link that is unknown, used or expired.
    InvalidQrCode,
    RequestTimeout,
    Locked,
    /// The screen typed a PIN that is not the one the phone shows.
    WrongPin,
    /// The screen must type the phone's PIN before it can redeem.
    PinRequired,
    /// The approval (or the change to the passkeys) needs a check by one of the account's
    /// passkeys, or the account has none yet where one is required.
    PasskeyRequired,
    /// A passkey check that failed: not for this, not verified, or a removed passkey.
    PasskeyFailed,
    RateLimited,
    InternalError,
    UpstreamError,
    Unavailable,
}

impl ErrorCode {
    /// Every code, for the catalogue test that each has a message people read.
    pub const ALL: [Self; 22] = [
        Self::InvalidRequest,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::Expired,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::NoCodeFound,
        Self::SeveralCodes,
        Self::InvalidQrCode,
        Self::RequestTimeout,
        Self::Locked,
        Self::WrongPin,
        Self::PinRequired,
        Self::PasskeyRequired,
        Self::PasskeyFailed,
        Self::RateLimited,
        Self::InternalError,
        Self::UpstreamError,
        Self::Unavailable,
    ];

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
            Self::SeveralCodes => "several_codes",
            Self::InvalidQrCode => "invalid_qr_code",
            Self::RequestTimeout => "request_timeout",
            Self::Locked => "locked",
            Self::WrongPin => "wrong_pin",
            Self::PinRequired => "pin_required",
            Self::PasskeyRequired => "passkey_required",
            Self::PasskeyFailed => "passkey_failed",
            Self::RateLimited => "rate_limited",
            Self::InternalError => "internal_error",
            Self::UpstreamError => "upstream_error",
            Self::Unavailable => "unavailable",
        }
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A refused step: the code, the sentence a person is shown, and for a budget that ran out,
/// when to try again. An internal cause goes to the log, never to the caller.
pub struct Refusal {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    pub retry_after_seconds: Option<u64>,
    /// After a wrong PIN or link code: how many more may be tried (pages show it).
    pub attempts_left: Option<u8>,
    pub cause: Option<anyhow::Error>,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_seconds: None,
            attempts_left: None,
            cause: None,
        }
    }

    pub fn with_attempts_left(mut self, attempts_left: u8) -> Self {
        self.attempts_left = Some(attempts_left);
        self
    }

    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// Our own failure: the caller learns nothing of the cause.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                ErrorCode::InternalError,
                "Something went wrong on our side; try again.",
            )
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, "\ncaused by: {cause:?}")?;
        }
        Ok(())
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self {
                cause: Some(error.into()),
                ..Self::new(
                    ErrorCode::Unavailable,
                    "The session store is unreachable; try again shortly.",
                )
            },
            StoreError::Unexpected(_) => Self::internal(error),
        }
    }
}

impl From<FlowError> for Refusal {
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
            FlowError::SignedOut => Self::new(
                ErrorCode::Forbidden,
                "The person who approved this signed out everywhere since: nothing they approved before can be used. Start again.",
            ),
            FlowError::WrongClient => Self::new(
                ErrorCode::Forbidden,
                "This sign-in request belongs to another client: redeem it with the API key of the client that created it (and a plain request with none).",
            ),
            FlowError::Refused(refusal) => refusal,
            FlowError::Store(store) => store.into(),
            FlowError::Unexpected(cause) => Self::internal(cause),
        }
    }
}

impl From<TransitionError> for Refusal {
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
            TransitionError::WrongPin { attempts_left } => {
                return Self::new(ErrorCode::WrongPin, message).with_attempts_left(attempts_left);
            }
        };
        Self::new(code, message)
    }
}
