//! Topics: which sessions have a channel of a given topic (name and room) open, for
//! broadcast; and, for a channel that keeps history, where each member session stands
//! in its room's history.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::history::{Kept, Position, plan};
use crate::id::{ChannelId, SessionId};
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::session::SessionShared;
use crate::sync::{Ranked, RankedRw, lock, rank};
use crate::target::Target;

struct Member {
    session: Arc<SessionShared>,
    /// The session's open channels of this name; it stays a member (and gets each
    /// broadcast once) until the last one leaves. Joining and leaving name the channel,
    /// so both are idempotent.
    channels: Vec<ChannelId>,
    /// Where the session stands in the room's history (`None` for a topic without one).
    flow: Ranked<Option<Flow>, { rank::MEMBER_FLOW }>,
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

/// How many shards the table of topics is cut into: a topic made or emptied write-locks
/// one of them for the time of one insert or removal, so broadcasts to the topics of the
/// other shards never wait for it (and those of its own shard only that long).
const SHARDS: usize = 32;

/// Which sessions are members of each topic, each topic behind a lock of its own: a
/// join or a leave in one room never stalls a broadcast in another.
pub(crate) struct Topics {
    shards: [RankedRw<Table, { rank::TOPIC_TABLE }>; SHARDS],
    /// Hashes a topic once per lookup: the hash picks its shard and finds it there.
    /// Keyed at random (topics come from clients' room keys).
    hasher: RandomState,
    tokens: AtomicU64,
}

/// One shard's topics, found by the hash [`Topics`] computed.
type Table = hashbrown::HashTable<(Arc<str>, Arc<Room>)>;

/// A topic's name and its hash.
#[derive(Clone, Copy)]
struct Hashed<'a> {
    name: &'a str,
    hash: u64,
}

/// One topic's members.
#[derive(Default)]
struct Room {
    members: RankedRw<Members, { rank::TOPIC }>,
}

#[derive(Default)]
struct Members {
    by_key: HashMap<u64, Member>,
    /// The members' keys by session id and by user key: a broadcast to one session or
    /// one user's tabs looks them up instead of scanning the room.
    by_session: HashMap<SessionId, u64>,
    by_user: HashMap<Arc<str>, Vec<u64>>,
    /// Its last member left and it was taken out of the table: a join that reached it
    /// before that looks it up again.
    retired: bool,
}

impl Members {
    fn insert(&mut self, member: Member) {
        let key = member.session.key;
        self.by_session.insert(member.session.id, key);
        if let Some(user) = member.session.user() {
            self.by_user.entry(Arc::from(user)).or_default().push(key);
        }
        self.by_key.insert(key, member);
    }

    fn remove(&mut self, key: u64) {
        let Some(member) = self.by_key.remove(&key) else { return };
        self.by_session.remove(&member.session.id);
        if let Some(user) = member.session.user() {
            if let Some(keys) = self.by_user.get_mut(user) {
                keys.retain(|k| *k != key);
                if keys.is_empty() {
                    self.by_user.remove(user);
                }
            }
        }
    }

    /// How many of the members `target` admits `queued` accepts (each offered once);
    /// one user's or one session's members are looked up, not searched for.
    fn queue_to(&self, target: &Target, mut queued: impl FnMut(&Member) -> bool) -> usize {
        let accept = |member: &Member| usize::from(queued(member));
        match target {
            Target::All => self.by_key.values().map(accept).sum(),
            Target::Except(session) => self.by_key.values().filter(|m| m.session.id != *session).map(accept).sum(),
            Target::Session(session) => {
                self.by_session.get(session).and_then(|key| self.by_key.get(key)).map_or(0, accept)
            }
            Target::User(user) => {
                self.by_user.get(user).into_iter().flatten().filter_map(|key| self.by_key.get(key)).map(accept).sum()
            }
        }
    }
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            shards: std::array::from_fn(|_| RankedRw::default()),
            hasher: RandomState::new(),
            tokens: AtomicU64::new(0),
        }
    }
}

