//! Presence in the registry: each room's list on this node (a [`Replica`]), which
//! sessions of this node are tracked where, and the ways a list changes — a session
//! tracked or untracked here, a change from another node, a snapshot read from Redis, a
//! node that died.
//!
//! A room's list is locked while a session joins the room (it gets the whole list, then
//! becomes a member) and while a change is delivered, so a joining session sees each
//! change exactly once: in its list or as a diff after it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Registry, SharedGate};
use crate::backplane::{Backplane, NodeId, PresenceMessage};
use crate::id::ChannelId;
use crate::presence::{Change, Entry, Replica, Step, diff_frame, state_frame};
use crate::protocol::Topic;
use crate::session::SessionShared;
use crate::sync::{Ranked, lock, rank};
use crate::target::Target;

/// One room's list on this node.
struct Room {
    replica: Replica,
    /// Set when the room's last session of this node left and the room was dropped: a
    /// join that found it just before must look again.
    retired: bool,
}

/// What the registry knows of presence.
#[derive(Default)]
pub(crate) struct Presences {
    /// The channels that track presence.
    names: RwLock<HashSet<&'static str>>,
    /// The list of each room with sessions on this node.
    rooms: Ranked<HashMap<Arc<str>, RoomLock>, { rank::PRESENCE_ROOMS }>,
    /// This node's tracked sessions: by topic, by session key.
    local: Ranked<HashMap<Arc<str>, HashMap<u64, Tracked>>, { rank::PRESENCE_LOCAL }>,
}

/// A session of this node listed in a room: the room, its session id, its entry.
/// One room's presence list, behind its lock.
type RoomLock = Arc<Ranked<Room, { rank::PRESENCE_ROOM }>>;

type Tracked = (Topic, Arc<str>, Entry);

impl Presences {
    pub(crate) fn declare(&self, name: &'static str) {
        if !self.names.read().unwrap_or_else(|p| p.into_inner()).contains(name) {
            self.names.write().unwrap_or_else(|p| p.into_inner()).insert(name);
        }
    }

    /// Whether `topic`'s channel tracks presence.
    pub(crate) fn tracks(&self, topic: &Topic) -> bool {
        self.names.read().unwrap_or_else(|p| p.into_inner()).contains(topic.name())
    }

    /// The room's list, made if there is none (waiting for a snapshot when `syncing`);
    /// whether it was made.
    fn room(&self, topic: &Topic, syncing: bool) -> (RoomLock, bool) {
        let mut rooms = lock(&self.rooms);
        let mut made = false;
        let room = rooms
            .entry(topic.shared().clone())
            .or_insert_with(|| {
                made = true;
                let replica = if syncing { Replica::syncing() } else { Replica::synced() };
                Arc::new(Ranked::new(Room { replica, retired: false }))
            })
            .clone();
        (room, made)
    }

    fn find(&self, topic: &Topic) -> Option<RoomLock> {
        lock(&self.rooms).get(topic.as_str()).cloned()
    }
}

/// An entry as Redis keeps it and changes carry it.
#[derive(Serialize, Deserialize)]
struct StoredEntry<'a> {
    #[serde(borrow)]
    user: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    meta: &'a RawValue,
    node: String,
}

#[derive(Deserialize)]
struct StoredChange<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    entry: Option<StoredEntry<'a>>,
}

fn entry_json(entry: &Entry) -> String {
    let stored =
        StoredEntry { user: std::borrow::Cow::Borrowed(&entry.user), meta: &entry.meta, node: entry.node.to_hex() };
    serde_json::to_string(&stored).unwrap_or_default()
}

fn entry_from(stored: &StoredEntry<'_>) -> Option<Entry> {
    Some(Entry {
        user: Arc::from(&*stored.user),
        meta: Arc::from(stored.meta.to_owned()),
        node: NodeId::from_hex(&stored.node)?,
    })
}

impl Registry {
    fn presence_backplane(&self) -> Option<&Arc<dyn Backplane>> {
        self.backplane.as_ref().filter(|backplane| backplane.keeps_presence())
    }

    /// Joins a room of a channel that tracks presence: under the room's list lock, the
    /// session joins and (if the list is known) gets it whole; a list this node did not
    /// have yet is read from the backplane once the node receives the room's changes.
    pub(super) fn join_with_presence(&self, topic: &Topic, session: &Arc<SessionShared>, channel: ChannelId) {
        let syncing = self.presence_backplane().is_some();
        loop {
            let (room, made) = self.presences.room(topic, syncing);
            let room_guard = lock(&room);
            if room_guard.retired {
                continue;
            }
            let (_, gate) = self.join_topic(topic, session, channel);
            // Every channel that joins gets the list (a session's second channel in the
            // room too: the client keeps the list per channel).
            if room_guard.replica.is_synced() {
                let _ = session.enqueue(state_frame(topic, &room_guard.replica));
            }
            drop(room_guard);
            if made && syncing {
                self.read_presence(topic.clone(), gate);
            }
            return;
        }
    }

