//! Adapters (graphql): the GraphQL object types and their conversion from the domain.

use async_graphql::{Enum, Json, SimpleObject};
use serde_json::Value;

use crate::app::executions::Started;
use crate::domain::{ClientEvent, EventCursor, ExecutionState, ExecutionStatus, LoggedEvent};

/// What `executePlaybook` and `rerunExecution` answer (the upstream shape).
#[derive(Debug, SimpleObject)]
pub struct ExecuteResult {
    /// Same as `executionId`.
    pub id: String,
    pub execution_id: String,
    /// Set when a `clientId` was given: results for it arrive on that client's stream.
    pub request_id: Option<String>,
    /// The playbook path.
    pub name: Option<String>,
    pub status: Option<String>,
    pub text_output: Option<String>,
}

impl From<Started> for ExecuteResult {
    fn from(s: Started) -> Self {
        Self {
            id: s.execution_id.to_string(),
            execution_id: s.execution_id.to_string(),
            request_id: s.request_id.map(|r| r.to_string()),
            name: Some(s.playbook.to_string()),
            status: Some("started".to_owned()),
            text_output: None,
        }
    }
}

/// An execution's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ExecutionState")]
pub enum GqlExecutionState {
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl From<ExecutionState> for GqlExecutionState {
    fn from(s: ExecutionState) -> Self {
        match s {
            ExecutionState::Running => Self::Running,
            ExecutionState::Completed => Self::Completed,
            ExecutionState::Failed => Self::Failed,
            ExecutionState::Cancelled => Self::Cancelled,
        }
    }
}

/// One execution as NoETL reports it.
#[derive(Debug, SimpleObject)]
pub struct Execution {
    pub execution_id: String,
    pub status: GqlExecutionState,
    pub path: Option<String>,
    pub current_step: Option<String>,
}

impl From<ExecutionStatus> for Execution {
    fn from(s: ExecutionStatus) -> Self {
        Self {
            execution_id: s.execution_id.to_string(),
            status: s.state.into(),
            path: s.path.map(|p| p.to_string()),
            current_step: s.current_step,
        }
    }
}

/// One event of an execution, as the SSE stream carries it (`method` is the SSE event name).
#[derive(Debug, SimpleObject)]
pub struct ExecutionEvent {
    /// Position in the client's event log; pass it as `after` to resume.
    pub cursor: String,
    /// `playbook/result`, `playbook/progress` or `playbook/state`; or `events/missed`, sent
    /// first on a resume (`after`) when the log discarded events after that cursor before the
    /// subscription came (the client should reload what it shows).
    pub method: String,
    pub request_id: Option<String>,
    pub execution_id: Option<String>,
    /// Results: `COMPLETED`/`FAILED`; states: `completed`/`failed`.
    pub status: Option<String>,
    pub step: Option<String>,
    pub message: Option<String>,
    pub progress: Option<Json<Value>>,
    pub data: Option<Json<Value>>,
    pub error: Option<Json<Value>>,
}

impl ExecutionEvent {
    /// An event with only its cursor and method.
    fn blank(cursor: EventCursor, method: &str) -> Self {
        Self {
            cursor: cursor.get().to_string(),
            method: method.to_owned(),
            request_id: None,
            execution_id: None,
            status: None,
            step: None,
            message: None,
            progress: None,
            data: None,
            error: None,
        }
    }

    /// The notice that events after `after` were discarded before this subscription.
    pub fn missed(after: EventCursor) -> Self {
        Self::blank(after, "events/missed")
    }
}

impl From<LoggedEvent> for ExecutionEvent {
    fn from(logged: LoggedEvent) -> Self {
        let blank = |method: &str| Self::blank(logged.cursor, method);
        match logged.event {
            ClientEvent::Result {
                request_id,
                execution_id,
                state,
                data,
                error,
                ..
            } => Self {
                request_id: Some(request_id.to_string()),
                execution_id: execution_id.map(|e| e.to_string()),
                status: Some(state.as_str().to_owned()),
                data: data.map(Json),
                error: error.and_then(|e| serde_json::to_value(e).ok()).map(Json),
                ..blank("playbook/result")
            },
            ClientEvent::Progress {
                request_id,
                execution_id,
                step,
                message,
                progress,
                ..
            } => Self {
                request_id: Some(request_id.to_string()),
                execution_id: execution_id.map(|e| e.to_string()),
                step,
                message,
                progress: progress.map(Json),
                ..blank("playbook/progress")
            },
            ClientEvent::State {
                execution_id,
                state,
                step_name,
                ..
            } => Self {
                execution_id: Some(execution_id.to_string()),
                status: Some(state.as_str().to_ascii_lowercase()),
                step: step_name,
                ..blank("playbook/state")
            },
            // Subscriptions filter these out before converting; a stray one reads as such.
            ClientEvent::StreamOpened { .. } => blank("stream/opened"),
        }
    }
}
