//! The client's frames, decoded leniently: only `t` and `id` can fail a frame as a
//! whole, so a request whose id can be read is always answered.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::depth::depth_exceeded_at;
use super::{ClientFrame, WireError, truncate};
use crate::protocol::{CLIENT_FRAME_TYPES, ErrorCode, MAX_JSON_DEPTH};

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
    #[serde(borrow, default)]
    path: Option<Text<'a>>,
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

/// A frame that could not be decoded, and what the refusal concerns.
#[derive(Debug)]
pub(crate) struct FrameError {
    pub error: WireError,
    pub refused: Refused,
}

/// What a refused frame was, as far as it could be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Nothing to answer: the client gets an `error` frame.
    Frame,
    /// A request whose id could be read: the error goes back as its answer, so the
    /// client's pending request fails at once instead of timing out. The channel is
    /// echoed as the client sent it (`""` when missing or not a string).
    Request { channel: String, id: u64 },
    /// An answer whose channel and id can be read but whose `error` is malformed: the
    /// server's request it answers fails with the error (so its caller does not wait for
    /// the timeout), and the client gets an `error` frame.
    Answer { channel: String, id: u64 },
}

impl FrameError {
    fn malformed(message: impl Into<String>) -> Self {
        FrameError { error: WireError::new(ErrorCode::MalformedFrame, message), refused: Refused::Frame }
    }
}

/// Decodes one client text frame. Nesting deeper than [`MAX_JSON_DEPTH`] is refused
/// first, by a scan that stops at the first bracket past the limit (such a frame gets a
/// bare `error`, even if it is a request: its `id` is not read).
pub(crate) fn decode_client_frame(text: &str) -> Result<ClientFrame<'_, &RawValue>, FrameError> {
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
                refused: Refused::Request { channel: channel.to_owned(), id },
            };
            let channel = string_field(fields.channel, "request", "channel").map_err(|m| answer_with("", m))?;
            let event = string_field(fields.event, "request", "event").map_err(|m| answer_with(&channel, m))?;
            Ok(ClientFrame::Request { channel, id, event, payload })
        }
        "answer" => {
            let channel = string_field(fields.channel, "answer", "channel").map_err(FrameError::malformed)?;
            let id = fields.id.ok_or_else(|| FrameError::malformed("`answer` frame needs a numeric `id` field"))?;
            let error = match fields.error.map(|error| serde_json::from_str::<WireError>(error.get())) {
                None => None,
                Some(Ok(error)) => Some(Cow::Owned(error)),
                Some(Err(e)) => {
                    let message = format!("the `error` field of an `answer` frame must be {{code, message}}: {e}");
                    let error = WireError::new(ErrorCode::MalformedFrame, message);
                    return Err(FrameError { error, refused: Refused::Answer { channel: channel.into_owned(), id } });
                }
            };
            Ok(ClientFrame::Answer { channel, id, ok: fields.ok, error })
        }
        "close" => Ok(ClientFrame::Close {
            channel: string_field(fields.channel, "close", "channel").map_err(FrameError::malformed)?,
        }),
        "callback" => Ok(ClientFrame::Callback {
            callback: string_field(fields.callback, "callback", "callback").map_err(FrameError::malformed)?,
            data: fields.event_data.unwrap_or(RawValue::NULL),
        }),
        "navigate" => Ok(ClientFrame::Navigate {
            path: string_field(fields.path, "navigate", "path").map_err(FrameError::malformed)?,
        }),
        "pong" => Ok(ClientFrame::Pong),
        other => Err(FrameError {
            error: WireError::new(
                ErrorCode::UnknownFrameType,
                format!("unknown frame type `{}`; expected one of {}", truncate(other), CLIENT_FRAME_TYPES.join(", ")),
            ),
            refused: Refused::Frame,
        }),
    }
}
