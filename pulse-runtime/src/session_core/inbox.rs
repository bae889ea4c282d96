//! One channel's inbound work, in order: the client's events and requests on a channel
//! are handled one at a time, in the order they arrived, as Phoenix handles a channel's
//! messages. A handler that awaits (an `async` event) holds up the later events of *its*
//! channel only; they wait here, and run, in order, once it has finished.
//!
//! What waits is bounded twice: by count in each channel, and by bytes across all the
//! channels of a session (a [`Budget`] the session's inboxes share), so a client cannot
//! make the server hold more than that while its handlers are slow.
//!
//! Sans-IO: whoever is told to run a piece of work is the channel's only runner until
//! [`Inbox::next`] says there is nothing left.

use std::collections::VecDeque;

use super::budget::Budget;

/// Work whose size in memory counts against a byte budget while it waits.
pub(crate) trait Weighed {
    /// The bytes it holds (its payload, mostly).
    fn bytes(&self) -> usize;
}

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
    /// Too much work is waiting in this channel (`limit`): refused, handed back.
    Full(W),
    /// Too many bytes are waiting in the session's channels (the budget): refused,
    /// handed back.
    OverBudget(W),
    /// The channel has closed: refused, handed back.
    Closed(W),
}

impl<W: Weighed> Inbox<W> {
    /// An idle inbox holding at most `limit` waiting pieces of work. The bytes of what
    /// waits come out of the session's `budget`, passed to each call (the same one
    /// every time).
    pub(crate) fn new(limit: usize) -> Self {
        Inbox { running: false, closed: false, waiting: VecDeque::new(), limit }
    }

    /// Work arrived.
    pub(crate) fn arrive(&mut self, work: W, budget: &Budget) -> Arrival<W> {
        if self.closed {
            Arrival::Closed(work)
        } else if !self.running {
            self.running = true;
            Arrival::Run(work)
        } else if self.waiting.len() >= self.limit {
            Arrival::Full(work)
        } else if !budget.try_take(work.bytes()) {
            Arrival::OverBudget(work)
        } else {
            self.waiting.push_back(work);
            Arrival::Queued
        }
    }

    /// The runner finished a piece of work: the next one to run, or `None`, and the
    /// inbox is idle (in the same step, so work that arrives after sees it idle).
    pub(crate) fn next(&mut self, budget: &Budget) -> Option<W> {
        let next = if self.closed { None } else { self.waiting.pop_front() };
        match &next {
            Some(work) => budget.give(work.bytes()),
            None => self.running = false,
        }
        next
    }

    /// The channel closed: the waiting work is handed back (never run) and every later
    /// arrival is refused.
    pub(crate) fn close(&mut self, budget: &Budget) -> Vec<W> {
        self.closed = true;
        let waiting: Vec<W> = self.waiting.drain(..).collect();
        budget.give(waiting.iter().map(Weighed::bytes).sum());
        waiting
    }

    /// Whether some work is running.
    #[cfg(test)]
    pub(crate) fn is_running(&self) -> bool {
        self.running
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;

    /// A piece of work: its arrival number and its size.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Piece {
        n: u32,
        bytes: usize,
    }

    impl Weighed for Piece {
        fn bytes(&self) -> usize {
            self.bytes
        }
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// Work of this size arrives from the read loop on a channel.
        Arrive(usize, usize),
        /// The channel's runner finishes what it runs (if anything runs).
        Finish(usize),
        /// The channel closes.
        Close(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0..2usize, 0..40usize).prop_map(|(c, bytes)| Step::Arrive(c, bytes)),
            5 => (0..2usize).prop_map(Step::Finish),
            1 => (0..2usize).prop_map(Step::Close),
        ]
    }

    /// One channel as its runner sees it.
    struct Channel {
        inbox: Inbox<Piece>,
        budget: Arc<Budget>,
        current: Option<Piece>,
        ran: Vec<u32>,
    }

    impl Channel {
        fn finish(&mut self) {
            if self.current.take().is_some() {
                if let Some(w) = self.inbox.next(&self.budget) {
                    self.current = Some(w);
                    self.ran.push(w.n);
                }
            }
        }
    }

    proptest! {
        /// Every piece of work is run exactly once, in arrival order, by one runner per
        /// channel at a time — or handed back (full, over the budget, closed, or waiting
        /// when the channel closed). The bytes waiting in the two channels are exactly
        /// what the shared budget says is taken, and stay within it.
        #[test]
        fn work_runs_once_in_order_by_one_runner(
            steps in prop::collection::vec(step(), 0..200),
            limit in 0usize..5,
            budget in 0usize..100,
        ) {
            let shared = Arc::new(Budget::new(budget));
            let mut channels: Vec<Channel> = (0..2)
                .map(|_| Channel { inbox: Inbox::new(limit), budget: shared.clone(), current: None, ran: Vec::new() })
                .collect();
            let mut arrived = 0u32;
            let mut returned = Vec::new();
            for step in steps {
                match step {
                    Step::Arrive(c, bytes) => {
                        let work = Piece { n: arrived, bytes };
                        arrived += 1;
                        let channel = &mut channels[c];
                        match channel.inbox.arrive(work, &shared) {
                            Arrival::Run(w) => {
                                prop_assert!(channel.current.is_none(), "two runners at once");
                                channel.current = Some(w);
                                channel.ran.push(w.n);
                            }
                            Arrival::Queued => prop_assert!(channel.current.is_some(), "queued while nothing runs"),
                            Arrival::OverBudget(w) => {
                                prop_assert!(shared.used() > 0 && shared.used() + w.bytes > budget);
                                returned.push(w.n);
                            }
                            Arrival::Full(w) | Arrival::Closed(w) => returned.push(w.n),
                        }
                    }
                    Step::Finish(c) => {
                        channels[c].finish();
                        prop_assert_eq!(channels[c].inbox.is_running(), channels[c].current.is_some());
                    }
                    Step::Close(c) => returned.extend(channels[c].inbox.close(&shared).iter().map(|w| w.n)),
                }
                let waiting: Vec<usize> =
                    channels.iter().flat_map(|c| c.inbox.waiting.iter().map(|w| w.bytes)).collect();
                prop_assert_eq!(shared.used(), waiting.iter().sum::<usize>(), "the budget is what waits");
                prop_assert!(shared.used() <= budget || waiting.iter().filter(|b| **b > 0).count() == 1);
            }
            // Drain: each runner finishes everything still waiting.
            for channel in &mut channels {
                while channel.current.is_some() {
                    channel.finish();
                }
            }
            prop_assert_eq!(shared.used(), 0, "every byte given back");
            let mut all: Vec<u32> = returned;
            for channel in &channels {
                prop_assert!(channel.ran.windows(2).all(|w| w[0] < w[1]), "out of order: {:?}", channel.ran);
                all.extend(&channel.ran);
            }
            all.sort_unstable();
            prop_assert_eq!(all, (0..arrived).collect::<Vec<_>>(), "lost or duplicated work");
        }
    }
}
