//! Adapters (memory): the per-client event log twin. Cursors come from one counter, like a
//! JetStream stream sequence; each client keeps its newest `max_per_client` events, none older
//! than the retention, and a client with no events left and no follower is forgotten. What
//! was dropped unread is remembered by cursor, so a resume can be told it missed events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::{ClientEvent, ClientId, EventCursor, LoggedEvent};
use crate::ports::{EventLog, EventLogError, EventStream};
use crate::sync::Beacon;
use futures_util::StreamExt;
use futures_util::stream;

/// How often at most the log looks for events past the retention.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Stored {
    at: Instant,
    logged: LoggedEvent,
}

#[derive(Debug)]
struct ClientLog {
    events: VecDeque<Stored>,
    /// The newest cursor appended, for followers to wait on.
    newest: Arc<Beacon>,
    /// The newest cursor of an event dropped by retention (0: none).
    dropped_through: u64,
}

impl ClientLog {
    /// A client's log, (re)started knowing of drops up to `dropped_through`: a client seen
    /// again after it was forgotten may have lost events then.
    fn new(dropped_through: u64) -> Self {
        Self {
            events: VecDeque::new(),
            newest: Arc::new(Beacon::new(0)),
            dropped_through,
        }
    }

    /// Drops the oldest event, remembering its cursor unless it was only a stream mark.
    fn drop_oldest(&mut self) {
        if let Some(dropped) = self.events.pop_front()
            && !matches!(dropped.logged.event, ClientEvent::StreamOpened { .. })
        {
            self.dropped_through = self.dropped_through.max(dropped.logged.cursor.get());
        }
    }
}

#[derive(Debug)]
struct Inner {
    next: u64,
    clients: HashMap<ClientId, ClientLog>,
    last_sweep: Instant,
    /// The newest cursor dropped from a client since forgotten (0: none).
    forgotten_through: u64,
}

impl Inner {
    /// The client's log, started when it has none (knowing of what was dropped from
    /// forgotten clients).
    fn log_of(&mut self, client: &ClientId) -> &mut ClientLog {
        let forgotten = self.forgotten_through;
        self.clients
            .entry(client.clone())
            .or_insert_with(|| ClientLog::new(forgotten))
    }

    /// Drops events past the retention, then clients left with no events and no follower.
    fn sweep(&mut self, retention: Duration, now: Instant) {
        self.last_sweep = now;
        let forgotten = &mut self.forgotten_through;
        self.clients.retain(|_, log| {
            while log
                .events
                .front()
                .is_some_and(|e| now.duration_since(e.at) > retention)
            {
                log.drop_oldest();
            }
            let keep = !log.events.is_empty() || Arc::strong_count(&log.newest) > 1;
            if !keep {
                *forgotten = (*forgotten).max(log.dropped_through);
            }
            keep
        });
    }
}

#[derive(Debug, Clone)]
pub struct InMemoryEventLog {
    inner: Arc<Mutex<Inner>>,
    max_per_client: usize,
    retention: Duration,
}

impl InMemoryEventLog {
    pub fn new(max_per_client: usize, retention: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                next: 1,
                clients: HashMap::new(),
                last_sweep: Instant::now(),
                forgotten_through: 0,
            })),
            max_per_client: max_per_client.max(1),
            retention,
        }
    }

    /// Runs `f` on the log and the time of the call, first sweeping the log when the last
    /// sweep is old enough.
    fn with<T>(&self, f: impl FnOnce(&mut Inner, Instant) -> T) -> T {
        let mut inner = crate::sync::lock(&self.inner);
        let now = Instant::now();
        if now.duration_since(inner.last_sweep) >= self.retention.min(MAX_SWEEP_INTERVAL) {
            inner.sweep(self.retention, now);
        }
        f(&mut inner, now)
    }

    fn read_after(&self, client: &ClientId, after: Option<u64>) -> VecDeque<LoggedEvent> {
        self.with(|inner, _| {
            inner
                .clients
                .get(client)
                .map(|log| {
                    log.events
                        .iter()
                        .filter(|e| after.is_none_or(|a| e.logged.cursor.get() > a))
                        .map(|e| e.logged.clone())
                        .collect()
                })
                .unwrap_or_default()
        })
    }
}

struct Follow {
    log: InMemoryEventLog,
    client: ClientId,
    last: Option<u64>,
    newest: Arc<Beacon>,
    ready: VecDeque<LoggedEvent>,
}

impl EventLog for InMemoryEventLog {
    async fn append(
        &self,
        client: &ClientId,
        event: &ClientEvent,
    ) -> Result<EventCursor, EventLogError> {
        let max = self.max_per_client;
        Ok(self.with(|inner, now| {
            let cursor = EventCursor::new(inner.next);
            inner.next += 1;
            let log = inner.log_of(client);
            // Only a client's newest stream mark matters (every older stream ends on it),
            // so older marks do not take the room of events.
            if matches!(event, ClientEvent::StreamOpened { .. }) {
                log.events
                    .retain(|e| !matches!(e.logged.event, ClientEvent::StreamOpened { .. }));
            }
            if log.events.capacity() == 0 {
                // Most clients hold a handful of events (often just a stream mark): start
                // at one slot rather than the default four.
                log.events.reserve_exact(1);
            }
            log.events.push_back(Stored {
                at: now,
                logged: LoggedEvent {
                    cursor,
                    event: event.clone(),
                },
            });
            while log.events.len() > max {
                log.drop_oldest();
            }
            log.newest.set(cursor.get());
            cursor
        }))
    }

