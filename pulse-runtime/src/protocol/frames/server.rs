//! The server's frames, defined once: the server encodes them (`encode.rs`), the Rust
//! client decodes them (`client/frames.rs`) and the TypeScript client's types are
//! generated from them (`pulse-client-gen`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::WireError;
use crate::id::{ChannelId, SessionId};
use crate::protocol::ErrorCode;

/// Limits the server announces in its `hello` (`limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AnnouncedLimits {
    /// Largest inbound message the server accepts, in bytes (`Config::max_frame_bytes`).
    pub max_frame_bytes: usize,
    /// Channels one session may have open at once (`Config::max_channels_per_session`).
    pub max_channels: usize,
    /// Client requests one session may have pending at once (`Config::max_pending_requests`).
    pub max_pending_requests: usize,
}

/// The server's `hello`, the first frame of every connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Hello {
    /// Protocol version the server speaks.
    pub v: u32,
    /// The session's id.
    #[ts(type = "string")]
    pub session: SessionId,
    /// Interval of the server's `ping` frames.
    pub heartbeat_ms: u64,
    /// The server closes a session silent for this long.
    pub idle_timeout_ms: u64,
    /// The server's limits.
    pub limits: AnnouncedLimits,
    /// This connection resumed the session the client had; the frames it missed follow.
    #[serde(default)]
    pub resumed: bool,
    /// The WebSocket URLs of the cluster's nodes (the server's `Config::nodes`): where
    /// to fail over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub nodes: Vec<String>,
}

