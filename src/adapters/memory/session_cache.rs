//! Adapters (memory): the session cache twin, with the same TTL and invalidation semantics
//! as the NATS K/V bucket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use crate::domain::{Session, SessionKey};
use crate::ports::{InvalidationStream, SessionCache, SessionCacheError};

use super::ttl_map::TtlMap;

#[derive(Debug, Clone)]
pub struct InMemorySessionCache {
    entries: Arc<Mutex<TtlMap<SessionKey, Session>>>,
    changes: broadcast::Sender<SessionKey>,
}

impl InMemorySessionCache {
    pub fn new(ttl: Duration) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            entries: Arc::new(Mutex::new(TtlMap::new(ttl))),
            changes,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut TtlMap<SessionKey, Session>) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of a cache; the map
        // is still structurally sound, so keep serving.
        let mut guard = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

impl SessionCache for InMemorySessionCache {
    async fn get(&self, key: &SessionKey) -> Result<Option<Session>, SessionCacheError> {
        Ok(self.with(|m| m.get(key)))
    }

    async fn put(&self, key: &SessionKey, session: &Session) -> Result<(), SessionCacheError> {
        let replaced = self.with(|m| m.insert(key.clone(), session.clone()));
        if replaced.is_some() {
            let _ = self.changes.send(key.clone());
        }
        Ok(())
    }

    async fn remove(&self, key: &SessionKey) -> Result<(), SessionCacheError> {
        self.with(|m| m.remove(key));
        // Announced even when absent: another level may still hold a copy.
        let _ = self.changes.send(key.clone());
        Ok(())
    }

    async fn invalidations(&self) -> Result<InvalidationStream, SessionCacheError> {
        let stream = BroadcastStream::new(self.changes.subscribe())
            .filter_map(|item| std::future::ready(item.ok()));
        Ok(stream.boxed())
    }
}
