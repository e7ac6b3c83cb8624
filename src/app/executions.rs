//! App: the execution use cases. Starting a playbook (with the `request_id` and `gateway_url`
//! a callback needs, a pending request bound to the session and client, and idempotency),
//! rerun, cancel, status and lists, and following one request's events.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use crate::domain::{
    ClientEvent, ClientId, EventCursor, ExecutionId, ExecutionStatus, IdempotencyKey,
    IdempotentRecord, LoggedEvent, PendingRequest, PlaybookPath, RequestId, SessionKey, StreamId,
};
use crate::ports::{
    EventLog, EventLogError, EventStream, PlaybookRunner, RequestStore, RequestStoreError,
    RunnerError,
};

/// Why an execution use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error("playbook not found: {0}")]
    PlaybookNotFound(String),
    #[error("execution not found: {0}")]
    ExecutionNotFound(String),
    #[error("request not found: {0}")]
    RequestNotFound(String),
    #[error("not supported by this NoETL server: {0}")]
    NotSupported(&'static str),
    #[error("{0}")]
    BadInput(String),
    #[error("this session may not {0}")]
    Forbidden(String),
    #[error("NoETL is unavailable")]
    Unavailable(#[source] Arc<RunnerError>),
    #[error("NoETL did not answer in time")]
    Timeout,
    #[error("NoETL failed")]
    Backend(#[source] Arc<RunnerError>),
    #[error("the request store is unavailable")]
    Store(#[source] Arc<RequestStoreError>),
    #[error("the event log is unavailable")]
    Events(#[source] Arc<EventLogError>),
}

impl From<RunnerError> for ExecutionError {
    fn from(err: RunnerError) -> Self {
        match err {
            RunnerError::PlaybookNotFound(p) => Self::PlaybookNotFound(p),
            RunnerError::ExecutionNotFound(e) => Self::ExecutionNotFound(e),
            RunnerError::NotSupported(what) => Self::NotSupported(what),
            RunnerError::Unavailable(_) => Self::Unavailable(Arc::new(err)),
            RunnerError::Timeout => Self::Timeout,
            other => Self::Backend(Arc::new(other)),
        }
    }
}

impl From<RequestStoreError> for ExecutionError {
    fn from(err: RequestStoreError) -> Self {
        Self::Store(Arc::new(err))
    }
}

impl From<EventLogError> for ExecutionError {
    fn from(err: EventLogError) -> Self {
        Self::Events(Arc::new(err))
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ExecuteCommand {
    pub playbook: PlaybookPath,
    pub variables: Map<String, Value>,
    pub client_id: Option<ClientId>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The session that asks (its one-way key).
    pub owner: SessionKey,
}

/// A started (or, for a repeated idempotency key, the earlier) execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub execution_id: ExecutionId,
    pub request_id: Option<RequestId>,
    pub playbook: PlaybookPath,
}

#[derive(Debug, Clone)]
pub struct ExecutionService<R, Q, L> {
    runner: R,
    requests: Q,
    events: L,
    gateway_url: Arc<str>,
}

impl<R: PlaybookRunner, Q: RequestStore, L: EventLog> ExecutionService<R, Q, L> {
    pub fn new(runner: R, requests: Q, events: L, gateway_url: &str) -> Self {
        Self {
            runner,
            requests,
            events,
            gateway_url: Arc::from(gateway_url),
        }
    }

    pub fn runner(&self) -> &R {
        &self.runner
    }

    /// Starts a playbook. With a client id, the workload gets `request_id` and `gateway_url`
    /// and a pending request routes the callback to that client.
    ///
    /// # Errors
    /// [`ExecutionError`] from NoETL or the request store; nothing is left pending then.
    pub async fn execute(&self, cmd: ExecuteCommand) -> Result<Started, ExecutionError> {
        if let Some(key) = &cmd.idempotency_key
            && let Some(earlier) = self.requests.idempotent_get(key).await?
        {
            return Ok(Started {
                execution_id: earlier.execution_id,
                request_id: earlier.request_id,
                playbook: earlier.playbook_path,
            });
        }
        let started = self
            .start(
                cmd.playbook.clone(),
                cmd.variables,
                cmd.client_id,
                &cmd.owner,
                Start::New,
            )
            .await?;
        let Some(key) = &cmd.idempotency_key else {
            return Ok(started);
        };
        let record = IdempotentRecord {
            execution_id: started.execution_id.clone(),
            request_id: started.request_id.clone(),
            playbook_path: started.playbook.clone(),
        };
        let winner = self.requests.idempotent_put(key, &record).await?;
        if winner != record {
            // A concurrent call with the same key won: ours is a duplicate.
            let _ = self
                .runner
                .cancel(&started.execution_id, "duplicate of an idempotent request")
                .await;
        }
        Ok(Started {
            execution_id: winner.execution_id,
            request_id: winner.request_id,
            playbook: winner.playbook_path,
        })
    }

    /// Starts a new execution from an earlier one.
    ///
    /// # Errors
    /// `NotSupported` when the server cannot rerun; otherwise as for `execute`.
    pub async fn rerun(
        &self,
        id: &ExecutionId,
        variables: Map<String, Value>,
        client_id: Option<ClientId>,
        owner: &SessionKey,
    ) -> Result<Started, ExecutionError> {
        let path = self.runner.status(id).await?.path;
        // The path only labels the pending request; servers that omit it get a plain label.
        let playbook = match path {
            Some(p) => p,
            None => {
                PlaybookPath::parse("rerun").map_err(|e| ExecutionError::BadInput(e.to_string()))?
            }
        };
        self.start(playbook, variables, client_id, owner, Start::Rerun(id))
            .await
    }

    async fn start(
        &self,
        playbook: PlaybookPath,
        mut variables: Map<String, Value>,
        client_id: Option<ClientId>,
        owner: &SessionKey,
        how: Start<'_>,
    ) -> Result<Started, ExecutionError> {
        if let Some(client) = &client_id
            && !self.requests.claim_client(client, owner).await?
        {
            return Err(ExecutionError::Forbidden(
                "use a client id another session holds".into(),
            ));
        }
        let request_id = client_id.as_ref().map(|_| RequestId::generate());
        if let Some(id) = &request_id {
            variables.insert("request_id".into(), json!(id.as_str()));
            variables.insert("gateway_url".into(), json!(&*self.gateway_url));
        }
        let execution_id = match how {
            Start::New => {
                self.runner
                    .start(&playbook, Value::Object(variables))
                    .await?
            }
            Start::Rerun(id) => self.runner.rerun(id, Value::Object(variables)).await?,
        };
        if let (Some(request_id), Some(client_id)) = (&request_id, client_id) {
            let pending = PendingRequest {
                request_id: request_id.clone(),
                client_id,
                session_owner: owner.as_str().to_owned(),
                execution_id: execution_id.clone(),
                playbook_path: playbook.clone(),
                created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
                completed: false,
            };
            if let Err(err) = self.requests.put(&pending).await {
                // Without the pending request the result could not reach the client.
                let _ = self
                    .runner
                    .cancel(&execution_id, "the gateway could not record the request")
                    .await;
                return Err(err.into());
            }
        }
        Ok(Started {
            execution_id,
            request_id,
            playbook,
        })
    }

    /// # Errors
    /// As for `execute`.
    pub async fn status(&self, id: &ExecutionId) -> Result<ExecutionStatus, ExecutionError> {
        Ok(self.runner.status(id).await?)
    }

    /// # Errors
    /// As for `execute`.
    pub async fn list(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<ExecutionStatus>, ExecutionError> {
        Ok(self.runner.list(limit, offset).await?)
    }

    /// # Errors
    /// As for `execute`.
    pub async fn cancel(&self, id: &ExecutionId, reason: &str) -> Result<(), ExecutionError> {
        Ok(self.runner.cancel(id, reason).await?)
    }

    /// The pending request a session may follow, by request id or execution id.
    ///
    /// # Errors
    /// `RequestNotFound` when there is none, `Forbidden` when another session owns it.
    pub async fn owned_request(
        &self,
        request_id: Option<&RequestId>,
        execution_id: Option<&ExecutionId>,
        owner: &SessionKey,
    ) -> Result<PendingRequest, ExecutionError> {
        let found = match (request_id, execution_id) {
            (Some(r), _) => self.requests.get(r).await?,
            (None, Some(e)) => self.requests.by_execution(e).await?,
            (None, None) => {
                return Err(ExecutionError::BadInput(
                    "give requestId or executionId".into(),
                ));
            }
        };
        let pending = found.ok_or_else(|| {
            ExecutionError::RequestNotFound(
                request_id
                    .map(ToString::to_string)
                    .or(execution_id.map(ToString::to_string))
                    .unwrap_or_default(),
            )
        })?;
        if pending.is_owned_by(owner) {
            Ok(pending)
        } else {
            Err(ExecutionError::Forbidden(
                "follow another session's execution".into(),
            ))
        }
    }

    /// Every event of a client after `after`, replayed then live; the client id is bound to
    /// `owner` if no session holds it yet.
    ///
    /// # Errors
    /// `Forbidden` when another session holds the client id; `Events` when the log is away.
    pub async fn follow_client(
        &self,
        client: &ClientId,
        owner: &SessionKey,
        after: Option<EventCursor>,
    ) -> Result<EventStream, ExecutionError> {
        if !self.requests.claim_client(client, owner).await? {
            return Err(ExecutionError::Forbidden(
                "follow a client id another session holds".into(),
            ));
        }
        Ok(self.events.follow(client, after).await?)
    }

    /// Whether a client resuming after `after` may have missed events its log discarded
    /// before it came back; `None` when it is not resuming (no cursor) or the log cannot
    /// tell now.
    pub async fn missed_after(
        &self,
        client: &ClientId,
        after: Option<EventCursor>,
    ) -> Option<bool> {
        self.events
            .discarded_after(client, after?)
            .await
            .inspect_err(|err| tracing::warn!(error = %err, "could not tell whether a resuming client missed events"))
            .ok()
    }

    /// Marks in the client's log that `stream` opened, so that streams opened before it, on
    /// any replica, end when they read the mark.
    ///
    /// # Errors
    /// `Events` when the log is away.
    pub async fn announce_stream(
        &self,
        client: &ClientId,
        stream: &StreamId,
    ) -> Result<(), ExecutionError> {
        let opened = ClientEvent::StreamOpened {
            stream: stream.clone(),
        };
        self.events.append(client, &opened).await?;
        Ok(())
    }

    /// The pending requests of a client (for the stream's first frame).
    ///
    /// # Errors
    /// `Store` when the request store is away.
    pub async fn pending_for(
        &self,
        client: &ClientId,
    ) -> Result<Vec<PendingRequest>, ExecutionError> {
        Ok(self.requests.pending_for_client(client).await?)
    }

    /// The events of one request after `after`, replayed then live, from the client's log.
    ///
    /// # Errors
    /// `Events` when the log cannot be read.
    pub async fn follow_request(
        &self,
        pending: &PendingRequest,
        after: Option<EventCursor>,
    ) -> Result<EventStream, ExecutionError> {
        let stream = self.events.follow(&pending.client_id, after).await?;
        let request = pending.request_id.clone();
        let execution = pending.execution_id.clone();
        Ok(stream
            .filter(move |item| {
                let keep = match item {
                    Ok(LoggedEvent { event, .. }) => belongs(event, &request, &execution),
                    Err(_) => true,
                };
                std::future::ready(keep)
            })
            .boxed())
    }
}

enum Start<'a> {
    New,
    Rerun(&'a ExecutionId),
}

fn belongs(event: &ClientEvent, request: &RequestId, execution: &ExecutionId) -> bool {
    match event {
        ClientEvent::Result { request_id, .. } | ClientEvent::Progress { request_id, .. } => {
            request_id == request
        }
        ClientEvent::State { execution_id, .. } => execution_id == execution,
        ClientEvent::StreamOpened { .. } => false,
    }
}
