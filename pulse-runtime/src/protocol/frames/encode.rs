//! The server's frames: each a small struct serialized once into a [`Body`] (or, for
//! the frames outside the session stream, `hello`, `nodes` and `ping`, a string).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Body, WireError, decimal};
use crate::id::{ChannelId, SessionId};
use crate::protocol::{ErrorCode, PROTOCOL_VERSION, Topic};

/// Limits the server announces in its `hello` (`limits`). The TypeScript client's type
/// of the same name is generated from this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AnnouncedLimits {
    /// Largest inbound message the server accepts, in bytes (`Config::max_frame_bytes`).
    pub max_frame_bytes: usize,
    /// Channels one session may have open at once (`Config::max_channels_per_session`).
    pub max_channels: usize,
    /// Client requests one session may have pending at once (`Config::max_pending_requests`).
    pub max_pending_requests: usize,
}

#[derive(Serialize)]
struct HelloOut<'a> {
    t: &'static str,
    v: u32,
    session: &'a SessionId,
    heartbeat_ms: u64,
    idle_timeout_ms: u64,
    limits: AnnouncedLimits,
    resumed: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    nodes: &'a [String],
}

/// The `hello` frame that starts every connection (no sequence number); `resumed` says
/// the session is the one the client had, and the frames it missed follow.
pub(crate) fn hello(
    session: &SessionId,
    heartbeat_ms: u64,
    idle_timeout_ms: u64,
    limits: AnnouncedLimits,
    resumed: bool,
    nodes: &[String],
) -> String {
    let frame =
        HelloOut { t: "hello", v: PROTOCOL_VERSION, session, heartbeat_ms, idle_timeout_ms, limits, resumed, nodes };
    serde_json::to_string(&frame).unwrap_or_default()
}

#[derive(Serialize)]
struct NodesOut<'a> {
    t: &'static str,
    nodes: &'a [String],
}

/// The cluster's nodes changed (no sequence number): where the client may fail over.
pub(crate) fn nodes(nodes: &[String]) -> String {
    serde_json::to_string(&NodesOut { t: "nodes", nodes }).unwrap_or_default()
}

/// The heartbeat frame (no sequence number).
pub(crate) const PING: &str = r#"{"t":"ping"}"#;

#[derive(Serialize)]
struct OpenOut<'a> {
    t: &'static str,
    channel: ChannelId,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a RawValue>,
}

pub(crate) fn open(channel: ChannelId, topic: &Topic) -> Body {
    let frame = OpenOut { t: "open", channel, name: topic.name(), room: topic.room() };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}

#[derive(Serialize)]
struct CloseOut<'a> {
    t: &'static str,
    channel: ChannelId,
    reason: &'a str,
}

pub(crate) fn close(channel: ChannelId, reason: &str) -> Body {
    Body::encode(&CloseOut { t: "close", channel, reason }).unwrap_or_else(|_| unreachable_encode())
}

#[derive(Serialize)]
struct EmitOut<'a, P: ?Sized> {
    t: &'static str,
    channel: ChannelId,
    event: &'a str,
    payload: &'a P,
}

pub(crate) fn emit<P: Serialize + ?Sized>(
    channel: ChannelId,
    event: &str,
    payload: &P,
) -> Result<Body, serde_json::Error> {
    Body::encode(&EmitOut { t: "emit", channel, event, payload })
}

#[derive(Serialize)]
struct HistoryOut<'a> {
    t: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a RawValue>,
    epoch: &'a str,
    offset: u64,
    top: u64,
    recovered: bool,
    keep: usize,
}

/// The `history` frame that comes before a joining session's replay of a room's
/// history: the client stands at `epoch`/`offset` before the broadcasts that follow,
/// which run to `top`; `recovered` says they are exactly what came after the position
/// it asked for.
pub(crate) fn history(topic: &Topic, epoch: &str, offset: u64, top: u64, recovered: bool, keep: usize) -> Body {
    let frame =
        HistoryOut { t: "history", name: topic.name(), room: topic.room(), epoch, offset, top, recovered, keep };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}

#[derive(Serialize)]
struct BroadcastOut<'a, P: ?Sized> {
    t: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a RawValue>,
    event: &'a str,
    payload: &'a P,
}

