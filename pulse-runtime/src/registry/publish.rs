//! Where a broadcast goes: to this node's members (a room with history numbers it
//! first, in memory or in Redis) and to the other nodes; and what comes back from
//! them ([`RemoteSink`]).

use std::sync::Arc;
use std::time::Instant;

use super::Registry;
use crate::backplane::{KeptMessage, NodeId, RemoteSink};
use crate::protocol::{Topic, frames};
use crate::sync::lock;
use crate::target::{Delivery, Target};

impl Registry {
    pub(super) fn publish_here_and_there(&self, topic: &Topic, target: &Target, body: &frames::Body) -> Delivery {
        if let (Target::All, Some(history)) = (target, self.history_of(topic)) {
            if let Some(backplane) = self.history_backplane() {
                let Some(head) = crate::backplane::kept_head(self.node, topic) else {
                    // Unreachable: a topic is shorter than `MAX_ROOM_LEN` and its name.
                    tracing::warn!(%topic, "broadcast not kept: its topic is over 64 KiB");
                    return Delivery::Queued(0);
                };
                let frame = bytes::Bytes::copy_from_slice(body.bytes());
                let new_epoch = crate::history::new_epoch();
                backplane.publish_kept(KeptMessage { topic: topic.clone(), history, new_epoch, head, frame });
                return Delivery::Kept;
            }
            let room = self.memory_histories.room(topic, history);
            let mut room = lock(&room);
            let (offset, numbered) = room.append(body, Instant::now());
            let epoch = room.epoch().clone();
            let reached = self.topics.deliver_kept(topic, &epoch, offset, &numbered).reached;
            let mut kept = || room.kept(Instant::now());
            self.views_arrive(topic, &epoch, offset, &numbered, Some(&mut kept));
            drop(room);
            if let Some(backplane) = &self.backplane {
                // A backplane that keeps no history: other nodes get it unnumbered.
                if let Some(message) = crate::backplane::encode_message(self.node, topic, target, body) {
                    backplane.publish(topic, message);
                }
            }
            return Delivery::Queued(reached);
        }
        let reached = self.topics.deliver(topic.as_str(), target, body);
        let local_session = matches!(target, Target::Session(id) if lock(&self.sessions).contains_key(id));
        if let Some(backplane) = &self.backplane {
            if !local_session {
                match crate::backplane::encode_message(self.node, topic, target, body) {
                    Some(message) => backplane.publish(topic, message),
                    None => tracing::warn!(%topic, "broadcast not sent to other nodes: its user key is over 64 KiB"),
                }
            }
        }
        Delivery::Queued(reached)
    }
}

impl RemoteSink for Registry {
    /// Delivers to this node's member sessions, then queues the call of the hooks that
    /// watch whole-topic broadcasts from other nodes (they run on a task of their own).
    fn deliver_remote(&self, topic: &Topic, target: &Target, body: &frames::Body) -> usize {
        let reached = self.topics.deliver(topic.as_str(), target, body);
        if matches!(target, Target::All | Target::Except(_)) {
            self.queue_remote_hooks(topic, body);
        }
        reached
    }

    fn deliver_presence(&self, _from: NodeId, topic: &Topic, version: u64, change: &[u8]) {
        self.presence_arrived(topic, version, change);
    }

    fn resync_kept(&self) {
        self.resync_presence();
        if self.history_backplane().is_none() {
            return; // histories in memory miss nothing
        }
        self.resync_views();
        for (topic, refetch) in self.topics.resync() {
            if let Some(history) = self.history_of(&topic) {
                self.recover(&topic, history, refetch, None);
            }
        }
    }

    fn deliver_kept(&self, from: NodeId, topic: &Topic, epoch: &str, offset: u64, frame: &frames::Body) {
        if from != self.node {
            self.queue_remote_hooks(topic, frame);
        }
        let Some(history) = self.history_of(topic) else { return };
        let epoch: Arc<str> = Arc::from(epoch);
        let numbered = frame.with_position(&epoch, offset);
        let delivered = self.topics.deliver_kept(topic, &epoch, offset, &numbered);
        self.views_arrive(topic, &epoch, offset, &numbered, None);
        if let Some(telemetry) = &self.telemetry {
            // Counted once per broadcast, on the node that made it (its `publish` counted 0).
            if from == self.node {
                telemetry.delivered(delivered.reached);
            }
        }
        for refetch in delivered.refetch {
            self.recover(topic, history, refetch, None);
        }
    }
}
