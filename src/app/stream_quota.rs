//! App: how many event streams (SSE streams and GraphQL subscriptions) one session may hold
//! open on this replica. Each follows an event log (over NATS, a consumer of its own), so
//! one session opening them without end would load the log for everyone. An SSE stream that
//! reopens a client id it already streams here is let in past the bound: it replaces the
//! older stream, which ends at once, so a session at its bound can still reconnect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::metrics::Metrics;
use crate::domain::{ClientId, SessionKey};

/// A stream refused because its session holds as many open on this replica as it may.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "this session holds {0} event streams open on this replica, as many as it may; close one first"
)]
pub struct StreamsFull(pub usize);

/// One session's open streams on this replica.
#[derive(Debug, Default)]
struct Held {
    streams: usize,
    /// SSE streams per client id (the ones a newer stream for the same id replaces).
    replaceable: HashMap<ClientId, usize>,
}

/// The per-session bound on open event streams. Clones share the count; refusals are
/// counted in the metrics.
#[derive(Debug, Clone)]
pub struct StreamQuota {
    at_most: usize,
    sessions: Arc<Mutex<HashMap<SessionKey, Held>>>,
    metrics: Arc<Metrics>,
}

/// A stream's place in its session's quota, given back when dropped.
#[derive(Debug)]
pub struct StreamPlace {
    quota: StreamQuota,
    owner: SessionKey,
    replaceable: Option<ClientId>,
}

impl StreamQuota {
    pub fn new(at_most: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            at_most,
            sessions: Arc::default(),
            metrics,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<SessionKey, Held>) -> T) -> T {
        f(&mut crate::sync::lock(&self.sessions))
    }

    /// A place for an SSE stream of `client`. Refused when the session holds as many streams
    /// as it may and none of them is `client`'s (which this one would replace).
    ///
    /// # Errors
    /// [`StreamsFull`] when refused.
    pub fn enter_sse(
        &self,
        owner: &SessionKey,
        client: &ClientId,
    ) -> Result<StreamPlace, StreamsFull> {
        self.enter(owner, Some(client))
    }

    /// A place for a GraphQL subscription.
    ///
    /// # Errors
    /// [`StreamsFull`] when the session holds as many streams as it may.
    pub fn enter_subscription(&self, owner: &SessionKey) -> Result<StreamPlace, StreamsFull> {
        self.enter(owner, None)
    }

    fn enter(
        &self,
        owner: &SessionKey,
        client: Option<&ClientId>,
    ) -> Result<StreamPlace, StreamsFull> {
        let admitted = self.with(|sessions| {
            let now = sessions.get(owner);
            let streams = now.map_or(0, |h| h.streams);
            let replaces =
                client.is_some_and(|c| now.is_some_and(|h| h.replaceable.contains_key(c)));
            if streams >= self.at_most && !replaces {
                return false;
            }
            let held = sessions.entry(owner.clone()).or_default();
            held.streams += 1;
            if let Some(c) = client {
                *held.replaceable.entry(c.clone()).or_default() += 1;
            }
            true
        });
        if !admitted {
            self.metrics.stream_refused();
            return Err(StreamsFull(self.at_most));
        }
        Ok(StreamPlace {
            quota: self.clone(),
            owner: owner.clone(),
            replaceable: client.cloned(),
        })
    }

    /// Streams `owner` holds open here now.
    pub fn held_by(&self, owner: &SessionKey) -> usize {
        self.with(|sessions| sessions.get(owner).map_or(0, |h| h.streams))
    }
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let (owner, client) = (&self.owner, self.replaceable.as_ref());
        self.quota.with(|sessions| {
            let Some(held) = sessions.get_mut(owner) else {
                return;
            };
            held.streams = held.streams.saturating_sub(1);
            if let Some(c) = client
                && let Some(n) = held.replaceable.get_mut(c)
            {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    held.replaceable.remove(c);
                }
            }
            if held.streams == 0 {
                sessions.remove(owner);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SessionToken;

    fn key(token: &str) -> SessionKey {
        SessionToken::parse(token).unwrap().key()
    }

    fn client(id: &str) -> ClientId {
        ClientId::parse(id).unwrap()
    }

    #[test]
    fn a_session_holds_at_most_the_bound_and_others_are_not_affected() {
        let metrics = Arc::new(Metrics::new());
        let quota = StreamQuota::new(2, metrics.clone());
        let (a, b) = (key("session-a-token"), key("session-b-token"));
        let first = quota.enter_sse(&a, &client("tab-1"));
        let second = quota.enter_subscription(&a);
        assert!(first.is_ok() && second.is_ok());
        assert!(quota.enter_sse(&a, &client("tab-2")).is_err());
        assert!(quota.enter_subscription(&a).is_err());
        assert_eq!(quota.held_by(&a), 2);
        assert!(
            metrics.render().contains("gateway_streams_refused_total 2"),
            "both refusals are counted"
        );
        assert!(quota.enter_subscription(&b).is_ok(), "another session");
        drop(second);
        assert!(quota.enter_sse(&a, &client("tab-2")).is_ok());
    }

    #[test]
    fn an_sse_stream_reopening_its_client_id_gets_in_at_the_bound() {
        let quota = StreamQuota::new(1, Arc::new(Metrics::new()));
        let a = key("session-a-token");
        let old = quota.enter_sse(&a, &client("tab-1")).unwrap();
        let new = quota.enter_sse(&a, &client("tab-1"));
        assert!(new.is_ok(), "it replaces the older stream");
        assert_eq!(quota.held_by(&a), 2);
        drop(old);
        assert_eq!(quota.held_by(&a), 1);
        assert!(quota.enter_sse(&a, &client("tab-2")).is_err());
        drop(new);
        assert_eq!(quota.held_by(&a), 0);
        assert!(quota.with(|s| s.is_empty()), "nothing is left behind");
    }
}