pub(crate) fn broadcast<P: Serialize + ?Sized>(
    topic: &Topic,
    event: &str,
    payload: &P,
) -> Result<Body, serde_json::Error> {
    Body::encode(&BroadcastOut { t: "broadcast", name: topic.name(), room: topic.room(), event, payload })
}

#[derive(Serialize)]
struct RequestOut<'a, P: ?Sized> {
    t: &'static str,
    channel: ChannelId,
    id: u64,
    event: &'a str,
    payload: &'a P,
}

pub(crate) fn request<P: Serialize + ?Sized>(
    channel: ChannelId,
    id: u64,
    event: &str,
    payload: &P,
) -> Result<Body, serde_json::Error> {
    Body::encode(&RequestOut { t: "request", channel, id, event, payload })
}

#[derive(Serialize)]
struct AnswerOut<'a, C: Serialize> {
    t: &'static str,
    channel: C,
    id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ok: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a WireError>,
}

/// An answer to a client request. `channel` is echoed as the client sent it.
pub(crate) fn answer(channel: &str, id: u64, result: Result<&RawValue, &WireError>) -> Body {
    answer_with(channel, id, result)
}

/// An answer to a request on open channel `channel` (its id, as the client sent it).
pub(crate) fn answer_on(channel: ChannelId, id: u64, result: Result<&RawValue, &WireError>) -> Body {
    match result {
        // The common case, written directly (a request's answer is on the request's
        // path): the same bytes as the encoder's, in the same order.
        Ok(value) => {
            let mut digits = [0; 20];
            let id_text = decimal(id, &mut digits);
            let channel = channel.hex();
            let parts =
                [r#""t":"answer","channel":""#, channel.as_str(), r#"","id":"#, id_text, r#","ok":"#, value.get(), "}"];
            Body(Arc::from(parts.concat()))
        }
        Err(_) => answer_with(channel, id, result),
    }
}

pub(super) fn answer_with<C: Serialize>(channel: C, id: u64, result: Result<&RawValue, &WireError>) -> Body {
    let (ok, error) = match result {
        Ok(value) => (Some(value), None),
        Err(error) => (None, Some(error)),
    };
    Body::encode(&AnswerOut { t: "answer", channel, id, ok, error }).unwrap_or_else(|_| unreachable_encode())
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    t: &'static str,
    code: ErrorCode,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
}

/// An error about a frame that has no request to answer (an emit, an answer, a close,
/// or a frame too broken to tell).
pub(crate) fn error(error: &WireError, channel: Option<&str>, event: Option<&str>) -> Body {
    let frame = ErrorOut { t: "error", code: error.code, message: &error.message, channel, event };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}

/// Frames made only of strings, numbers and ids cannot fail to serialize.
fn unreachable_encode() -> Body {
    unreachable!("a frame of plain strings and numbers always serializes")
}

#[derive(Serialize)]
struct TreeOut<'a, T: ?Sized> {
    t: &'static str,
    tree: &'a T,
}

/// The whole rendered tree (first render of the session): a list of vdom nodes.
pub(crate) fn tree<T: Serialize + ?Sized>(tree: &T) -> Body {
    Body::encode(&TreeOut { t: "tree", tree }).unwrap_or_else(|_| unreachable_encode())
}

#[derive(Serialize)]
struct PatchOut<'a, T: ?Sized> {
    t: &'static str,
    ops: &'a T,
}

/// The changes of one render pass: a list of patch operations.
pub(crate) fn patch<T: Serialize + ?Sized>(ops: &T) -> Body {
    Body::encode(&PatchOut { t: "patch", ops }).unwrap_or_else(|_| unreachable_encode())
}

#[derive(Serialize)]
struct RenderErrorOut<'a> {
    t: &'static str,
    component: &'a str,
    message: &'a str,
}

/// A component's render failed (it keeps its last output).
pub(crate) fn render_error(component: &str, message: &str) -> Body {
    Body::encode(&RenderErrorOut { t: "render_error", component, message }).unwrap_or_else(|_| unreachable_encode())
}

// ---------------------------------------------------------------------------------------
// Client to server: decoding (server side)
// ---------------------------------------------------------------------------------------
