//! Topics: which sessions have a channel of a given topic (name and room) open, for
//! broadcast; and, for a channel that keeps history, where each member session stands
//! in its room's history.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::history::{Kept, Position, plan};
use crate::id::ChannelId;
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::session::SessionShared;
use crate::sync::lock;
use crate::target::Target;

struct Member {
    session: Arc<SessionShared>,
    /// The session's open channels of this name; it stays a member (and gets each
    /// broadcast once) until the last one leaves. Joining and leaving name the channel,
    /// so both are idempotent.
    channels: Vec<ChannelId>,
    /// Where the session stands in the room's history (`None` for a topic without one).
    flow: Mutex<Option<Flow>>,
}

/// A member session's place in its room's history.
enum Flow {
    /// It has every numbered broadcast up to `last` of `epoch`.
    Live { epoch: Arc<str>, last: u64 },
    /// Its replay is being read (from Redis); broadcasts that arrive meanwhile wait.
    Recovering(Recovery),
}

struct Recovery {
    token: u64,
    /// The position to replay from (`None`: a client that was never in the room).
    since: Option<Position>,
    /// Whether the client hears a `history` frame even if nothing was missed (a join).
    announce: bool,
    waiting: Vec<(Arc<str>, u64, Body)>,
    /// More broadcasts arrived than may wait: read the history again once this is done.
    overflowed: bool,
}

/// What delivering a numbered broadcast did.
pub(crate) struct KeptDelivery {
    /// Sessions it was queued for.
    pub reached: usize,
    /// Members that found broadcasts missing and must read the history.
    pub refetch: Vec<Refetch>,
}

/// A member whose history must be read (again).
#[derive(Debug)]
pub(crate) struct Refetch {
    pub session_key: u64,
    pub token: u64,
}

/// What one broadcast did for one member.
enum Step {
    Queued,
    /// Not queued: a duplicate, waiting for a replay, or a session that is gone.
    Held,
    Refetch(Refetch),
}

#[derive(Default)]
pub(crate) struct Topics {
    by_name: RwLock<HashMap<Arc<str>, HashMap<u64, Member>>>,
    tokens: AtomicU64,
}

impl Topics {
    /// Returns whether the session became a member (its first channel of the topic).
    pub(crate) fn join(&self, topic: &Topic, session: &Arc<SessionShared>, channel: ChannelId) -> bool {
        self.join_with(topic, session, channel, || None)
    }

    /// Joins a topic whose history was just replayed to the session (under the room's
    /// lock): it has every broadcast up to `at`.
    pub(crate) fn join_live(
        &self,
        topic: &Topic,
        session: &Arc<SessionShared>,
        channel: ChannelId,
        at: Position,
    ) -> bool {
        self.join_with(topic, session, channel, || Some(Flow::Live { epoch: at.epoch, last: at.offset }))
    }

    /// Joins a topic whose history must first be read: broadcasts wait until
    /// [`Topics::recovered`] hands over the replay. `None` if the session was already a
    /// member (another channel of the same room: the replay went to the first).
    pub(crate) fn join_recovering(
        &self,
        topic: &Topic,
        session: &Arc<SessionShared>,
        channel: ChannelId,
        since: Option<Position>,
    ) -> Option<Refetch> {
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        let refetch = Refetch { session_key: session.key, token };
        let recovery = Recovery { token, since, announce: true, waiting: Vec::new(), overflowed: false };
        self.join_with(topic, session, channel, || Some(Flow::Recovering(recovery))).then_some(refetch)
    }

    /// Returns whether the session became a member.
    fn join_with(
        &self,
        topic: &Topic,
        session: &Arc<SessionShared>,
        channel: ChannelId,
        flow: impl FnOnce() -> Option<Flow>,
    ) -> bool {
        let mut by_name = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        let members = by_name.entry(topic.shared().clone()).or_default();
        let mut created = false;
        let member = members.entry(session.key).or_insert_with(|| {
            created = true;
            Member { session: session.clone(), channels: Vec::new(), flow: Mutex::new(flow()) }
        });
        if !member.channels.contains(&channel) {
            member.channels.push(channel);
        }
        created
    }

    /// Returns whether the session stopped being a member (its last channel left).
    pub(crate) fn leave(&self, topic: &Topic, session_key: u64, channel: ChannelId) -> bool {
        let name = topic.as_str();
        let mut by_name = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        let Some(members) = by_name.get_mut(name) else { return false };
        let mut removed = false;
        if let Some(member) = members.get_mut(&session_key) {
            member.channels.retain(|c| *c != channel);
            if member.channels.is_empty() {
                members.remove(&session_key);
                removed = true;
            }
        }
        if members.is_empty() {
            by_name.remove(name);
        }
        removed
    }

