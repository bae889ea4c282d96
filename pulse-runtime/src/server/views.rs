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
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::registry::{ServerShared, kept_from_store};
use crate::history::History;
use crate::history::follow::{MakeView, RoomFollow};
use crate::protocol::{Topic, frames::Body};
use crate::sync::lock;

/// A room's followers on this node: one per value type showing it.
type Followers = Vec<(TypeId, Weak<RoomFollow>)>;

/// The followers, by room; each entry lives while a value shows its room.
#[derive(Default)]
pub(crate) struct Views {
    by_topic: std::sync::Mutex<HashMap<Topic, Followers>>,
}

impl Views {
    fn find(&self, topic: &Topic, kind: TypeId) -> Option<Arc<RoomFollow>> {
        let by_topic = lock(&self.by_topic);
        by_topic.get(topic)?.iter().find(|(k, _)| *k == kind).and_then(|(_, follow)| follow.upgrade())
    }

    fn insert(&self, topic: &Topic, kind: TypeId, follow: &Arc<RoomFollow>) {
        let mut by_topic = lock(&self.by_topic);
        let entries = by_topic.entry(topic.clone()).or_default();
        entries.retain(|(k, follow)| *k != kind && follow.strong_count() > 0);
        entries.push((kind, Arc::downgrade(follow)));
    }

    fn remove_dead(&self, topic: &Topic) {
        let mut by_topic = lock(&self.by_topic);
        if let Some(entries) = by_topic.get_mut(topic) {
            entries.retain(|(_, follow)| follow.strong_count() > 0);
            if entries.is_empty() {
                by_topic.remove(topic);
            }
        }
    }

    /// The followers of `topic` alive now.
    fn of(&self, topic: &Topic) -> Vec<Arc<RoomFollow>> {
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

impl ServerShared {
    /// This node's follower of `topic` for values of type `kind`, made with `make` if it
    /// has none; `None` if `topic`'s channel keeps no history.
    pub(crate) fn follow_room(&self, topic: &Topic, kind: TypeId, make: MakeView<'_>) -> Option<Arc<RoomFollow>> {
        let history = self.history_of(topic)?;
        if let Some(follow) = self.views.find(topic, kind) {
            return Some(follow);
        }
        let (value, sink) = make();
        let (follow, token) = RoomFollow::new(value, sink);
        let follow = Arc::new(follow);
        let Some(backplane) = self.history_backplane().cloned() else {
            // In memory: read and registered under the room's lock, as broadcasts are made.
            let room = self.memory_histories.room(topic, history);
            let mut room = lock(&room);
            if let Some(found) = self.views.find(topic, kind) {
                return Some(found); // made meanwhile by another
            }
            let kept = room.kept(Instant::now());
            follow.step(|follower| follower.read(token, &kept));
            self.views.insert(topic, kind, &follow);
            drop(room);
            let this = self.this.clone();
            let forget = topic.clone();
            follow.on_drop(Box::new(move || {
                if let Some(server) = this.upgrade() {
                    server.views.remove_dead(&forget);
                }
            }));
            return Some(follow);
        };
        self.views.insert(topic, kind, &follow);
        let gate = backplane.join_topic(topic);
        let this = self.this.clone();
        let forget = topic.clone();
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
    /// followers, in the order given (one call at a time per topic).
    pub(super) fn views_arrive(&self, topic: &Topic, epoch: &Arc<str>, offset: u64, body: &Body) {
        for follow in self.views.of(topic) {
            if let Some(token) = follow.step(|follower| follower.arrive(epoch, offset, body)) {
                if let Some(history) = self.history_of(topic) {
                    self.read_for_view(topic, history, Arc::downgrade(&follow), token, None);
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
            let mut delay = Duration::from_millis(50);
            loop {
                if follow.strong_count() == 0 {
                    return;
                }
                match backplane.read_history(&topic, history, &crate::history::new_epoch()).await {
                    Ok(stored) => {
                        let kept = kept_from_store(stored, history);
                        let Some(follow) = follow.upgrade() else { return };
                        if let Some(again) = follow.step(|follower| follower.read(token, &kept)) {
                            if let Some(server) = this.upgrade() {
                                server.read_for_view(&topic, history, Arc::downgrade(&follow), again, None);
                            }
                        }
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%topic, %error, "reading a room's history failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(2));
                    }
                }
            }
        });
    }
}
