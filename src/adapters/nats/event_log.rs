//! Adapters (nats): the per-client event log on one JetStream stream. Each client's events
//! go to `<NATS_UPDATES_SUBJECT_PREFIX>client.<client>`; a cursor is the stream sequence,
//! so any replica can resume any client from any cursor. Retention is bounded by age and
//! size. Followers are pull consumers filtered to one client that heal themselves (`follower`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use tokio::sync::RwLock;

use super::NatsConnection;
use super::bucket::{OP_TIMEOUT, open_timeout};
use super::keys::token;
use crate::domain::{ClientEvent, ClientId, EventCursor};
use crate::ports::{Cause, EventLog, EventLogError, EventStream};

/// Retention and placement of the event stream.
#[derive(Debug, Clone)]
pub struct EventLogSettings {
    pub stream: String,
    pub subject_prefix: String,
    pub max_age: Duration,
    pub max_bytes: i64,
    pub replicas: usize,
}

#[derive(Debug, Clone)]
pub struct NatsEventLog {
    conn: NatsConnection,
    settings: Arc<EventLogSettings>,
    handle: Arc<RwLock<Option<stream::Stream>>>,
    opened_before: Arc<AtomicBool>,
}

fn unavailable(cause: impl Into<Cause>) -> EventLogError {
    EventLogError::Unavailable(cause.into())
}

impl NatsEventLog {
    pub fn new(conn: NatsConnection, settings: EventLogSettings) -> Self {
        Self {
            conn,
            settings: Arc::new(settings),
            handle: Arc::new(RwLock::new(None)),
            opened_before: Arc::new(AtomicBool::new(false)),
        }
    }

    fn subject(&self, client: &ClientId) -> String {
        format!(
            "{}client.{}",
            self.settings.subject_prefix,
            token(client.as_str())
        )
    }

    async fn stream(&self) -> Result<stream::Stream, EventLogError> {
        if !self.conn.is_connected() {
            return Err(unavailable("NATS is not connected"));
        }
        if let Some(s) = self.handle.read().await.clone() {
            return Ok(s);
        }
        let mut slot = self.handle.write().await;
        if let Some(s) = slot.clone() {
            return Ok(s);
        }
        let js = jetstream::new(self.conn.client().clone());
        let config = stream::Config {
            name: self.settings.stream.clone(),
            subjects: vec![format!("{}client.>", self.settings.subject_prefix)],
            max_age: self.settings.max_age,
            max_bytes: self.settings.max_bytes,
            num_replicas: self.settings.replicas.max(1),
            storage: stream::StorageType::File,
            ..Default::default()
        };
        let found = tokio::time::timeout(
            open_timeout(&self.opened_before),
            js.get_or_create_stream(config),
        )
        .await
        .map_err(|_| unavailable("timed out opening the event stream"))?
        .map_err(unavailable)?;
        self.opened_before.store(true, Ordering::Relaxed);
        *slot = Some(found.clone());
        Ok(found)
    }

    /// The connection the log lives on.
    pub fn connection(&self) -> &NatsConnection {
        &self.conn
    }

    /// Finds or creates the stream now, so the first callback does not wait for it.
    ///
    /// # Errors
    /// `Unavailable` when NATS is away or the stream cannot be opened.
    pub async fn open(&self) -> Result<(), EventLogError> {
        self.stream().await.map(|_| ())
    }

    async fn forget_stream(&self) {
        *self.handle.write().await = None;
    }
}

impl EventLog for NatsEventLog {
    #[tracing::instrument(name = "nats events append", skip_all)]
    async fn append(
        &self,
        client: &ClientId,
        event: &ClientEvent,
    ) -> Result<EventCursor, EventLogError> {
        self.stream().await?;
        let payload = Bytes::from(
            serde_json::to_vec(event).map_err(|e| EventLogError::Corrupt(Box::new(e)))?,
        );
        let js = jetstream::new(self.conn.client().clone());
        let mut message = PublishMessage::build().payload(payload);
        if let Some(key) = event.once_key() {
            // Within the stream's duplicate window JetStream keeps the first of these and
            // acknowledges a repeat with the first one's sequence.
            message = message.message_id(format!("{client}:{key}"));
        }
        let publish = async {
            let ack = js
                .send_publish(self.subject(client), message)
                .await
                .map_err(unavailable)?;
            ack.await.map_err(unavailable)
        };
        match tokio::time::timeout(OP_TIMEOUT, publish).await {
            Ok(Ok(ack)) => Ok(EventCursor::new(ack.sequence)),
            Ok(Err(err)) => {
                self.forget_stream().await;
                Err(err)
            }
            Err(_) => {
                self.forget_stream().await;
                Err(unavailable("the event was not acknowledged in time"))
            }
        }
    }

    #[tracing::instrument(name = "nats events follow", skip_all)]
    async fn follow(
        &self,
        client: &ClientId,
        after: Option<EventCursor>,
    ) -> Result<EventStream, EventLogError> {
        let stream = self.stream().await?;
        let after = after.map_or(0, EventCursor::get);
        super::follower::follow(self.conn.clone(), stream, self.subject(client), after).await
    }

    /// Retention here is the stream's (age and size, over all clients), so any discarded
    /// sequence after `after` counts: the stream's first one tells.
    #[tracing::instrument(name = "nats events discarded", skip_all)]
    async fn discarded_after(
        &self,
        _client: &ClientId,
        after: EventCursor,
    ) -> Result<bool, EventLogError> {
        let stream = self.stream().await?;
        let info = tokio::time::timeout(OP_TIMEOUT, stream.get_info())
            .await
            .map_err(|_| unavailable("timed out reading the event stream's state"))?
            .map_err(unavailable)?;
        Ok(after.get().saturating_add(1) < info.state.first_sequence)
    }
}
