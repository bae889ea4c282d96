//! Topics: which sessions have a channel of a given topic (name and room) open, for
//! broadcast.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::id::ChannelId;
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::session::SessionShared;
use crate::target::Target;

struct Member {
    session: Arc<SessionShared>,
    /// The session's open channels of this name; it stays a member (and gets each
    /// broadcast once) until the last one leaves. Joining and leaving name the channel,
    /// so both are idempotent.
    channels: Vec<ChannelId>,
}

#[derive(Default)]
pub(crate) struct Topics {
    by_name: RwLock<HashMap<Arc<str>, HashMap<u64, Member>>>,
}

impl Topics {
    pub(crate) fn join(&self, topic: &Topic, session: &Arc<SessionShared>, channel: ChannelId) {
        let mut by_name = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        let members = by_name.entry(topic.shared().clone()).or_default();
        let member =
            members.entry(session.key).or_insert_with(|| Member { session: session.clone(), channels: Vec::new() });
        if !member.channels.contains(&channel) {
            member.channels.push(channel);
        }
    }

    pub(crate) fn leave(&self, topic: &Topic, session_key: u64, channel: ChannelId) {
        let name = topic.as_str();
        let mut by_name = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        let Some(members) = by_name.get_mut(name) else { return };
        if let Some(member) = members.get_mut(&session_key) {
            member.channels.retain(|c| *c != channel);
            if member.channels.is_empty() {
                members.remove(&session_key);
            }
        }
        if members.is_empty() {
            by_name.remove(name);
        }
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

    /// Number of topics with at least one member.
    pub(crate) fn topic_count(&self) -> usize {
        self.by_name.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}