/// A frame the server sends, without the sequence number its session's writer puts in
/// front of every frame but `hello`, `ping` and `nodes` (see [`UNSEQUENCED`]).
///
/// `P` holds the frame's open JSON values (a payload, an answer, a tree, a presence
/// list) and `R` a room key: borrowed when the server encodes (any `Serialize`, raw
/// JSON), [`serde_json::Value`] when the Rust client decodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "t", rename_all = "snake_case")]
#[ts(concrete(P = serde_json::Value, R = serde_json::Value), bound = "")]
#[non_exhaustive]
pub enum ServerFrame<'a, P = serde_json::Value, R = serde_json::Value> {
    /// The first frame of every connection.
    Hello(Hello),
    /// The heartbeat; the client answers with `pong`.
    Ping,
    /// The cluster's nodes changed: where the client may fail over.
    Nodes {
        /// Their WebSocket URLs.
        nodes: Cow<'a, [String]>,
    },
    /// The server opened a channel for this session.
    Open {
        /// The channel's id.
        #[ts(type = "ChannelId")]
        channel: ChannelId,
        /// The channel's name.
        name: Cow<'a, str>,
        /// Its room key, for a channel with rooms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "unknown")]
        room: Option<R>,
    },
    /// An event on one of this session's channels.
    Emit {
        /// The channel.
        #[ts(type = "string")]
        channel: ChannelId,
        /// The event's name.
        event: Cow<'a, str>,
        /// Its payload.
        #[ts(type = "unknown")]
        payload: P,
    },
    /// An event broadcast to every channel named `name` (in room `room`).
    Broadcast {
        /// The channel name.
        name: Cow<'a, str>,
        /// The room key, for a channel with rooms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "unknown")]
        room: Option<R>,
        /// For a channel that keeps history: the history's epoch (the room's history
        /// puts it in when it keeps the broadcast).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        epoch: Option<Cow<'a, str>>,
        /// For a channel that keeps history: the broadcast's place in it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        offset: Option<u64>,
        /// The event's name.
        event: Cow<'a, str>,
        /// Its payload.
        #[ts(type = "unknown")]
        payload: P,
    },
    /// Comes before a joining channel's replay of its room's history: the client stands
    /// at `epoch`/`offset` before the broadcasts that follow, which run to `top`;
    /// `recovered` says they are exactly what came after the position it sent in `since`.
    History {
        /// The channel name.
        name: Cow<'a, str>,
        /// The room key, for a channel with rooms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "unknown")]
        room: Option<R>,
        /// The history's epoch.
        epoch: Cow<'a, str>,
        /// The offset before the replayed broadcasts.
        offset: u64,
        /// The offset of the last replayed broadcast (`offset` if none is replayed).
        top: u64,
        /// Whether they are exactly what came after the client's `since`.
        recovered: bool,
        /// The most broadcasts the room keeps (`History::last(n)`): the client holds at
        /// least as many events.
        #[serde(default)]
        keep: usize,
    },
    /// A room's presence list (`state: true`: the whole list, in `joins`) or a change to
    /// it (who left, then who joined; an update is both), grouped by user key.
    Presence {
        /// The channel name.
        name: Cow<'a, str>,
        /// The room key, for a channel with rooms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "unknown")]
        room: Option<R>,
        /// Whether `joins` is the whole list.
        state: bool,
        /// Who joined (or is there, with `state`).
        #[ts(type = "PresenceEntries")]
        joins: P,
        /// Who left.
        #[ts(type = "PresenceEntries")]
        leaves: P,
    },
    /// The server asks for an answer.
    Request {
        /// The channel.
        #[ts(type = "string")]
        channel: ChannelId,
        /// The request's id, to echo in the answer.
        id: u64,
        /// The event's name.
        event: Cow<'a, str>,
        /// Its payload.
        #[ts(type = "unknown")]
        payload: P,
    },
    /// The answer to a client's request: `ok`, or `error`.
    Answer {
        /// The channel, as the request named it.
        channel: Cow<'a, str>,
        /// The request's id.
        id: u64,
        /// The value answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "unknown")]
        ok: Option<P>,
        /// Why the request failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        error: Option<Cow<'a, WireError>>,
    },
    /// The server refused a frame that had no request to answer.
    Error {
        /// What went wrong, machine-readable.
        code: ErrorCode,
        /// What went wrong, for a person.
        message: Cow<'a, str>,
        /// The channel the refused frame named, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        channel: Option<Cow<'a, str>>,
        /// The event the refused frame named, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        event: Option<Cow<'a, str>>,
    },
    /// The server closed one channel.
    Close {
        /// The channel.
        #[ts(type = "string")]
        channel: ChannelId,
        /// Who or what closed it (`"server"`, `"client"`).
        reason: Cow<'a, str>,
    },
    /// The whole rendered tree of server components (the session's first render).
    Tree {
        /// The root list of nodes.
        #[ts(type = "VNode[]")]
        tree: P,
    },
    /// The changes of one render pass, in order.
    Patch {
        /// The operations.
        #[ts(type = "Op[]")]
        ops: P,
    },
    /// A component's render failed (it keeps its last output).
    RenderError {
        /// The component's name.
        component: Cow<'a, str>,
        /// What went wrong.
        message: Cow<'a, str>,
    },
    /// The page the tab shows, at the first render and after each navigation: its
    /// title, and its own address when the tab's is an old one (a redirect).
    Page {
        /// The page's title (the tab's title becomes it); absent: the page has none, and
        /// the tab shows the app's own (`index.html`'s).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        title: Option<Cow<'a, str>>,
        /// The page's own address, to replace the tab's (`history.replaceState`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        address: Option<Cow<'a, str>>,
    },
}

/// The frame types outside the session stream: they carry no sequence number, are not
/// replayed on resume, and may come between any two sequenced frames.
pub const UNSEQUENCED: [&str; 3] = ["hello", "ping", "nodes"];

impl<P, R> ServerFrame<'_, P, R> {
    /// The frame's `t`.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerFrame::Hello(_) => "hello",
            ServerFrame::Ping => "ping",
            ServerFrame::Nodes { .. } => "nodes",
            ServerFrame::Open { .. } => "open",
            ServerFrame::Emit { .. } => "emit",
            ServerFrame::Broadcast { .. } => "broadcast",
            ServerFrame::History { .. } => "history",
            ServerFrame::Presence { .. } => "presence",
            ServerFrame::Request { .. } => "request",
            ServerFrame::Answer { .. } => "answer",
            ServerFrame::Error { .. } => "error",
            ServerFrame::Close { .. } => "close",
            ServerFrame::Tree { .. } => "tree",
            ServerFrame::Patch { .. } => "patch",
            ServerFrame::RenderError { .. } => "render_error",
            ServerFrame::Page { .. } => "page",
        }
    }
}
