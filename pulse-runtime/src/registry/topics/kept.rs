//! Delivery of a room's numbered broadcasts: each member gets each once and in order,
//! reads the history when it finds broadcasts missing, and keeps what arrives while it
//! reads.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Member, Room, Topics};
use crate::history::{Kept, Position, plan};
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::sync::lock;

/// A member session's place in its room's history.
pub(super) enum Flow {
    /// It has every numbered broadcast up to `last` of `epoch`.
    Live { epoch: Arc<str>, last: u64 },
    /// Its replay is being read (from Redis); broadcasts that arrive meanwhile wait.
    Recovering(Recovery),
}

pub(super) struct Recovery {
    pub(super) token: u64,
    /// The position to replay from (`None`: a client that was never in the room).
    pub(super) since: Option<Position>,
    /// Whether the client hears a `history` frame even if nothing was missed (a join).
    pub(super) announce: bool,
    pub(super) waiting: Vec<(Arc<str>, u64, Body)>,
    /// More broadcasts arrived than may wait: read the history again once this is done.
    pub(super) overflowed: bool,
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

impl Topics {
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
}
