//! Adapters (nats): the live values of a K/V bucket's keys under one prefix, read in one
//! pass of a consumer filtered to that prefix, so listing one client's entries costs what
//! that client has stored, not what the whole bucket holds.

use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy, push};
use async_nats::jetstream::kv;
use bytes::Bytes;
use futures_util::StreamExt;

use super::NatsConnection;
use crate::ports::Cause;

/// Header naming a K/V write's operation; deletions and purges carry it.
const OPERATION: &str = "KV-Operation";
/// Header on markers the server writes when it removes an entry (age, purge, removal).
const MARKER_REASON: &str = "Nats-Marker-Reason";

/// The value of every live key under `prefix` (a key prefix ending in `.`), in stream order.
/// Keys deleted or purged are left out.
pub(crate) async fn values_under(
    conn: &NatsConnection,
    store: &kv::Store,
    prefix: &str,
) -> Result<Vec<Bytes>, Cause> {
    let consumer = store
        .stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: conn.client().new_inbox(),
            description: Some("gateway listing".to_owned()),
            filter_subject: format!("{}{prefix}>", store.prefix),
            replay_policy: ReplayPolicy::Instant,
            deliver_policy: DeliverPolicy::LastPerSubject,
            ..Default::default()
        })
        .await?;
    let mut left = consumer.cached_info().num_pending;
    let mut values = Vec::new();
    if left == 0 {
        return Ok(values);
    }
    let mut messages = consumer.messages().await?;
    while left > 0 {
        let Some(message) = messages.next().await else {
            return Err("the listing ended before its last key".into());
        };
        let message = message?;
        left = message.info()?.pending;
        if is_live(&message) {
            values.push(message.payload.clone());
        }
    }
    Ok(values)
}

/// Whether a K/V message holds a value (not a deletion, purge or removal marker).
fn is_live(message: &async_nats::jetstream::Message) -> bool {
    let Some(headers) = message.headers.as_ref() else {
        return true;
    };
    let deleted = headers
        .get(OPERATION)
        .is_some_and(|op| matches!(op.as_str(), "DEL" | "PURGE"));
    !deleted && headers.get(MARKER_REASON).is_none()
}
