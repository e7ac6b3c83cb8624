//! Adapters (noetl): the server's JSON shapes, read tolerantly and converted to the domain.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{
    ExecutionId, ExecutionState, ExecutionStatus, ExpiresAt, PlaybookPath, Session, User,
};

/// `POST /api/execute` answer: the id is a string here (a number elsewhere).
#[derive(Debug, Deserialize)]
pub(super) struct ExecuteAnswer {
    pub execution_id: ExecutionId,
}

/// `GET /api/executions/{id}/status`: `status` on current servers, flags on older ones.
#[derive(Debug, Deserialize)]
pub(super) struct StatusAnswer {
    pub execution_id: Option<ExecutionId>,
    pub status: Option<String>,
    pub completed: Option<bool>,
    pub failed: Option<bool>,
    pub current_step: Option<String>,
    pub path: Option<String>,
}

impl StatusAnswer {
    pub(super) fn state(&self) -> ExecutionState {
        match (&self.status, self.failed, self.completed) {
            (Some(word), _, _) => ExecutionState::from_word(word),
            (None, Some(true), _) => ExecutionState::Failed,
            (None, _, Some(true)) => ExecutionState::Completed,
            _ => ExecutionState::Running,
        }
    }

    pub(super) fn path(&self) -> Option<PlaybookPath> {
        self.path
            .as_deref()
            .and_then(|p| PlaybookPath::parse(p).ok())
    }

    /// The domain status; `asked` fills in an id the answer left out.
    pub(super) fn into_status(self, asked: &ExecutionId) -> ExecutionStatus {
        ExecutionStatus {
            execution_id: self.execution_id.clone().unwrap_or_else(|| asked.clone()),
            state: self.state(),
            path: self.path(),
            current_step: self.current_step,
        }
    }
}

/// The items of a list answer: a bare array, or one under `items`, `executions` or `data`.
pub(super) fn list_items(answer: Value) -> Vec<Value> {
    match answer {
        Value::Array(items) => items,
        Value::Object(mut map) => ["items", "executions", "data"]
            .iter()
            .find_map(|k| match map.remove(*k) {
                Some(Value::Array(items)) => Some(items),
                _ => None,
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `POST /api/auth/session/validate` answer.
#[derive(Debug, Deserialize)]
pub(super) struct ValidateAnswer {
    #[serde(default)]
    pub valid: bool,
    pub user: Option<User>,
    pub expires_at: Option<ExpiresAt>,
}

impl ValidateAnswer {
    pub(super) fn into_session(self) -> Option<Session> {
        match (self.valid, self.user) {
            (true, Some(user)) => Some(Session {
                user,
                expires_at: self.expires_at,
                is_active: true,
            }),
            _ => None,
        }
    }
}

/// The message of a server error body: `{"error": …}` now, `{"detail": …}` on older servers.
pub(super) fn error_message(body: &Value) -> String {
    let pick = |key: &str| match body.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    pick("error")
        .or_else(|| pick("detail"))
        .or_else(|| pick("message"))
        .unwrap_or_else(|| "no error message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_is_read_from_both_server_shapes() {
        let current: StatusAnswer =
            serde_json::from_value(json!({"execution_id": 12, "status": "COMPLETED"})).unwrap();
        assert_eq!(current.state(), ExecutionState::Completed);
        let older: StatusAnswer =
            serde_json::from_value(json!({"completed": true, "failed": true})).unwrap();
        assert_eq!(older.state(), ExecutionState::Failed);
        let running: StatusAnswer =
            serde_json::from_value(json!({"completed": false, "failed": false})).unwrap();
        assert_eq!(running.state(), ExecutionState::Running);
    }

    #[test]
    fn error_messages_are_read_from_error_or_detail() {
        assert_eq!(
            error_message(&json!({"error": "nope", "status": 404})),
            "nope"
        );
        assert_eq!(error_message(&json!({"detail": "old"})), "old");
        assert_eq!(error_message(&json!({})), "no error message");
    }
}
