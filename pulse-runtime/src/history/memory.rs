//! Histories kept in this process (a server without a backplane that keeps them).
//!
//! A room's history is a bounded queue behind its own lock. Whoever appends to it or
//! joins it holds that lock while delivering, so every session of the room sees one
//! order, and a joining session's replay meets the live broadcasts with no gap and no
//! duplicate.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use super::{History, Kept, new_epoch};
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::sync::{Ranked, lock, rank};

/// Rooms looked up between two sweeps of the ones that have expired.
const SWEEP_EVERY: u32 = 1024;

/// One room's history.
pub(crate) struct Room {
    history: History,
    epoch: Arc<str>,
    top: u64,
    /// Offset, time kept, and the frame with its position spliced in.
    entries: VecDeque<(u64, Instant, Body)>,
    /// When the last broadcast was made (or the room was created).
    touched: Instant,
}

impl Room {
    fn new(history: History, now: Instant) -> Self {
        Room { history, epoch: new_epoch(), top: 0, entries: VecDeque::new(), touched: now }
    }

    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.touched) > self.history.ttl()
    }

    /// A room silent for longer than its history is kept forgets it: a new epoch.
    fn refresh(&mut self, now: Instant) {
        if self.expired(now) {
            *self = Room::new(self.history, now);
        }
        while self.entries.front().is_some_and(|(_, at, _)| now.saturating_duration_since(*at) > self.history.ttl()) {
            self.entries.pop_front();
        }
    }

    /// The room's epoch.
    pub(crate) fn epoch(&self) -> &Arc<str> {
        &self.epoch
    }

    /// Numbers `frame` (a broadcast body), keeps it, and returns its offset and the
    /// frame with its position.
    pub(crate) fn append(&mut self, frame: &Body, now: Instant) -> (u64, Body) {
        self.refresh(now);
        self.top += 1;
        self.touched = now;
        let body = frame.with_position(&self.epoch, self.top);
        self.entries.push_back((self.top, now, body.clone()));
        while self.entries.len() > self.history.size() {
            self.entries.pop_front();
        }
        (self.top, body)
    }

    /// What the room keeps now.
    pub(crate) fn kept(&mut self, now: Instant) -> Kept {
        self.refresh(now);
        let entries = self.entries.iter().map(|(offset, _, body)| (*offset, body.clone())).collect();
        Kept { epoch: self.epoch.clone(), top: self.top, entries, size: self.history.size() }
    }
}

/// Every room's history, for the channels that keep one.
#[derive(Default)]
pub(crate) struct MemoryHistories {
    rooms: Ranked<HashMap<Arc<str>, Arc<Ranked<Room, { rank::HISTORY_ROOM }>>>, { rank::HISTORY_ROOMS }>,
    lookups: std::sync::atomic::AtomicU32,
}

impl MemoryHistories {
    /// The history of `topic` (created empty, with a new epoch, on first use).
    pub(crate) fn room(&self, topic: &Topic, history: History) -> Arc<Ranked<Room, { rank::HISTORY_ROOM }>> {
        let now = Instant::now();
        let mut rooms = lock(&self.rooms);
        if self.lookups.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // A room someone holds (to append or join) is never swept from under them. One
            // never broadcast to is swept at once: its members hold no offset of it, and
            // the first broadcast of a new epoch (offset 1) reaches them all the same.
            rooms.retain(|_, room| {
                Arc::strong_count(room) > 1 || {
                    let room = lock(room);
                    room.top > 0 && !room.expired(now)
                }
            });
        }
        rooms.entry(topic.shared().clone()).or_insert_with(|| Arc::new(Ranked::new(Room::new(history, now)))).clone()
    }

    /// Rooms with a history in memory.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.rooms).len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn frame(n: u64) -> Body {
        crate::protocol::frames::broadcast(&Topic::from("chat"), "said", &n).unwrap()
    }

    #[test]
    fn keeps_the_last_n_numbered_with_their_position() {
        let now = Instant::now();
        let mut room = Room::new(History::last(3), now);
        for n in 1..=5 {
            assert_eq!(room.append(&frame(n), now).0, n);
        }
        let kept = room.kept(now);
        assert_eq!(kept.top, 5);
        assert_eq!(kept.entries.iter().map(|(o, _)| *o).collect::<Vec<_>>(), [3, 4, 5]);
        let text = std::str::from_utf8(kept.entries[0].1.bytes()).unwrap().to_owned();
        assert!(text.starts_with(&format!("\"t\":\"broadcast\",\"epoch\":\"{}\",\"offset\":3,", kept.epoch)), "{text}");
    }

    #[test]
    fn old_broadcasts_are_not_handed_out_and_a_silent_room_starts_a_new_epoch() {
        let start = Instant::now();
        let history = History::last(10).for_at_most(Duration::from_secs(60));
        let mut room = Room::new(history, start);
        room.append(&frame(1), start);
        room.append(&frame(2), start + Duration::from_secs(50));
        let kept = room.kept(start + Duration::from_secs(70));
        assert_eq!(kept.entries.iter().map(|(o, _)| *o).collect::<Vec<_>>(), [2]);
        let epoch = kept.epoch.clone();
        let later = room.kept(start + Duration::from_secs(200));
        assert_ne!(later.epoch, epoch);
        assert_eq!((later.top, later.entries.len()), (0, 0));
    }

    #[test]
    fn expired_rooms_are_swept() {
        let histories = MemoryHistories::default();
        let history = History::last(1).for_at_most(Duration::from_secs(1));
        for n in 0..SWEEP_EVERY - 1 {
            histories.room(&Topic::from(format!("r{n}").as_str()), history);
        }
        assert_eq!(histories.len(), SWEEP_EVERY as usize - 1);
        for room in lock(&histories.rooms).values() {
            lock(room).touched -= Duration::from_secs(5);
        }
        histories.room(&Topic::from("fresh"), history);
        assert_eq!(histories.len(), 1);
    }
}
