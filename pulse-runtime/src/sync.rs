//! Small synchronisation helpers.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, carrying on if a panic poisoned it. Every critical section in this
/// crate leaves its data consistent before anything that may panic, and handler panics
/// are caught before they cross a lock, so the data behind a poisoned lock is sound.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