    /// Queues `body` once for every member session `target` admits; returns how many
    /// accepted it. A session whose queue is full is disconnected by `enqueue`; nobody
    /// waits for it.
    pub(crate) fn deliver(&self, topic: &str, target: &Target, body: &Body) -> usize {
        let by_name = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        let Some(members) = by_name.get(topic) else { return 0 };
        let admitted = |m: &&Member| target.admits(m.session.id, m.session.user());
        members.values().filter(admitted).filter(|m| m.session.enqueue(body.clone()).is_ok()).count()
    }

    /// Delivers broadcast `offset` of `epoch` (its frame `body` carries its position) to
    /// every member, each exactly once and in order: a member that already has it skips
    /// it, one recovering keeps it for later, and one that missed broadcasts before it
    /// starts recovering. The caller makes these calls one at a time per topic, in
    /// offset order, and reads the history for every [`Refetch`] returned.
    pub(crate) fn deliver_kept(&self, topic: &Topic, epoch: &Arc<str>, offset: u64, body: &Body) -> KeptDelivery {
        let by_name = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        let mut delivery = KeptDelivery { reached: 0, refetch: Vec::new() };
        let Some(members) = by_name.get(topic.as_str()) else { return delivery };
        for member in members.values() {
            let mut flow = lock(&member.flow);
            match self.step(&mut flow, member, epoch, offset, body) {
                Step::Queued => delivery.reached += 1,
                Step::Refetch(refetch) => delivery.refetch.push(refetch),
                Step::Held => {}
            }
        }
        delivery
    }

    /// One broadcast for one member.
    fn step(&self, flow: &mut Option<Flow>, member: &Member, epoch: &Arc<str>, offset: u64, body: &Body) -> Step {
        let queue_limit = member.session.queue_limit();
        let queue = |body: &Body| match member.session.enqueue(body.clone()) {
            Ok(()) => Step::Queued,
            Err(_) => Step::Held,
        };
        match flow {
            None => queue(body),
            Some(Flow::Live { epoch: current, last }) => {
                let next = if *current == *epoch { *last + 1 } else { 1 };
                if *current == *epoch && offset <= *last {
                    return Step::Held; // already delivered
                }
                if offset == next {
                    *current = epoch.clone();
                    *last = offset;
                    return queue(body);
                }
                // Broadcasts were missed (lost on the way from Redis, or a history that
                // started over): read them, and keep this one for after.
                let token = self.tokens.fetch_add(1, Ordering::Relaxed);
                let since = Some(Position { epoch: current.clone(), offset: *last });
                let waiting = vec![(epoch.clone(), offset, body.clone())];
                *flow = Some(Flow::Recovering(Recovery { token, since, announce: false, waiting, overflowed: false }));
                Step::Refetch(Refetch { session_key: member.session.key, token })
            }
            Some(Flow::Recovering(recovery)) => {
                if recovery.waiting.len() < queue_limit {
                    recovery.waiting.push((epoch.clone(), offset, body.clone()));
                } else {
                    recovery.overflowed = true;
                }
                Step::Held
            }
        }
    }

    /// The history a recovering member asked for was read: it gets its replay (after a
    /// `history` frame on a join, or when it cannot have everything it missed), then what
    /// waited. A stale read (the member left, or asked again since) is dropped.
    pub(crate) fn recovered(&self, topic: &Topic, session_key: u64, token: u64, kept: &Kept) -> Vec<Refetch> {
        let by_name = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        let Some(member) = by_name.get(topic.as_str()).and_then(|members| members.get(&session_key)) else {
            return Vec::new();
        };
        let mut flow = lock(&member.flow);
        let recovery = match flow.take() {
            Some(Flow::Recovering(recovery)) if recovery.token == token => recovery,
            other => {
                *flow = other;
                return Vec::new();
            }
        };
        let replay = plan(kept, recovery.since.as_ref());
        let session = &member.session;
        if recovery.announce || !replay.recovered {
            let _ = session.enqueue(replay.start_frame(topic));
        }
        let _ = session.enqueue_run(replay.entries.iter().map(|(_, body)| body.clone()).collect());
        *flow = Some(Flow::Live { epoch: kept.epoch.clone(), last: kept.top });
        let mut refetch = Vec::new();
        if recovery.overflowed {
            // What waited is incomplete: read again from here; it arrives from Redis.
            let token = self.tokens.fetch_add(1, Ordering::Relaxed);
            let since = Some(Position { epoch: kept.epoch.clone(), offset: kept.top });
            let again = Recovery { token, since, announce: false, waiting: Vec::new(), overflowed: false };
            *flow = Some(Flow::Recovering(again));
            refetch.push(Refetch { session_key, token });
            return refetch;
        }
        // What waited from another epoch than the store's is from a history that is
        // gone: the store is the truth.
        for (epoch, offset, body) in recovery.waiting.into_iter().filter(|(epoch, ..)| *epoch == kept.epoch) {
            if let Step::Refetch(again) = self.step(&mut flow, member, &epoch, offset, &body) {
                refetch.push(again);
            }
        }
        refetch
    }

