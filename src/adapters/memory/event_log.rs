//! Adapters (memory): the per-client event log twin. Cursors come from one counter, like a
//! JetStream stream sequence; each client keeps its newest `max_per_client` events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::watch;

use crate::domain::{ClientEvent, ClientId, EventCursor, LoggedEvent};
use crate::ports::{EventLog, EventLogError, EventStream};

#[derive(Debug)]
struct ClientLog {
    events: VecDeque<LoggedEvent>,
    newest: watch::Sender<u64>,
}

impl ClientLog {
    fn new() -> Self {
        Self {
            events: VecDeque::new(),
            newest: watch::channel(0).0,
        }
    }
}

#[derive(Debug)]
struct Inner {
    next: u64,
    clients: HashMap<ClientId, ClientLog>,
}

#[derive(Debug, Clone)]
pub struct InMemoryEventLog {
    inner: Arc<Mutex<Inner>>,
    max_per_client: usize,
}

impl InMemoryEventLog {
    pub fn new(max_per_client: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                next: 1,
                clients: HashMap::new(),
            })),
            max_per_client: max_per_client.max(1),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut crate::sync::lock(&self.inner))
    }

    fn read_after(&self, client: &ClientId, after: Option<u64>) -> VecDeque<LoggedEvent> {
        self.with(|inner| {
            inner
                .clients
                .get(client)
                .map(|log| {
                    log.events
                        .iter()
                        .filter(|e| after.is_none_or(|a| e.cursor.get() > a))
                        .cloned()
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
    newest: watch::Receiver<u64>,
    ready: VecDeque<LoggedEvent>,
}

impl EventLog for InMemoryEventLog {
    async fn append(
        &self,
        client: &ClientId,
        event: &ClientEvent,
    ) -> Result<EventCursor, EventLogError> {
        let max = self.max_per_client;
        Ok(self.with(|inner| {
            let cursor = EventCursor::new(inner.next);
            inner.next += 1;
            let log = inner
                .clients
                .entry(client.clone())
                .or_insert_with(ClientLog::new);
            log.events.push_back(LoggedEvent {
                cursor,
                event: event.clone(),
            });
            while log.events.len() > max {
                log.events.pop_front();
            }
            log.newest.send_replace(cursor.get());
            cursor
        }))
    }

    async fn follow(
        &self,
        client: &ClientId,
        after: Option<EventCursor>,
    ) -> Result<EventStream, EventLogError> {
        let newest = self.with(|inner| {
            inner
                .clients
                .entry(client.clone())
                .or_insert_with(ClientLog::new)
                .newest
                .subscribe()
        });
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
                    return Some((Ok(event), st));
                }
                st.newest.mark_unchanged();
                st.ready = st.log.read_after(&st.client, st.last);
                if st.ready.is_empty() && st.newest.changed().await.is_err() {
                    return None;
                }
            }
        });
        Ok(events.boxed())
    }
}
