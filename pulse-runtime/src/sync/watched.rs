//! `Watched`: a value tasks wait on until it meets a condition.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::Waiters;
use super::{Ranked, lock, rank};

/// A value tasks wait on until it meets a condition, as with `tokio::sync::watch`, but
/// held inline: a watch channel allocates about 380 bytes (its notifier has eight
/// slots), which every idle session would pay. The value and its waiters share one
/// lock (see [`Waiters`]).
pub(crate) struct Watched<T> {
    state: Ranked<State<T>, { rank::ENDING }>,
}

struct State<T> {
    value: T,
    waiters: Waiters,
}

impl<T> Watched<T> {
    pub(crate) fn new(value: T) -> Self {
        Watched { state: Ranked::new(State { value, waiters: Waiters::default() }) }
    }

    /// Reads the value.
    pub(crate) fn with<R>(&self, read: impl FnOnce(&T) -> R) -> R {
        read(&lock(&self.state).value)
    }

    /// Lets `change` edit the value; if it says it changed it, wakes every waiter.
    pub(crate) fn modify(&self, change: impl FnOnce(&mut T) -> bool) {
        let wake = {
            let mut state = lock(&self.state);
            if !change(&mut state.value) {
                return;
            }
            state.waiters.take()
        };
        wake.wake();
    }

    /// Waits until the value meets `ready` (at once if it does now).
    pub(crate) fn wait_for<F: FnMut(&T) -> bool + Unpin>(&self, ready: F) -> WaitFor<'_, T, F> {
        WaitFor { watched: self, ready, key: None }
    }
}

/// The future of [`Watched::wait_for`].
pub(crate) struct WaitFor<'a, T, F> {
    watched: &'a Watched<T>,
    ready: F,
    key: Option<u64>,
}

impl<T, F: FnMut(&T) -> bool + Unpin> Future for WaitFor<'_, T, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut state = lock(&this.watched.state);
        if (this.ready)(&state.value) {
            state.waiters.remove(this.key.take());
            return Poll::Ready(());
        }
        state.waiters.register(&mut this.key, cx.waker());
        Poll::Pending
    }
}

impl<T, F> Drop for WaitFor<'_, T, F> {
    fn drop(&mut self) {
        if self.key.is_some() {
            lock(&self.watched.state).waiters.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;
    use std::sync::Arc;

    use super::Watched;
    use crate::sync::schedules::{Actor, every_schedule, yield_once};

    /// Two waiters, each on its own condition, and a setter that changes the value
    /// twice, in every order their steps can take: each waiter ends, having seen its
    /// condition met, whenever it registered.
    #[test]
    fn every_waiter_sees_its_condition_in_every_schedule() {
        let explored = every_schedule(|| {
            let watched = Arc::new(Watched::new(0));
            let waiter = |target: i32| -> Actor {
                let watched = watched.clone();
                Box::pin(async move {
                    watched.wait_for(move |v| *v >= target).await;
                    assert!(watched.with(|v| *v >= target));
                })
            };
            let setter: Actor = Box::pin({
                let watched = watched.clone();
                async move {
                    for value in [1, 2] {
                        watched.modify(|v| {
                            *v = value;
                            true
                        });
                        yield_once().await;
                    }
                    // A change that says it changed nothing wakes no one.
                    watched.modify(|_| false);
                }
            });
            vec![waiter(1), waiter(2), setter]
        });
        assert!(explored > 50, "only {explored} schedules");
    }

    /// A waiter that gives up (its future dropped) leaves no waker behind.
    #[test]
    fn a_dropped_wait_leaves_nothing() {
        let watched = Watched::new(false);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        for _ in 0..3 {
            let mut wait = std::pin::pin!(watched.wait_for(|v| *v));
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(crate::sync::lock(&watched.state).waiters.len(), 0);
    }

    /// The same on tokio's threads, as the server runs it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_on_another_thread_sees_the_change() {
        for _ in 0..200 {
            let watched = Arc::new(Watched::new(0));
            let waiter = tokio::spawn({
                let watched = watched.clone();
                async move { watched.wait_for(|v| *v == 2).await }
            });
            for value in [1, 2] {
                tokio::task::yield_now().await;
                watched.modify(|v| {
                    *v = value;
                    true
                });
            }
            tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();
        }
    }
}