    /// Whether any session has a channel of `topic` open.
    pub(crate) fn has_members(&self, topic: &Topic) -> bool {
        self.by_name.read().unwrap_or_else(|p| p.into_inner()).contains_key(topic.as_str())
    }

    /// Whether session `session_key` has a channel of `topic` open.
    pub(crate) fn is_member(&self, topic: &Topic, session_key: u64) -> bool {
        let by_name = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        by_name.get(topic.as_str()).is_some_and(|members| members.contains_key(&session_key))
    }

    /// Every member of a topic with history reads it again from where it stands (after
    /// the node lost its subscription for a while: what was published meanwhile never
    /// arrived, and no later broadcast may come to reveal it).
    pub(crate) fn resync(&self) -> Vec<(Topic, Refetch)> {
        let by_name = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        let mut refetch = Vec::new();
        for (name, members) in by_name.iter() {
            let Some(topic) = Topic::parse(name) else { continue };
            for (key, member) in members {
                let mut flow = lock(&member.flow);
                if let Some(Flow::Live { epoch, last }) = &*flow {
                    let token = self.tokens.fetch_add(1, Ordering::Relaxed);
                    let since = Some(Position { epoch: epoch.clone(), offset: *last });
                    let recovery = Recovery { token, since, announce: false, waiting: Vec::new(), overflowed: false };
                    *flow = Some(Flow::Recovering(recovery));
                    refetch.push((topic.clone(), Refetch { session_key: *key, token }));
                }
            }
        }
        refetch
    }

    /// Whether `session_key` is a member of `topic` still recovering with `token`.
    pub(crate) fn is_recovering(&self, topic: &Topic, session_key: u64, token: u64) -> bool {
        let by_name = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        let Some(member) = by_name.get(topic.as_str()).and_then(|members| members.get(&session_key)) else {
            return false;
        };
        matches!(&*lock(&member.flow), Some(Flow::Recovering(r)) if r.token == token)
    }

