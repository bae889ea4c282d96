//! The client's side of the wire: the protocol's frames ([`protocol::ServerFrame`],
//! [`protocol::ClientFrame`]) decoded into this client's events, and encoded.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::ChannelId;
use crate::protocol::{self, WireError};

/// A server-to-client frame, decoded; or the end of the connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerFrame {
    /// The server opened a channel for this session.
    Open {
        /// Sequence number.
        seq: u64,
        /// The channel's id.
        channel: ChannelId,
        /// The channel's name.
        name: String,
        /// Its room key, for a channel with rooms.
        room: Option<Value>,
    },
    /// An event on one of this session's channels.
    Emit {
        /// Sequence number.
        seq: u64,
        /// The channel.
        channel: ChannelId,
        /// Event name.
        event: String,
        /// Payload.
        payload: Value,
    },
    /// An event broadcast to every channel named `name` (in room `room`).
    Broadcast {
        /// Sequence number.
        seq: u64,
        /// The channel name.
        name: String,
        /// The room key, for a channel with rooms.
        room: Option<Value>,
        /// Event name.
        event: String,
        /// Payload.
        payload: Value,
        /// For a channel that keeps history: the broadcast's epoch and offset.
        position: Option<(String, u64)>,
    },
    /// A replay of a room's history starts: the client stands at `epoch`/`offset`
    /// before the broadcasts that follow, which are exactly what it missed if
    /// `recovered`.
    History {
        /// Sequence number.
        seq: u64,
        /// The channel name.
        name: String,
        /// The room key, for a channel with rooms.
        room: Option<Value>,
        /// The history's epoch.
        epoch: String,
        /// The offset before the replayed broadcasts.
        offset: u64,
        /// The offset of the last replayed broadcast (`offset` if none is replayed).
        top: u64,
        /// Whether they are exactly what came after the client's `since`.
        recovered: bool,
    },
    /// A room's presence list (`state`) or a change to it, grouped by user key:
    /// `{"ann": [{"id": <session>, "meta": …}]}`.
    Presence {
        /// Sequence number.
        seq: u64,
        /// The channel name.
        name: String,
        /// The room key, for a channel with rooms.
        room: Option<Value>,
        /// Whether `joins` is the whole list.
        state: bool,
        /// Who joined (or is there, with `state`).
        joins: Value,
        /// Who left.
        leaves: Value,
    },
    /// The server asks for an answer; reply with [`Client::answer`](super::Client::answer).
    Request {
        /// Sequence number.
        seq: u64,
        /// The channel.
        channel: ChannelId,
        /// Request id, to echo in the answer.
        id: u64,
        /// Event name.
        event: String,
        /// Payload.
        payload: Value,
    },
    /// An answer no pending request was waiting for (already timed out).
    Answer {
        /// Sequence number.
        seq: u64,
        /// The channel, as the request named it.
        channel: String,
        /// The request id.
        id: u64,
        /// The answer.
        result: Result<Value, WireError>,
    },
    /// The server refused a frame that had no request to answer.
    Error {
        /// Sequence number.
        seq: u64,
        /// What went wrong.
        error: WireError,
        /// The channel the refused frame named, if any.
        channel: Option<String>,
        /// The event the refused frame named, if any.
        event: Option<String>,
    },
    /// The server closed one channel.
    Close {
        /// Sequence number.
        seq: u64,
        /// The channel.
        channel: ChannelId,
        /// Who or what closed it (`"server"`, `"client"`).
        reason: String,
    },
    /// The whole rendered tree of server components (first render).
    Tree {
        /// Sequence number.
        seq: u64,
        /// The root list of nodes.
        tree: Value,
    },
    /// Changes to the tree.
    Patch {
        /// Sequence number.
        seq: u64,
        /// The ops, in order.
        ops: Value,
    },
    /// A component's render failed.
    RenderError {
        /// Sequence number.
        seq: u64,
        /// The component's name.
        component: String,
        /// What went wrong.
        message: String,
    },
    /// The page the tab shows: its title, and its own address to replace an old one.
    Page {
        /// Sequence number.
        seq: u64,
        /// The page's title.
        title: Option<String>,
        /// The page's own address, when the tab's is an old one.
        address: Option<String>,
    },
    /// The connection ended. Always the last frame.
    Disconnected {
        /// The close code, if the server sent one.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
}

