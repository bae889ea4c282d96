//! Where a connection resuming a session is handed to the session's task: one slot,
//! as a channel of capacity one would be, but with nothing allocated for it (every
//! idle session has one, and a channel allocates its slots up front). What a
//! connection is, is the server's business: the slot holds any `T`.
//!
//! The slot and the tasks waiting on it share one lock (see `sync::waiters`): a
//! sender waits for the slot to empty, the receiver for it to fill, and neither can
//! miss the change it waits for.

use std::future::poll_fn;
use std::sync::Mutex;
use std::task::Poll;

use crate::sync::lock;
use crate::sync::waiters::Waiters;

pub(crate) struct Handover<T> {
    slot: Mutex<Slot<T>>,
}

struct Slot<T> {
    pending: Option<T>,
    closed: bool,
    /// Senders waiting for the slot to empty.
    senders: Waiters,
    /// The receiver waiting for it to fill.
    receivers: Waiters,
}

impl<T> Default for Handover<T> {
    fn default() -> Self {
        let slot = Slot { pending: None, closed: false, senders: Waiters::default(), receivers: Waiters::default() };
        Handover { slot: Mutex::new(slot) }
    }
}

/// Takes a waiter's registration out when its future is dropped.
struct Registered<'a, T> {
    slot: &'a Mutex<Slot<T>>,
    key: Option<u64>,
    sender: bool,
}

impl<T> Drop for Registered<'_, T> {
    fn drop(&mut self) {
        if self.key.is_some() {
            let mut slot = lock(self.slot);
            let waiters = if self.sender { &mut slot.senders } else { &mut slot.receivers };
            waiters.remove(self.key);
        }
    }
}

