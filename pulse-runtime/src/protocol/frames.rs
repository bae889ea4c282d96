//! Frame encoding and decoding, both directions.
//!
//! Server-to-client frames that belong to the session stream carry a sequence number.
//! The number is given by the session's writer, not by whoever produced the frame, so
//! a frame is encoded once as a [`Body`] (the JSON object without its opening brace) and
//! the writer prepends `{"seq":N,`. That is what lets a broadcast serialize its frame
//! once and share the bytes with every session.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ErrorCode;
use crate::id::{ChannelId, SessionId};

/// The error carried by a failed `answer` frame and by `error` frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// What went wrong, machine-readable.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
}

impl WireError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError { code, message: message.into() }
    }
}

/// A server-to-client frame encoded without its sequence number: the text of a JSON
/// object minus the leading `{`. Cheap to clone (shared). Kept as text, so that
/// splicing in the sequence number, once per delivery, needs no UTF-8 check.
#[derive(Debug, Clone)]
pub(crate) struct Body(Arc<str>);

impl Body {
    fn encode(frame: &impl Serialize) -> Result<Body, serde_json::Error> {
        let json = serde_json::to_string(frame)?;
        Ok(Body(Arc::from(json.get(1..).unwrap_or_default())))
    }

    /// The encoded bytes (a JSON object without its opening brace).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// A body received from another node; `None` unless it is UTF-8.
    pub(crate) fn from_bytes(bytes: Bytes) -> Option<Body> {
        std::str::from_utf8(&bytes).ok().map(|text| Body(Arc::from(text)))
    }

    /// The `event` and `payload` of a broadcast or emit frame.
    pub(crate) fn event_payload(&self) -> Option<(String, Box<RawValue>)> {
        #[derive(Deserialize)]
        struct Fields {
            event: String,
            #[serde(default)]
            payload: Option<Box<RawValue>>,
        }
        let mut json = String::with_capacity(self.0.len() + 1);
        json.push('{');
        json.push_str(&self.0);
        let fields: Fields = serde_json::from_str(&json).ok()?;
        Some((fields.event, fields.payload.unwrap_or_else(|| RawValue::NULL.to_owned())))
    }

    /// The complete frame text with `seq` spliced in front.
    pub(crate) fn with_seq(&self, seq: u64) -> String {
        let mut text = String::with_capacity(self.0.len() + 28);
        // Writing into a String cannot fail.
        let _ = write!(text, "{{\"seq\":{seq},");
        text.push_str(&self.0);
        text
    }
}

// ---------------------------------------------------------------------------------------
// Server to client: encoding (server side)
// ---------------------------------------------------------------------------------------

/// Limits the server announces in its `hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncedLimits {
    /// Largest inbound message the server accepts, in bytes.
    pub max_frame_bytes: usize,
    /// Channels one session may have open at once.
    pub max_channels: usize,
    /// Client requests one session may have pending at once.
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
}

/// The `hello` frame that starts every connection (no sequence number); `resumed` says
/// the session is the one the client had, and the frames it missed follow.
pub(crate) fn hello(
    session: &SessionId,
    heartbeat_ms: u64,
    idle_timeout_ms: u64,
    limits: AnnouncedLimits,
    resumed: bool,
) -> String {
    let frame =
        HelloOut { t: "hello", v: super::PROTOCOL_VERSION, session, heartbeat_ms, idle_timeout_ms, limits, resumed };
    serde_json::to_string(&frame).unwrap_or_default()
}

/// The heartbeat frame (no sequence number).
pub(crate) const PING: &str = r#"{"t":"ping"}"#;

#[derive(Serialize)]
struct OpenOut<'a> {
    t: &'static str,
    channel: ChannelId,
    name: &'a str,
}

pub(crate) fn open(channel: ChannelId, name: &str) -> Body {
    Body::encode(&OpenOut { t: "open", channel, name }).unwrap_or_else(|_| unreachable_encode())
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
struct BroadcastOut<'a, P: ?Sized> {
    t: &'static str,
    name: &'a str,
    event: &'a str,
    payload: &'a P,
}

pub(crate) fn broadcast<P: Serialize + ?Sized>(
    name: &str,
    event: &str,
    payload: &P,
) -> Result<Body, serde_json::Error> {
    Body::encode(&BroadcastOut { t: "broadcast", name, event, payload })
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
struct AnswerOut<'a> {
    t: &'static str,
    channel: &'a str,
    id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ok: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a WireError>,
}

/// An answer to a client request. `channel` is echoed as the client sent it.
pub(crate) fn answer(channel: &str, id: u64, result: Result<&RawValue, &WireError>) -> Body {
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
struct TreeOut<'a> {
    t: &'static str,
    tree: &'a [crate::component::VNode],
}

