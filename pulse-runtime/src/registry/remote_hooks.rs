//! The `on_remote_broadcast` hooks, run off the backplane's task.
//!
//! A broadcast from another node is delivered to this node's sessions at once, on the
//! backplane's task (that never blocks); the hooks' calls are queued per topic (a
//! channel name and room) and each topic's queue is drained in arrival order by a task
//! of its own on Tokio's blocking pool (hooks are synchronous, and may block). So a slow
//! or panicking hook delays only the later calls of its own room: never the delivery to
//! sessions, other rooms' hooks, or the backplane. A topic's task ends when its queue
//! is empty; an idle topic costs nothing.
//!
//! Each queue is bounded ([`ROOM_BACKLOG`], and [`TOTAL_BACKLOG`] across topics): past
//! it, a call is dropped, counted in `pulse_remote_hook_drops_total`, and warned about
//! once per overflow.

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Weak};

use super::Registry;
use crate::guard::{self, Callback};
use crate::protocol::{Topic, frames};
use crate::sync::lock;

/// Sees broadcasts to a whole topic that arrive from other nodes: (topic, encoded frame).
pub(crate) type RemoteHook = Arc<dyn Fn(&Topic, &frames::Body) + Send + Sync>;

/// Most calls waiting for one topic's hooks. A room whose hooks are this far behind
/// (a second of a busy room's traffic) is stuck rather than slow: dropping its newest
/// calls bounds the memory it holds, and is what the metric shows.
pub(super) const ROOM_BACKLOG: usize = 1024;

/// Most calls waiting across every topic, so hooks stuck in many rooms hold bounded
/// memory too (each call holds one shared frame).
pub(super) const TOTAL_BACKLOG: usize = 64 * ROOM_BACKLOG;

/// The calls waiting, by topic. A topic is in the map while its runner runs.
pub(crate) struct Lanes<T> {
    topics: HashMap<Topic, Lane<T>>,
    waiting: usize,
    /// Dropping for want of room across topics (warned once until it stops).
    dropping: bool,
}

struct Lane<T> {
    queue: VecDeque<T>,
    /// Dropping for want of room in this lane (warned once until it drains to half).
    dropping: bool,
}

/// What became of a call offered to [`Lanes::offer`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Offer {
    /// Queued to a topic without a runner: start one.
    Start,
    /// Queued behind the topic's runner.
    Queued,
    /// Dropped: the queue is full. `first`: the first drop since it last had room.
    Dropped { first: bool },
}

impl<T> Default for Lanes<T> {
    fn default() -> Self {
        Lanes { topics: HashMap::new(), waiting: 0, dropping: false }
    }
}

impl<T> Lanes<T> {
    /// Queues `call` for `topic`.
    pub(super) fn offer(&mut self, topic: &Topic, call: T) -> Offer {
        let full = self.waiting >= TOTAL_BACKLOG;
        match self.topics.get_mut(topic) {
            Some(lane) if full || lane.queue.len() >= ROOM_BACKLOG => {
                Offer::Dropped { first: !std::mem::replace(&mut lane.dropping, true) }
            }
            None if full => Offer::Dropped { first: !std::mem::replace(&mut self.dropping, true) },
            Some(lane) => {
                lane.queue.push_back(call);
                self.waiting += 1;
                Offer::Queued
            }
            None => {
                self.topics.insert(topic.clone(), Lane { queue: VecDeque::from([call]), dropping: false });
                self.waiting += 1;
                Offer::Start
            }
        }
    }

    /// The next call for `topic`'s runner, oldest first; `None` when none waits, and
    /// then the topic has no runner: the runner ends.
    pub(super) fn next(&mut self, topic: &Topic) -> Option<T> {
        let lane = self.topics.get_mut(topic)?;
        let Some(call) = lane.queue.pop_front() else {
            self.topics.remove(topic);
            return None;
        };
        self.waiting -= 1;
        if lane.queue.len() < ROOM_BACKLOG / 2 {
            lane.dropping = false;
        }
        if self.waiting < TOTAL_BACKLOG / 2 {
            self.dropping = false;
        }
        Some(call)
    }
}

impl Registry {
    /// Queues a whole-topic broadcast from another node for the hooks that follow its
    /// channel; they run on the topic's runner, in arrival order.
    pub(super) fn queue_remote_hooks(&self, topic: &Topic, body: &frames::Body) {
        if self.remote_hooks.is_empty() || !self.followed.iter().any(|name| **name == *topic.name()) {
            return;
        }
        let offer = lock(&self.remote_lanes).offer(topic, body.clone());
        match offer {
            Offer::Queued => {}
            Offer::Dropped { first } => {
                if let Some(telemetry) = &self.telemetry {
                    telemetry.remote_hook_dropped();
                }
                if first {
                    tracing::warn!(
                        %topic,
                        ROOM_BACKLOG,
                        "on_remote_broadcast hooks are too far behind in this room: its newest broadcasts are not \
                         shown to them (counted in pulse_remote_hook_drops_total)"
                    );
                }
            }
            Offer::Start => {
                let (server, topic) = (self.this.clone(), topic.clone());
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => drop(runtime.spawn_blocking(move || run_lane(&server, &topic))),
                    // A backplane delivering from outside a runtime: its thread runs them.
                    Err(_) => run_lane(&server, &topic),
                }
            }
        }
    }
}

