//! The wakers of the tasks waiting on a state kept under a lock.
//!
//! A waiting future checks the state and, if it must wait, registers its waker, both
//! under the state's lock; whoever changes the state takes the wakers under that same
//! lock and wakes them after letting it go. A change therefore either comes before a
//! check (which sees it) or finds the waker registered (and wakes it): there is no
//! window in which a wake-up is lost, by construction rather than by the order of
//! separate steps. A future that stops waiting takes its waker out when dropped, so
//! tasks that give up waiting leave nothing behind.

use std::task::Waker;

/// Waiting tasks, each under the key its future holds.
#[derive(Default)]
pub(crate) struct Waiters {
    wakers: Vec<(u64, Waker)>,
    next_key: u64,
}

impl Waiters {
    /// Registers `waker` under `key` (giving the future a key on its first wait), or
    /// updates the one registered there.
    pub(crate) fn register(&mut self, key: &mut Option<u64>, waker: &Waker) {
        if let Some(key) = *key
            && let Some((_, registered)) = self.wakers.iter_mut().find(|(k, _)| *k == key)
        {
            if !registered.will_wake(waker) {
                registered.clone_from(waker);
            }
            return;
        }
        let new = self.next_key;
        self.next_key += 1;
        *key = Some(new);
        self.wakers.push((new, waker.clone()));
    }

    /// Forgets the waker under `key` (its future is done waiting, or dropped).
    pub(crate) fn remove(&mut self, key: Option<u64>) {
        if let Some(key) = key {
            self.wakers.retain(|(k, _)| *k != key);
        }
    }

    /// How many tasks wait.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.wakers.len()
    }

    /// Every waiting task, to wake once the lock is let go.
    pub(crate) fn take(&mut self) -> Wake {
        Wake(std::mem::take(&mut self.wakers))
    }
}

/// Wakers taken from [`Waiters`]; woken by [`Wake::wake`], after the lock is let go.
#[must_use = "the tasks are woken only by `wake`"]
pub(crate) struct Wake(Vec<(u64, Waker)>);

impl Wake {
    pub(crate) fn wake(self) {
        for (_, waker) in self.0 {
            waker.wake();
        }
    }
}
