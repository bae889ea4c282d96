//! Where the client's WebSocket frames begin and end in the bytes read off its
//! connection, followed as the bytes pass to the frame parser, so that once the parser
//! has failed (a frame too large, bad UTF-8, a framing violation) the server can still
//! read and drop the rest of what the client sends until its close frame has arrived
//! whole: the close handshake completes, and the client reads the server's close code
//! instead of a reset. Only frame headers are read; payloads are skipped by length.

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask.
const MAX_HEADER: usize = 14;

/// The opcode of a close frame.
const CLOSE: u8 = 0x8;

/// The frame boundaries in a client's bytes, as far as they have been read.
#[derive(Debug, Default)]
pub(crate) struct FrameScan {
    header: [u8; MAX_HEADER],
    /// Bytes of the current frame's header read so far (0 between frames).
    have: u8,
    /// Payload bytes of the current frame still to come.
    skip: u64,
    /// Whether the current frame is a close frame.
    in_close: bool,
    /// Whether a close frame has arrived whole.
    closed: bool,
}

impl FrameScan {
    /// Follows `bytes`, the next read off the connection.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip).map_or(bytes.len(), |skip| skip.min(bytes.len()));
                bytes = &bytes[n..];
                self.skip -= n as u64;
                self.closed |= self.skip == 0 && self.in_close;
                continue;
            }
            self.header[usize::from(self.have)] = bytes[0];
            self.have += 1;
            bytes = &bytes[1..];
            let have = usize::from(self.have);
            if have < 2 || have < header_len(self.header[1]) {
                continue;
            }
            let (first, second) = (self.header[0], self.header[1]);
            let length = match second & 0x7f {
                126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                127 => u64::from_be_bytes(self.header[2..10].try_into().unwrap_or_default()),
                short => u64::from(short),
            };
            self.have = 0;
            self.skip = length;
            self.in_close = first & 0x0f == CLOSE;
            self.closed |= length == 0 && self.in_close;
        }
    }

    /// Whether a whole close frame has been read.
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }
}

/// The length of a frame header whose second byte is `second`.
fn header_len(second: u8) -> usize {
    let length = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + length + mask
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A client frame: `opcode`, masked, with `payload`.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n @ 0..=125 => bytes.push(0x80 | n as u8),
            n @ 126..=65_535 => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]));
        bytes
    }

    fn scan(bytes: &[u8], cuts: &[usize]) -> FrameScan {
        let mut scan = FrameScan::default();
        let mut at = 0;
        for &cut in cuts.iter().filter(|&&cut| cut <= bytes.len()) {
            if cut >= at {
                scan.feed(&bytes[at..cut]);
                at = cut;
            }
        }
        scan.feed(&bytes[at..]);
        scan
    }

    #[test]
    fn a_close_is_seen_only_once_it_is_whole() {
        let close = frame(true, CLOSE, &[0x03, 0xe8, b'o', b'k']);
        for end in 0..close.len() {
            assert!(!scan(&close[..end], &[]).closed(), "{end} bytes");
        }
        assert!(scan(&close, &[]).closed());
        assert!(scan(&frame(true, CLOSE, &[]), &[]).closed(), "an empty close");
    }

    #[test]
    fn close_bytes_inside_a_payload_are_payload() {
        let hidden = frame(true, CLOSE, b"bye");
        let text = frame(true, 0x1, &[hidden.clone(), vec![b'x'; 70_000]].concat());
        assert!(!scan(&text, &[3, 9, 100]).closed());
    }

    proptest! {
        /// Whatever frames come first (fragments, pings, long and short lengths), and
        /// however the socket cuts the bytes, the close after them is seen, and not
        /// before it is whole.
        #[test]
        fn the_close_after_any_frames_is_seen_however_the_bytes_are_cut(
            frames in proptest::collection::vec((any::<bool>(), 0u8..16, 0usize..70_000), 0..6),
            cuts in proptest::collection::vec(0usize..200_000, 0..12),
        ) {
            let mut bytes = Vec::new();
            for (fin, opcode, len) in frames {
                let opcode = if opcode == CLOSE { 0x2 } else { opcode };
                bytes.extend(frame(fin, opcode, &vec![0x88; len]));
            }
            let before = bytes.len();
            bytes.extend(frame(true, CLOSE, &[0x03, 0xe8]));
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert!(!scan(&bytes[..before], &cuts).closed());
            prop_assert!(!scan(&bytes[..bytes.len() - 1], &cuts).closed());
            prop_assert!(scan(&bytes, &cuts).closed());
        }
    }
}
