//! Adapters (memory): a small map whose entries expire, shared by the cache-like twins.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Entries expire `ttl` after their last write; expired entries are dropped on access and
/// swept when the map grows past `sweep_at`.
#[derive(Debug)]
pub(crate) struct TtlMap<K, V> {
    ttl: Duration,
    entries: HashMap<K, (V, Instant)>,
    sweep_at: usize,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: HashMap::new(),
            sweep_at: 1024,
        }
    }

    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        let now = Instant::now();
        match self.entries.get(key) {
            Some((value, deadline)) if *deadline > now => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let now = Instant::now();
        if self.entries.len() >= self.sweep_at {
            self.entries.retain(|_, (_, deadline)| *deadline > now);
            self.sweep_at = (self.entries.len() * 2).max(1024);
        }
        self.entries
            .insert(key, (value, now + self.ttl))
            .filter(|(_, deadline)| *deadline > now)
            .map(|(v, _)| v)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let now = Instant::now();
        self.entries
            .remove(key)
            .filter(|(_, deadline)| *deadline > now)
            .map(|(v, _)| v)
    }

    pub(crate) fn live_values(&self) -> impl Iterator<Item = &V> {
        let now = Instant::now();
        self.entries
            .values()
            .filter(move |(_, deadline)| *deadline > now)
            .map(|(v, _)| v)
    }
}
