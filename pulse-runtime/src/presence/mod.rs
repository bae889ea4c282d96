//! Presence: who is in each room of a channel declared with `presence = Meta`.
//!
//! Each session may be *tracked* in a room with metadata (`Channel::track`); it is listed
//! under its user key (what `authenticate` gave, or its session id), so a user with two
//! tabs is listed once with both entries, and leaves when the last goes. A client hears
//! the room's whole list when it joins (a `presence` frame with `state: true`), then only
//! the changes.
//!
//! Every change to a room's list is numbered (its *version*). Each node keeps a [`Replica`]
//! of the list of each room it has sessions in: in memory it is the list itself; with
//! Redis it follows the changes every node publishes (in version order), from a snapshot
//! read when the node joins the room, and reads a new snapshot if it finds a version
//! missing. `Replica` is that bookkeeping, pure and property-tested.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::id::NodeId;
use crate::protocol::Topic;
use crate::protocol::frames::{self, Body};

/// One session's presence in a room.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The user key it is listed under.
    pub user: Arc<str>,
    /// Its metadata, as JSON.
    pub meta: Arc<RawValue>,
    /// The node the session is on.
    pub node: NodeId,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user && self.meta.get() == other.meta.get() && self.node == other.node
    }
}

/// A change to a room's list: session `id` is now `entry`, or gone (`None`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub version: u64,
    pub id: Arc<str>,
    pub entry: Option<Entry>,
}

/// What a [`Replica`] asks of its caller after a change.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// Send this diff to the room's sessions.
    Diff(Diff),
    /// Nothing to send (a repeat, or a change held while a snapshot is read).
    Nothing,
    /// A version is missing: read a snapshot (the replica holds changes until then).
    Resync,
}

/// A change as clients see it: who left (the old entry) and who joined (the new one).
/// An update is both.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Diff {
    pub joins: Vec<(Arc<str>, Entry)>,
    pub leaves: Vec<(Arc<str>, Entry)>,
}

/// One node's copy of one room's list.
#[derive(Debug)]
pub(crate) struct Replica {
    version: u64,
    entries: BTreeMap<Arc<str>, Entry>,
    /// While a snapshot is being read: the changes that arrived meanwhile.
    syncing: Option<Vec<Change>>,
}

impl Replica {
    /// A replica that is the list itself (in memory): synced, empty.
    pub(crate) fn synced() -> Self {
        Replica { version: 0, entries: BTreeMap::new(), syncing: None }
    }

    /// A replica waiting for its first snapshot.
    pub(crate) fn syncing() -> Self {
        Replica { version: 0, entries: BTreeMap::new(), syncing: Some(Vec::new()) }
    }

    /// Whether the list can be shown (no snapshot is awaited).
    pub(crate) fn is_synced(&self) -> bool {
        self.syncing.is_none()
    }

    /// Starts waiting for a new snapshot (changes are held until it comes).
    pub(crate) fn resync(&mut self) {
        if self.syncing.is_none() {
            self.syncing = Some(Vec::new());
        }
    }

    /// The version a new local change gets (in memory, where this replica is the list).
    pub(crate) fn next_version(&self) -> u64 {
        self.version + 1
    }

    /// The entries, by session id.
    pub(crate) fn entries(&self) -> &BTreeMap<Arc<str>, Entry> {
        &self.entries
    }

    /// Applies a change made anywhere: in version order, once.
    pub(crate) fn apply(&mut self, change: Change) -> Step {
        if let Some(waiting) = &mut self.syncing {
            waiting.push(change);
            return Step::Nothing;
        }
        if change.version <= self.version {
            return Step::Nothing;
        }
        if change.version != self.version + 1 {
            self.syncing = Some(vec![change]);
            return Step::Resync;
        }
        self.version = change.version;
        let mut diff = Diff::default();
        let old = match change.entry {
            Some(entry) => {
                diff.joins.push((change.id.clone(), entry.clone()));
                self.entries.insert(change.id.clone(), entry)
            }
            None => self.entries.remove(&change.id),
        };
        if let Some(old) = old {
            if diff.joins.first().is_some_and(|(_, new)| *new == old) {
                return Step::Nothing; // tracked again with the same metadata
            }
            diff.leaves.push((change.id, old));
        }
        if diff.joins.is_empty() && diff.leaves.is_empty() { Step::Nothing } else { Step::Diff(diff) }
    }

