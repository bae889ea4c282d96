//! History: the last broadcasts of each room of a channel, numbered, so that a session
//! joining a room gets what was said before it came, and a client that comes back (after
//! the grace period, or on another node) gets exactly what it missed.
//!
//! Each room's broadcasts to everyone in it are numbered 1, 2, 3… (the *offset*) within
//! an *epoch*, a random id the room's history gets when it starts. A client's
//! [`Position`] is the epoch and the offset of the last broadcast it saw. The history
//! keeps the last [`History::last`] broadcasts for at most [`History::for_at_most`]; an
//! epoch changes when a history is lost (it expired, or Redis lost it), which tells a
//! client with an old position that its position means nothing any more.
//!
//! [`plan`] decides what a joining session gets; it is the whole policy, and pure. Where
//! the history lives is elsewhere: in memory on one node ([`memory`]), or in Redis with
//! the Redis backplane, so that every node hands out the same positions.

pub(crate) mod follow;
pub(crate) mod memory;

use std::sync::Arc;
use std::time::Duration;

use crate::protocol::frames::Body;

/// How much of a channel's broadcasts each of its rooms keeps: turn it on with
/// [`ServerBuilder::history`](crate::ServerBuilder::history).
///
/// ```
/// use std::time::Duration;
/// use pulse_runtime::History;
///
/// // The last 100 messages of each room, none older than ten minutes.
/// let history = History::last(100).for_at_most(Duration::from_secs(600));
/// assert_eq!(history.size(), 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    size: usize,
    ttl: Duration,
}

impl History {
    /// The longest a history is kept by default: a day.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

    /// Keeps the last `size` broadcasts of each room (at least 1), for at most a day
    /// (see [`History::for_at_most`]).
    pub fn last(size: usize) -> Self {
        History { size: size.max(1), ttl: Self::DEFAULT_TTL }
    }

    /// Keeps no broadcast longer than `ttl` (at least a second): older ones are not
    /// handed out, and a room silent for that long forgets its history and starts a new
    /// epoch.
    pub fn for_at_most(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How many broadcasts each room keeps.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How long a broadcast is kept at most.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// Where a client is in a room's history: the epoch, and the offset of the last
/// broadcast it saw (0 before the first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    /// The history's epoch.
    pub epoch: Arc<str>,
    /// The offset of the last broadcast seen.
    pub offset: u64,
}

/// A room's history as a store read it: its epoch, the offset of its newest broadcast
/// (`top`), and the broadcasts still kept, oldest first, ending at `top`, with no hole.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    pub epoch: Arc<str>,
    pub top: u64,
    pub entries: Vec<(u64, Body)>,
    /// The most broadcasts the room keeps (`History::last(n)`).
    pub size: usize,
}

/// What a joining session gets: where the client stands before the broadcasts that
/// follow (`from`), whether they are exactly what came after its position
/// (`recovered`), and those broadcasts.
#[derive(Debug)]
pub(crate) struct Replay<'a> {
    pub recovered: bool,
    pub from: Position,
    /// The offset of the last broadcast replayed (`from.offset` if none is).
    pub top: u64,
    pub entries: &'a [(u64, Body)],
    /// The most broadcasts the room keeps.
    pub size: usize,
}

impl Replay<'_> {
    /// The `history` frame that announces this replay in `topic`.
    pub(crate) fn start_frame(&self, topic: &crate::protocol::Topic) -> Body {
        crate::protocol::frames::history(topic, &self.from.epoch, self.from.offset, self.top, self.recovered, self.size)
    }
}

