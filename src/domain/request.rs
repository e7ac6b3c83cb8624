//! Domain: a pending request, which ties a started execution to the client awaiting its result.

use serde::{Deserialize, Serialize};

use super::{ClientId, ExecutionId, PlaybookPath, RequestId, SessionKey};

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
}

impl PendingRequest {
    pub fn is_owned_by(&self, key: &SessionKey) -> bool {
        self.session_owner == key.as_str()
    }
}
