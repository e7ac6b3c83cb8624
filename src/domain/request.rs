//! Domain: a pending request, which ties a started execution to the client awaiting its result.

use serde::{Deserialize, Serialize};

use super::{ClientId, ExecutionId, PlaybookPath, RequestId, SessionKey, ValidationError};

/// Who waits for the callback of one started playbook. `session_owner` is the session key (a
/// digest), so a request can be matched to its session without storing the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    pub request_id: RequestId,
    pub client_id: ClientId,
    pub session_owner: String,
    pub execution_id: ExecutionId,
    pub playbook_path: PlaybookPath,
    /// Unix seconds.
    pub created_at: i64,
    /// Set once the result has been logged for the client: a second result is a duplicate.
    #[serde(default)]
    pub completed: bool,
}

impl PendingRequest {
    pub fn is_owned_by(&self, key: &SessionKey) -> bool {
        self.session_owner == key.as_str()
    }
}

/// A client's idempotency key, scoped to the session that sent it so two users' keys never
/// collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// # Errors
    /// A [`ValidationError`] for `idempotency_key`: 1 to 128 of ASCII letters, digits, `-_.`.
    pub fn parse(raw: &str, owner: &SessionKey) -> Result<Self, ValidationError> {
        let raw = raw.trim();
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(ValidationError::new(
                "idempotency_key",
                "must be 1 to 128 ASCII letters, digits, '-', '_' or '.'",
            ));
        }
        Ok(Self(format!("{}-{raw}", &owner.as_str()[..16])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first execution started under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotentRecord {
    pub execution_id: ExecutionId,
    pub request_id: Option<RequestId>,
    pub playbook_path: PlaybookPath,
}
