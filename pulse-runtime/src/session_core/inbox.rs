//! One channel's inbound work, in order: the client's events and requests on a channel
//! are handled one at a time, in the order they arrived, as Phoenix handles a channel's
//! messages. A handler that awaits (an `async` event) holds up the later events of *its*
//! channel only; they wait here, and run, in order, once it has finished.
//!
//! Sans-IO: whoever is told to run a piece of work is the channel's only runner until
//! [`Inbox::next`] says there is nothing left.

use std::collections::VecDeque;

/// The inbound work of one channel.
pub(crate) struct Inbox<W> {
    running: bool,
    closed: bool,
    waiting: VecDeque<W>,
    limit: usize,
}

/// What to do with work that just arrived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Arrival<W> {
    /// Nothing is running: run it now; the caller is the runner until `next` is `None`.
    Run(W),
    /// Work is running: it waits its turn (the runner will get it from `next`).
    Queued,
    /// Too much work is waiting (`limit`): refused, handed back.
    Full(W),
    /// The channel has closed: refused, handed back.
    Closed(W),
}

impl<W> Inbox<W> {
    /// An idle inbox holding at most `limit` waiting pieces of work.
    pub(crate) fn new(limit: usize) -> Self {
        Inbox { running: false, closed: false, waiting: VecDeque::new(), limit }
    }

    /// Work arrived.
    pub(crate) fn arrive(&mut self, work: W) -> Arrival<W> {
        if self.closed {
            Arrival::Closed(work)
        } else if !self.running {
            self.running = true;
            Arrival::Run(work)
        } else if self.waiting.len() >= self.limit {
            Arrival::Full(work)
        } else {
            self.waiting.push_back(work);
            Arrival::Queued
        }
    }

    /// The runner finished a piece of work: the next one to run, or `None`, and the
    /// inbox is idle (in the same step, so work that arrives after sees it idle).
    pub(crate) fn next(&mut self) -> Option<W> {
        let next = if self.closed { None } else { self.waiting.pop_front() };
        if next.is_none() {
            self.running = false;
        }
        next
    }

    /// The channel closed: the waiting work is handed back (never run) and every later
    /// arrival is refused.
    pub(crate) fn close(&mut self) -> Vec<W> {
        self.closed = true;
        self.waiting.drain(..).collect()
    }

    /// Whether some work is running.
    #[cfg(test)]
    pub(crate) fn is_running(&self) -> bool {
        self.running
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Step {
        /// Work arrives from the read loop.
        Arrive,
        /// The runner finishes what it runs (if anything runs).
        Finish,
        /// The channel closes.
        Close,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![6 => Just(Step::Arrive), 5 => Just(Step::Finish), 1 => Just(Step::Close)]
    }

    proptest! {
        /// Every piece of work is run exactly once, in arrival order, by one runner at a
        /// time — or handed back (full, closed, or waiting when the channel closed).
        #[test]
        fn work_runs_once_in_order_by_one_runner(steps in prop::collection::vec(step(), 0..200), limit in 0usize..5) {
            let mut inbox = Inbox::new(limit);
            let mut arrived = 0u32;
            let mut ran = Vec::new();
            let mut returned = Vec::new();
            let mut current: Option<u32> = None;
            for step in steps {
                match step {
                    Step::Arrive => {
                        let work = arrived;
                        arrived += 1;
                        match inbox.arrive(work) {
                            Arrival::Run(w) => {
                                prop_assert!(current.is_none(), "two runners at once");
                                current = Some(w);
                                ran.push(w);
                            }
                            Arrival::Queued => prop_assert!(current.is_some(), "queued while nothing runs"),
                            Arrival::Full(w) | Arrival::Closed(w) => returned.push(w),
                        }
                    }
                    Step::Finish => {
                        if current.take().is_some() {
                            if let Some(w) = inbox.next() {
                                current = Some(w);
                                ran.push(w);
                            }
                        }
                        prop_assert_eq!(inbox.is_running(), current.is_some());
                    }
                    Step::Close => returned.extend(inbox.close()),
                }
            }
            // Drain: the runner finishes everything still waiting.
            while current.take().is_some() {
                if let Some(w) = inbox.next() {
                    current = Some(w);
                    ran.push(w);
                }
            }
            prop_assert!(ran.windows(2).all(|w| w[0] < w[1]), "out of order: {:?}", ran);
            let mut all: Vec<u32> = ran.iter().chain(&returned).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..arrived).collect::<Vec<_>>(), "lost or duplicated work");
        }
    }
}