    /// A snapshot was read: the list at `version`. The changes held meanwhile that come
    /// after it are applied; `Resync` if one is still missing. The caller then sends the
    /// whole list to the room's sessions.
    pub(crate) fn snapshot(&mut self, version: u64, entries: BTreeMap<Arc<str>, Entry>) -> Step {
        if self.syncing.is_none() && version <= self.version {
            return Step::Nothing; // an older read that completed late: the list is newer
        }
        let waiting = self.syncing.take().unwrap_or_default();
        self.version = version;
        self.entries = entries;
        let mut step = Step::Nothing;
        for change in waiting {
            if matches!(self.apply(change), Step::Resync) {
                step = Step::Resync;
            }
        }
        step
    }
}

#[derive(Serialize)]
struct EntryOut<'a> {
    id: &'a str,
    meta: &'a RawValue,
}

type Grouped<'a> = BTreeMap<&'a str, Vec<EntryOut<'a>>>;

fn group<'a>(entries: impl Iterator<Item = (&'a Arc<str>, &'a Entry)>) -> Grouped<'a> {
    let mut grouped: Grouped<'a> = BTreeMap::new();
    for (id, entry) in entries {
        grouped.entry(&entry.user).or_default().push(EntryOut { id, meta: &entry.meta });
    }
    grouped
}

/// The `presence` frame with a room's whole list (`state: true`).
pub(crate) fn state_frame(topic: &Topic, replica: &Replica) -> Body {
    frames::presence(topic, true, group(replica.entries.iter()), BTreeMap::new())
}

