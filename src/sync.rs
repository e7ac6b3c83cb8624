//! Shared by every layer: locking a std `Mutex` or `RwLock` that guards plain in-memory maps,
//! a small number to wait on, and a fixed number of places that work takes or is refused.
//! A poisoned lock only means another thread panicked mid-update; the maps stay structurally
//! sound, so the gateway keeps serving rather than failing every later request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// A number that tasks can wait on to change: what a `watch::channel<u64>` does here, in a
/// quarter of its memory (one per live client stream is kept, twice).
#[derive(Debug, Default)]
pub(crate) struct Beacon {
    value: AtomicU64,
    changed: Notify,
}

impl Beacon {
    pub(crate) fn new(value: u64) -> Self {
        Self {
            value: AtomicU64::new(value),
            changed: Notify::new(),
        }
    }

    pub(crate) fn get(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self, value: u64) {
        self.value.store(value, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Completes with the value once it is no longer `seen` (at once if it already is not).
    pub(crate) async fn wait_past(&self, seen: u64) -> u64 {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before the value is read, so a `set` in between is not missed.
            notified.as_mut().enable();
            let now = self.get();
            if now != seen {
                return now;
            }
            notified.await;
        }
    }
}

/// At most a fixed number of things at once: each holds a place until it drops it, and one
/// that finds none free is refused at once rather than queued. Clones share the places.
#[derive(Debug, Clone)]
pub(crate) struct Places {
    free: Arc<Semaphore>,
    at_most: usize,
}

impl Places {
    pub(crate) fn new(at_most: usize) -> Self {
        Self {
            free: Arc::new(Semaphore::new(at_most)),
            at_most,
        }
    }

    /// A place, held until dropped; `None` when all are taken.
    pub(crate) fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.free.clone().try_acquire_owned().ok()
    }

    /// How many places are taken now.
    pub(crate) fn taken(&self) -> usize {
        self.at_most.saturating_sub(self.free.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Beacon, Places};

    #[test]
    fn places_are_refused_when_all_are_taken_and_free_again_when_dropped() {
        let places = Places::new(2);
        let first = places.take().expect("a place");
        let second = places.take().expect("a place");
        assert!(places.take().is_none());
        assert_eq!(places.taken(), 2);
        drop(first);
        assert_eq!(places.taken(), 1);
        drop((second, places.take().expect("the freed place")));
        assert_eq!(places.taken(), 0);
    }

    #[tokio::test]
    async fn a_waiter_sees_a_change_made_before_or_after_it_waits() {
        let beacon = Arc::new(Beacon::new(1));
        assert_eq!(beacon.wait_past(0).await, 1, "already past");
        let waiter = tokio::spawn({
            let beacon = beacon.clone();
            async move { beacon.wait_past(1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "nothing changed yet");
        beacon.set(2);
        let seen = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(seen, 2);
    }
}
