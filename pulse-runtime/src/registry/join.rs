//! Joining a session to a topic: a plain topic, a room whose history is in memory (the
//! replay and the membership under the room's lock), or one whose history is in the
//! backplane (a member that recovers: held broadcasts, then the history read).

use std::sync::Arc;
use std::time::Instant;

use super::{Registry, SharedGate, topics};
use crate::backplane::{Backplane, Gate, StoredHistory};
use crate::history::{History, Kept, Position, plan};
use crate::id::ChannelId;
use crate::protocol::{Topic, frames};
use crate::session::SessionShared;
use crate::sync::lock;

impl Registry {
    /// Joins a room whose history is in memory: under the room's lock, the session gets
    /// the `history` frame and its replay, then becomes a member, so the next broadcast
    /// (made under the same lock) follows the replay with nothing missed or repeated.
    fn join_memory(&self, topic: &Topic, history: History, session: &Arc<SessionShared>, channel: ChannelId) -> bool {
        let room = self.memory_histories.room(topic, history);
        let mut room = lock(&room);
        if self.topics.is_member(topic, session.key) {
            // Another channel of the same room: the replay went to the first.
            return self.topics.join(topic, session, channel);
        }
        let kept = room.kept(Instant::now());
        let since = session.since_for(topic);
        let replay = plan(&kept, since.as_ref());
        let _ = session.enqueue(replay.start_frame(topic));
        let _ = session.enqueue_run(replay.entries.iter().map(|(_, body)| body.clone()).collect());
        self.topics.join_live(topic, session, channel, Position { epoch: kept.epoch.clone(), offset: kept.top })
    }

    /// A session became a member of `topic`: the backplane delivers the topic's
    /// broadcasts to this node from now on. While it is not yet receiving them, the
    /// channel's `open` is held back, and the returned gate (awaited by whoever runs
    /// it) releases it once it is.
    fn subscribe(&self, topic: &Topic, session: &Arc<SessionShared>, channel: ChannelId) -> Option<SharedGate> {
        use futures_util::FutureExt as _;
        let gate = self.backplane.as_ref()?.join_topic(topic)?;
        session.hold_open(channel);
        let session = session.clone();
        let gate: Gate = Box::pin(async move {
            gate.await;
            session.release_open(channel);
        });
        let gate = gate.shared();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(gate.clone())),
            Err(_) => tracing::error!("joining a topic needs a Tokio runtime"),
        }
        Some(gate)
    }

    /// Joins `topic` (with its history, if its channel keeps one); returns whether the
    /// session became a member, and the gate of the node's subscription to the topic,
    /// if it must be awaited.
    pub(crate) fn join_topic(
        &self,
        topic: &Topic,
        session: &Arc<SessionShared>,
        channel: ChannelId,
    ) -> (bool, Option<SharedGate>) {
        let Some(history) = self.history_of(topic) else {
            let created = self.topics.join(topic, session, channel);
            return (created, created.then(|| self.subscribe(topic, session, channel)).flatten());
        };
        if self.history_backplane().is_none() {
            let created = self.join_memory(topic, history, session, channel);
            return (created, created.then(|| self.subscribe(topic, session, channel)).flatten());
        }
        if self.topics.is_member(topic, session.key) {
            return (self.topics.join(topic, session, channel), None);
        }
        let since = session.since_for(topic);
        match self.topics.join_recovering(topic, session, channel, since) {
            Some(refetch) => {
                let gate = self.subscribe(topic, session, channel);
                self.recover(topic, history, refetch, gate.clone());
                (true, gate)
            }
            None => (false, None),
        }
    }

    /// Reads `topic`'s history from the backplane for a member that is recovering, and
    /// hands it over; retried with backoff while Redis is unreachable and the member
    /// still waits for it.
    pub(super) fn recover(&self, topic: &Topic, history: History, refetch: topics::Refetch, gate: Option<SharedGate>) {
        let (Some(server), Some(backplane)) = (self.this.upgrade(), self.history_backplane().cloned()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(%topic, "a history read needs a Tokio runtime");
            return;
        };
        let topic = topic.clone();
        runtime.spawn(async move {
            // The history is read once this node receives the room's broadcasts, so that
            // every broadcast is in the history read or arrives after it.
            if let Some(gate) = gate {
                gate.await;
            }
            let wanted = || server.topics.is_recovering(&topic, refetch.session_key, refetch.token);
            let Some(kept) = read_kept(&*backplane, &topic, history, wanted).await else { return };
            for again in server.topics.recovered(&topic, refetch.session_key, refetch.token, &kept) {
                server.recover(&topic, history, again, None);
            }
        });
    }
}

/// `topic`'s history read from `backplane`, as sessions get it; retried with backoff
/// (50 ms … 2 s) while the backplane is unreachable and `wanted()` holds, which is
/// asked before each try. `None` once it no longer holds.
pub(crate) async fn read_kept(
    backplane: &dyn Backplane,
    topic: &Topic,
    history: History,
    wanted: impl Fn() -> bool,
) -> Option<Kept> {
    let mut delay = std::time::Duration::from_millis(50);
    while wanted() {
        match backplane.read_history(topic, history, &crate::history::new_epoch()).await {
            Ok(stored) => return Some(kept_from_store(stored, history)),
            Err(error) => {
                tracing::warn!(%topic, %error, "reading a room's history failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
    None
}

/// A history as the backplane stored it, as sessions get it: broadcasts older than
/// the history keeps left out, and only the run that ends at `top` with no hole.
fn kept_from_store(stored: StoredHistory, history: History) -> Kept {
    let epoch: Arc<str> = Arc::from(stored.epoch);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    let oldest_ms = now_ms.saturating_sub(u64::try_from(history.ttl().as_millis()).unwrap_or(u64::MAX));
    let mut entries = Vec::new();
    let mut expected = stored.top;
    for (offset, at_ms, frame) in stored.entries.into_iter().rev() {
        if offset != expected || at_ms < oldest_ms {
            break;
        }
        let Some(body) = frames::Body::from_bytes(frame) else { break };
        entries.push((offset, body.with_position(&epoch, offset)));
        expected = expected.saturating_sub(1);
    }
    entries.reverse();
    Kept { epoch, top: stored.top, entries, size: history.size() }
}