    /// Number of topics with at least one member.
    pub(crate) fn topic_count(&self) -> usize {
        self.by_name.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use proptest::prelude::*;

    use super::*;
    use crate::config::Config;
    use crate::protocol::frames;
    use crate::session::host::Host;
    use crate::session::{Access, Session};

    struct NoServer(Config, Instant, Arc<crate::session_core::budget::Budget>);

    impl Host for NoServer {
        fn config(&self) -> &Config {
            &self.0
        }
        fn started(&self) -> Instant {
            self.1
        }
        fn authorize(&self, _: &Session, _: &Access<'_>) -> Result<(), String> {
            Ok(())
        }
        fn join(&self, _: &Topic, _: &Arc<SessionShared>, _: ChannelId) {}
        fn declare_presence(&self, _: &'static str) {}
        fn track(&self, _: &Topic, _: &Arc<SessionShared>, _: Box<serde_json::value::RawValue>) {}
        fn untrack(&self, _: &Topic, _: &SessionShared) {}
        fn leave(&self, _: &Topic, _: u64, _: ChannelId) {}
        fn publish(&self, _: &Topic, _: &Target, _: &Body) -> crate::target::Delivery {
            crate::target::Delivery::Queued(0)
        }
        fn telemetry(&self) -> Option<&crate::telemetry::Telemetry> {
            None
        }
        fn detached_budget(&self) -> &Arc<crate::session_core::budget::Budget> {
            &self.2
        }
        fn follow_room(
            &self,
            _: &Topic,
            _: std::any::TypeId,
            _: crate::history::follow::MakeView<'_>,
        ) -> Option<Arc<crate::history::follow::RoomFollow>> {
            None
        }
    }

    fn session(key: u64) -> Arc<SessionShared> {
        SessionShared::new(
            Arc::new(NoServer(
                Config::default(),
                Instant::now(),
                Arc::new(crate::session_core::budget::Budget::new(usize::MAX)),
            )),
            key,
            None,
            crate::protocol::Query::default(),
        )
    }

    /// What a room's history store holds after `published` broadcasts, keeping `size`.
    fn stored(topic: &Topic, epoch: &Arc<str>, published: u64, size: u64) -> Kept {
        let first = published.saturating_sub(size) + 1;
        let entries = (first..=published).map(|o| (o, numbered(topic, epoch, o))).collect();
        Kept { epoch: epoch.clone(), top: published, entries, size: size as usize }
    }

    fn numbered(topic: &Topic, epoch: &str, offset: u64) -> Body {
        frames::broadcast(topic, "said", &offset).unwrap().with_position(epoch, offset)
    }

    /// One thing that happens in the test's room.
    #[derive(Debug, Clone)]
    enum Event {
        /// A broadcast is made; Redis delivers it to this node (`Some(twice)`), or the
        /// subscription loses it (`None`).
        Publish(Option<bool>),
        /// The oldest history read in flight completes, with what the store holds now.
        Read,
        /// The store loses the room's history (Redis restarted): a new epoch starts.
        Lost,
    }

    fn events() -> impl Strategy<Value = Vec<Event>> {
        let event = prop_oneof![
            4 => proptest::option::weighted(0.8, any::<bool>()).prop_map(Event::Publish),
            2 => Just(Event::Read),
            1 => Just(Event::Lost),
        ];
        proptest::collection::vec(event, 0..40)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// A member that joins while broadcasts are made, lost, repeated, and while
        /// history reads complete late, ends with every broadcast from where its replay
        /// started to the last one, each once, in order; only a `history` frame that says
        /// it could not recover may start it over.
        #[test]
        fn a_recovering_member_gets_every_broadcast_once_in_order(
            before in 0u64..6, size in 1u64..6, events in events()
        ) {
            let topics = Topics::default();
            let topic = Topic::from("room");
            let mut epoch: Arc<str> = Arc::from("e0");
            let member = session(1);
            let mut published = before;
            let mut reads: Vec<Refetch> = Vec::new();
            reads.extend(topics.join_recovering(&topic, &member, ChannelId::generate(), None));
            let publish = |topics: &Topics, epoch: &Arc<str>, published: &mut u64, delivered: Option<bool>, reads: &mut Vec<Refetch>| {
                *published += 1;
                if let Some(twice) = delivered {
                    let body = numbered(&topic, epoch, *published);
                    for _ in 0..if twice { 2 } else { 1 } {
                        reads.extend(topics.deliver_kept(&topic, epoch, *published, &body).refetch);
                    }
                }
            };
            let mut epochs = 0;
            for event in events {
                match event {
                    Event::Publish(delivered) => publish(&topics, &epoch, &mut published, delivered, &mut reads),
                    Event::Lost => {
                        epochs += 1;
                        epoch = Arc::from(format!("e{epochs}"));
                        published = 0;
                    }
                    Event::Read if !reads.is_empty() => {
                        let read = reads.remove(0);
                        let kept = stored(&topic, &epoch, published, size);
                        reads.extend(topics.recovered(&topic, read.session_key, read.token, &kept));
                    }
                    Event::Read => {}
                }
            }
            // One last broadcast arrives, and every read completes.
            publish(&topics, &epoch, &mut published, Some(false), &mut reads);
            let mut rounds = 0;
            while !reads.is_empty() {
                rounds += 1;
                prop_assert!(rounds < 100, "history reads never settle");
                let read = reads.remove(0);
                let kept = stored(&topic, &epoch, published, size);
                reads.extend(topics.recovered(&topic, read.session_key, read.token, &kept));
            }
            let mut at: Option<(String, u64)> = None;
            for frame in member.take_queued() {
                let frame: serde_json::Value = serde_json::from_str(&frame).unwrap();
                let offset = frame["offset"].as_u64().unwrap();
                let frame_epoch = frame["epoch"].as_str().unwrap().to_owned();
                match frame["t"].as_str().unwrap() {
                    "history" => prop_assert!(at.is_none() || frame["recovered"] == false, "{frame}"),
                    _ => {
                        // The next of the same epoch, or the first of a new one.
                        let expected = match &at {
                            Some((e, a)) if *e == frame_epoch => a + 1,
                            _ => 1,
                        };
                        prop_assert!(at.is_some(), "a broadcast before the history frame: {frame}");
                        prop_assert_eq!(offset, expected, "{}", frame);
                    }
                }
                at = Some((frame_epoch, offset));
            }
            prop_assert_eq!(at, Some((epoch.to_string(), published)));
        }
    }
}
