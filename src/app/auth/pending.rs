//! App (auth): one started auth playbook awaiting its callback. Replies for another execution
//! are refused; when the deadline passes the abandoned execution is cancelled.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::{AuthError, AuthService, AuthSettings};
use crate::domain::{ExecutionId, PlaybookPath, RequestId};
use crate::ports::{IncomingReply, PlaybookRunner, ReplyBus, ReplyStream, SessionCache};

pub(super) struct Pending {
    /// Held while this playbook is waited on (the replica's bound on them).
    _slot: OwnedSemaphorePermit,
    replies: ReplyStream,
    execution: ExecutionId,
    deadline: Instant,
    kind: &'static str,
}

impl Pending {
    pub(super) async fn start<R: PlaybookRunner, Y: ReplyBus>(
        slot: OwnedSemaphorePermit,
        runner: &R,
        replies: &Y,
        settings: &AuthSettings,
        playbook: &PlaybookPath,
        mut vars: Map<String, Value>,
        kind: &'static str,
    ) -> Result<Self, AuthError> {
        let request_id = RequestId::generate();
        // Subscribe before starting: a fast worker may call back before `start` returns.
        let stream = replies.subscribe(&request_id).await?;
        vars.insert("request_id".into(), json!(request_id.as_str()));
        vars.insert("gateway_url".into(), json!(settings.gateway_url));
        let execution = runner.start(playbook, Value::Object(vars)).await?;
        tracing::debug!(%request_id, %execution, kind, "auth playbook started");
        Ok(Self {
            _slot: slot,
            replies: stream,
            execution,
            deadline: Instant::now() + settings.playbook_timeout,
            kind,
        })
    }

    /// The next reply for this execution, or `CallbackTimeout` (after cancelling it).
    pub(super) async fn next<R: PlaybookRunner, C: SessionCache, Y: ReplyBus>(
        &mut self,
        service: &AuthService<R, C, Y>,
    ) -> Result<IncomingReply, AuthError> {
        loop {
            match tokio::time::timeout_at(self.deadline, self.replies.next()).await {
                Ok(Some(incoming)) => {
                    let other = incoming
                        .reply
                        .execution_id
                        .as_ref()
                        .is_some_and(|id| id != &self.execution);
                    if other {
                        tracing::warn!(
                            kind = self.kind,
                            "refused a callback naming another execution"
                        );
                        let _ = incoming.verdict.send(false);
                        continue;
                    }
                    return Ok(incoming);
                }
                Ok(None) | Err(_) => {
                    self.cancel_abandoned(service);
                    return Err(AuthError::CallbackTimeout(self.kind));
                }
            }
        }
    }

    fn cancel_abandoned<R: PlaybookRunner, C: SessionCache, Y: ReplyBus>(
        &self,
        service: &AuthService<R, C, Y>,
    ) {
        let runner = service.runner.clone();
        let execution = self.execution.clone();
        let reason = format!(
            "noetl-gateway stopped waiting for the {} callback",
            self.kind
        );
        tokio::spawn(async move {
            let cancel = runner.cancel(&execution, &reason);
            match tokio::time::timeout(Duration::from_secs(10), cancel).await {
                Ok(Ok(())) => tracing::info!(%execution, "abandoned auth execution cancelled"),
                Ok(Err(err)) => {
                    tracing::warn!(%execution, error = %err, "could not cancel abandoned execution")
                }
                Err(_) => tracing::warn!(%execution, "cancel of abandoned execution timed out"),
            }
        });
    }
}
