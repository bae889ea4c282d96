//! Following a room's history on one node, for a value every node agrees on
//! ([`crate::RoomHistory`]): the room's last broadcasts, in the order the history
//! numbered them (once, for the whole cluster), whole.
//!
//! [`Follower`] is the state machine, without I/O: it takes the broadcasts as they
//! arrive and the history as it is read, says what changed, and says when the history
//! must be read (at the start, and whenever a broadcast reveals a gap). [`RoomFollow`]
//! is one node's follower of one room, shared by every value that shows it, with what
//! it tells of each change.

use std::any::Any;
use std::sync::{Arc, Mutex};

use super::Kept;
use crate::protocol::frames::Body;
use crate::sync::{Ranked, lock, rank};

/// A change to the broadcasts a follower holds.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// The history was read: these are all it holds now (oldest first), of `epoch`; it
    /// keeps at most `size`.
    Reset { epoch: Arc<str>, entries: Vec<(u64, Body)>, size: usize },
    /// These came next, in order.
    Append(Vec<(u64, Body)>),
}

/// What a call to the follower did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The change to apply, if any.
    pub change: Option<Change>,
    /// Read the history and hand it to [`Follower::read`] with this token.
    pub read: Option<u64>,
}

/// Most broadcasts held while the history is read; past it they are dropped, and the
/// history is read again once this read is done (it holds them).
const MAX_WAITING: usize = 4096;

enum Stage {
    /// The history is being read; broadcasts that arrive meanwhile wait.
    Reading { token: u64, waiting: Vec<(Arc<str>, u64, Body)>, overflowed: bool },
    /// Every broadcast up to `top` of `epoch` is held (or was, before the window moved).
    Live { epoch: Arc<str>, top: u64 },
}

/// One room's broadcasts as one node sees them: see the module's documentation.
pub(crate) struct Follower {
    stage: Stage,
    tokens: u64,
}

impl Follower {
    /// A follower that must read the history first: with the token returned.
    pub(crate) fn new() -> (Follower, u64) {
        let follower =
            Follower { stage: Stage::Reading { token: 0, waiting: Vec::new(), overflowed: false }, tokens: 1 };
        (follower, 0)
    }

    /// Whether it holds the history and every broadcast since (no read is pending).
    #[cfg(test)]
    fn is_live(&self) -> bool {
        matches!(self.stage, Stage::Live { .. })
    }

    fn next_token(&mut self) -> u64 {
        self.tokens += 1;
        self.tokens
    }

    /// Broadcast `offset` of `epoch` arrived.
    pub(crate) fn arrive(&mut self, epoch: &Arc<str>, offset: u64, body: &Body) -> Outcome {
        match &mut self.stage {
            Stage::Reading { waiting, overflowed, .. } => {
                if waiting.len() < MAX_WAITING {
                    waiting.push((epoch.clone(), offset, body.clone()));
                } else {
                    *overflowed = true;
                }
                Outcome::default()
            }
            Stage::Live { epoch: current, top } => {
                if **current == **epoch && offset <= *top {
                    return Outcome::default(); // held already
                }
                if **current == **epoch && offset == *top + 1 {
                    *top = offset;
                    return Outcome { change: Some(Change::Append(vec![(offset, body.clone())])), read: None };
                }
                // Missed broadcasts, or a history that started over: read it, keep this one.
                let token = self.next_token();
                let waiting = vec![(epoch.clone(), offset, body.clone())];
                self.stage = Stage::Reading { token, waiting, overflowed: false };
                Outcome { change: None, read: Some(token) }
            }
        }
    }