/// The whole rendered tree (first render of the session).
pub(crate) fn tree(tree: &[crate::component::VNode]) -> Body {
    Body::encode(&TreeOut { t: "tree", tree }).unwrap_or_else(|_| unreachable_encode())
}

#[derive(Serialize)]
struct PatchOut<'a> {
    t: &'static str,
    ops: &'a [crate::component::Op],
}

/// The changes of one render pass.
pub(crate) fn patch(ops: &[crate::component::Op]) -> Body {
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

/// Every field any client frame may carry; which ones are required depends on `t`.
/// Unknown fields are ignored, so a newer client can add some.
#[derive(Deserialize)]
struct ClientFrameFields<'a> {
    #[serde(borrow)]
    t: Cow<'a, str>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    ok: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<WireError>,
    #[serde(borrow, default)]
    callback: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "data")]
    event_data: Option<&'a RawValue>,
}

/// A decoded, well-formed client-to-server frame.
#[derive(Debug)]
pub(crate) enum ClientFrame<'a> {
    Emit { channel: Cow<'a, str>, event: Cow<'a, str>, payload: &'a RawValue },
    Request { channel: Cow<'a, str>, id: u64, event: Cow<'a, str>, payload: &'a RawValue },
    Answer { channel: Cow<'a, str>, id: u64, result: Result<&'a RawValue, WireError> },
    Close { channel: Cow<'a, str> },
    Callback { id: Cow<'a, str>, event: &'a RawValue },
    Pong,
}

/// A frame that could not be decoded. When the frame was a request whose channel and
/// id could still be read, `request` holds them so the error goes back as an answer and
/// the client's pending request fails at once instead of timing out.
#[derive(Debug)]
pub(crate) struct FrameError {
    pub error: WireError,
    pub request: Option<(String, u64)>,
}

impl FrameError {
    fn malformed(message: impl Into<String>) -> Self {
        FrameError { error: WireError::new(ErrorCode::MalformedFrame, message), request: None }
    }
}

pub(crate) fn decode_client_frame(text: &str) -> Result<ClientFrame<'_>, FrameError> {
    let fields: ClientFrameFields<'_> =
        serde_json::from_str(text).map_err(|e| FrameError::malformed(format!("not a valid frame: {e}")))?;
    let kind = fields.t.as_ref();
    let channel = |what: &str| {
        fields.channel.clone().ok_or_else(|| FrameError::malformed(format!("`{what}` frame needs a `channel` field")))
    };
    let payload = fields.payload.unwrap_or(RawValue::NULL);
    match kind {
        "emit" => Ok(ClientFrame::Emit {
            channel: channel("emit")?,
            event: fields.event.clone().ok_or_else(|| FrameError::malformed("`emit` frame needs an `event` field"))?,
            payload,
        }),
        "request" => {
            let channel = channel("request")?;
            let id = fields.id.ok_or_else(|| FrameError::malformed("`request` frame needs a numeric `id` field"))?;
            let event = fields.event.clone().ok_or_else(|| FrameError {
                error: WireError::new(ErrorCode::MalformedFrame, "`request` frame needs an `event` field"),
                request: Some((channel.to_string(), id)),
            })?;
            Ok(ClientFrame::Request { channel, id, event, payload })
        }
        "answer" => {
            let channel = channel("answer")?;
            let id = fields.id.ok_or_else(|| FrameError::malformed("`answer` frame needs a numeric `id` field"))?;
            let result = match fields.error {
                Some(error) => Err(error),
                None => Ok(fields.ok.unwrap_or(RawValue::NULL)),
            };
            Ok(ClientFrame::Answer { channel, id, result })
        }
        "close" => Ok(ClientFrame::Close { channel: channel("close")? }),
        "callback" => Ok(ClientFrame::Callback {
            id: fields
                .callback
                .clone()
                .ok_or_else(|| FrameError::malformed("`callback` frame needs a string `callback` field"))?,
            event: fields.event_data.unwrap_or(RawValue::NULL),
        }),
        "pong" => Ok(ClientFrame::Pong),
        other => Err(FrameError {
            error: WireError::new(
                ErrorCode::UnknownFrameType,
                format!(
                    "unknown frame type `{}`; expected emit, request, answer, close, callback or pong",
                    truncate(other)
                ),
            ),
            request: None,
        }),
    }
}

/// Echo at most 64 bytes of a client's string back in an error message.
pub(crate) fn truncate(s: &str) -> &str {
    truncate_to(s, 64)
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate_to(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
