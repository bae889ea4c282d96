//! Where a connection resuming a session is handed to the session's task: one slot,
//! as a channel of capacity one would be, but with nothing allocated for it (every
//! idle session has one, and a channel allocates its slots up front). What a
//! connection is, is the server's business: the slot holds any `T`.

use std::pin::pin;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::sync::lock;

pub(crate) struct Handover<T> {
    slot: Mutex<Slot<T>>,
    /// A connection was put in the slot (or the slot closed).
    arrived: Notify,
    /// The slot was emptied (or closed).
    taken: Notify,
}

struct Slot<T> {
    pending: Option<T>,
    closed: bool,
}

impl<T> Default for Handover<T> {
    fn default() -> Self {
        Handover {
            slot: Mutex::new(Slot { pending: None, closed: false }),
            arrived: Notify::new(),
            taken: Notify::new(),
        }
    }
}

impl<T> Handover<T> {
    /// Puts `attach` in the slot once it is empty; gives it back if the session's task
    /// takes no more (it has ended).
    pub(crate) async fn send(&self, attach: T) -> Result<(), T> {
        loop {
            // Registered before the slot is looked at, so an emptying in between wakes it.
            let mut taken = pin!(self.taken.notified());
            taken.as_mut().enable();
            {
                let mut slot = lock(&self.slot);
                if slot.closed {
                    return Err(attach);
                }
                if slot.pending.is_none() {
                    slot.pending = Some(attach);
                    drop(slot);
                    self.arrived.notify_one();
                    return Ok(());
                }
            }
            taken.await;
        }
    }

    /// The next connection handed over; `None` once the slot is closed. Cancel-safe: a
    /// connection is taken only by the poll that returns it.
    pub(crate) async fn recv(&self) -> Option<T> {
        loop {
            let mut arrived = pin!(self.arrived.notified());
            arrived.as_mut().enable();
            {
                let mut slot = lock(&self.slot);
                if let Some(attach) = slot.pending.take() {
                    drop(slot);
                    self.taken.notify_waiters();
                    return Some(attach);
                }
                if slot.closed {
                    return None;
                }
            }
            arrived.await;
        }
    }

    /// Takes no more connections; gives back the one waiting, if any.
    pub(crate) fn close(&self) -> Option<T> {
        let pending = {
            let mut slot = lock(&self.slot);
            slot.closed = true;
            slot.pending.take()
        };
        self.taken.notify_waiters();
        self.arrived.notify_waiters();
        pending
    }
}
