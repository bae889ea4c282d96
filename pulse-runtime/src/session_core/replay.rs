//! The replay buffer: the most recent numbered frames, kept so that a resumed
//! connection gets exactly the frames its client missed.

use std::collections::VecDeque;

use crate::protocol::frames::Body;

/// Numbered frames, oldest first, bounded by count and by bytes. The newest frame is
/// always kept (so that a single large frame can still be replayed). A frame is kept as
/// its shared body (a broadcast's bytes are not copied per session) and its number.
pub(crate) struct Replay {
    frames: VecDeque<(u64, Body)>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

impl Replay {
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Replay { frames: VecDeque::new(), bytes: 0, max_frames, max_bytes }
    }

    /// Keeps `body`, numbered `seq`; forgets the oldest frames beyond the bounds.
    pub(crate) fn push(&mut self, seq: u64, body: Body) {
        if self.max_frames == 0 {
            return;
        }
        self.bytes += body.bytes().len();
        self.frames.push_back((seq, body));
        while self.frames.len() > self.max_frames || (self.bytes > self.max_bytes && self.frames.len() > 1) {
            if let Some((_, dropped)) = self.frames.pop_front() {
                self.bytes -= dropped.bytes().len();
            }
        }
    }

    /// Whether a client that saw up to `last_seq` can be given everything after it,
    /// when `newest` is the last number given.
    pub(crate) fn covers(&self, last_seq: u64, newest: u64) -> bool {
        if last_seq > newest {
            return false;
        }
        last_seq == newest || self.frames.front().is_some_and(|(oldest, _)| *oldest <= last_seq + 1)
    }

    /// The frames after `last_seq`, in order.
    pub(crate) fn after(&self, last_seq: u64) -> impl Iterator<Item = (u64, Body)> + '_ {
        let skip = self.frames.partition_point(|(seq, _)| *seq <= last_seq);
        self.frames.range(skip..).cloned()
    }

    pub(crate) fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }

    /// The bytes of the frames kept.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body of `n` bytes.
    fn text(n: usize) -> Body {
        Body::for_test(&"x".repeat(n))
    }

    #[test]
    fn keeps_the_newest_within_both_bounds() {
        let mut replay = Replay::new(3, 10);
        for seq in 1..=5 {
            replay.push(seq, text(2));
        }
        assert_eq!(replay.len(), 3);
        assert!(replay.covers(2, 5) && !replay.covers(1, 5));
        replay.push(6, text(9));
        assert_eq!((replay.len(), replay.bytes()), (1, 9), "bytes bound drops all but the newest");
        replay.push(7, text(20));
        assert_eq!(replay.len(), 1, "a frame larger than the byte bound is still kept alone");
        assert!(replay.covers(6, 7) && replay.covers(7, 7) && !replay.covers(8, 7));
        assert_eq!(replay.after(6).count(), 1);
    }

    #[test]
    fn zero_frames_keeps_nothing_but_an_up_to_date_client_still_resumes() {
        let mut replay = Replay::new(0, 10);
        replay.push(1, text(1));
        assert_eq!(replay.len(), 0);
        assert!(replay.covers(1, 1) && !replay.covers(0, 1));
    }
}
