//! Domain: what the gateway knows of a NoETL execution's progress.

use serde::{Deserialize, Serialize};

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
}
