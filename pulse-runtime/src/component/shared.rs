//! `Shared<T>`: state shared by many components, possibly in many sessions. A
//! component that reads it with `Scope::watch` re-renders whenever it changes.

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::state::Dirty;
use crate::sync::lock;

/// Server-wide state that components watch (a chat room's messages, a counter every
/// tab shows). Cheap to clone; clones share the value.
pub struct Shared<T> {
    inner: Arc<SharedInner<T>>,
}

struct SharedInner<T> {
    value: Mutex<T>,
    watchers: Mutex<Vec<Weak<Dirty>>>,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared { inner: self.inner.clone() }
    }
}

impl<T: Send + 'static> Shared<T> {
    /// Shared state holding `value`.
    pub fn new(value: T) -> Self {
        Shared { inner: Arc::new(SharedInner { value: Mutex::new(value), watchers: Mutex::new(Vec::new()) }) }
    }

    /// Reads the value without watching it (outside a render, or when a change should
    /// not re-render).
    pub fn read(&self) -> SharedRead<'_, T> {
        SharedRead { guard: lock(&self.inner.value) }
    }

    /// Changes the value; every component watching it re-renders.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let result = f(&mut lock(&self.inner.value));
        let watchers: Vec<Arc<Dirty>> = {
            let mut watchers = lock(&self.inner.watchers);
            watchers.retain(|w| w.strong_count() > 0);
            watchers.iter().filter_map(Weak::upgrade).collect()
        };
        for dirty in watchers {
            dirty.mark();
        }
        result
    }

    /// How many mounted components watch the value.
    pub fn watcher_count(&self) -> usize {
        lock(&self.inner.watchers).iter().filter(|w| w.strong_count() > 0).count()
    }

    pub(crate) fn watch(&self, dirty: &Arc<Dirty>) {
        let mut watchers = lock(&self.inner.watchers);
        if !watchers.iter().any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(dirty))) {
            watchers.retain(|w| w.strong_count() > 0);
            watchers.push(Arc::downgrade(dirty));
        }
    }
}

/// Read access to shared state (holds its lock: do not keep it across an `.await`).
pub struct SharedRead<'a, T> {
    guard: MutexGuard<'a, T>,
}

impl<T> Deref for SharedRead<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}
