//! Adapters (graphql): the one mapping from application errors to GraphQL errors with a
//! stable `extensions.code`.

use async_graphql::{Error, ErrorExtensions};

use crate::app::auth::AuthError;
use crate::app::executions::ExecutionError;

fn coded(message: String, code: &'static str) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub(crate) fn from_execution(err: ExecutionError) -> Error {
    let code = match &err {
        ExecutionError::PlaybookNotFound(_) => "PLAYBOOK_NOT_FOUND",
        ExecutionError::ExecutionNotFound(_) | ExecutionError::RequestNotFound(_) => "NOT_FOUND",
        ExecutionError::NotSupported(_) => "NOT_SUPPORTED",
        ExecutionError::BadInput(_) => "BAD_USER_INPUT",
        ExecutionError::Forbidden(_) => "FORBIDDEN",
        ExecutionError::Unavailable(_) | ExecutionError::Store(_) | ExecutionError::Events(_) => {
            "BACKEND_UNAVAILABLE"
        }
        ExecutionError::Timeout => "BACKEND_TIMEOUT",
        ExecutionError::Backend(_) => "BACKEND_ERROR",
    };
    if matches!(code, "BACKEND_UNAVAILABLE" | "BACKEND_ERROR") {
        tracing::warn!(error = %err, cause = ?std::error::Error::source(&err).map(ToString::to_string), "execution backend failure");
    }
    coded(err.to_string(), code)
}

pub(crate) fn from_auth(err: AuthError) -> Error {
    let code = match &err {
        AuthError::Unavailable(_) | AuthError::Callbacks(_) => "BACKEND_UNAVAILABLE",
        AuthError::Timeout | AuthError::CallbackTimeout(_) => "BACKEND_TIMEOUT",
        AuthError::Backend(_) => "BACKEND_ERROR",
        AuthError::Busy => "UNAVAILABLE",
    };
    coded(err.to_string(), code)
}

pub(crate) fn bad_input(message: impl Into<String>) -> Error {
    coded(message.into(), "BAD_USER_INPUT")
}

pub(crate) fn forbidden(message: impl Into<String>) -> Error {
    coded(message.into(), "FORBIDDEN")
}

pub(crate) fn too_many(message: impl Into<String>) -> Error {
    coded(message.into(), "TOO_MANY_REQUESTS")
}

/// The code for errors async-graphql itself raises (parse, validation, limits).
pub(crate) const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
