//! The client's side of the wire: encoding client frames, decoding server frames.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{ChannelId, SessionId};
use crate::protocol::WireError;
use crate::protocol::frames::AnnouncedLimits;

/// The server's `hello`, the first frame of every session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Hello {
    /// Protocol version the server speaks.
    pub v: u32,
    /// The session's id.
    pub session: SessionId,
    /// Interval of the server's `ping` frames.
    pub heartbeat_ms: u64,
    /// The server closes a session silent for this long.
    pub idle_timeout_ms: u64,
    /// The server's limits.
    pub limits: AnnouncedLimits,
    /// Whether this connection resumed a session the client had.
    #[serde(default)]
    pub resumed: bool,
    /// The WebSocket URLs of the cluster's nodes, to fail over to (`Config::nodes`).
    #[serde(default)]
    pub nodes: Vec<String>,
}

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
    /// The connection ended. Always the last frame.
    Disconnected {
        /// The close code, if the server sent one.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
}

#[derive(Deserialize)]
struct Fields {
    t: String,
    #[serde(default)]
    seq: u64,
    channel: Option<String>,
    name: Option<String>,
    room: Option<Value>,
    event: Option<String>,
    id: Option<u64>,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    ok: Value,
    error: Option<WireError>,
    code: Option<crate::protocol::ErrorCode>,
    message: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    tree: Value,
    #[serde(default)]
    ops: Value,
    component: Option<String>,
    epoch: Option<String>,
    offset: Option<u64>,
    top: Option<u64>,
    recovered: Option<bool>,
    state: Option<bool>,
    #[serde(default)]
    joins: Value,
    #[serde(default)]
    leaves: Value,
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
    let f: Fields = serde_json::from_str(text).map_err(|e| DecodeError(e.to_string()))?;
    let missing = |what: &str| DecodeError(format!("`{}` frame without `{what}`", f.t));
    let channel_id = |c: &Option<String>| -> Result<ChannelId, DecodeError> {
        c.as_deref()
            .ok_or_else(|| missing("channel"))?
            .parse()
            .map_err(|e: crate::id::InvalidId| DecodeError(e.to_string()))
    };
    let seq = f.seq;
    let frame = match f.t.as_str() {
        "ping" => return Ok(Decoded::Ping),
        "nodes" => return Ok(Decoded::Nodes),
        "open" => ServerFrame::Open {
            seq,
            channel: channel_id(&f.channel)?,
            name: f.name.clone().ok_or_else(|| missing("name"))?,
            room: f.room.clone(),
        },
        "emit" => ServerFrame::Emit {
            seq,
            channel: channel_id(&f.channel)?,
            event: f.event.clone().ok_or_else(|| missing("event"))?,
            payload: f.payload,
        },
        "broadcast" => ServerFrame::Broadcast {
            seq,
            name: f.name.clone().ok_or_else(|| missing("name"))?,
            room: f.room.clone(),
            event: f.event.clone().ok_or_else(|| missing("event"))?,
            payload: f.payload,
            position: f.epoch.clone().zip(f.offset),
        },
        "history" => ServerFrame::History {
            seq,
            name: f.name.clone().ok_or_else(|| missing("name"))?,
            room: f.room.clone(),
            epoch: f.epoch.clone().ok_or_else(|| missing("epoch"))?,
            offset: f.offset.ok_or_else(|| missing("offset"))?,
            top: f.top.ok_or_else(|| missing("top"))?,
            recovered: f.recovered.ok_or_else(|| missing("recovered"))?,
        },
        "presence" => ServerFrame::Presence {
            seq,
            name: f.name.clone().ok_or_else(|| missing("name"))?,
            room: f.room.clone(),
            state: f.state.ok_or_else(|| missing("state"))?,
            joins: f.joins,
            leaves: f.leaves,
        },
        "request" => ServerFrame::Request {
            seq,
            channel: channel_id(&f.channel)?,
            id: f.id.ok_or_else(|| missing("id"))?,
            event: f.event.clone().ok_or_else(|| missing("event"))?,
            payload: f.payload,
        },
        "answer" => ServerFrame::Answer {
            seq,
            channel: f.channel.clone().ok_or_else(|| missing("channel"))?,
            id: f.id.ok_or_else(|| missing("id"))?,
            result: match f.error {
                Some(error) => Err(error),
                None => Ok(f.ok),
            },
        },
        "error" => ServerFrame::Error {
            seq,
            error: WireError::new(f.code.ok_or_else(|| missing("code"))?, f.message.unwrap_or_default()),
            channel: f.channel,
            event: f.event,
        },
        "close" => ServerFrame::Close { seq, channel: channel_id(&f.channel)?, reason: f.reason.unwrap_or_default() },
        "tree" => ServerFrame::Tree { seq, tree: f.tree },
        "patch" => ServerFrame::Patch { seq, ops: f.ops },
        "render_error" => ServerFrame::RenderError {
            seq,
            component: f.component.unwrap_or_default(),
            message: f.message.unwrap_or_default(),
        },
        other => return Err(DecodeError(format!("unknown frame type `{other}`"))),
    };
    Ok(Decoded::Frame(frame))
}

#[derive(Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum ClientFrameOut<'a, P: Serialize + ?Sized> {
    Emit {
        channel: ChannelId,
        event: &'a str,
        payload: &'a P,
    },
    Request {
        channel: ChannelId,
        id: u64,
        event: &'a str,
        payload: &'a P,
    },
    Answer {
        channel: ChannelId,
        id: u64,
        ok: &'a P,
    },
    /// A failed answer is an `answer` frame too, with `error` instead of `ok`.
    #[serde(rename = "answer")]
    AnswerError {
        channel: ChannelId,
        id: u64,
        error: &'a WireError,
    },
    Close {
        channel: ChannelId,
    },
    Callback {
        callback: &'a str,
        data: &'a P,
    },
}

impl<P: Serialize + ?Sized> ClientFrameOut<'_, P> {
    pub(crate) fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}
