//! App: which clients have a live stream on this replica (SSE or a GraphQL subscription), so a
//! callback can answer "delivered" or "queued" truthfully for local clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::ClientId;

#[derive(Debug, Clone, Default)]
pub struct Presence {
    streams: Arc<Mutex<HashMap<ClientId, usize>>>,
}

/// Counts one live stream until dropped.
#[derive(Debug)]
pub struct PresenceGuard {
    presence: Presence,
    client: ClientId,
}

impl Presence {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<ClientId, usize>) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update; the map is still sound.
        let mut guard = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    pub fn enter(&self, client: &ClientId) -> PresenceGuard {
        self.with(|m| *m.entry(client.clone()).or_default() += 1);
        PresenceGuard {
            presence: self.clone(),
            client: client.clone(),
        }
    }

    pub fn is_here(&self, client: &ClientId) -> bool {
        self.with(|m| m.get(client).is_some_and(|n| *n > 0))
    }

    pub fn streams(&self) -> usize {
        self.with(|m| m.values().sum())
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let client = &self.client;
        self.presence.with(|m| {
            if let Some(n) = m.get_mut(client) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(client);
                }
            }
        });
    }
}