    async fn follow(
        &self,
        client: &ClientId,
        after: Option<EventCursor>,
    ) -> Result<EventStream, EventLogError> {
        let newest = self.with(|inner, _| inner.log_of(client).newest.clone());
        let state = Follow {
            log: self.clone(),
            client: client.clone(),
            last: after.map(EventCursor::get),
            newest,
            ready: VecDeque::new(),
        };
        let events = stream::unfold(state, |mut st| async move {
            loop {
                if let Some(event) = st.ready.pop_front() {
                    st.last = Some(event.cursor.get());
                    if st.ready.is_empty() {
                        // An idle follower holds no buffer while it waits.
                        st.ready = VecDeque::new();
                    }
                    return Some((Ok(event), st));
                }
                // Noted before reading, so an append in between wakes the wait below.
                let seen = st.newest.get();
                st.ready = st.log.read_after(&st.client, st.last);
                if st.ready.is_empty() {
                    st.newest.wait_past(seen).await;
                }
            }
        });
        Ok(events.boxed())
    }

    async fn discarded_after(
        &self,
        client: &ClientId,
        after: EventCursor,
    ) -> Result<bool, EventLogError> {
        Ok(self.with(|inner, _| {
            // A forgotten client's own losses are no longer known apart from others'.
            let dropped = inner
                .clients
                .get(client)
                .map_or(inner.forgotten_through, |log| log.dropped_through);
            dropped > after.get()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RequestId, StreamId};

    fn mark(stream: &str) -> ClientEvent {
        ClientEvent::StreamOpened {
            stream: StreamId::parse(stream).unwrap(),
        }
    }

    fn progress(request: &str) -> ClientEvent {
        ClientEvent::Progress {
            request_id: RequestId::parse(request).unwrap(),
            execution_id: None,
            step: None,
            message: None,
            progress: None,
            trace: None,
        }
    }

    #[tokio::test]
    async fn a_newer_stream_mark_takes_the_place_of_older_ones() {
        let log = InMemoryEventLog::new(10, Duration::from_secs(60));
        let client = ClientId::parse("tab").unwrap();
        let event = progress("r1");
        log.append(&client, &mark("one")).await.unwrap();
        log.append(&client, &event).await.unwrap();
        log.append(&client, &mark("two")).await.unwrap();
        let events: Vec<ClientEvent> = log
            .follow(&client, None)
            .await
            .unwrap()
            .take(2)
            .map(|e| e.unwrap().event)
            .collect()
            .await;
        assert_eq!(events, vec![event, mark("two")]);
    }

    #[tokio::test]
    async fn events_past_the_retention_go_and_so_do_clients_nobody_follows() {
        let log = InMemoryEventLog::new(10, Duration::from_millis(50));
        let gone = ClientId::parse("closed-tab").unwrap();
        let watched = ClientId::parse("open-tab").unwrap();
        let mark = mark("s");
        log.append(&gone, &mark).await.unwrap();
        let _follower = log.follow(&watched, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        let fresh = ClientId::parse("new-tab").unwrap();
        log.append(&fresh, &mark).await.unwrap();
        let (kept, old_events) = log.with(|inner, _| {
            let mut kept: Vec<String> = inner.clients.keys().map(|c| c.to_string()).collect();
            kept.sort();
            (kept, inner.clients.get(&gone).map(|l| l.events.len()))
        });
        assert_eq!(
            old_events, None,
            "the old client's event aged out and it was forgotten"
        );
        assert_eq!(kept, vec!["new-tab", "open-tab"], "a followed client stays");
    }

    #[tokio::test]
    async fn drops_by_count_and_by_forgetting_are_told_but_marks_are_not() {
        let log = InMemoryEventLog::new(2, Duration::from_millis(50));
        let client = ClientId::parse("busy-tab").unwrap();
        let c1 = log.append(&client, &progress("r1")).await.unwrap();
        let c2 = log.append(&client, &mark("m1")).await.unwrap();
        let c3 = log.append(&client, &progress("r2")).await.unwrap();
        assert!(!log.discarded_after(&client, c1).await.unwrap());
        let c4 = log.append(&client, &progress("r3")).await.unwrap();
        assert!(
            log.discarded_after(&client, EventCursor::new(0))
                .await
                .unwrap(),
            "r1 went to make room"
        );
        assert!(
            !log.discarded_after(&client, c1).await.unwrap(),
            "after r1 only the stream mark went, which is no event of the client's"
        );
        assert!(!log.discarded_after(&client, c2).await.unwrap());

        tokio::time::sleep(Duration::from_millis(80)).await;
        let other = ClientId::parse("other-tab").unwrap();
        log.append(&other, &progress("x")).await.unwrap();
        assert!(
            log.discarded_after(&client, c3).await.unwrap(),
            "r3 aged out and the client was forgotten"
        );
        assert!(!log.discarded_after(&client, c4).await.unwrap());
    }
}
