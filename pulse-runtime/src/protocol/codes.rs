//! Machine-readable error codes and WebSocket close codes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a frame, an event or a request was refused. Sent as a snake_case string in
/// `error` frames and in failed `answer` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// A code this version does not know (sent by a newer peer).
    #[serde(other)]
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
    /// 4500: the client asked for a protocol version this server does not speak.
    UnsupportedVersion,
    /// 4501: an inbound message was larger than the server's limit.
    FrameTooLarge,
    /// 4502: refused by an authentication or authorization hook.
    Forbidden,
}

impl CloseCode {
    /// The numeric WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            CloseCode::GoingAway => 4000,
            CloseCode::IdleTimeout => 4001,
            CloseCode::SlowConsumer => 4002,
            CloseCode::InternalError => 4003,
            CloseCode::RateLimited => 4004,
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
            4500 => CloseCode::UnsupportedVersion,
            4501 => CloseCode::FrameTooLarge,
            4502 => CloseCode::Forbidden,
            _ => return None,
        })
    }

    /// Whether a client should reconnect after this close (codes 4000–4499).
    pub fn should_reconnect(self) -> bool {
        self.code() < 4500
    }

    /// A short, stable name (`"slow_consumer"`), used as the close reason's prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseCode::GoingAway => "going_away",
            CloseCode::IdleTimeout => "idle_timeout",
            CloseCode::SlowConsumer => "slow_consumer",
            CloseCode::InternalError => "internal_error",
            CloseCode::RateLimited => "rate_limited",
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
        for code in [
            CloseCode::GoingAway,
            CloseCode::IdleTimeout,
            CloseCode::SlowConsumer,
            CloseCode::InternalError,
            CloseCode::RateLimited,
            CloseCode::UnsupportedVersion,
            CloseCode::FrameTooLarge,
            CloseCode::Forbidden,
        ] {
            assert_eq!(CloseCode::from_code(code.code()), Some(code));
            assert_eq!(code.should_reconnect(), (4000..4500).contains(&code.code()));
        }
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
