//! Typed errors of the runtime.

use crate::protocol::{ErrorCode, WireError};

/// Why a request (or an emit) on a channel did not succeed. Each failure mode has its
/// own variant so callers can tell "try later" from "fix the code".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// No answer came within the request's timeout.
    #[error("request timed out")]
    Timeout,
    /// The channel was closed (by either side, or because its owner went away) before
    /// the operation could complete.
    #[error("channel closed")]
    Closed,
    /// The session's connection ended.
    #[error("session disconnected")]
    Disconnected,
    /// The other side's handler failed; the message is the one it gave.
    #[error("remote handler failed: {0}")]
    Remote(String),
    /// The other side refused the request: unknown channel or event, malformed payload,
    /// too many pending requests, forbidden.
    #[error("rejected ({}): {}", .0.code, .0.message)]
    Rejected(WireError),
    /// A payload or an answer could not be encoded or did not decode into the declared
    /// type.
    #[error("payload error: {0}")]
    Payload(String),
}

impl ChannelError {
    /// The error a failed `answer` frame stands for.
    pub fn from_wire(error: WireError) -> Self {
        match error.code {
            ErrorCode::HandlerFailed => ChannelError::Remote(error.message),
            ErrorCode::ChannelClosed => ChannelError::Closed,
            _ => ChannelError::Rejected(error),
        }
    }

    /// The machine-readable code of a rejection, if this is one.
    pub fn rejection_code(&self) -> Option<ErrorCode> {
        match self {
            ChannelError::Rejected(error) => Some(error.code),
            _ => None,
        }
    }
}

/// Why a channel could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The session already has the most channels it may have open.
    #[error("the session already has {limit} open channels, the most it may have")]
    TooManyChannels {
        /// The limit, [`Config::max_channels_per_session`](crate::Config::max_channels_per_session).
        limit: usize,
    },
    /// The session has ended.
    #[error("the session has ended")]
    SessionEnded,
    /// The authorization hook refused it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The name is not a valid channel name, or is reserved.
    #[error("invalid channel name `{0}`: use letters, digits and `_`, not starting with `__` or `pulse_`")]
    InvalidName(String),
    /// The room key does not encode to JSON, or its JSON is longer than
    /// [`MAX_ROOM_LEN`](crate::protocol::MAX_ROOM_LEN) bytes.
    #[error("invalid room key: {0}")]
    InvalidRoom(String),
}
