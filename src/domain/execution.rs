//! Domain: what the gateway knows of a NoETL execution's progress.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ExecutionId, PlaybookPath};

/// The lifecycle state of an execution, as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionState {
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl ExecutionState {
    /// Reads a server status word in any case; unknown words (`PENDING`, `STARTED`, ...) are
    /// still running from the gateway's point of view.
    pub fn from_word(word: &str) -> Self {
        match word.trim().to_ascii_uppercase().as_str() {
            "COMPLETED" | "SUCCESS" | "SUCCEEDED" | "DONE" => Self::Completed,
            "FAILED" | "FAILURE" | "ERROR" => Self::Failed,
            "CANCELLED" | "CANCELED" => Self::Cancelled,
            _ => Self::Running,
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// A snapshot of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionStatus {
    pub execution_id: ExecutionId,
    pub state: ExecutionState,
    pub path: Option<PlaybookPath>,
    pub current_step: Option<String>,
}

/// A snapshot with the execution's events, for building a result when no callback came.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDetail {
    pub status: ExecutionStatus,
    pub events: Vec<Value>,
}

impl ExecutionDetail {
    /// The output of the last step that finished: the `result` of the last `call.done` event.
    pub fn last_output(&self) -> Option<Value> {
        self.events
            .iter()
            .rev()
            .find(|e| e.get("event_type").and_then(Value::as_str) == Some("call.done"))
            .and_then(|e| e.get("result").cloned())
    }

    /// The error of the last failed step, if any.
    pub fn last_error(&self) -> Option<Value> {
        self.events
            .iter()
            .rev()
            .find_map(|e| e.get("error").filter(|v| !v.is_null()).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_map_to_four_states() {
        assert_eq!(
            ExecutionState::from_word("completed"),
            ExecutionState::Completed
        );
        assert_eq!(ExecutionState::from_word("FAILED"), ExecutionState::Failed);
        assert_eq!(
            ExecutionState::from_word("Cancelled"),
            ExecutionState::Cancelled
        );
        assert_eq!(
            ExecutionState::from_word("PENDING"),
            ExecutionState::Running
        );
        assert!(!ExecutionState::Running.is_terminal());
        assert!(ExecutionState::Failed.is_terminal());
    }

    #[test]
    fn the_last_call_done_event_is_the_output() {
        let status = ExecutionStatus {
            execution_id: super::super::ExecutionId::from_u64(1),
            state: ExecutionState::Completed,
            path: None,
            current_step: None,
        };
        let detail = ExecutionDetail {
            status,
            events: vec![
                serde_json::json!({"event_type": "call.done", "result": 1}),
                serde_json::json!({"event_type": "call.error", "error": {"message": "x"}}),
                serde_json::json!({"event_type": "call.done", "result": {"answer": 42}}),
                serde_json::json!({"event_type": "playbook.completed"}),
            ],
        };
        assert_eq!(
            detail.last_output(),
            Some(serde_json::json!({"answer": 42}))
        );
        assert_eq!(
            detail.last_error(),
            Some(serde_json::json!({"message": "x"}))
        );
    }
}
