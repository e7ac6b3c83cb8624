//! Adapters (http): the one JSON error model of the REST side and the one mapping from HTTP
//! status to its stable code.

use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Enum, Object};
use serde::Serialize;

use super::json_out::JsonOut;
use super::request_id::CorrelationId;
use crate::app::auth::AuthError;
use crate::domain::ValidationError;

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
    RequestTimeout,
    PayloadTooLarge,
    HeadersTooLarge,
    UnsupportedMediaType,
    BadUserInput,
    Conflict,
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
            408 => Self::RequestTimeout,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            431 => Self::HeadersTooLarge,
            409 => Self::Conflict,
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
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::HeadersTooLarge => "HEADERS_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
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

/// An error a handler answers with: the one place statuses, codes and retry hints are chosen.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after_secs: Option<u32>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: ErrorCode,
        message: impl Into<String>,
        id: &CorrelationId,
    ) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, message, id.as_str()),
            retry_after_secs: None,
        }
    }

    /// The same error with a hint to retry after `secs` seconds.
    #[must_use]
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn invalid_input(err: &ValidationError, id: &CorrelationId) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            err.to_string(),
            id,
        )
    }

    pub fn unauthenticated(message: &str, id: &CorrelationId) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            message,
            id,
        )
    }

    /// How an auth failure is told to a REST client.
    pub fn from_auth(err: &AuthError, id: &CorrelationId) -> Self {
        if matches!(err, AuthError::Busy) {
            // Counted in the metrics; one line per refusal would flood the log in a burst.
            tracing::debug!(request_id = %id.as_str(), "auth operation refused: bound reached");
        } else {
            tracing::warn!(request_id = %id.as_str(), error = %err, cause = ?std::error::Error::source(err).map(ToString::to_string), "auth backend failure");
        }
        let (status, code, retry) = match err {
            AuthError::Unavailable(_) | AuthError::Callbacks(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::BackendUnavailable,
                Some(2),
            ),
            AuthError::Timeout => (StatusCode::GATEWAY_TIMEOUT, ErrorCode::BackendTimeout, None),
            AuthError::CallbackTimeout(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::BackendTimeout,
                Some(2),
            ),
            AuthError::Backend(_) => (StatusCode::BAD_GATEWAY, ErrorCode::BackendError, None),
            AuthError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                Some(1),
            ),
        };
        let mut api = Self::new(status, code, err.to_string(), id);
        api.retry_after_secs = retry;
        api
    }
}

/// The answer of a REST operation: its success body, or the JSON error model with the
/// statuses our handlers produce.
#[derive(ApiResponse)]
pub enum Reply<T: ToJSON + Serialize + Send + Sync> {
    /// Success.
    #[oai(status = 200)]
    Ok(JsonOut<T>),
    /// The request is malformed or breaks a rule (`BAD_REQUEST`, `BAD_USER_INPUT`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid session, or a refused login (`UNAUTHENTICATED`).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The session may not do this (`FORBIDDEN`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The body is larger than the configured limit (`PAYLOAD_TOO_LARGE`).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not declared as JSON (`UNSUPPORTED_MEDIA_TYPE`).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// NoETL answered with an error (`BACKEND_ERROR`).
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// NoETL or the auth playbook cannot answer now; retry after the hinted seconds
    /// (`BACKEND_UNAVAILABLE`, `BACKEND_TIMEOUT`).
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] Option<u32>),
    /// NoETL did not answer in time (`BACKEND_TIMEOUT`).
    #[oai(status = 504)]
    GatewayTimeout(Json<ErrorBody>),
}

impl<T: ToJSON + Serialize + Send + Sync> From<ApiError> for Reply<T> {
    fn from(err: ApiError) -> Self {
        let body = Json(err.body);
        match err.status.as_u16() {
            401 => Self::Unauthorized(body),
            403 => Self::Forbidden(body),
            413 => Self::PayloadTooLarge(body),
            415 => Self::UnsupportedMediaType(body),
            502 => Self::BadGateway(body),
            503 => Self::Unavailable(body, err.retry_after_secs),
            504 => Self::GatewayTimeout(body),
            _ => Self::BadRequest(body),
        }
    }
}