    /// The history read for `token`. A read that is not the latest asked for is ignored.
    pub(crate) fn read(&mut self, token: u64, kept: &Kept) -> Outcome {
        let Stage::Reading { token: wanted, waiting, overflowed } = &mut self.stage else {
            return Outcome::default();
        };
        if *wanted != token {
            return Outcome::default();
        }
        let waiting = std::mem::take(waiting);
        let overflowed = *overflowed;
        let epoch = kept.epoch.clone();
        let mut top = kept.top;
        let mut entries = kept.entries.clone();
        let mut rest = waiting.into_iter();
        let mut gap = overflowed;
        for (at, offset, body) in rest.by_ref() {
            if *at == *epoch && offset <= top {
                continue;
            }
            if *at == *epoch && offset == top + 1 {
                top = offset;
                entries.push((offset, body));
                continue;
            }
            gap = true;
            break;
        }
        let change = Some(Change::Reset { epoch: epoch.clone(), entries, size: kept.size });
        if gap {
            let token = self.next_token();
            self.stage = Stage::Reading { token, waiting: rest.collect(), overflowed: false };
            return Outcome { change, read: Some(token) };
        }
        self.stage = Stage::Live { epoch, top };
        Outcome { change, read: None }
    }

    /// Whether a read for `token` is still wanted (no later one was asked for).
    pub(crate) fn wants(&self, token: u64) -> bool {
        matches!(self.stage, Stage::Reading { token: wanted, .. } if wanted == token)
    }

    /// The node may have missed broadcasts (its subscription was lost): read again.
    pub(crate) fn resync(&mut self) -> u64 {
        let token = self.next_token();
        match &mut self.stage {
            Stage::Reading { token: wanted, .. } => *wanted = token,
            Stage::Live { .. } => self.stage = Stage::Reading { token, waiting: Vec::new(), overflowed: false },
        }
        token
    }
}

/// What a room's follower tells of each change: the typed value's update, under the
/// follower's lock, so changes are applied in the order they were made.
pub(crate) type Sink = Box<dyn Fn(&Change) + Send + Sync>;

/// Makes the value a follower shows and the sink that updates it (called only when the
/// node has no follower of the room for that value type yet).
pub(crate) type MakeView<'a> = &'a mut dyn FnMut() -> (Box<dyn Any + Send + Sync>, Sink);