/// A frame as it arrives: its sequence number (none for `ping` and `nodes`) and the
/// frame, as the protocol defines it.
#[derive(Deserialize)]
struct Received {
    #[serde(default)]
    seq: u64,
    #[serde(flatten)]
    frame: protocol::ServerFrame<'static>,
}

/// A frame the client could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable server frame: {0}")]
pub struct DecodeError(String);

/// What a decoded text frame is.
pub(crate) enum Decoded {
    Ping,
    /// The cluster's nodes changed (a connection frame, like `ping`).
    Nodes,
    Frame(ServerFrame),
}

pub(crate) fn decode(text: &str) -> Result<Decoded, DecodeError> {
    use protocol::ServerFrame as Wire;
    let Received { seq, frame } = serde_json::from_str(text).map_err(|e| DecodeError(e.to_string()))?;
    let frame = match frame {
        Wire::Ping => return Ok(Decoded::Ping),
        Wire::Nodes { .. } => return Ok(Decoded::Nodes),
        Wire::Hello(_) => return Err(DecodeError("a second `hello`".to_owned())),
        Wire::Open { channel, name, room } => ServerFrame::Open { seq, channel, name: name.into_owned(), room },
        Wire::Emit { channel, event, payload } => {
            ServerFrame::Emit { seq, channel, event: event.into_owned(), payload }
        }
        Wire::Broadcast { name, room, epoch, offset, event, payload } => ServerFrame::Broadcast {
            seq,
            name: name.into_owned(),
            room,
            event: event.into_owned(),
            payload,
            position: epoch.map(Cow::into_owned).zip(offset),
        },
        Wire::History { name, room, epoch, offset, top, recovered, keep: _ } => ServerFrame::History {
            seq,
            name: name.into_owned(),
            room,
            epoch: epoch.into_owned(),
            offset,
            top,
            recovered,
        },
        Wire::Presence { name, room, state, joins, leaves } => {
            ServerFrame::Presence { seq, name: name.into_owned(), room, state, joins, leaves }
        }
        Wire::Request { channel, id, event, payload } => {
            ServerFrame::Request { seq, channel, id, event: event.into_owned(), payload }
        }
        Wire::Answer { channel, id, ok, error } => ServerFrame::Answer {
            seq,
            channel: channel.into_owned(),
            id,
            result: match error {
                Some(error) => Err(error.into_owned()),
                None => Ok(ok.unwrap_or_default()),
            },
        },
        Wire::Error { code, message, channel, event } => ServerFrame::Error {
            seq,
            error: WireError::new(code, message),
            channel: channel.map(Cow::into_owned),
            event: event.map(Cow::into_owned),
        },
        Wire::Close { channel, reason } => ServerFrame::Close { seq, channel, reason: reason.into_owned() },
        Wire::Tree { tree } => ServerFrame::Tree { seq, tree },
        Wire::Patch { ops } => ServerFrame::Patch { seq, ops },
        Wire::Page { title, address } => {
            ServerFrame::Page { seq, title: title.map(Cow::into_owned), address: address.map(Cow::into_owned) }
        }
        Wire::RenderError { component, message } => {
            ServerFrame::RenderError { seq, component: component.into_owned(), message: message.into_owned() }
        }
    };
    Ok(Decoded::Frame(frame))
}

/// A client frame's text.
pub(crate) fn encode<P: Serialize + ?Sized>(
    frame: &protocol::ClientFrame<'_, &P>,
) -> Result<String, serde_json::Error> {
    serde_json::to_string(frame)
}
