//! The rooms this node follows for [`crate::RoomHistory`] values: one
//! [`RoomFollow`] per room (and value type), fed with the room's numbered broadcasts in
//! the order the history gave them, and given the history to read when it starts or
//! finds a gap.
//!
//! With the history in memory, a follower reads it and is registered under the room's
//! lock, and every broadcast reaches it under the same lock: it misses nothing. With the
//! history in a backplane, the node subscribes to the room first, then reads it (retried
//! while the backplane is unreachable); broadcasts that arrive meanwhile wait in the
//! follower, which reads the history again whenever one reveals a gap (and when the
//! node's subscription was lost).

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use super::{Registry, read_kept};
use crate::history::History;
use crate::history::follow::{MakeView, RoomFollow};
use crate::protocol::{Topic, frames::Body};
use crate::sync::lock;

/// A room's followers on this node: one per value type showing it.
type Followers = Vec<(TypeId, Weak<RoomFollow>)>;

/// The followers, by room; each entry lives while a value shows its room.
#[derive(Default)]
pub(crate) struct Views {
    by_topic: crate::sync::Ranked<HashMap<Topic, Followers>, { crate::sync::rank::VIEWS }>,
    /// How many rooms `by_topic` holds, written under its lock: a broadcast on a node
    /// that follows no room (most apps) looks here instead of taking the lock. A
    /// follower is registered before it reads its room (under the room's lock, with the
    /// history in memory), so one that a broadcast does not see yet reads it instead.
    rooms: AtomicUsize,
}

impl Views {
    fn find(&self, topic: &Topic, kind: TypeId) -> Option<Arc<RoomFollow>> {
        let by_topic = lock(&self.by_topic);
        by_topic.get(topic)?.iter().find(|(k, _)| *k == kind).and_then(|(_, follow)| follow.upgrade())
    }

    /// The follower of `topic` for `kind`, or `make`'s, registered: one step under the
    /// lock, so two made at once never both register. `true` if `make`'s was.
    fn find_or_insert(
        &self,
        topic: &Topic,
        kind: TypeId,
        make: impl FnOnce() -> Arc<RoomFollow>,
    ) -> (Arc<RoomFollow>, bool) {
        let mut by_topic = lock(&self.by_topic);
        let entries = by_topic.entry(topic.clone()).or_default();
        if let Some(found) = entries.iter().filter(|(k, _)| *k == kind).find_map(|(_, f)| f.upgrade()) {
            return (found, false);
        }
        entries.retain(|(_, follow)| follow.strong_count() > 0);
        let follow = make();
        entries.push((kind, Arc::downgrade(&follow)));
        self.rooms.store(by_topic.len(), Ordering::Relaxed);
        (follow, true)
    }

    fn remove_dead(&self, topic: &Topic) {
        let mut by_topic = lock(&self.by_topic);
        if let Some(entries) = by_topic.get_mut(topic) {
            entries.retain(|(_, follow)| follow.strong_count() > 0);
            if entries.is_empty() {
                by_topic.remove(topic);
                self.rooms.store(by_topic.len(), Ordering::Relaxed);
            }
        }
    }

    /// The followers of `topic` alive now.
    fn of(&self, topic: &Topic) -> Vec<Arc<RoomFollow>> {
        if self.rooms.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let by_topic = lock(&self.by_topic);
        by_topic.get(topic).map_or_else(Vec::new, |entries| entries.iter().filter_map(|(_, f)| f.upgrade()).collect())
    }

    fn all(&self) -> Vec<(Topic, Arc<RoomFollow>)> {
        let by_topic = lock(&self.by_topic);
        by_topic
            .iter()
            .flat_map(|(topic, entries)| entries.iter().filter_map(|(_, f)| Some((topic.clone(), f.upgrade()?))))
            .collect()
    }
}

