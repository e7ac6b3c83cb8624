//! Adapters (memory): the session cache twin, with the same TTL and invalidation semantics
//! as the NATS K/V bucket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use crate::domain::{Session, SessionKey};
use crate::ports::{
    CacheLookup, Invalidation, InvalidationStream, SessionCache, SessionCacheError,
};

use super::ttl_map::TtlMap;

#[derive(Debug)]
struct Maps {
    entries: TtlMap<SessionKey, Session>,
    revoked: TtlMap<SessionKey, ()>,
}

#[derive(Debug, Clone)]
pub struct InMemorySessionCache {
    maps: Arc<Mutex<Maps>>,
    changes: broadcast::Sender<SessionKey>,
}

impl InMemorySessionCache {
    /// Entries live `ttl`; revocations live `revocation_ttl`.
    pub fn new(ttl: Duration, revocation_ttl: Duration) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            maps: Arc::new(Mutex::new(Maps {
                entries: TtlMap::new(ttl),
                revoked: TtlMap::new(revocation_ttl),
            })),
            changes,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Maps) -> T) -> T {
        f(&mut crate::sync::lock(&self.maps))
    }
}

impl SessionCache for InMemorySessionCache {
    async fn get(&self, key: &SessionKey) -> Result<CacheLookup, SessionCacheError> {
        Ok(self.with(|m| {
            if m.revoked.get(key).is_some() {
                CacheLookup::Revoked
            } else {
                m.entries
                    .get(key)
                    .map_or(CacheLookup::Miss, CacheLookup::Hit)
            }
        }))
    }

    async fn put(&self, key: &SessionKey, session: &Session) -> Result<(), SessionCacheError> {
        let replaced = self.with(|m| m.entries.insert(key.clone(), session.clone()));
        if replaced.is_some() {
            let _ = self.changes.send(key.clone());
        }
        Ok(())
    }

    async fn remove(&self, key: &SessionKey) -> Result<(), SessionCacheError> {
        self.with(|m| m.entries.remove(key));
        // Announced even when absent: another level may still hold a copy.
        let _ = self.changes.send(key.clone());
        Ok(())
    }

    async fn revoke(&self, key: &SessionKey) -> Result<(), SessionCacheError> {
        self.with(|m| {
            m.entries.remove(key);
            m.revoked.insert(key.clone(), ());
        });
        let _ = self.changes.send(key.clone());
        Ok(())
    }

    async fn invalidations(&self) -> Result<InvalidationStream, SessionCacheError> {
        let stream = BroadcastStream::new(self.changes.subscribe())
            .filter_map(|item| std::future::ready(item.ok().map(Invalidation::Key)));
        Ok(stream.boxed())
    }
}
