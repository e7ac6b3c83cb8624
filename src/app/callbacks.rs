//! App: worker callbacks for real-time clients. A result or progress report for a pending
//! request is appended to that client's durable event log, on whichever replica took it;
//! every replica streaming to the client reads it from there. A result is logged once.

use std::sync::Arc;

use serde_json::Value;

use super::presence::Presence;
use crate::domain::{ClientEvent, EventError, ExecutionId, ExecutionState, RequestId};
use crate::ports::{EventLog, EventLogError, RequestStore, RequestStoreError};

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("Request not found")]
    UnknownRequest,
    #[error("the execution_id does not match the request's execution")]
    WrongExecution,
    #[error("the request store is unavailable")]
    Store(#[source] Arc<RequestStoreError>),
    #[error("the event log is unavailable")]
    Events(#[source] Arc<EventLogError>),
}

impl From<RequestStoreError> for CallbackError {
    fn from(err: RequestStoreError) -> Self {
        Self::Store(Arc::new(err))
    }
}

impl From<EventLogError> for CallbackError {
    fn from(err: EventLogError) -> Self {
        Self::Events(Arc::new(err))
    }
}

/// A playbook's final result.
#[derive(Debug, Clone)]
pub struct ResultReport {
    pub request_id: RequestId,
    pub execution_id: Option<ExecutionId>,
    pub state: ExecutionState,
    pub data: Option<Value>,
    pub error: Option<EventError>,
    /// The W3C trace context the report arrived in, if any.
    pub trace: Option<String>,
}

/// A playbook's progress report.
#[derive(Debug, Clone)]
pub struct ProgressReport {
    pub request_id: RequestId,
    pub execution_id: Option<ExecutionId>,
    pub step: Option<String>,
    pub message: Option<String>,
    pub progress: Option<Value>,
    /// The W3C trace context the report arrived in, if any.
    pub trace: Option<String>,
}

/// Whether the client was streaming from this replica when its event was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    Queued,
}

#[derive(Debug, Clone)]
pub struct CallbackService<Q, L> {
    requests: Q,
    events: L,
    presence: Presence,
}

impl<Q: RequestStore, L: EventLog> CallbackService<Q, L> {
    pub fn new(requests: Q, events: L, presence: Presence) -> Self {
        Self {
            requests,
            events,
            presence,
        }
    }

    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// Logs `playbook/state` and then `playbook/result` for the request's client.
    ///
    /// # Errors
    /// `UnknownRequest`, `WrongExecution`, or the stores' unavailability (nothing was
    /// logged then, so the worker may retry).
    pub async fn result(&self, report: ResultReport) -> Result<Delivery, CallbackError> {
        let mut pending = self.pending(&report.request_id).await?;
        if report
            .execution_id
            .as_ref()
            .is_some_and(|id| id != &pending.execution_id)
        {
            return Err(CallbackError::WrongExecution);
        }
        // One writer per result: a callback and the watcher racing each other take the same
        // lease; whoever loses leaves the result to the winner.
        let attempt = uuid::Uuid::new_v4().to_string();
        let writer = self
            .requests
            .lease(&format!("result-{}", report.request_id), &attempt)
            .await?;
        if !pending.completed && writer {
            let state = ClientEvent::State {
                execution_id: pending.execution_id.clone(),
                state: report.state,
                step_name: None,
                at: now_rfc3339(),
            };
            let result = ClientEvent::Result {
                request_id: report.request_id,
                execution_id: Some(pending.execution_id.clone()),
                state: report.state,
                data: report.data,
                error: report.error,
                trace: report.trace,
            };
            self.events.append(&pending.client_id, &state).await?;
            self.events.append(&pending.client_id, &result).await?;
            pending.completed = true;
            if let Err(err) = self.requests.put(&pending).await {
                tracing::warn!(error = %err, "result logged but the request not marked completed");
            }
        }
        Ok(self.delivery(&pending.client_id))
    }

    /// Logs `playbook/progress` for the request's client.
    ///
    /// # Errors
    /// As for `result`.
    pub async fn progress(&self, report: ProgressReport) -> Result<Delivery, CallbackError> {
        let pending = self.pending(&report.request_id).await?;
        if report
            .execution_id
            .as_ref()
            .is_some_and(|id| id != &pending.execution_id)
        {
            return Err(CallbackError::WrongExecution);
        }
        let event = ClientEvent::Progress {
            request_id: report.request_id,
            execution_id: Some(pending.execution_id.clone()),
            step: report.step,
            message: report.message,
            progress: report.progress,
            trace: report.trace,
        };
        self.events.append(&pending.client_id, &event).await?;
        Ok(self.delivery(&pending.client_id))
    }

    /// The pending request, waiting briefly for it: a fast worker can call back before the
    /// replica that started its execution has finished recording the request, and the
    /// shared store may be between leaders. Only the last answer counts.
    async fn pending(
        &self,
        id: &RequestId,
    ) -> Result<crate::domain::PendingRequest, CallbackError> {
        for pause_ms in [25u64, 50, 100, 200, 400, 800] {
            if let Ok(Some(found)) = self.requests.get(id).await {
                return Ok(found);
            }
            tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
        }
        self.requests
            .get(id)
            .await?
            .ok_or(CallbackError::UnknownRequest)
    }

    fn delivery(&self, client: &crate::domain::ClientId) -> Delivery {
        if self.presence.is_here(client) {
            Delivery::Delivered
        } else {
            Delivery::Queued
        }
    }
}

pub(crate) fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.to_string())
}