    /// A session left the room (its last channel there closed): it is untracked, and
    /// the room's list is dropped if no session of this node is left in it.
    pub(super) fn left_presence(&self, topic: &Topic, session_key: u64) {
        {
            // Held while the leave is made, so a `track` cannot slip in between.
            let mut local = lock(&self.presences.local);
            if let Some((topic, id, _)) = local.get_mut(topic.as_str()).and_then(|room| room.remove(&session_key)) {
                self.change_presence(&topic, id, None);
            }
        }
        if self.topics.has_members(topic) {
            return;
        }
        {
            let mut rooms = lock(&self.presences.rooms);
            if let Some(room) = rooms.get(topic.as_str()).cloned() {
                let mut room = lock(&room);
                if !self.topics.has_members(topic) {
                    room.retired = true;
                    rooms.remove(topic.as_str());
                }
            }
        }
        // After the table is let go: a `track` takes the tracked sessions, then the table.
        lock(&self.presences.local).retain(|_, sessions| !sessions.is_empty());
    }

    /// Lists `session` in `topic` with `meta`.
    pub(super) fn track_presence(&self, topic: &Topic, session: &Arc<SessionShared>, meta: Box<RawValue>) {
        if !self.presences.tracks(topic) || !self.topics.is_member(topic, session.key) {
            tracing::warn!(%topic, "track on a channel that is closed or does not track presence: ignored");
            return;
        }
        let id: Arc<str> = Arc::from(session.id.to_string());
        let user = session.user().map_or_else(|| id.clone(), Arc::from);
        let entry = Entry { user, meta: Arc::from(meta), node: self.node };
        // The membership is checked again under the lock that leaving takes: a session
        // that left meanwhile is not listed (nothing would ever take it off).
        let mut local = lock(&self.presences.local);
        if !self.topics.is_member(topic, session.key) {
            return;
        }
        local
            .entry(topic.shared().clone())
            .or_default()
            .insert(session.key, (topic.clone(), id.clone(), entry.clone()));
        self.change_presence(topic, id, Some(entry));
    }

    /// Takes `session` off `topic`'s list.
    pub(super) fn untrack_presence(&self, topic: &Topic, session: &SessionShared) {
        let mut local = lock(&self.presences.local);
        if let Some((topic, id, _)) = local.get_mut(topic.as_str()).and_then(|room| room.remove(&session.key)) {
            self.change_presence(&topic, id, None);
        }
    }

    /// Makes a change: through the backplane, which numbers it and brings it back to
    /// every node; or here, in memory.
    fn change_presence(&self, topic: &Topic, id: Arc<str>, entry: Option<Entry>) {
        if let Some(backplane) = self.presence_backplane() {
            let Some(head) = crate::backplane::presence_head(self.node, topic) else { return };
            let entry = entry.as_ref().map(entry_json);
            backplane.publish_presence(PresenceMessage { topic: topic.clone(), id, node: self.node, entry, head });
            return;
        }
        let Some(room) = self.presences.find(topic) else { return };
        let mut room = lock(&room);
        let change = Change { version: room.replica.next_version(), id, entry };
        self.apply_presence(topic, &mut room.replica, change);
    }

    /// Applies a numbered change and sends its diff to the room's sessions on this node.
    fn apply_presence(&self, topic: &Topic, replica: &mut Replica, change: Change) -> bool {
        match replica.apply(change) {
            Step::Diff(diff) => {
                self.topics.deliver(topic.as_str(), &Target::All, &diff_frame(topic, &diff));
                false
            }
            Step::Nothing => false,
            Step::Resync => true,
        }
    }

