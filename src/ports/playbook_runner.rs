//! Port: starting and following playbook executions on NoETL, and its synchronous auth routes.

use std::future::Future;

use serde_json::Value;

use crate::domain::{
    AccessDecision, AccessQuery, ExecutionDetail, ExecutionId, ExecutionStatus, LoginRequest,
    LoginVerdict, PlaybookPath, Session, SessionToken,
};

use super::Cause;

/// Why a call to the workflow engine did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("playbook not found: {0}")]
    PlaybookNotFound(String),
    #[error("execution not found: {0}")]
    ExecutionNotFound(String),
    #[error("not supported by this NoETL server: {0}")]
    NotSupported(&'static str),
    #[error("NoETL refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("NoETL is unavailable")]
    Unavailable(#[source] Cause),
    #[error("NoETL did not answer in time")]
    Timeout,
    #[error("NoETL answered in an unexpected shape: {0}")]
    InvalidResponse(String),
}

/// The workflow engine, as the gateway uses it.
pub trait PlaybookRunner: Clone + Send + Sync + 'static {
    /// Starts `path` with `payload` as its workload.
    ///
    /// # Errors
    /// `PlaybookNotFound` for an unknown path, `Rejected` for other 4xx, `Unavailable` or
    /// `Timeout` when the engine cannot be reached in time, `InvalidResponse` for a bad answer.
    fn start(
        &self,
        path: &PlaybookPath,
        payload: Value,
    ) -> impl Future<Output = Result<ExecutionId, RunnerError>> + Send;

    /// Reads the current status of an execution.
    ///
    /// # Errors
    /// `ExecutionNotFound` for an unknown id; otherwise as for `start`.
    fn status(
        &self,
        id: &ExecutionId,
    ) -> impl Future<Output = Result<ExecutionStatus, RunnerError>> + Send;

    /// Reads an execution with its events.
    ///
    /// # Errors
    /// `ExecutionNotFound` for an unknown id; otherwise as for `start`.
    fn detail(
        &self,
        id: &ExecutionId,
    ) -> impl Future<Output = Result<ExecutionDetail, RunnerError>> + Send;

    /// Lists executions, newest first as the engine orders them.
    ///
    /// # Errors
    /// As for `start`.
    fn list(
        &self,
        limit: u32,
        offset: u32,
    ) -> impl Future<Output = Result<Vec<ExecutionStatus>, RunnerError>> + Send;

    /// Asks the engine to cancel an execution (and its children).
    ///
    /// # Errors
    /// `ExecutionNotFound` for an unknown id; otherwise as for `start`.
    fn cancel(
        &self,
        id: &ExecutionId,
        reason: &str,
    ) -> impl Future<Output = Result<(), RunnerError>> + Send;

    /// Starts a new execution from an earlier one.
    ///
    /// # Errors
    /// `NotSupported` when the server has no rerun route; otherwise as for `status`.
    fn rerun(
        &self,
        id: &ExecutionId,
        variables: Value,
    ) -> impl Future<Output = Result<ExecutionId, RunnerError>> + Send;

    /// Validates a session token with the engine's synchronous route. `Ok(None)` means the
    /// engine answered and the session is not valid.
    ///
    /// # Errors
    /// `Unavailable`, `Timeout` or `InvalidResponse` when no trustworthy answer came back.
    fn validate_session(
        &self,
        token: &SessionToken,
    ) -> impl Future<Output = Result<Option<Session>, RunnerError>> + Send;

    /// Logs in through the engine's synchronous login route (no worker involved).
    ///
    /// # Errors
    /// `NotSupported` when the server has no such route; `Unavailable`, `Timeout`,
    /// `InvalidResponse` when no trustworthy answer came back. A refusal is a verdict.
    fn login(
        &self,
        request: &LoginRequest,
    ) -> impl Future<Output = Result<LoginVerdict, RunnerError>> + Send;

    /// Checks playbook access through the engine's synchronous route.
    ///
    /// # Errors
    /// As for `login`. A denial is a decision, not an error.
    fn check_access(
        &self,
        query: &AccessQuery,
    ) -> impl Future<Output = Result<AccessDecision, RunnerError>> + Send;

    /// Checks that the engine answers its health route.
    ///
    /// # Errors
    /// `Unavailable` or `Timeout` when it does not.
    fn health(&self) -> impl Future<Output = Result<(), RunnerError>> + Send;
}
