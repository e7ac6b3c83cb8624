//! App: which clients have a live stream on this replica (SSE or a GraphQL subscription), so a
//! callback can answer "delivered" or "queued" truthfully for local clients, and so a new
//! stream for a client id replaces the older one here without unregistering itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::ClientId;
use crate::sync::Beacon;

#[derive(Debug)]
struct Entry {
    streams: usize,
    /// The generation of the client's newest stream.
    newest: Arc<Beacon>,
}

#[derive(Debug, Clone, Default)]
pub struct Presence {
    clients: Arc<Mutex<HashMap<ClientId, Entry>>>,
    generations: Arc<std::sync::atomic::AtomicU64>,
}

/// Counts one live stream until dropped.
#[derive(Debug)]
pub struct PresenceGuard {
    presence: Presence,
    client: ClientId,
    generation: u64,
    newest: Arc<Beacon>,
}

impl Presence {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<ClientId, Entry>) -> T) -> T {
        f(&mut crate::sync::lock(&self.clients))
    }

    /// Registers a stream for `client`; any older stream for it learns it was replaced.
    pub fn enter(&self, client: &ClientId) -> PresenceGuard {
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let newest = self.with(|m| {
            let entry = m.entry(client.clone()).or_insert_with(|| Entry {
                streams: 0,
                newest: Arc::new(Beacon::new(0)),
            });
            entry.streams += 1;
            entry.newest.set(generation);
            entry.newest.clone()
        });
        PresenceGuard {
            presence: self.clone(),
            client: client.clone(),
            generation,
            newest,
        }
    }

    pub fn is_here(&self, client: &ClientId) -> bool {
        self.with(|m| m.get(client).is_some_and(|e| e.streams > 0))
    }

    pub fn streams(&self) -> usize {
        self.with(|m| m.values().map(|e| e.streams).sum())
    }
}

impl PresenceGuard {
    /// Completes when a newer stream for the same client registers on this replica.
    pub async fn replaced(&mut self) {
        self.newest.wait_past(self.generation).await;
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let client = &self.client;
        self.presence.with(|m| {
            if let Some(entry) = m.get_mut(client) {
                entry.streams = entry.streams.saturating_sub(1);
                if entry.streams == 0 {
                    m.remove(client);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_newer_stream_replaces_the_older_and_the_older_leaving_keeps_the_newer() {
        let presence = Presence::default();
        let tab = ClientId::parse("tab").unwrap();
        let mut old = presence.enter(&tab);
        let new = presence.enter(&tab);
        tokio::time::timeout(std::time::Duration::from_secs(1), old.replaced())
            .await
            .expect("old is told");
        drop(old);
        assert!(presence.is_here(&tab), "the newer stream stays registered");
        drop(new);
        assert!(!presence.is_here(&tab));
    }
}