    /// A numbered change from the backplane (made on any node, this one included).
    pub(super) fn presence_arrived(&self, topic: &Topic, version: u64, change: &[u8]) {
        let Ok(change) = serde_json::from_slice::<StoredChange<'_>>(change) else {
            tracing::warn!(%topic, "malformed presence change dropped");
            return;
        };
        let entry = match &change.entry {
            Some(stored) => match entry_from(stored) {
                Some(entry) => Some(entry),
                None => return tracing::warn!(%topic, "presence change with a malformed node id dropped"),
            },
            None => None,
        };
        let id: Arc<str> = Arc::from(&*change.id);
        let left = entry.is_none();
        let Some(room) = self.presences.find(topic) else { return };
        let mut room = lock(&room);
        let change = Change { version, id: id.clone(), entry };
        let resync = self.apply_presence(topic, &mut room.replica, change);
        drop(room);
        if resync {
            self.read_presence(topic.clone(), None);
        }
        if left {
            // A session of this node taken off the list while it is still tracked: another
            // node's sweep found this one silent (stalled, or cut off from Redis). It is
            // alive: list it again.
            let local = lock(&self.presences.local);
            let mine = local.get(topic.as_str()).and_then(|room| room.values().find(|(_, tracked, _)| *tracked == id));
            if let Some((topic, id, entry)) = mine {
                self.change_presence(topic, id.clone(), Some(entry.clone()));
            }
        }
    }

    /// Reads `topic`'s list from the backplane (after `gate`: once the node receives the
    /// room's changes), retrying while Redis is unreachable; every session of this node
    /// in the room then gets the whole list.
    fn read_presence(&self, topic: Topic, gate: Option<SharedGate>) {
        let (Some(server), Some(backplane)) = (self.this.upgrade(), self.presence_backplane().cloned()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            if let Some(gate) = gate {
                gate.await;
            }
            let mut delay = Duration::from_millis(50);
            loop {
                let Some(room) = server.presences.find(&topic) else { return };
                match backplane.read_presence(&topic).await {
                    Ok(stored) => {
                        let mut entries = BTreeMap::new();
                        for (id, entry) in &stored.entries {
                            let parsed = serde_json::from_str::<StoredEntry<'_>>(entry).ok();
                            if let Some(entry) = parsed.as_ref().and_then(entry_from) {
                                entries.insert(Arc::from(id.as_str()), entry);
                            }
                        }
                        let mut room = lock(&room);
                        if room.retired {
                            return;
                        }
                        let step = room.replica.snapshot(stored.version, entries);
                        server.topics.deliver(topic.as_str(), &Target::All, &state_frame(&topic, &room.replica));
                        if step != Step::Resync {
                            return;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%topic, %error, "reading a room's presence failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(2));
                    }
                }
            }
        });
    }

    /// The node's subscription came back after it was lost: every list is read again,
    /// and this node's sessions are tracked again (another node may have taken them off
    /// while this one could not announce itself).
    pub(super) fn resync_presence(&self) {
        let rooms: Vec<(Arc<str>, RoomLock)> =
            lock(&self.presences.rooms).iter().map(|(t, r)| (t.clone(), r.clone())).collect();
        for (text, room) in rooms {
            let Some(topic) = Topic::parse(&text) else { continue };
            lock(&room).replica.resync();
            self.read_presence(topic, None);
        }
        let tracked: Vec<(Topic, Arc<str>, Entry)> =
            lock(&self.presences.local).values().flat_map(|room| room.values().cloned()).collect();
        for (topic, id, entry) in tracked {
            self.change_presence(&topic, id, Some(entry));
        }
    }

    /// Takes the sessions of nodes that stopped announcing themselves off every list,
    /// every half presence timeout, while the server runs.
    pub(super) fn start_presence_sweeper(&self) {
        let (Some(backplane), Some(timeout)) =
            (self.presence_backplane().cloned(), self.presence_backplane().and_then(|b| b.presence_timeout()))
        else {
            return;
        };
        let server = self.this.clone();
        let me = self.node;
        tokio::spawn(async move {
            let every = (timeout / 2).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                let Some(server) = server.upgrade() else { return };
                // Every other node some list names, and what it lists.
                let mut listed: HashMap<NodeId, Vec<(Topic, Arc<str>)>> = HashMap::new();
                let rooms: Vec<(Arc<str>, RoomLock)> =
                    lock(&server.presences.rooms).iter().map(|(t, r)| (t.clone(), r.clone())).collect();
                for (text, room) in rooms {
                    let Some(topic) = Topic::parse(&text) else { continue };
                    for (id, entry) in lock(&room).replica.entries() {
                        if entry.node != me {
                            listed.entry(entry.node).or_default().push((topic.clone(), id.clone()));
                        }
                    }
                }
                if listed.is_empty() {
                    continue;
                }
                let nodes: Vec<NodeId> = listed.keys().copied().collect();
                let Ok(alive) = backplane.nodes_alive(nodes.clone()).await else { continue };
                for (node, alive) in nodes.into_iter().zip(alive) {
                    if alive {
                        continue;
                    }
                    tracing::info!(node = node.to_hex(), "a node stopped answering: its sessions leave every list");
                    for (topic, id) in listed.remove(&node).unwrap_or_default() {
                        server.change_presence(&topic, id, None);
                    }
                }
            }
        });
    }
}
