//! The wire protocol: JSON text frames over one WebSocket per session.
//!
//! `docs/protocol.md` is the reference; this module is its implementation. Frame types
//! live in the `t` field, never in the event name, so no user event can be mistaken for
//! a control frame; the names in [`is_reserved_name`] are kept back for future use.

mod codes;
mod first_paint;
pub(crate) mod frames;
mod params;
mod query;
mod since;
mod topic;
mod ts_types;

pub use codes::{CloseCode, ErrorCode};
pub use first_paint::{FIRST_PAINT_ID, FirstPaint, ROOT_ATTRIBUTE};
pub use frames::{AnnouncedLimits, ClientFrame, Hello, ServerFrame, UNSEQUENCED, WireError};
pub use params::{
    LAST_SEQ_PARAM, PAGE_PARAM, PROBE_ORIGIN_HEADER, PROBE_PARAM, RESUME_PARAM, SINCE_PARAM, VERSION_PARAM,
};
pub use query::{Query, split_address};
pub use since::{HistoryPosition, MAX_SINCE_POSITIONS};
pub use topic::Topic;
pub(crate) use ts_types::JsonObject;

/// The protocol version this crate speaks; clients ask for it with `/ws?v=1`
/// ([`VERSION_PARAM`]).
pub const PROTOCOL_VERSION: u32 = 1;

/// Deepest nesting of arrays and objects in a client frame, the frame's own object
/// counting as level 1 (so a payload may nest 63 levels). A deeper frame is refused with
/// `malformed_frame` before it is decoded, by a scan that stops at the first bracket past
/// the limit; ignored fields count too.
pub const MAX_JSON_DEPTH: usize = 64;

/// Longest room key, in bytes of its JSON encoding; a longer one is refused when the
/// channel opens ([`OpenError::InvalidRoom`](crate::OpenError::InvalidRoom)).
pub const MAX_ROOM_LEN: usize = 256;

/// The frame types (`t`) the server sends, in the order of docs/protocol.md.
pub const SERVER_FRAME_TYPES: [&str; 16] = [
    "hello",
    "ping",
    "nodes",
    "open",
    "emit",
    "broadcast",
    "history",
    "presence",
    "request",
    "answer",
    "error",
    "close",
    "tree",
    "patch",
    "render_error",
    "page",
];

/// The frame types (`t`) a client may send.
pub const CLIENT_FRAME_TYPES: [&str; 7] = ["emit", "request", "answer", "close", "callback", "navigate", "pong"];

/// Longest channel or event name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` may name a channel or an event: an ASCII letter or `_` first, then
/// letters, digits and `_`, at most [`MAX_NAME_LEN`] bytes, and not reserved.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_');
    first_ok
        && name.len() <= MAX_NAME_LEN
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !is_reserved_name(name)
}

/// Names kept back for the protocol: anything starting with `__` or `pulse_`.
pub fn is_reserved_name(name: &str) -> bool {
    name.starts_with("__") || name.starts_with("pulse_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["chat", "send_message", "a", "_x", "Chat2"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "1chat", "send-message", "a b", "__close__", "pulse_x", &"a".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