/// One node's follower of one room, shared by every value showing it; made by the
/// server ([`crate::session::host::Host::follow`]), which feeds it and, when the last
/// value showing it is dropped, forgets it (`on_drop`).
pub(crate) struct RoomFollow {
    pub(crate) follower: Ranked<Follower, { rank::FOLLOWER }>,
    sink: Sink,
    /// The typed value the sink updates, for the next one asking for this room.
    pub(crate) value: Box<dyn Any + Send + Sync>,
    on_drop: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl RoomFollow {
    pub(crate) fn new(value: Box<dyn Any + Send + Sync>, sink: Sink) -> (RoomFollow, u64) {
        let (follower, token) = Follower::new();
        let follow = RoomFollow { follower: Ranked::new(follower), sink, value, on_drop: Mutex::new(None) };
        (follow, token)
    }

    /// Calls `f` when this follower is dropped.
    pub(crate) fn on_drop(&self, f: Box<dyn FnOnce() + Send>) {
        *lock(&self.on_drop) = Some(f);
    }

    /// Runs `step` on the follower and applies its change; returns the token to read
    /// the history with, if it must be read.
    pub(crate) fn step(&self, step: impl FnOnce(&mut Follower) -> Outcome) -> Option<u64> {
        let mut follower = lock(&self.follower);
        let outcome = step(&mut follower);
        if let Some(change) = &outcome.change {
            (self.sink)(change);
        }
        outcome.read
    }
}

impl Drop for RoomFollow {
    fn drop(&mut self) {
        if let Some(f) = lock(&self.on_drop).take() {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn body(offset: u64) -> Body {
        Body::for_test(&format!("\"o\":{offset}}}"))
    }

    fn kept(epoch: &str, first: u64, top: u64) -> Kept {
        Kept { epoch: Arc::from(epoch), top, entries: (first..=top).map(|o| (o, body(o))).collect(), size: 100 }
    }

    /// What a follower holds, applying its changes as a value does.
    #[derive(Default)]
    struct Held {
        epoch: Option<Arc<str>>,
        offsets: Vec<u64>,
    }

    impl Held {
        fn apply(&mut self, outcome: &Outcome) {
            match &outcome.change {
                Some(Change::Reset { epoch, entries, .. }) => {
                    self.epoch = Some(epoch.clone());
                    self.offsets = entries.iter().map(|(o, _)| *o).collect();
                }
                Some(Change::Append(entries)) => self.offsets.extend(entries.iter().map(|(o, _)| *o)),
                None => {}
            }
        }
    }

    #[test]
    fn reads_then_follows_in_order() {
        let (mut follower, token) = Follower::new();
        let mut held = Held::default();
        let e: Arc<str> = Arc::from("e");
        // Broadcasts 4 and 5 arrive while the history (1..=4) is read.
        held.apply(&follower.arrive(&e, 4, &body(4)));
        held.apply(&follower.arrive(&e, 5, &body(5)));
        assert!(held.offsets.is_empty());
        let outcome = follower.read(token, &kept("e", 1, 4));
        assert!(outcome.read.is_none());
        held.apply(&outcome);
        assert_eq!(held.offsets, [1, 2, 3, 4, 5]);
        held.apply(&follower.arrive(&e, 5, &body(5)));
        held.apply(&follower.arrive(&e, 6, &body(6)));
        assert_eq!(held.offsets, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn a_gap_reads_again_and_a_stale_read_is_ignored() {
        let (mut follower, token) = Follower::new();
        let e: Arc<str> = Arc::from("e");
        let mut held = Held::default();
        held.apply(&follower.read(token, &kept("e", 1, 2)));
        let outcome = follower.arrive(&e, 4, &body(4)); // 3 was lost
        let again = outcome.read.expect("a gap reads the history");
        assert!(follower.read(token, &kept("e", 1, 4)).change.is_none(), "the old token is stale");
        held.apply(&follower.read(again, &kept("e", 1, 4)));
        assert_eq!(held.offsets, [1, 2, 3, 4]);
        // A history that started over (a new epoch) is read again too.
        let f: Arc<str> = Arc::from("f");
        let token = follower.arrive(&f, 1, &body(1)).read.expect("a new epoch reads the history");
        held.apply(&follower.read(token, &kept("f", 1, 1)));
        assert_eq!(held.epoch.as_deref(), Some("f"));
        assert_eq!(held.offsets, [1]);
    }

    proptest! {
        /// Whatever is lost on the way and however reads and broadcasts interleave, once
        /// the last broadcast arrived and the last read is answered the follower holds what
        /// the history holds, in order, each once.
        #[test]
        fn ends_holding_the_history(
            total in 1u64..40,
            lost in proptest::collection::vec(any::<bool>(), 40),
            read_after in proptest::collection::vec(0usize..40, 0..4),
            keep in 1u64..20,
        ) {
            let e: Arc<str> = Arc::from("e");
            let (mut follower, first) = Follower::new();
            let mut held = Held::default();
            let mut pending = vec![first];
            // The history as it stands after `made` broadcasts: the last `keep`.
            let history = |made: u64| kept("e", made.saturating_sub(keep - 1).max(1), made);
            for offset in 1..=total {
                if read_after.contains(&(offset as usize)) {
                    for token in std::mem::take(&mut pending) {
                        let outcome = follower.read(token, &history(offset - 1));
                        held.apply(&outcome);
                        pending.extend(outcome.read);
                    }
                }
                // The last one always arrives: a follower learns of a loss from what follows it.
                if !lost[offset as usize] || offset == total {
                    let outcome = follower.arrive(&e, offset, &body(offset));
                    held.apply(&outcome);
                    pending.extend(outcome.read);
                }
            }
            // Reads answered until none is asked for (each answer is the history now).
            let mut rounds = 0;
            while let Some(token) = pending.pop() {
                let outcome = follower.read(token, &history(total));
                held.apply(&outcome);
                pending.extend(outcome.read);
                rounds += 1;
                prop_assert!(rounds < 10);
            }
            prop_assert!(follower.is_live());
            let expected: Vec<u64> = (total.saturating_sub(keep - 1).max(1)..=total).collect();
            // A follower holds every broadcast since its last read: the history's window
            // and what came after it.
            let tail: Vec<u64> = held.offsets.iter().copied().skip_while(|o| *o < expected[0]).collect();
            prop_assert_eq!(tail, expected);
            prop_assert!(held.offsets.windows(2).all(|w| w[1] == w[0] + 1), "in order, each once: {:?}", held.offsets);
        }
    }
}
