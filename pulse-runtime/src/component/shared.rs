//! `Shared<T>`: state shared by many components, possibly in many sessions. A
//! component that reads it with `Scope::watch` re-renders whenever it changes.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, Mutex, Weak};

use super::state::Dirty;
use crate::sync::lock;

/// Server-wide state that components watch (a chat room's messages, a counter every
/// tab shows). Cheap to clone; clones share the value.
///
/// Reading takes a snapshot (a reference-counted pointer to the current value) and
/// holds no lock, so a render that watches a `Shared` while a handler of the same
/// session updates it can never wait on each other. An update made while a snapshot is
/// held changes a copy (`T: Clone`), which the next read sees.
pub struct Shared<T> {
    inner: Arc<SharedInner<T>>,
}

struct SharedInner<T> {
    value: Mutex<Arc<T>>,
    watchers: Mutex<Vec<Weak<Dirty>>>,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared { inner: self.inner.clone() }
    }
}

impl<T: Send + Sync + 'static> Shared<T> {
    /// Shared state holding `value`.
    pub fn new(value: T) -> Self {
        Shared { inner: Arc::new(SharedInner { value: Mutex::new(Arc::new(value)), watchers: Mutex::new(Vec::new()) }) }
    }

    /// Reads the value without watching it (outside a render, or when a change should
    /// not re-render). The snapshot does not change while it is held.
    pub fn read(&self) -> SharedRead<'_, T> {
        SharedRead { value: lock(&self.inner.value).clone(), _shared: PhantomData }
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

impl<T: Clone + Send + Sync + 'static> Shared<T> {
    /// Changes the value; every component watching it re-renders. Updates are applied
    /// one at a time, in the order they take the value.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let result = f(Arc::make_mut(&mut lock(&self.inner.value)));
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
}

/// A snapshot of shared state: holds no lock, so it may be kept as long as needed
/// (even across an `.await`); it does not see later updates.
pub struct SharedRead<'a, T> {
    value: Arc<T>,
    _shared: PhantomData<&'a Shared<T>>,
}

impl<T> Deref for SharedRead<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}