/// What a session joining a room whose history is `kept` gets, for a client at `since`
/// (`None`: a client that was never here).
///
/// - The client's epoch is the history's, and everything after its offset is still
///   kept: those broadcasts, `recovered`.
/// - Otherwise (a new client, another epoch, an offset past the top, or a history that
///   no longer reaches back): everything kept, not `recovered`, so the client knows to
///   start over from what follows.
pub(crate) fn plan<'a>(kept: &'a Kept, since: Option<&Position>) -> Replay<'a> {
    let first = kept.entries.first().map_or(kept.top + 1, |(offset, _)| *offset);
    if let Some(since) = since {
        let reaches = since.epoch == kept.epoch && since.offset <= kept.top && since.offset + 1 >= first;
        if reaches {
            let skip = usize::try_from(since.offset + 1 - first).unwrap_or(usize::MAX).min(kept.entries.len());
            let entries = &kept.entries[skip..];
            return Replay { recovered: true, from: since.clone(), top: kept.top, entries, size: kept.size };
        }
    }
    Replay {
        recovered: false,
        from: Position { epoch: kept.epoch.clone(), offset: first - 1 },
        top: kept.top,
        entries: &kept.entries,
        size: kept.size,
    }
}

/// A fresh random epoch (16 hex digits).
pub(crate) fn new_epoch() -> Arc<str> {
    let mut bytes = [0u8; 8];
    // See `id::RandomId::generate`: without an OS random source nothing is safe.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    Arc::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn kept(epoch: &str, first: u64, top: u64) -> Kept {
        let entries = (first..=top).map(|o| (o, Body::for_test(&format!("\"o\":{o}}}")))).collect();
        Kept { epoch: Arc::from(epoch), top, entries, size: 100 }
    }

    fn at(epoch: &str, offset: u64) -> Position {
        Position { epoch: Arc::from(epoch), offset }
    }

    fn offsets(replay: &Replay<'_>) -> Vec<u64> {
        replay.entries.iter().map(|(o, _)| *o).collect()
    }

    #[test]
    fn a_new_client_gets_everything_kept() {
        let history = kept("e", 8, 10);
        let replay = plan(&history, None);
        assert!(!replay.recovered);
        assert_eq!(replay.from, at("e", 7));
        assert_eq!(offsets(&replay), [8, 9, 10]);
    }

    #[test]
    fn a_client_within_reach_gets_exactly_what_it_missed() {
        let history = kept("e", 8, 10);
        for (since, expected) in [(7, vec![8, 9, 10]), (8, vec![9, 10]), (10, vec![])] {
            let replay = plan(&history, Some(&at("e", since)));
            assert!(replay.recovered, "{since}");
            assert_eq!(replay.from, at("e", since));
            assert_eq!(offsets(&replay), expected);
        }
    }

    #[test]
    fn a_client_out_of_reach_starts_over() {
        let history = kept("e", 8, 10);
        for since in [at("e", 6), at("e", 0), at("e", 11), at("other", 9)] {
            let replay = plan(&history, Some(&since));
            assert!(!replay.recovered, "{since:?}");
            assert_eq!(replay.from, at("e", 7));
            assert_eq!(offsets(&replay), [8, 9, 10]);
        }
    }

    #[test]
    fn an_empty_history_recovers_a_client_at_its_top() {
        let history = kept("e", 6, 5); // broadcasts 1..=5 were made, none is kept
        assert!(plan(&history, Some(&at("e", 5))).recovered);
        assert!(!plan(&history, Some(&at("e", 4))).recovered);
        assert_eq!(plan(&history, None).from, at("e", 5));
    }

    proptest! {
        /// Whatever the history and the position, the client ends at the top having
        /// seen a contiguous run; and when told `recovered`, it missed nothing.
        #[test]
        fn the_client_always_ends_at_the_top_with_no_hole(
            first in 1u64..20, len in 0u64..10, since in proptest::option::of((0u64..40, any::<bool>()))
        ) {
            let top = first + len - 1;
            let history = kept("e", first, top);
            let since = since.map(|(offset, same)| at(if same { "e" } else { "x" }, offset));
            let replay = plan(&history, since.as_ref());
            let mut position = replay.from.offset;
            for (offset, _) in replay.entries {
                prop_assert_eq!(*offset, position + 1);
                position = *offset;
            }
            prop_assert_eq!(position, top);
            prop_assert_eq!(&*replay.from.epoch, "e");
            if replay.recovered {
                prop_assert_eq!(Some(&replay.from), since.as_ref());
            }
            let reachable = since.as_ref().is_some_and(|s| &*s.epoch == "e" && s.offset <= top && s.offset + 1 >= first);
            prop_assert_eq!(replay.recovered, reachable);
        }
    }
}
