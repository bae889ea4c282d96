//! Topics: which sessions have a channel of a given topic (name and room) open, for
//! broadcast (this file: the table, the members, joins, leaves and plain delivery);
//! and, for a channel that keeps history, where each member session stands in its
//! room's history (`kept.rs`: delivery in order, exactly once, and recovery).

mod kept;

pub(crate) use kept::Refetch;
use kept::{Flow, Recovery};

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::history::Position;
use crate::id::{ChannelId, SessionId};
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::session::SessionShared;
use crate::sync::{Ranked, RankedRw, rank};
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

    /// Whether any session has a channel of `topic` open.
    pub(crate) fn has_members(&self, topic: &Topic) -> bool {
        self.room(topic.as_str()).is_some_and(|room| !room.members.read().by_key.is_empty())
    }

    /// Whether session `session_key` has a channel of `topic` open.
    pub(crate) fn is_member(&self, topic: &Topic, session_key: u64) -> bool {
        self.room(topic.as_str()).is_some_and(|room| room.members.read().by_key.contains_key(&session_key))
    }

    /// Number of topics with at least one member.
    pub(crate) fn topic_count(&self) -> usize {
        self.shards.iter().map(|shard| shard.read().len()).sum()
    }
}

#[cfg(test)]
mod tests;
