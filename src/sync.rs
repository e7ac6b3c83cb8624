//! Shared by every layer: locking a std `Mutex` that guards plain in-memory maps. A poisoned
//! lock only means another thread panicked mid-update; the maps stay structurally sound, so
//! the gateway keeps serving rather than failing every later request.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