/// Runs the hooks on each call waiting for `topic`, in order, until none is left (or
/// the server is gone). A panic is caught, logged and counted; the next call runs.
fn run_lane(server: &Weak<Registry>, topic: &Topic) {
    loop {
        let Some(server) = server.upgrade() else { return };
        let Some(body) = lock(&server.remote_lanes).next(topic) else { return };
        for hook in &server.remote_hooks {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| hook(topic, &body))) {
                let telemetry = server.telemetry.as_ref();
                tracing::error_span!("remote_broadcast", %topic)
                    .in_scope(|| guard::caught(Callback::OnRemoteBroadcast, telemetry, panic.as_ref()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(room: &str) -> Topic {
        let room = serde_json::value::to_raw_value(room).unwrap();
        Topic::new("chat", Some(&room))
    }

    #[test]
    fn one_runner_per_topic_takes_its_calls_in_order() {
        let mut lanes = Lanes::default();
        let (a, b) = (topic("a"), topic("b"));
        assert_eq!(lanes.offer(&a, 1), Offer::Start);
        assert_eq!(lanes.offer(&a, 2), Offer::Queued);
        assert_eq!(lanes.offer(&b, 10), Offer::Start, "another room runs beside it");
        assert_eq!(lanes.next(&a), Some(1));
        assert_eq!(lanes.offer(&a, 3), Offer::Queued, "its runner is still running");
        assert_eq!((lanes.next(&a), lanes.next(&a)), (Some(2), Some(3)));
        assert_eq!(lanes.next(&a), None, "the runner ends");
        assert_eq!(lanes.offer(&a, 4), Offer::Start, "and the next call starts another");
        assert_eq!((lanes.next(&b), lanes.next(&b)), (Some(10), None));
        assert_eq!(lanes.waiting, 1);
    }

    #[test]
    fn a_full_lane_drops_and_warns_once_until_it_drains() {
        let mut lanes = Lanes::default();
        let a = topic("a");
        assert_eq!(lanes.offer(&a, 0), Offer::Start);
        for n in 1..ROOM_BACKLOG {
            assert_eq!(lanes.offer(&a, n), Offer::Queued);
        }
        assert_eq!(lanes.offer(&a, ROOM_BACKLOG), Offer::Dropped { first: true });
        assert_eq!(lanes.offer(&a, ROOM_BACKLOG), Offer::Dropped { first: false });
        assert_eq!(lanes.offer(&topic("b"), 0), Offer::Start, "other rooms have room");
        for n in 0..=ROOM_BACKLOG / 2 {
            assert_eq!(lanes.next(&a), Some(n));
        }
        assert_eq!(lanes.offer(&a, 1), Offer::Queued);
        while lanes.queue_len(&a) < ROOM_BACKLOG {
            lanes.offer(&a, 0);
        }
        assert_eq!(lanes.offer(&a, 0), Offer::Dropped { first: true }, "a new overflow is warned about");
    }

    #[test]
    fn every_topic_together_is_bounded() {
        let mut lanes = Lanes::default();
        let mut rooms = 0;
        while lanes.waiting < TOTAL_BACKLOG {
            let room = topic(&rooms.to_string());
            for _ in 0..ROOM_BACKLOG {
                lanes.offer(&room, ());
            }
            rooms += 1;
        }
        assert_eq!(lanes.waiting, TOTAL_BACKLOG);
        assert_eq!(lanes.offer(&topic("new"), ()), Offer::Dropped { first: true });
        assert_eq!(lanes.offer(&topic("newer"), ()), Offer::Dropped { first: false });
        assert_eq!(lanes.offer(&topic("0"), ()), Offer::Dropped { first: true }, "its own lane warns once too");
        assert_eq!(lanes.next(&topic("0")), Some(()));
        assert_eq!(lanes.offer(&topic("new"), ()), Offer::Start);
    }

    #[test]
    fn the_bounds_are_the_documented_ones() {
        // `ServerBuilder::on_remote_broadcast`, docs/guide.md and docs/reliability.md say them.
        assert_eq!((ROOM_BACKLOG, TOTAL_BACKLOG), (1024, 65_536));
    }

    impl<T> Lanes<T> {
        fn queue_len(&self, topic: &Topic) -> usize {
            self.topics.get(topic).map_or(0, |lane| lane.queue.len())
        }
    }
}
