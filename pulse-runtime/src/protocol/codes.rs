//! Machine-readable error codes and WebSocket close codes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a frame, an event or a request was refused. Sent as a snake_case string in
/// `error` frames and in failed `answer` frames.
///
/// The TypeScript client's codes are generated from this enum, without `Unknown` (there,
/// a code the client does not know is any other string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The text is not JSON, or a field the frame type requires is missing or mistyped.
    MalformedFrame,
    /// The `t` field names no frame type of this protocol version.
    UnknownFrameType,
    /// A binary WebSocket message: the protocol speaks JSON text frames only.
    UnsupportedFrame,
    /// No open channel of this session has that id (never opened, closed, or another
    /// session's).
    UnknownChannel,
    /// The channel declares no event of that name in that direction.
    UnknownEvent,
    /// The payload does not have the type the event declares.
    MalformedPayload,
    /// The handler on the other side failed (returned an error or panicked).
    HandlerFailed,
    /// An answer names a request id that was never issued.
    UnknownRequest,
    /// A request reuses the id of a request still pending.
    DuplicateRequestId,
    /// The session has too many requests waiting for an answer.
    TooManyRequests,
    /// The channel was closed while the request was pending.
    ChannelClosed,
    /// Refused by an authorization hook.
    Forbidden,
    /// A `callback` frame names no callback of the current render (it may come from a
    /// render that was just replaced).
    UnknownCallback,
    /// A fallible request's handler answered with an error of the type the request
    /// declares; the error's `data` holds it.
    Failed,
    /// A code this version does not know (sent by a newer peer).
    #[serde(other)]
    #[ts(skip)]
    Unknown,
}

impl ErrorCode {
    /// The wire spelling, such as `"unknown_channel"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::UnknownFrameType => "unknown_frame_type",
            ErrorCode::UnsupportedFrame => "unsupported_frame",
            ErrorCode::UnknownChannel => "unknown_channel",
            ErrorCode::UnknownEvent => "unknown_event",
            ErrorCode::MalformedPayload => "malformed_payload",
            ErrorCode::HandlerFailed => "handler_failed",
            ErrorCode::UnknownRequest => "unknown_request",
            ErrorCode::DuplicateRequestId => "duplicate_request_id",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::ChannelClosed => "channel_closed",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::UnknownCallback => "unknown_callback",
            ErrorCode::Failed => "failed",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes the server uses. As in Centrifugo, the range tells the client
/// what to do: 4000–4499 means "reconnect (with backoff)", 4500–4999 means "do not
/// reconnect, the same connection would be refused again".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCode {
    /// 4000: the server is shutting down or restarting.
    GoingAway,
    /// 4001: nothing was received for longer than the idle timeout.
    IdleTimeout,
    /// 4002: the client did not drain its outbound queue in time.
    SlowConsumer,
    /// 4003: the server failed internally.
    InternalError,
    /// 4004: the client sent frames faster than the session's rate limit.
    RateLimited,
    /// 4005: a newer connection resumed this session; this (older) connection is
    /// closed. The client that resumed already has the session.
    Replaced,
    /// 4006: the server is at its cap on sessions; try again after a while (the
    /// client backs off, with jitter).
    Overloaded,
    /// 1002 (RFC 6455 "protocol error"): the client broke the WebSocket framing rules
    /// (an unmasked frame, reserved bits or opcodes, a control frame too long or
    /// fragmented, a continuation with no message begun, a malformed close frame).
    ProtocolError,
    /// 1007 (RFC 6455 "invalid frame payload data"): a text message was not UTF-8.
    InvalidData,
    /// 4500: the client asked for a protocol version this server does not speak.
    UnsupportedVersion,
    /// 4501: an inbound message was larger than the server's limit.
    FrameTooLarge,
    /// 4502: refused by an authentication or authorization hook.
    Forbidden,
}

