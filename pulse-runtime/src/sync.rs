//! Small synchronisation helpers.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, carrying on if a panic poisoned it. Every critical section in this
/// crate leaves its data consistent before anything that may panic, and handler panics
/// are caught before they cross a lock, so the data behind a poisoned lock is sound.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A value tasks wait on until it meets a condition, as with `tokio::sync::watch`, but
/// held inline: a watch channel allocates about 380 bytes (its notifier has eight
/// slots), which every idle session would pay.
pub(crate) struct Watched<T> {
    value: Mutex<T>,
    changed: tokio::sync::Notify,
}

impl<T> Watched<T> {
    pub(crate) fn new(value: T) -> Self {
        Watched { value: Mutex::new(value), changed: tokio::sync::Notify::new() }
    }

    /// Reads the value.
    pub(crate) fn with<R>(&self, read: impl FnOnce(&T) -> R) -> R {
        read(&lock(&self.value))
    }

    /// Lets `change` edit the value; if it says it changed it, wakes every waiter.
    pub(crate) fn modify(&self, change: impl FnOnce(&mut T) -> bool) {
        let changed = change(&mut lock(&self.value));
        if changed {
            self.changed.notify_waiters();
        }
    }

    /// Waits until the value meets `ready` (at once if it does now).
    pub(crate) async fn wait_for(&self, mut ready: impl FnMut(&T) -> bool) {
        loop {
            // Registered before the check: a change made after the check still wakes it.
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.with(&mut ready) {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Watched;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_sees_a_change_made_at_any_moment() {
        for _ in 0..200 {
            let watched = Arc::new(Watched::new(0));
            let waiter = tokio::spawn({
                let watched = watched.clone();
                async move { watched.wait_for(|v| *v == 2).await }
            });
            let setter = tokio::spawn({
                let watched = watched.clone();
                async move {
                    watched.modify(|v| {
                        *v = 1;
                        true
                    });
                    tokio::task::yield_now().await;
                    watched.modify(|v| {
                        *v = 2;
                        true
                    });
                }
            });
            setter.await.unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();
        }
    }
}