impl Registry {
    /// This node's follower of `topic` for values of type `kind`, made with `make` if it
    /// has none; `None` if `topic`'s channel keeps no history.
    pub(crate) fn follow_room(&self, topic: &Topic, kind: TypeId, make: MakeView<'_>) -> Option<Arc<RoomFollow>> {
        let history = self.history_of(topic)?;
        if let Some(follow) = self.views.find(topic, kind) {
            return Some(follow);
        }
        let mut token = 0;
        let new = || {
            let (value, sink) = make();
            let (follow, read) = RoomFollow::new(value, sink);
            token = read;
            Arc::new(follow)
        };
        let this = self.this.clone();
        let forget = topic.clone();
        let Some(backplane) = self.history_backplane().cloned() else {
            // In memory: read and registered under the room's lock, as broadcasts are made.
            let room = self.memory_histories.room(topic, history);
            let mut room = lock(&room);
            let (follow, created) = self.views.find_or_insert(topic, kind, new);
            if created {
                let kept = room.kept(Instant::now());
                follow.step(|follower| follower.read(token, &kept));
                follow.on_drop(Box::new(move || {
                    if let Some(server) = this.upgrade() {
                        server.views.remove_dead(&forget);
                    }
                }));
            }
            return Some(follow);
        };
        let (follow, created) = self.views.find_or_insert(topic, kind, new);
        if !created {
            return Some(follow);
        }
        let gate = backplane.join_topic(topic);
        follow.on_drop(Box::new(move || {
            if let Some(server) = this.upgrade() {
                server.views.remove_dead(&forget);
                if let Some(backplane) = &server.backplane {
                    backplane.leave_topic(&forget);
                }
            }
        }));
        self.read_for_view(topic, history, Arc::downgrade(&follow), token, gate);
        Some(follow)
    }

    /// Broadcast `offset` of `epoch` in `topic`'s history reached this node: to its
    /// followers, in the order given (one call at a time per topic). With the history
    /// in memory, `kept` reads it (under the room's lock the caller holds), for a
    /// follower that must read it again (a history that started over).
    pub(super) fn views_arrive(
        &self,
        topic: &Topic,
        epoch: &Arc<str>,
        offset: u64,
        body: &Body,
        mut kept: Option<&mut dyn FnMut() -> crate::history::Kept>,
    ) {
        for follow in self.views.of(topic) {
            let Some(token) = follow.step(|follower| follower.arrive(epoch, offset, body)) else { continue };
            match kept.as_mut() {
                Some(kept) => {
                    let kept = kept();
                    // Read under the room's lock: nothing can come between.
                    let again = follow.step(|follower| follower.read(token, &kept));
                    debug_assert!(again.is_none(), "a history read under its lock has no gap");
                }
                None => {
                    if let Some(history) = self.history_of(topic) {
                        self.read_for_view(topic, history, Arc::downgrade(&follow), token, None);
                    }
                }
            }
        }
    }

    /// The node may have missed broadcasts: every follower reads its room again.
    pub(super) fn resync_views(&self) {
        for (topic, follow) in self.views.all() {
            let token = lock(&follow.follower).resync();
            if let Some(history) = self.history_of(&topic) {
                self.read_for_view(&topic, history, Arc::downgrade(&follow), token, None);
            }
        }
    }

    /// Reads `topic`'s history from the backplane for `follow` (after `gate`, the node's
    /// subscription), retried with backoff while it is unreachable and `follow` lives.
    fn read_for_view(
        &self,
        topic: &Topic,
        history: History,
        follow: Weak<RoomFollow>,
        token: u64,
        gate: Option<crate::backplane::Gate>,
    ) {
        let Some(backplane) = self.history_backplane().cloned() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(%topic, "a history read needs a Tokio runtime");
            return;
        };
        let topic = topic.clone();
        let this = self.this.clone();
        runtime.spawn(async move {
            if let Some(gate) = gate {
                gate.await;
            }
            // Not once the follower is gone, or a later read was asked for (a resync).
            let wanted = || follow.upgrade().is_some_and(|follow| lock(&follow.follower).wants(token));
            let Some(kept) = read_kept(&*backplane, &topic, history, wanted).await else { return };
            let Some(follow) = follow.upgrade() else { return };
            if let Some(again) = follow.step(|follower| follower.read(token, &kept)) {
                if let Some(server) = this.upgrade() {
                    server.read_for_view(&topic, history, Arc::downgrade(&follow), again, None);
                }
            }
        });
    }
}