impl CloseCode {
    /// Every close code the server uses (the TypeScript client's `CLOSE_CODES` table is
    /// generated from this list).
    pub const ALL: [CloseCode; 12] = [
        CloseCode::GoingAway,
        CloseCode::IdleTimeout,
        CloseCode::SlowConsumer,
        CloseCode::InternalError,
        CloseCode::RateLimited,
        CloseCode::Replaced,
        CloseCode::Overloaded,
        CloseCode::ProtocolError,
        CloseCode::InvalidData,
        CloseCode::UnsupportedVersion,
        CloseCode::FrameTooLarge,
        CloseCode::Forbidden,
    ];

    /// The codes after which a client reconnects (with backoff).
    pub const RECONNECT_CODES: std::ops::Range<u16> = 4000..4500;

    /// The codes after which a client must not reconnect: the same connection would be
    /// refused again. (`ProtocolError`'s 1002 and `InvalidData`'s 1007, outside both
    /// ranges, say the same.)
    pub const FINAL_CODES: std::ops::Range<u16> = 4500..5000;

    /// The numeric WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            CloseCode::GoingAway => 4000,
            CloseCode::IdleTimeout => 4001,
            CloseCode::SlowConsumer => 4002,
            CloseCode::InternalError => 4003,
            CloseCode::RateLimited => 4004,
            CloseCode::Replaced => 4005,
            CloseCode::Overloaded => 4006,
            CloseCode::ProtocolError => 1002,
            CloseCode::InvalidData => 1007,
            CloseCode::UnsupportedVersion => 4500,
            CloseCode::FrameTooLarge => 4501,
            CloseCode::Forbidden => 4502,
        }
    }

    /// The code for a number, if it is one of the server's.
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            4000 => CloseCode::GoingAway,
            4001 => CloseCode::IdleTimeout,
            4002 => CloseCode::SlowConsumer,
            4003 => CloseCode::InternalError,
            4004 => CloseCode::RateLimited,
            4005 => CloseCode::Replaced,
            4006 => CloseCode::Overloaded,
            1002 => CloseCode::ProtocolError,
            1007 => CloseCode::InvalidData,
            4500 => CloseCode::UnsupportedVersion,
            4501 => CloseCode::FrameTooLarge,
            4502 => CloseCode::Forbidden,
            _ => return None,
        })
    }

    /// Whether a client should reconnect after this close (codes 4000–4499).
    pub fn should_reconnect(self) -> bool {
        Self::RECONNECT_CODES.contains(&self.code())
    }

    /// A short, stable name (`"slow_consumer"`), used as the close reason's prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseCode::GoingAway => "going_away",
            CloseCode::IdleTimeout => "idle_timeout",
            CloseCode::SlowConsumer => "slow_consumer",
            CloseCode::InternalError => "internal_error",
            CloseCode::RateLimited => "rate_limited",
            CloseCode::Replaced => "replaced",
            CloseCode::Overloaded => "overloaded",
            CloseCode::ProtocolError => "protocol_error",
            CloseCode::InvalidData => "invalid_data",
            CloseCode::UnsupportedVersion => "unsupported_version",
            CloseCode::FrameTooLarge => "frame_too_large",
            CloseCode::Forbidden => "forbidden",
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_round_trip_and_split_by_range() {
        for code in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(code.code()), Some(code));
            assert_eq!(code.should_reconnect(), (4000..4500).contains(&code.code()));
            assert!(!(code.should_reconnect() && CloseCode::FINAL_CODES.contains(&code.code())));
        }
        // `ALL` lists every code `from_code` knows, each once.
        let known: Vec<CloseCode> = (0..=u16::MAX).filter_map(CloseCode::from_code).collect();
        assert_eq!(known.len(), CloseCode::ALL.len());
        assert!(known.iter().all(|code| CloseCode::ALL.contains(code)));
    }

    #[test]
    fn error_codes_use_their_wire_spelling() {
        let json = serde_json::to_string(&ErrorCode::UnknownChannel).unwrap();
        assert_eq!(json, "\"unknown_channel\"");
        let back: ErrorCode = serde_json::from_str("\"no_such_code_yet\"").unwrap();
        assert_eq!(back, ErrorCode::Unknown);
        assert_eq!(ErrorCode::HandlerFailed.as_str(), "handler_failed");
    }
}
