//! Port: the durable per-client event log that every replica's streams read from.

use std::future::Future;

use futures_util::stream::BoxStream;

use crate::domain::{ClientEvent, ClientId, EventCursor, LoggedEvent};

use super::Cause;

/// Events after a cursor, replayed and then live, in order, each once.
pub type EventStream = BoxStream<'static, Result<LoggedEvent, EventLogError>>;

#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("event log is unavailable")]
    Unavailable(#[source] Cause),
    #[error("event log entry is corrupt")]
    Corrupt(#[source] Cause),
}

pub trait EventLog: Clone + Send + Sync + 'static {
    /// Appends an event to a client's log and returns its cursor.
    ///
    /// # Errors
    /// `Unavailable` when the event could not be stored durably; it was then not appended.
    fn append(
        &self,
        client: &ClientId,
        event: &ClientEvent,
    ) -> impl Future<Output = Result<EventCursor, EventLogError>> + Send;

    /// Follows a client's log: first every retained event after `after` (all of them when
    /// `None`), then new ones as they are appended by any replica.
    ///
    /// # Errors
    /// `Unavailable` when the log cannot be read; errors inside the stream end it.
    fn follow(
        &self,
        client: &ClientId,
        after: Option<EventCursor>,
    ) -> impl Future<Output = Result<EventStream, EventLogError>> + Send;

    /// Whether events of `client` appended after `after` may have been discarded (by age,
    /// size or count) before anyone read them: `false` only when none were, `true` when some
    /// were or, where the log cannot tell one client's losses from another's, could have been.
    ///
    /// # Errors
    /// `Unavailable` when the log cannot be asked.
    fn discarded_after(
        &self,
        client: &ClientId,
        after: EventCursor,
    ) -> impl Future<Output = Result<bool, EventLogError>> + Send;
}
