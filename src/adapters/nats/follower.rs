//! Adapters (nats): one client's follower on the event stream: an ephemeral pull consumer
//! filtered to the client, pulled with short idle heartbeats. When the consumer is lost (its
//! node died, or this replica's connection moved to another node) it is recreated from the
//! last sequence delivered, so the stream on top goes on with no gap and no repeat. When
//! NATS stays away the stream ends with an error and the client resumes elsewhere.

use std::time::Duration;

use async_nats::jetstream::consumer::{self, pull};
use async_nats::jetstream::stream;
use futures_util::StreamExt;
use tokio::time::Instant;

use super::bucket::OP_TIMEOUT;
use super::{NatsConnection, RECONNECT_GRACE};
use crate::domain::{ClientEvent, EventCursor, LoggedEvent};
use crate::ports::{Cause, EventLogError, EventStream};

/// How long one pull waits for messages.
const PULL_EXPIRES: Duration = Duration::from_secs(10);
/// The server's idle heartbeat on a pull; two missed ones mean the consumer is gone.
const PULL_HEARTBEAT: Duration = Duration::from_secs(2);
/// An abandoned consumer is removed by the server after this long.
const CONSUMER_IDLE: Duration = Duration::from_secs(60);
/// How long a consumer is tried for, first or after a loss, before the follower gives up.
const REOPEN_WINDOW: Duration = Duration::from_secs(8);

struct State {
    conn: NatsConnection,
    stream: stream::Stream,
    subject: String,
    /// The last stream sequence handed on.
    last: u64,
    messages: Option<pull::Stream>,
    done: bool,
}

fn unavailable(cause: impl Into<Cause>) -> EventLogError {
    EventLogError::Unavailable(cause.into())
}

async fn open(stream: &stream::Stream, subject: &str, last: u64) -> Result<pull::Stream, Cause> {
    let config = pull::Config {
        filter_subject: subject.to_owned(),
        deliver_policy: consumer::DeliverPolicy::ByStartSequence {
            start_sequence: last + 1,
        },
        ack_policy: consumer::AckPolicy::None,
        inactive_threshold: CONSUMER_IDLE,
        memory_storage: true,
        num_replicas: 1,
        ..Default::default()
    };
    let consumer = tokio::time::timeout(OP_TIMEOUT, stream.create_consumer(config))
        .await
        .map_err(|_| Cause::from("timed out creating the follower"))??;
    let messages = consumer
        .stream()
        .expires(PULL_EXPIRES)
        .heartbeat(PULL_HEARTBEAT)
        .messages()
        .await?;
    Ok(messages)
}

/// Follows `subject` from the message after sequence `after`.
pub(super) async fn follow(
    conn: NatsConnection,
    stream: stream::Stream,
    subject: String,
    after: u64,
) -> Result<EventStream, EventLogError> {
    let mut state = State {
        conn,
        stream,
        subject,
        last: after,
        messages: None,
        done: false,
    };
    // A consumer cannot be made while the stream is between leaders (a node just died):
    // the first one is retried like a lost one.
    state.messages = Some(reopen(&state).await?);
    Ok(futures_util::stream::unfold(state, next).boxed())
}

async fn next(mut st: State) -> Option<(Result<LoggedEvent, EventLogError>, State)> {
    if st.done {
        return None;
    }
    loop {
        let Some(messages) = st.messages.as_mut() else {
            match reopen(&st).await {
                Ok(messages) => st.messages = Some(messages),
                Err(err) => {
                    st.done = true;
                    return Some((Err(err), st));
                }
            }
            continue;
        };
        match messages.next().await {
            Some(Ok(message)) => {
                let info = match message.info() {
                    Ok(info) => info,
                    Err(err) => return Some((Err(unavailable(err.to_string())), st)),
                };
                let sequence = info.stream_sequence;
                if sequence <= st.last {
                    continue;
                }
                st.last = sequence;
                match serde_json::from_slice::<ClientEvent>(&message.payload) {
                    Ok(event) => {
                        let cursor = EventCursor::new(sequence);
                        return Some((Ok(LoggedEvent { cursor, event }), st));
                    }
                    // An entry this version cannot read (written by a newer one, or not by a
                    // gateway at all) can never be delivered; stopping on it would stop the
                    // client's stream at the same place on every reconnect.
                    Err(err) => {
                        tracing::warn!(sequence, error = %err, "skipping an event log entry this gateway cannot read");
                    }
                }
            }
            Some(Err(err)) => {
                tracing::debug!(error = %err, last = st.last, "event follower lost its consumer; recreating it");
                st.messages = None;
            }
            None => st.messages = None,
        }
    }
}

/// A new consumer from the last sequence, retried while NATS comes back within the window.
async fn reopen(st: &State) -> Result<pull::Stream, EventLogError> {
    let give_up = Instant::now() + REOPEN_WINDOW;
    let mut pause = Duration::from_millis(50);
    loop {
        // NATS gone for good: the caller falls back (degraded mode) without waiting more.
        if !st.conn.wait_connected(RECONNECT_GRACE).await {
            return Err(unavailable("NATS is away"));
        }
        match open(&st.stream, &st.subject, st.last).await {
            Ok(messages) => return Ok(messages),
            Err(err) if Instant::now() >= give_up => return Err(unavailable(err)),
            Err(err) => tracing::debug!(error = %err, "event follower not (re)created yet"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}