impl Topics {
    fn hashed<'a>(&self, name: &'a str) -> Hashed<'a> {
        Hashed { name, hash: self.hasher.hash_one(name) }
    }

    /// The shard of a topic: chosen by bits of its hash that its table does not use (a
    /// table finds a bucket by the low bits and tags it with the top seven).
    fn shard(&self, topic: Hashed<'_>) -> &RankedRw<Table, { rank::TOPIC_TABLE }> {
        // The remainder is below `SHARDS`, so it fits any `usize`.
        &self.shards[((topic.hash >> 32) % SHARDS as u64) as usize]
    }

    /// The room of `topic`, if it has members.
    fn room(&self, topic: &str) -> Option<Arc<Room>> {
        self.room_of(self.hashed(topic))
    }

    fn room_of(&self, topic: Hashed<'_>) -> Option<Arc<Room>> {
        let table = self.shard(topic).read();
        table.find(topic.hash, |(name, _)| **name == *topic.name).map(|(_, room)| room.clone())
    }

    /// The room of `topic`, made if it has none.
    fn room_or_new(&self, topic: Hashed<'_>, shared: &Arc<str>) -> Arc<Room> {
        let mut table = self.shard(topic).write();
        let entry =
            table.entry(topic.hash, |(name, _)| **name == *topic.name, |(name, _)| self.hasher.hash_one(&**name));
        match entry {
            hashbrown::hash_table::Entry::Occupied(found) => found.get().1.clone(),
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                let room = Arc::<Room>::default();
                vacant.insert((shared.clone(), room.clone()));
                room
            }
        }
    }

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
        let mut flow = Some(flow);
        loop {
            // The table's lock is let go before the room's is taken (a leave takes them
            // the other way round).
            let hashed = self.hashed(topic.as_str());
            let room = match self.room_of(hashed) {
                Some(room) => room,
                None => self.room_or_new(hashed, topic.shared()),
            };
            let mut members = room.members.write();
            if members.retired {
                continue; // emptied and taken out of the table meanwhile: look it up again
            }
            let created = !members.by_key.contains_key(&session.key);
            if created {
                let flow = flow.take().and_then(|make| make());
                members.insert(Member { session: session.clone(), channels: Vec::new(), flow: Ranked::new(flow) });
            }
            if let Some(member) = members.by_key.get_mut(&session.key) {
                if !member.channels.contains(&channel) {
                    member.channels.push(channel);
                }
            }
            return created;
        }
    }

    /// Returns whether the session stopped being a member (its last channel left).
    pub(crate) fn leave(&self, topic: &Topic, session_key: u64, channel: ChannelId) -> bool {
        let name = self.hashed(topic.as_str());
        let Some(room) = self.room_of(name) else { return false };
        let mut members = room.members.write();
        let mut removed = false;
        if let Some(member) = members.by_key.get_mut(&session_key) {
            member.channels.retain(|c| *c != channel);
            if member.channels.is_empty() {
                members.remove(session_key);
                removed = true;
            }
        }
        if members.by_key.is_empty() && !members.retired {
            // Under the room's lock, so a join that found the room sees it retired.
            members.retired = true;
            let mut table = self.shard(name).write();
            if let Ok(entry) = table.find_entry(name.hash, |(other, _)| **other == *name.name)
                && Arc::ptr_eq(&entry.get().1, &room)
            {
                entry.remove();
            }
        }
        removed
    }

    /// Queues `body` once for every member session `target` admits; returns how many
    /// accepted it. A session whose queue is full is disconnected by `enqueue`; nobody
    /// waits for it.
    pub(crate) fn deliver(&self, topic: &str, target: &Target, body: &Body) -> usize {
        let Some(room) = self.room(topic) else { return 0 };
        let members = room.members.read();
        members.queue_to(target, |member| member.session.enqueue(body.clone()).is_ok())
    }

    /// Delivers broadcast `offset` of `epoch` (its frame `body` carries its position) to
    /// every member, each exactly once and in order: a member that already has it skips
    /// it, one recovering keeps it for later, and one that missed broadcasts before it
    /// starts recovering. The caller makes these calls one at a time per topic, in
    /// offset order, and reads the history for every [`Refetch`] returned.
    pub(crate) fn deliver_kept(&self, topic: &Topic, epoch: &Arc<str>, offset: u64, body: &Body) -> KeptDelivery {
        let mut delivery = KeptDelivery { reached: 0, refetch: Vec::new() };
        let Some(room) = self.room(topic.as_str()) else { return delivery };
        let members = room.members.read();
        for member in members.by_key.values() {
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
        let Some(room) = self.room(topic.as_str()) else { return Vec::new() };
        let members = room.members.read();
        let Some(member) = members.by_key.get(&session_key) else { return Vec::new() };
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
        self.room(topic.as_str()).is_some_and(|room| !room.members.read().by_key.is_empty())
    }

    /// Whether session `session_key` has a channel of `topic` open.
    pub(crate) fn is_member(&self, topic: &Topic, session_key: u64) -> bool {
        self.room(topic.as_str()).is_some_and(|room| room.members.read().by_key.contains_key(&session_key))
    }

    /// Every member of a topic with history reads it again from where it stands (after
    /// the node lost its subscription for a while: what was published meanwhile never
    /// arrived, and no later broadcast may come to reveal it).
    pub(crate) fn resync(&self) -> Vec<(Topic, Refetch)> {
        let rooms: Vec<(Arc<str>, Arc<Room>)> = self
            .shards
            .iter()
            .flat_map(|shard| shard.read().iter().map(|(name, room)| (name.clone(), room.clone())).collect::<Vec<_>>())
            .collect();
        let mut refetch = Vec::new();
        for (name, room) in rooms {
            let Some(topic) = Topic::parse(&name) else { continue };
            let members = room.members.read();
            for (key, member) in &members.by_key {
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
        let Some(room) = self.room(topic.as_str()) else { return false };
        let members = room.members.read();
        let Some(member) = members.by_key.get(&session_key) else { return false };
        matches!(&*lock(&member.flow), Some(Flow::Recovering(r)) if r.token == token)
    }

    /// Number of topics with at least one member.
    pub(crate) fn topic_count(&self) -> usize {
        self.shards.iter().map(|shard| shard.read().len()).sum()
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
        session_of(key, None)
    }

    /// A session with key `key`, of the user `identity` names (`None`: anonymous).
    fn session_of(key: u64, identity: Option<crate::session::host::Identity>) -> Arc<SessionShared> {
        SessionShared::new(
            Arc::new(NoServer(
                Config::default(),
                Instant::now(),
                Arc::new(crate::session_core::budget::Budget::new(usize::MAX)),
            )),
            key,
            identity,
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

    /// A session of user `user` (an authenticated one), with key `key`.
    fn user_session(key: u64, user: &str) -> Arc<SessionShared> {
        session_of(key, Some(crate::session::host::Identity::new(user.to_owned())))
    }

    #[test]
    fn a_join_in_one_room_never_waits_for_a_broadcast_in_another_nor_the_other_way() {
        let topics = Topics::default();
        let (a, b) = (Topic::from("a"), Topic::from("b"));
        let (one, two) = (session(1), session(2));
        topics.join(&a, &one, ChannelId::generate());
        topics.join(&b, &two, ChannelId::generate());
        let body = frames::broadcast(&b, "said", &1).unwrap();
        let (held, release) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            // Another thread holds room `a` as a join or a leave in progress would.
            scope.spawn(|| {
                let room = topics.room("a").unwrap();
                let _busy = room.members.write();
                held.wait();
                release.wait();
            });
            held.wait();
            scope.spawn(|| {
                let delivered = topics.deliver("b", &Target::All, &body);
                let joined = topics.join(&b, &session(3), ChannelId::generate());
                let created = topics.join(&Topic::from("c"), &session(4), ChannelId::generate());
                done.send((delivered, joined, created)).unwrap();
            });
            let outcome = finished.recv_timeout(std::time::Duration::from_secs(10));
            release.wait();
            assert_eq!(outcome.expect("room `b` waited for room `a`'s lock"), (1, true, true));
        });
        assert_eq!(topics.deliver("a", &Target::All, &body), 1);
    }

    #[test]
    fn a_broadcast_to_one_session_or_one_user_reaches_them_only() {
        let topics = Topics::default();
        let room = Topic::from("room");
        let ann = [user_session(1, "ann"), user_session(2, "ann")];
        let bob = user_session(3, "bob");
        let guest = session(4);
        for member in ann.iter().chain([&bob, &guest]) {
            topics.join(&room, member, ChannelId::generate());
        }
        let body = frames::broadcast(&room, "said", &1).unwrap();
        assert_eq!(topics.deliver("room", &Target::User(Arc::from("ann")), &body), 2);
        assert_eq!(topics.deliver("room", &Target::User(Arc::from("carol")), &body), 0);
        assert_eq!(topics.deliver("room", &Target::Session(bob.id), &body), 1);
        assert_eq!(topics.deliver("room", &Target::Session(SessionId::generate()), &body), 0);
        assert_eq!(topics.deliver("room", &Target::Except(guest.id), &body), 3);
        assert_eq!(topics.deliver("room", &Target::All, &body), 4);
        // Ann's first tab leaves: the index forgets it, and only it.
        let channel = ChannelId::generate();
        topics.join(&room, &ann[0], channel);
        assert!(!topics.leave(&room, ann[0].key, channel));
        let first = topics.room("room").unwrap();
        let tab_channels = first.members.read().by_key[&ann[0].key].channels.clone();
        for channel in tab_channels {
            topics.leave(&room, ann[0].key, channel);
        }
        assert_eq!(topics.deliver("room", &Target::User(Arc::from("ann")), &body), 1);
        assert_eq!(topics.deliver("room", &Target::Session(ann[0].id), &body), 0);
    }

    #[test]
    fn joins_racing_the_leave_that_empties_a_room_are_never_lost() {
        // Each thread joins and leaves the same room over and over, and ends joined: a
        // join that found the room just as its last member left must not join a room
        // taken out of the table.
        let topics = Arc::new(Topics::default());
        let room = Topic::from("busy");
        let sessions: Vec<_> = (1..=4).map(session).collect();
        std::thread::scope(|scope| {
            for member in &sessions {
                let (topics, room) = (topics.clone(), room.clone());
                scope.spawn(move || {
                    for _ in 0..5_000 {
                        let channel = ChannelId::generate();
                        topics.join(&room, member, channel);
                        assert!(topics.is_member(&room, member.key), "a join was lost");
                        topics.leave(&room, member.key, channel);
                    }
                    topics.join(&room, member, ChannelId::generate());
                });
            }
        });
        let body = frames::broadcast(&room, "said", &1).unwrap();
        assert_eq!(topics.deliver("busy", &Target::All, &body), sessions.len());
        assert!(sessions.iter().all(|member| topics.is_member(&room, member.key)));
        assert_eq!(topics.topic_count(), 1);
    }

    /// What can happen to the table of topics.
    #[derive(Debug, Clone)]
    enum Op {
        Join { topic: u8, session: u8, channel: u8 },
        Leave { topic: u8, session: u8, channel: u8 },
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            (0u8..3, 0u8..4, 0u8..2).prop_map(|(topic, session, channel)| Op::Join { topic, session, channel }),
            (0u8..3, 0u8..4, 0u8..2).prop_map(|(topic, session, channel)| Op::Leave { topic, session, channel }),
        ];
        proptest::collection::vec(op, 0..60)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// After any joins and leaves, each topic's members are the sessions with a
        /// channel of it open, whatever the target: the indexes agree with the members.
        #[test]
        fn members_and_their_indexes_follow_joins_and_leaves(ops in ops()) {
            let topics = Topics::default();
            let users = ["ann", "bob"];
            let sessions: Vec<_> = (0..4u64).map(|key| user_session(key, users[key as usize % 2])).collect();
            let channels: Vec<Vec<ChannelId>> = (0..4).map(|_| vec![ChannelId::generate(), ChannelId::generate()]).collect();
            let mut model: std::collections::BTreeMap<(u8, u8), std::collections::BTreeSet<u8>> = Default::default();
            for op in ops {
                match op {
                    Op::Join { topic, session, channel } => {
                        let created = topics.join(&Topic::from(format!("t{topic}").as_str()), &sessions[session as usize], channels[session as usize][channel as usize]);
                        let open = model.entry((topic, session)).or_default();
                        prop_assert_eq!(created, open.is_empty());
                        open.insert(channel);
                    }
                    Op::Leave { topic, session, channel } => {
                        let left = topics.leave(&Topic::from(format!("t{topic}").as_str()), session.into(), channels[session as usize][channel as usize]);
                        let open = model.entry((topic, session)).or_default();
                        let was_member = !open.is_empty();
                        open.remove(&channel);
                        prop_assert_eq!(left, was_member && open.is_empty());
                    }
                }
            }
            for topic in 0u8..3 {
                let name = format!("t{topic}");
                let members: Vec<u8> = (0u8..4).filter(|s| model.get(&(topic, *s)).is_some_and(|open| !open.is_empty())).collect();
                let body = frames::broadcast(&Topic::from(name.as_str()), "said", &1).unwrap();
                prop_assert_eq!(topics.deliver(&name, &Target::All, &body), members.len());
                prop_assert_eq!(topics.has_members(&Topic::from(name.as_str())), !members.is_empty());
                for (index, user) in users.iter().enumerate() {
                    let of_user = members.iter().filter(|s| **s as usize % 2 == index).count();
                    prop_assert_eq!(topics.deliver(&name, &Target::User(Arc::from(*user)), &body), of_user);
                }
                for (key, session) in sessions.iter().enumerate() {
                    let member = members.contains(&(key as u8));
                    prop_assert_eq!(topics.deliver(&name, &Target::Session(session.id), &body), usize::from(member));
                    prop_assert_eq!(topics.is_member(&Topic::from(name.as_str()), key as u64), member);
                }
            }
            let live = (0u8..3).filter(|t| (0u8..4).any(|s| model.get(&(*t, s)).is_some_and(|open| !open.is_empty()))).count();
            prop_assert_eq!(topics.topic_count(), live);
        }
    }
}
