//! The server's frames encoded: each a [`ServerFrame`] serialized once into a [`Body`]
//! (or, for the frames outside the session stream, `hello`, `nodes` and `ping`, a
//! string).

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;

use super::{Body, Hello, ServerFrame, WireError, decimal};
use crate::id::ChannelId;
use crate::protocol::Topic;

/// A frame whose open values are `P` and whose room key is raw JSON, as the server
/// encodes it.
type Out<'a, P> = ServerFrame<'a, P, &'a RawValue>;

/// The `hello` frame that starts every connection (no sequence number).
pub(crate) fn hello(hello: Hello) -> String {
    serde_json::to_string(&Out::<()>::Hello(hello)).unwrap_or_default()
}

/// The cluster's nodes changed (no sequence number): where the client may fail over.
pub(crate) fn nodes(nodes: &[String]) -> String {
    serde_json::to_string(&Out::<()>::Nodes { nodes: Cow::Borrowed(nodes) }).unwrap_or_default()
}

/// The heartbeat frame (no sequence number).
pub(crate) const PING: &str = r#"{"t":"ping"}"#;

pub(crate) fn open(channel: ChannelId, topic: &Topic) -> Body {
    let frame = Out::<()>::Open { channel, name: topic.name().into(), room: topic.room() };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}

pub(crate) fn close(channel: ChannelId, reason: &str) -> Body {
    Body::encode(&Out::<()>::Close { channel, reason: reason.into() }).unwrap_or_else(|_| unreachable_encode())
}

pub(crate) fn emit<P: Serialize + ?Sized>(
    channel: ChannelId,
    event: &str,
    payload: &P,
) -> Result<Body, serde_json::Error> {
    Body::encode(&Out::Emit { channel, event: event.into(), payload })
}

/// The `history` frame that comes before a joining session's replay of a room's
/// history: the client stands at `epoch`/`offset` before the broadcasts that follow,
/// which run to `top`; `recovered` says they are exactly what came after the position
/// it asked for.
pub(crate) fn history(topic: &Topic, epoch: &str, offset: u64, top: u64, recovered: bool, keep: usize) -> Body {
    let frame = Out::<()>::History {
        name: topic.name().into(),
        room: topic.room(),
        epoch: epoch.into(),
        offset,
        top,
        recovered,
        keep,
    };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}

pub(crate) fn broadcast<P: Serialize + ?Sized>(
    topic: &Topic,
    event: &str,
    payload: &P,
) -> Result<Body, serde_json::Error> {
    Body::encode(&Out::Broadcast {
        name: topic.name().into(),
        room: topic.room(),
        epoch: None,
        offset: None,
        event: event.into(),
        payload,
    })
}

/// A `presence` frame: a room's whole list (`state`), or a change to it.
pub(crate) fn presence<P: Serialize>(topic: &Topic, state: bool, joins: P, leaves: P) -> Body {
    let frame = Out::Presence { name: topic.name().into(), room: topic.room(), state, joins, leaves };
    Body::encode_or_empty(&frame)
}

pub(crate) fn request<P: Serialize + ?Sized>(
    channel: ChannelId,
    id: u64,
    event: &str,
    payload: &P,
) -> Result<Body, serde_json::Error> {
    Body::encode(&Out::Request { channel, id, event: event.into(), payload })
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
        Err(_) => answer(channel.hex().as_str(), id, result),
    }
}

/// An answer to a client request. `channel` is echoed as the client sent it.
pub(crate) fn answer(channel: &str, id: u64, result: Result<&RawValue, &WireError>) -> Body {
    let (ok, error) = match result {
        Ok(value) => (Some(value), None),
        Err(error) => (None, Some(Cow::Borrowed(error))),
    };
    let frame = Out::Answer { channel: channel.into(), id, ok, error };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}

/// An error about a frame that has no request to answer (an emit, an answer, a close,
/// or a frame too broken to tell).
pub(crate) fn error(error: &WireError, channel: Option<&str>, event: Option<&str>) -> Body {
    let frame = Out::<()>::Error {
        code: error.code,
        message: error.message.as_str().into(),
        channel: channel.map(Cow::Borrowed),
        event: event.map(Cow::Borrowed),
    };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}

/// Frames made only of strings, numbers and ids cannot fail to serialize.
fn unreachable_encode() -> Body {
    unreachable!("a frame of plain strings and numbers always serializes")
}

/// The whole rendered tree (first render of the session): a list of vdom nodes.
pub(crate) fn tree<T: Serialize + ?Sized>(tree: &T) -> Body {
    Body::encode(&Out::Tree { tree }).unwrap_or_else(|_| unreachable_encode())
}

/// The changes of one render pass: a list of patch operations.
pub(crate) fn patch<T: Serialize + ?Sized>(ops: &T) -> Body {
    Body::encode(&Out::Patch { ops }).unwrap_or_else(|_| unreachable_encode())
}

/// The page the tab shows: its title, and its own address to replace an old one.
pub(crate) fn page(title: Option<&str>, address: Option<&str>) -> Body {
    let frame = Out::<()>::Page { title: title.map(Into::into), address: address.map(Into::into) };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}

/// A component's render failed (it keeps its last output).
pub(crate) fn render_error(component: &str, message: &str) -> Body {
    let frame = Out::<()>::RenderError { component: component.into(), message: message.into() };
    Body::encode(&frame).unwrap_or_else(|_| unreachable_encode())
}
