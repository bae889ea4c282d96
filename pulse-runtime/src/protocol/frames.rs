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

use super::{ErrorCode, MAX_JSON_DEPTH, Topic};
use crate::id::{ChannelId, SessionId};

/// The error carried by a failed `answer` frame and by `error` frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// What went wrong, machine-readable.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The error value a fallible request's handler returned (code `failed`), as its
    /// declared error type encodes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl WireError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError { code, message: message.into(), data: None }
    }

    /// The `failed` answer of a fallible request: its handler's error value.
    pub fn failed(data: serde_json::Value) -> Self {
        WireError {
            code: ErrorCode::Failed,
            message: "the handler answered with an error".to_owned(),
            data: Some(data),
        }
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

    /// `frame` encoded; an empty object if it cannot be (never, for frames made of
    /// strings, numbers and JSON already checked).
    pub(crate) fn encode_or_empty(frame: &impl Serialize) -> Body {
        Body::encode(frame).unwrap_or_else(|_| Body(Arc::from("}")))
    }

    /// The encoded bytes (a JSON object without its opening brace).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The encoded text (a JSON object without its opening brace).
    pub(crate) fn text(&self) -> &str {
        &self.0
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

    /// A body of exactly this text (tests of what keeps bodies).
    #[cfg(test)]
    pub(crate) fn for_test(text: &str) -> Body {
        Body(Arc::from(text))
    }

    /// A broadcast body with its place in its room's history (`epoch`, `offset`) spliced
    /// in after its type.
    pub(crate) fn with_position(&self, epoch: &str, offset: u64) -> Body {
        const TYPE: &str = "\"t\":\"broadcast\",";
        let rest = self.0.strip_prefix(TYPE).unwrap_or(&self.0);
        let mut text = String::with_capacity(self.0.len() + epoch.len() + 40);
        text.push_str(TYPE);
        // Writing into a String cannot fail; an epoch is made of hex digits, or came
        // from JSON-safe text checked by whoever read it.
        let _ = write!(text, "\"epoch\":{},\"offset\":{offset},", serde_json::Value::from(epoch));
        text.push_str(rest);
        Body(Arc::from(text))
    }

    /// The complete frame text with `seq` spliced in front, as the connection's writer
    /// encodes it (tests of what reaches clients).
    #[cfg(test)]
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
    let frame = HelloOut {
        t: "hello",
        v: super::PROTOCOL_VERSION,
        session,
        heartbeat_ms,
        idle_timeout_ms,
        limits,
        resumed,
        nodes,
    };
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

/// `n` in decimal, written into `out`'s end.
pub(crate) fn decimal(mut n: u64, out: &mut [u8; 20]) -> &str {
    let mut at = out.len();
    loop {
        at -= 1;
        out[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written there.
    std::str::from_utf8(&out[at..]).unwrap_or_default()
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

fn answer_with<C: Serialize>(channel: C, id: u64, result: Result<&RawValue, &WireError>) -> Body {
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

/// Every field any client frame may carry; which ones are required depends on `t`.
/// Unknown fields are ignored, so a newer client can add some.
///
/// Only `t` and `id` can fail the decoding as a whole: every other field is taken as it
/// comes (a [`Text`] or a raw value) and checked once the frame type is known, so that a
/// `request` whose `id` can be read is answered however broken its other fields are.
#[derive(Deserialize)]
struct ClientFrameFields<'a> {
    #[serde(borrow)]
    t: Cow<'a, str>,
    #[serde(borrow, default)]
    channel: Option<Text<'a>>,
    #[serde(borrow, default)]
    event: Option<Text<'a>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    ok: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    callback: Option<Text<'a>>,
    #[serde(borrow, default, rename = "data")]
    event_data: Option<&'a RawValue>,
}

/// A field that should be a string: the string (borrowed from the frame text unless it
/// has escapes), or `Mistyped` for any other JSON value (`null` is a missing field).
enum Text<'a> {
    Str(Cow<'a, str>),
    Mistyped,
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<&'a str>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
        Ok(Text::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
        Ok(Text::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
        Ok(Text::Str(Cow::Owned(v)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Text<'a>, E> {
        Ok(Text::Mistyped)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Text<'a>, E> {
        Ok(Text::Mistyped)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Text<'a>, E> {
        Ok(Text::Mistyped)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Text<'a>, E> {
        Ok(Text::Mistyped)
    }

    fn visit_unit<E>(self) -> Result<Text<'a>, E> {
        Ok(Text::Mistyped)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'a>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Text::Mistyped)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Text<'a>, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(Text::Mistyped)
    }
}

/// The string field `name` of a `kind` frame, or why it is refused.
fn string_field<'a>(field: Option<Text<'a>>, kind: &str, name: &str) -> Result<Cow<'a, str>, String> {
    let a = |word: &str| if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    match field {
        Some(Text::Str(text)) => Ok(text),
        Some(Text::Mistyped) => Err(format!("the `{name}` field of {} `{kind}` frame must be a string", a(kind))),
        None => Err(format!("`{kind}` frame needs {} `{name}` field", a(name))),
    }
}

/// A decoded, well-formed client-to-server frame.
#[derive(Debug)]
pub(crate) enum ClientFrame<'a> {
    Emit {
        channel: Cow<'a, str>,
        event: Cow<'a, str>,
        payload: &'a RawValue,
    },
    Request {
        channel: Cow<'a, str>,
        id: u64,
        event: Cow<'a, str>,
        payload: &'a RawValue,
    },
    Answer {
        channel: Cow<'a, str>,
        id: u64,
        result: Result<&'a RawValue, WireError>,
    },
    /// An answer whose channel and id can be read but whose `error` is malformed: the
    /// request it answers fails with `error` (so the server's caller does not wait for
    /// its timeout), and the client is told.
    MalformedAnswer {
        channel: Cow<'a, str>,
        id: u64,
        error: WireError,
    },
    Close {
        channel: Cow<'a, str>,
    },
    Callback {
        id: Cow<'a, str>,
        event: &'a RawValue,
    },
    Pong,
}

impl ClientFrame<'_> {
    /// The frame's `t`, as listed in [`CLIENT_FRAME_TYPES`](super::CLIENT_FRAME_TYPES).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Emit { .. } => "emit",
            ClientFrame::Request { .. } => "request",
            ClientFrame::Answer { .. } | ClientFrame::MalformedAnswer { .. } => "answer",
            ClientFrame::Close { .. } => "close",
            ClientFrame::Callback { .. } => "callback",
            ClientFrame::Pong => "pong",
        }
    }
}

/// A frame that could not be decoded. When the frame was a request whose id could still
/// be read, `request` holds the channel to echo (the client's string, or `""` when its
/// `channel` was missing or not a string) and the id, so the error goes back as an answer
/// and the client's pending request fails at once instead of timing out.
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

/// Decodes one client text frame. Nesting deeper than [`MAX_JSON_DEPTH`] is refused
/// first, by a scan that stops at the first bracket past the limit (such a frame gets a
/// bare `error`, even if it is a request: its `id` is not read).
pub(crate) fn decode_client_frame(text: &str) -> Result<ClientFrame<'_>, FrameError> {
    if let Some(at) = depth_exceeded_at(text.as_bytes(), MAX_JSON_DEPTH) {
        return Err(FrameError::malformed(format!(
            "JSON nested deeper than {MAX_JSON_DEPTH} levels, the protocol's depth limit (at byte {at})"
        )));
    }
    let fields: ClientFrameFields<'_> =
        serde_json::from_str(text).map_err(|e| FrameError::malformed(format!("not a valid frame: {e}")))?;
    let payload = fields.payload.unwrap_or(RawValue::NULL);
    match fields.t.as_ref() {
        "emit" => Ok(ClientFrame::Emit {
            channel: string_field(fields.channel, "emit", "channel").map_err(FrameError::malformed)?,
            event: string_field(fields.event, "emit", "event").map_err(FrameError::malformed)?,
            payload,
        }),
        "request" => {
            let id = fields.id.ok_or_else(|| FrameError::malformed("`request` frame needs a numeric `id` field"))?;
            // From here on the id is known: every refusal is a failed answer to it.
            let answer_with = |channel: &str, message: String| FrameError {
                error: WireError::new(ErrorCode::MalformedFrame, message),
                request: Some((channel.to_owned(), id)),
            };
            let channel = string_field(fields.channel, "request", "channel").map_err(|m| answer_with("", m))?;
            let event = string_field(fields.event, "request", "event").map_err(|m| answer_with(&channel, m))?;
            Ok(ClientFrame::Request { channel, id, event, payload })
        }
        "answer" => {
            let channel = string_field(fields.channel, "answer", "channel").map_err(FrameError::malformed)?;
            let id = fields.id.ok_or_else(|| FrameError::malformed("`answer` frame needs a numeric `id` field"))?;
            let result = match fields.error {
                Some(error) => match serde_json::from_str::<WireError>(error.get()) {
                    Ok(error) => Err(error),
                    Err(e) => {
                        let message = format!("the `error` field of an `answer` frame must be {{code, message}}: {e}");
                        let error = WireError::new(ErrorCode::MalformedFrame, message);
                        return Ok(ClientFrame::MalformedAnswer { channel, id, error });
                    }
                },
                None => Ok(fields.ok.unwrap_or(RawValue::NULL)),
            };
            Ok(ClientFrame::Answer { channel, id, result })
        }
        "close" => Ok(ClientFrame::Close {
            channel: string_field(fields.channel, "close", "channel").map_err(FrameError::malformed)?,
        }),
        "callback" => Ok(ClientFrame::Callback {
            id: string_field(fields.callback, "callback", "callback").map_err(FrameError::malformed)?,
            event: fields.event_data.unwrap_or(RawValue::NULL),
        }),
        "pong" => Ok(ClientFrame::Pong),
        other => Err(FrameError {
            error: WireError::new(
                ErrorCode::UnknownFrameType,
                format!(
                    "unknown frame type `{}`; expected one of {}",
                    truncate(other),
                    super::CLIENT_FRAME_TYPES.join(", ")
                ),
            ),
            request: None,
        }),
    }
}

