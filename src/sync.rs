//! Shared by every layer: locking a std `Mutex` or `RwLock` that guards plain in-memory maps,
//! and a small number to wait on.
//! A poisoned lock only means another thread panicked mid-update; the maps stay structurally
//! sound, so the gateway keeps serving rather than failing every later request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::Notify;

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Beacon;

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
