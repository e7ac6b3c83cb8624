//! Adapters (http): the one JSON error model of the REST side and the one mapping from HTTP
//! status to its stable code.

use poem::http::StatusCode;
use poem_openapi::{Enum, Object};

/// Stable, machine-readable error codes. Clients switch on these, never on `error` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    BadRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
    BadUserInput,
    TooManyRequests,
    Internal,
    BackendError,
    BackendUnavailable,
    BackendTimeout,
    Unavailable,
}

impl ErrorCode {
    /// The code for a status produced outside our handlers (routing, parsing, limits).
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            406 => Self::NotAcceptable,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::BadUserInput,
            429 => Self::TooManyRequests,
            502 => Self::BackendError,
            503 => Self::Unavailable,
            504 => Self::BackendTimeout,
            s if (400..500).contains(&s) => Self::BadRequest,
            _ => Self::Internal,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::NotAcceptable => "NOT_ACCEPTABLE",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::Internal => "INTERNAL",
            Self::BackendError => "BACKEND_ERROR",
            Self::BackendUnavailable => "BACKEND_UNAVAILABLE",
            Self::BackendTimeout => "BACKEND_TIMEOUT",
            Self::Unavailable => "UNAVAILABLE",
        }
    }
}

/// The error body of every REST route: `error` (kept for older clients), a stable `code`,
/// and the `request_id` to quote when reporting the problem.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ErrorBody {
    pub error: String,
    pub code: ErrorCode,
    pub request_id: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>, request_id: &str) -> Self {
        Self {
            error: message.into(),
            code,
            request_id: request_id.to_owned(),
        }
    }
}