/// The `presence` frame with a change (`state: false`).
pub(crate) fn diff_frame(topic: &Topic, diff: &Diff) -> Body {
    let joins = group(diff.joins.iter().map(|(id, entry)| (id, entry)));
    frames::presence(topic, false, joins, group(diff.leaves.iter().map(|(id, entry)| (id, entry))))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn entry(user: &str, meta: &str) -> Entry {
        Entry {
            user: Arc::from(user),
            meta: Arc::from(RawValue::from_string(meta.to_owned()).unwrap()),
            node: NodeId([0; 16]),
        }
    }

    fn change(version: u64, id: &str, entry: Option<Entry>) -> Change {
        Change { version, id: Arc::from(id), entry }
    }

    #[test]
    fn joins_updates_and_leaves_are_diffs_and_repeats_are_not() {
        let mut replica = Replica::synced();
        let ann = entry("ann", r#"{"typing":false}"#);
        let Step::Diff(diff) = replica.apply(change(1, "s1", Some(ann.clone()))) else { panic!() };
        assert_eq!((diff.joins.len(), diff.leaves.len()), (1, 0));
        assert_eq!(replica.apply(change(1, "s1", Some(ann.clone()))), Step::Nothing, "a repeat");
        assert_eq!(replica.apply(change(2, "s1", Some(ann.clone()))), Step::Nothing, "the same metadata");
        let typing = entry("ann", r#"{"typing":true}"#);
        let Step::Diff(diff) = replica.apply(change(3, "s1", Some(typing.clone()))) else { panic!() };
        assert_eq!(diff.joins, [(Arc::from("s1"), typing.clone())]);
        assert_eq!(diff.leaves, [(Arc::from("s1"), ann)]);
        let Step::Diff(diff) = replica.apply(change(4, "s1", None)) else { panic!() };
        assert_eq!((diff.joins.len(), diff.leaves.len()), (0, 1));
        assert_eq!(replica.apply(change(5, "s9", None)), Step::Nothing, "leaving what was not there");
    }

    #[test]
    fn the_state_frame_groups_a_users_sessions() {
        let mut replica = Replica::synced();
        replica.apply(change(1, "s1", Some(entry("ann", "1"))));
        replica.apply(change(2, "s2", Some(entry("ann", "2"))));
        replica.apply(change(3, "s3", Some(entry("bob", "3"))));
        let text = state_frame(&Topic::from("chat"), &replica).with_seq(1);
        assert_eq!(
            text,
            r#"{"seq":1,"t":"presence","name":"chat","state":true,"joins":{"ann":[{"id":"s1","meta":1},{"id":"s2","meta":2}],"bob":[{"id":"s3","meta":3}]},"leaves":{}}"#
        );
    }

    proptest! {
        /// Changes that arrive repeated, out of order, or lost, with snapshots read
        /// whenever one is asked for: a client that takes each snapshot's whole list and
        /// applies each diff (leaves, then joins) ends with the true list.
        #[test]
        fn a_client_fed_by_a_replica_ends_with_the_true_list(
            ops in proptest::collection::vec((0u8..4, 0u8..3, any::<bool>()), 1..40),
            deliveries in proptest::collection::vec(0u8..10, 1..60),
        ) {
            // The true list after each version.
            let mut truth: BTreeMap<Arc<str>, Entry> = BTreeMap::new();
            let mut log = Vec::new();
            for (version, (session, meta, present)) in ops.iter().enumerate() {
                let id: Arc<str> = Arc::from(format!("s{session}"));
                let entry = present.then(|| entry(&format!("u{}", session % 2), &meta.to_string()));
                match &entry {
                    Some(e) => { truth.insert(id.clone(), e.clone()); }
                    None => { truth.remove(&id); }
                }
                log.push((change(version as u64 + 1, &id, entry), truth.clone()));
            }
            let list_at = |published: usize| if published == 0 { BTreeMap::new() } else { log[published - 1].1.clone() };
            let mut replica = Replica::syncing();
            let mut client: BTreeMap<Arc<str>, Entry> = BTreeMap::new();
            let mut published = 0usize; // changes made so far
            let mut need_snapshot = true;
            // What the client does with a step; whether a snapshot must be read.
            let take = |step: Step, client: &mut BTreeMap<Arc<str>, Entry>| -> bool {
                match step {
                    Step::Diff(diff) => {
                        for (id, _) in diff.leaves { client.remove(&id); }
                        for (id, entry) in diff.joins { client.insert(id, entry); }
                        false
                    }
                    Step::Nothing => false,
                    Step::Resync => true,
                }
            };
            for d in deliveries {
                if published + 1 < log.len() && d >= 2 {
                    // A change is made and reaches the node (once, twice, or not at all).
                    let change = log[published].0.clone();
                    published += 1;
                    let times = match d { 2 => 0, 9 => 2, _ => 1 };
                    for _ in 0..times {
                        let step = replica.apply(change.clone());
                        need_snapshot |= take(step, &mut client);
                    }
                } else if need_snapshot {
                    // The snapshot read now holds everything made so far.
                    let step = replica.snapshot(published as u64, list_at(published));
                    client = replica.entries().clone();
                    need_snapshot = take(step, &mut client);
                }
            }
            // The rest is made and delivered (the last change always is: only a later one
            // can reveal a loss; a node that lost its subscription reads a snapshot when it
            // subscribes again), then a snapshot if one is asked for.
            while published < log.len() {
                let step = replica.apply(log[published].0.clone());
                published += 1;
                need_snapshot |= take(step, &mut client);
            }
            if need_snapshot || !replica.is_synced() {
                let step = replica.snapshot(published as u64, list_at(published));
                client = replica.entries().clone();
                prop_assert_ne!(step, Step::Resync);
            }
            prop_assert!(replica.is_synced());
            prop_assert_eq!(replica.entries(), &list_at(published));
            prop_assert_eq!(&client, &list_at(published));
        }
    }
}
