//! Domain: what a real-time client is told about its executions, and replies to auth flows.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ExecutionId, ExecutionState, RequestId, StreamId};

/// The error a failed playbook reports (JSON-RPC style: code, message, optional data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// One event for one client, in the order it must be delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientEvent {
    Result {
        request_id: RequestId,
        execution_id: Option<ExecutionId>,
        state: ExecutionState,
        data: Option<Value>,
        error: Option<EventError>,
        /// The W3C trace context of the report it came from, so its delivery can be
        /// linked to that trace. Kept in the log, never sent to the client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<String>,
    },
    Progress {
        request_id: RequestId,
        execution_id: Option<ExecutionId>,
        step: Option<String>,
        message: Option<String>,
        progress: Option<Value>,
        /// As for `Result`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<String>,
    },
    State {
        execution_id: ExecutionId,
        state: ExecutionState,
        step_name: Option<String>,
        /// RFC 3339.
        at: String,
    },
    /// A new stream for the client opened. The log orders it among the client's events, so
    /// every stream opened before it, on whichever replica, ends when it reads it. Kept in
    /// the log, never sent to a client.
    StreamOpened { stream: StreamId },
}

impl ClientEvent {
    /// The trace context of the report behind the event, when it has one.
    pub fn trace(&self) -> Option<&str> {
        match self {
            Self::Result { trace, .. } | Self::Progress { trace, .. } => trace.as_deref(),
            Self::State { .. } | Self::StreamOpened { .. } => None,
        }
    }

    /// The identity of an event that is logged at most once (a request's result, an
    /// execution's state), so that a log can drop a repeated append of it: a retry after a
    /// lost acknowledgement, or a second writer after a replica died between logging it and
    /// marking the request complete. Progress reports have none.
    pub fn once_key(&self) -> Option<String> {
        match self {
            Self::Result { request_id, .. } => Some(format!("result:{request_id}")),
            Self::State {
                execution_id,
                state,
                step_name,
                ..
            } => Some(format!(
                "state:{execution_id}:{}:{}",
                state.as_str(),
                step_name.as_deref().unwrap_or_default()
            )),
            Self::Progress { .. } | Self::StreamOpened { .. } => None,
        }
    }

    /// Whether the event is for the client (a frame), rather than a marker for streams.
    pub fn is_for_client(&self) -> bool {
        !matches!(self, Self::StreamOpened { .. })
    }
}

/// A position in a client's event log; increases with every append. Sent as the SSE `id:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventCursor(u64);

impl EventCursor {
    pub fn new(position: u64) -> Self {
        Self(position)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// An event as read back from the log, with its cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub cursor: EventCursor,
    pub event: ClientEvent,
}

/// A worker's answer to an auth playbook (login, validate, check-access).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthReply {
    pub request_id: RequestId,
    pub execution_id: Option<ExecutionId>,
    pub step: Option<String>,
    pub success: bool,
    pub data: Value,
}