impl<T> Handover<T> {
    /// Puts `attach` in the slot once it is empty; gives it back if the session's task
    /// takes no more (it has ended).
    pub(crate) async fn send(&self, attach: T) -> Result<(), T> {
        let mut attach = Some(attach);
        let mut registered = Registered { slot: &self.slot, key: None, sender: true };
        poll_fn(|cx| {
            let mut slot = lock(&self.slot);
            slot.senders.remove(registered.key.take());
            let Some(value) = attach.take() else { unreachable!("polled after it returned") };
            if slot.closed {
                return Poll::Ready(Err(value));
            }
            if slot.pending.is_some() {
                attach = Some(value);
                slot.senders.register(&mut registered.key, cx.waker());
                return Poll::Pending;
            }
            slot.pending = Some(value);
            let wake = slot.receivers.take();
            drop(slot);
            wake.wake();
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// The next connection handed over; `None` once the slot is closed. Cancel-safe: a
    /// connection is taken only by the poll that returns it.
    pub(crate) async fn recv(&self) -> Option<T> {
        let mut registered = Registered { slot: &self.slot, key: None, sender: false };
        poll_fn(|cx| {
            let mut slot = lock(&self.slot);
            if let Some(attach) = slot.pending.take() {
                slot.receivers.remove(registered.key.take());
                // Every sender looks again; one of them fills the slot.
                let wake = slot.senders.take();
                drop(slot);
                wake.wake();
                return Poll::Ready(Some(attach));
            }
            if slot.closed {
                slot.receivers.remove(registered.key.take());
                return Poll::Ready(None);
            }
            slot.receivers.register(&mut registered.key, cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Takes no more connections; gives back the one waiting, if any.
    pub(crate) fn close(&self) -> Option<T> {
        let (pending, senders, receivers) = {
            let mut slot = lock(&self.slot);
            slot.closed = true;
            (slot.pending.take(), slot.senders.take(), slot.receivers.take())
        };
        senders.wake();
        receivers.wake();
        pending
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::Arc;

    use super::Handover;
    use crate::sync::schedules::{Actor, Run, every_schedule, poll_once, yield_once};

    /// Where each connection ended up.
    #[derive(Default)]
    struct Outcome {
        received: Vec<u32>,
        refused: Vec<u32>,
        given_back: Vec<u32>,
    }

    fn sender(handover: &Arc<Handover<u32>>, outcome: &Rc<RefCell<Outcome>>, value: u32) -> Actor {
        let (handover, outcome) = (handover.clone(), outcome.clone());
        Box::pin(async move {
            if let Err(back) = handover.send(value).await {
                assert_eq!(back, value);
                outcome.borrow_mut().refused.push(back);
            }
        })
    }

    fn closer(handover: &Arc<Handover<u32>>, outcome: &Rc<RefCell<Outcome>>) -> Actor {
        let (handover, outcome) = (handover.clone(), outcome.clone());
        Box::pin(async move {
            yield_once().await;
            if let Some(back) = handover.close() {
                outcome.borrow_mut().given_back.push(back);
            }
        })
    }

    /// Every connection is received, refused or given back, exactly once.
    fn accounted(outcome: &Outcome, sent: &[u32]) {
        let mut all: Vec<u32> =
            outcome.received.iter().chain(&outcome.refused).chain(&outcome.given_back).copied().collect();
        all.sort_unstable();
        assert_eq!(
            all, sent,
            "received {:?}, refused {:?}, given back {:?}",
            outcome.received, outcome.refused, outcome.given_back
        );
    }

    /// Connections 1 and 2 handed over, the receiver `receive` makes, and a close if
    /// `close`; once all are done, every connection is accounted for.
    fn two_senders(close: bool, receive: impl FnOnce(Arc<Handover<u32>>, Rc<RefCell<Outcome>>) -> Actor) -> Run {
        let handover = Arc::new(Handover::default());
        let outcome = Rc::new(RefCell::new(Outcome::default()));
        let receiver = receive(handover.clone(), outcome.clone());
        let mut actors = vec![sender(&handover, &outcome, 1), sender(&handover, &outcome, 2), receiver];
        if close {
            actors.push(closer(&handover, &outcome));
        }
        Run { actors, then: Box::new(move || accounted(&outcome.borrow(), &[1, 2])) }
    }

    /// Two connections handed over, a receiver taking them until the slot closes, and a
    /// close, in every order their steps can take: no connection is lost or doubled,
    /// and no one waits forever.
    #[test]
    fn every_connection_is_accounted_for_in_every_schedule() {
        let explored = every_schedule(|| {
            two_senders(true, |handover, outcome| {
                Box::pin(async move {
                    while let Some(attach) = handover.recv().await {
                        outcome.borrow_mut().received.push(attach);
                    }
                })
            })
        });
        assert!(explored > 100, "only {explored} schedules");
    }

    /// A sender that waits for the slot to empty is let in when it does: two
    /// connections, and a receiver that takes both and only then closes the slot.
    #[test]
    fn a_waiting_sender_gets_in_once_the_slot_empties() {
        let explored = every_schedule(|| {
            two_senders(false, |handover, outcome| {
                Box::pin(async move {
                    for _ in 0..2 {
                        let attach = handover.recv().await.expect("the slot is open");
                        outcome.borrow_mut().received.push(attach);
                    }
                    assert_eq!(handover.close(), None);
                })
            })
        });
        assert!(explored >= 8, "only {explored} schedules");
    }

    /// A receiver that gives up waiting (as a `select!` branch not taken) and waits
    /// again takes nothing it does not return: a connection is taken only by the poll
    /// that returns it.
    #[test]
    fn a_receiver_that_gives_up_loses_nothing() {
        let explored = every_schedule(|| {
            two_senders(true, |handover, outcome| {
                Box::pin(async move {
                    for _ in 0..2 {
                        if let Some(Some(attach)) = poll_once(handover.recv()).await {
                            outcome.borrow_mut().received.push(attach);
                        }
                        yield_once().await;
                    }
                    while let Some(attach) = handover.recv().await {
                        outcome.borrow_mut().received.push(attach);
                    }
                })
            })
        });
        assert!(explored > 100, "only {explored} schedules");
    }

    /// A sender dropped while it waits leaves no waker in the slot.
    #[test]
    fn a_dropped_send_leaves_nothing() {
        let handover = Handover::default();
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut first = std::pin::pin!(handover.send(1));
        assert!(first.as_mut().poll(&mut cx).is_ready());
        for value in 2..5 {
            let mut waiting = std::pin::pin!(handover.send(value));
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(crate::sync::lock(&handover.slot).senders.len(), 0);
        assert_eq!(handover.close(), Some(1));
    }
}