/// The offset of the first `[` or `{` that opens nesting level `max + 1` (the outermost
/// value is level 1), or `None`. Linear, and stops there: brackets inside strings do not
/// count. It does not validate the JSON (the decoder does) and cannot panic on any input.
pub(crate) fn depth_exceeded_at(bytes: &[u8], max: usize) -> Option<usize> {
    // Level `max + 1` needs more than `max` opening brackets, in strings or not. Counting
    // them is cheap (no state, the compiler vectorizes it), and clears almost every frame.
    let mut openings = 0;
    for block in bytes.chunks(64) {
        // `[` and `{` differ only in bit 0x20; a block holds at most 64, so a `u8` counts
        // them (in wide vector lanes, unlike a `usize`).
        let in_block = block.iter().fold(0u8, |n, &b| n.wrapping_add(u8::from(b | 0x20 == b'{')));
        openings += usize::from(in_block);
        if openings > max {
            return exact_depth_exceeded_at(bytes, max);
        }
    }
    None
}

/// [`depth_exceeded_at`], byte by byte, following strings and escapes.
fn exact_depth_exceeded_at(bytes: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'"' => i = string_end(bytes, i + 1)?,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of the quote that ends the string whose text starts at `i`, or `None` if
/// it does not end. Most of a frame is string text, so it is skipped eight bytes at a
/// time while they hold neither a quote nor a backslash.
fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `word` is `byte` (the classic zero-byte test on `word ^ byte`s).
    let has = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    };
    loop {
        while let Some(chunk) = bytes.get(i..i.saturating_add(8)).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
            let word = u64::from_ne_bytes(chunk);
            if has(word, b'"') || has(word, b'\\') {
                break;
            }
            i += 8;
        }
        match bytes.get(i)? {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{CLIENT_FRAME_TYPES, SERVER_FRAME_TYPES};

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 100, 12_345, u64::MAX] {
            let mut out = [0; 20];
            assert_eq!(decimal(n, &mut out), n.to_string());
        }
    }

    #[test]
    fn an_answer_written_directly_is_what_the_encoder_writes() {
        let values = ["null", "0", r#""é\"\\""#, r#"{"a":[1,{"b":null}],"c":"}"}"#, "[]"];
        for id in [0, 1, 42, u64::MAX] {
            for value in values {
                let channel = ChannelId::generate();
                let value = RawValue::from_string(value.to_owned()).unwrap();
                let direct = answer_on(channel, id, Ok(&value));
                let encoded = answer_with(channel, id, Ok(&value));
                assert_eq!(direct.text(), encoded.text());
                let parsed: serde_json::Value = serde_json::from_str(&format!("{{{}", direct.text())).unwrap();
                assert_eq!(parsed["channel"], channel.to_string());
                assert_eq!(parsed["id"], id);
            }
        }
    }

    fn refused(text: &str) -> FrameError {
        match decode_client_frame(text) {
            Err(error) => error,
            Ok(frame) => panic!("{text} was accepted as {frame:?}"),
        }
    }

    #[test]
    fn a_request_whose_id_can_be_read_is_always_answered() {
        let cases = [
            (r#"{"t":"request","id":7,"event":"e"}"#, "", "needs a `channel` field"),
            (r#"{"t":"request","id":7,"channel":null,"event":"e"}"#, "", "needs a `channel` field"),
            (
                r#"{"t":"request","id":7,"channel":5,"event":"e"}"#,
                "",
                "`channel` field of a `request` frame must be a string",
            ),
            (r#"{"t":"request","id":7,"channel":{"a":[1]},"event":"e"}"#, "", "must be a string"),
            (r#"{"t":"request","id":7,"channel":"c\u0041"}"#, "cA", "needs an `event` field"),
            (
                r#"{"t":"request","id":7,"channel":"c","event":5}"#,
                "c",
                "`event` field of a `request` frame must be a string",
            ),
            (r#"{"t":"request","id":7,"channel":"c","event":[true]}"#, "c", "must be a string"),
            (r#"{"t":"request","id":7,"channel":"c","event":"e","error":5,"callback":[]}"#, "", ""),
        ];
        for (text, channel, needle) in cases {
            if needle.is_empty() {
                // Fields a request does not use cannot make it fail.
                assert!(matches!(decode_client_frame(text), Ok(ClientFrame::Request { id: 7, .. })), "{text}");
                continue;
            }
            let error = refused(text);
            assert_eq!(error.error.code, ErrorCode::MalformedFrame, "{text}");
            assert_eq!(error.request, Some((channel.to_owned(), 7)), "{text}");
            assert!(error.error.message.contains(needle), "{text}: {}", error.error.message);
        }
        // Without a readable id there is nothing to answer; a field given twice fails the
        // whole frame before any field is read.
        for text in [
            r#"{"t":"request","channel":"c","event":"e"}"#,
            r#"{"t":"request","id":-1,"channel":5}"#,
            r#"{"t":"request","id":7,"id":8,"channel":"c","event":"e"}"#,
            r#"{"t":"request","id":7,"channel":"c","channel":"d","event":"e"}"#,
        ] {
            assert_eq!(refused(text).request, None, "{text}");
        }
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let Ok(ClientFrame::Emit { channel, event, .. }) =
            decode_client_frame(r#"{"t":"emit","channel":"abc","event":"n\u0041me"}"#)
        else {
            panic!("not an emit")
        };
        assert!(matches!(channel, Cow::Borrowed("abc")));
        assert!(matches!(event, Cow::Owned(ref e) if e == "nAme"));
    }

    #[test]
    fn other_frames_refuse_mistyped_fields_one_by_one() {
        for (text, needle) in [
            (r#"{"t":"emit","channel":1,"event":"e"}"#, "`channel` field of an `emit` frame must be a string"),
            (r#"{"t":"close","channel":[]}"#, "`channel` field of a `close` frame must be a string"),
            (r#"{"t":"callback","callback":3}"#, "`callback` field of a `callback` frame must be a string"),
            (r#"{"t":"answer","channel":"c"}"#, "numeric `id`"),
        ] {
            let error = refused(text);
            assert_eq!((error.error.code, error.request), (ErrorCode::MalformedFrame, None), "{text}");
            assert!(error.error.message.contains(needle), "{text}: {}", error.error.message);
        }
        // A readable answer with a malformed `error` still reaches its request, to fail it.
        let Ok(ClientFrame::MalformedAnswer { id: 1, error, .. }) =
            decode_client_frame(r#"{"t":"answer","channel":"c","id":1,"error":"no"}"#)
        else {
            panic!("not routed as a malformed answer")
        };
        assert_eq!(error.code, ErrorCode::MalformedFrame);
        assert!(error.message.contains("`error` field of an `answer` frame"), "{}", error.message);
        let Ok(ClientFrame::Answer { result: Err(error), .. }) =
            decode_client_frame(r#"{"t":"answer","channel":"c","id":1,"error":{"code":"new_code","message":"m"}}"#)
        else {
            panic!("not a failed answer")
        };
        assert_eq!(error.code, ErrorCode::Unknown);
    }

    #[test]
    fn the_depth_scan_counts_brackets_outside_strings_and_stops_at_the_limit() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(depth_exceeded_at(nest(64).as_bytes(), 64), None);
        assert_eq!(depth_exceeded_at(nest(65).as_bytes(), 64), Some(64));
        // Brackets in strings, escaped quotes and backslashes do not count.
        let text = format!(r#"{{"a":"[[[{{\"\\","b":{}}}"#, nest(63));
        assert_eq!(depth_exceeded_at(text.as_bytes(), 64), None);
        let text = format!(r#"{{"a":"\\","b":{}}}"#, nest(64));
        assert_eq!(depth_exceeded_at(text.as_bytes(), 64), Some(text.find('[').unwrap() + 63));
        // Only openings count; a truncated or unbalanced text is the decoder's business.
        assert_eq!(depth_exceeded_at("[".repeat(65).as_bytes(), 64), Some(64));
        assert_eq!(depth_exceeded_at("]".repeat(200).as_bytes(), 64), None);
        for weird in [&b"\"\\"[..], b"\\", b"\"", b"", b"{\"\\\"", b"\xff\xfe[[\"\\"] {
            assert_eq!(depth_exceeded_at(weird, 0), weird.iter().position(|&b| b == b'[' || b == b'{'));
        }
    }

    /// The scan against the plainest byte-by-byte version, on random texts made of the
    /// bytes that matter (and a multi-byte character), at several limits.
    #[test]
    fn the_depth_scan_agrees_with_a_plain_one_on_random_texts() {
        fn plain(bytes: &[u8], max: usize) -> Option<usize> {
            let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
            for (i, &b) in bytes.iter().enumerate() {
                if in_string {
                    (escaped, in_string) = (!escaped && b == b'\\', escaped || b != b'"');
                } else if b == b'"' {
                    in_string = true;
                } else if b == b'[' || b == b'{' {
                    depth += 1;
                    if depth > max {
                        return Some(i);
                    }
                } else if b == b']' || b == b'}' {
                    depth = depth.saturating_sub(1);
                }
            }
            None
        }
        let alphabet: &[&[u8]] = &[b"[", b"{", b"]", b"}", b"\"", b"\\", b"a", b",", "é".as_bytes()];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 300) as usize;
            let bytes: Vec<u8> = (0..len).flat_map(|_| alphabet[(next() % 9) as usize].iter().copied()).collect();
            for max in [0, 1, 3, 64] {
                assert_eq!(
                    depth_exceeded_at(&bytes, max),
                    plain(&bytes, max),
                    "{:?} {max}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }

    #[test]
    fn frames_nested_past_the_limit_are_refused_whatever_their_type() {
        let deep = |n: usize| format!(r#"{{"t":"pong","extra":{}{}}}"#, "[".repeat(n), "]".repeat(n));
        assert!(matches!(decode_client_frame(&deep(MAX_JSON_DEPTH - 1)), Ok(ClientFrame::Pong)));
        let error = refused(&deep(MAX_JSON_DEPTH));
        assert_eq!(error.error.code, ErrorCode::MalformedFrame);
        assert!(error.error.message.contains("deeper than 64 levels"), "{}", error.error.message);
        // An unterminated 30,000-deep text is refused at the limit, not walked to its end.
        let error = refused(&format!(r#"{{"t":"request","id":1,"payload":{}"#, "{\"a\":".repeat(30_000)));
        assert!(error.error.message.contains("at byte"), "{}", error.error.message);
        assert_eq!(error.request, None);
    }

    #[test]
    fn every_client_frame_type_is_known_to_the_decoder() {
        for t in CLIENT_FRAME_TYPES {
            let text = format!(r#"{{"t":"{t}","channel":"c","id":1,"event":"e","callback":"1:1"}}"#);
            assert!(decode_client_frame(&text).is_ok(), "{t}");
        }
        let error = refused(r#"{"t":"subscribe"}"#);
        assert_eq!(error.error.code, ErrorCode::UnknownFrameType);
        assert!(
            error.error.message.ends_with("emit, request, answer, close, callback, pong"),
            "{}",
            error.error.message
        );
    }

    #[test]
    fn every_server_frame_type_is_listed() {
        let channel = ChannelId::generate();
        let error = WireError::new(ErrorCode::Forbidden, "no");
        let limits = AnnouncedLimits { max_frame_bytes: 1, max_channels: 2, max_pending_requests: 3 };
        let bodies = [
            open(channel, &Topic::from("n")),
            emit(channel, "e", &1).unwrap(),
            broadcast(&Topic::from("n"), "e", &1).unwrap(),
            history(&Topic::from("n"), "e0", 0, 0, false, 1),
            crate::presence::state_frame(&Topic::from("n"), &crate::presence::Replica::synced()),
            request(channel, 1, "e", &1).unwrap(),
            answer("c", 1, Err(&error)),
            error_frame_for_test(&error),
            close(channel, "server"),
            tree::<[()]>(&[]),
            patch::<[()]>(&[]),
            render_error("C", "m"),
        ];
        let hello = hello(&SessionId::generate(), 1, 2, limits, false, &[]);
        let mut seen: Vec<String> = [hello, PING.to_owned(), nodes(&["ws://a/ws".to_owned()])]
            .into_iter()
            .chain(bodies.iter().map(|body| body.with_seq(1)))
            .map(|text| serde_json::from_str::<serde_json::Value>(&text).unwrap()["t"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        let mut listed: Vec<String> = SERVER_FRAME_TYPES.iter().map(|t| (*t).to_owned()).collect();
        listed.sort();
        assert_eq!(seen, listed);
    }

    fn error_frame_for_test(error: &WireError) -> Body {
        super::error(error, Some("c"), None)
    }
}
