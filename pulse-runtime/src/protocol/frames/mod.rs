//! Frame encoding and decoding, both directions.
//!
//! Server-to-client frames that belong to the session stream carry a sequence number.
//! The number is given by the session's writer, not by whoever produced the frame, so
//! a frame is encoded once as a [`Body`] (the JSON object without its opening brace) and
//! the writer prepends `{"seq":N,`. That is what lets a broadcast serialize its frame
//! once and share the bytes with every session.
//!
//! Each frame is defined once, as a variant of [`ServerFrame`] (`server.rs`) or
//! [`ClientFrame`] (`client.rs`): the server encodes and decodes those types, the Rust
//! client decodes and encodes them, and the TypeScript client's types are generated from
//! them. `mod.rs` holds what both directions share (the `WireError`, the encoded
//! [`Body`]); `encode.rs` builds the server's bodies, `decode.rs` reads a client's frame
//! leniently, `depth.rs` is the scan that refuses a frame nested too deep before it is
//! parsed.

mod client;
mod decode;
mod depth;
mod encode;
mod server;

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use client::ClientFrame;
pub(crate) use decode::{FrameError, Refused, decode_client_frame};
#[cfg(test)]
use depth::depth_exceeded_at;
pub(crate) use encode::*;
pub use server::{AnnouncedLimits, Hello, ServerFrame, UNSEQUENCED};

use super::ErrorCode;

/// The error carried by a failed `answer` frame and by `error` frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct WireError {
    /// What went wrong, machine-readable (a newer server's code is `Unknown` here, and
    /// any other string in TypeScript).
    #[ts(type = "ErrorCode | (string & {})")]
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The error value a fallible request's handler returned (code `failed`), as its
    /// declared error type encodes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "unknown")]
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
    use std::borrow::Cow;

    use super::*;
    use crate::id::{ChannelId, SessionId};
    use crate::protocol::{CLIENT_FRAME_TYPES, MAX_JSON_DEPTH, SERVER_FRAME_TYPES, Topic};

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
                let encoded = answer(channel.hex().as_str(), id, Ok(&value));
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
            assert_eq!(error.refused, Refused::Request { channel: channel.to_owned(), id: 7 }, "{text}");
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
            assert_eq!(refused(text).refused, Refused::Frame, "{text}");
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
            assert_eq!((error.error.code, error.refused), (ErrorCode::MalformedFrame, Refused::Frame), "{text}");
            assert!(error.error.message.contains(needle), "{text}: {}", error.error.message);
        }
        // A readable answer with a malformed `error` still reaches its request, to fail it.
        let FrameError { error, refused: Refused::Answer { id: 1, .. } } =
            refused(r#"{"t":"answer","channel":"c","id":1,"error":"no"}"#)
        else {
            panic!("not routed as a malformed answer")
        };
        assert_eq!(error.code, ErrorCode::MalformedFrame);
        assert!(error.message.contains("`error` field of an `answer` frame"), "{}", error.message);
        let Ok(ClientFrame::Answer { error: Some(error), .. }) =
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
        assert_eq!(error.refused, Refused::Frame);
    }

    #[test]
    fn every_client_frame_type_is_known_to_the_decoder() {
        for t in CLIENT_FRAME_TYPES {
            let text = format!(r#"{{"t":"{t}","channel":"c","id":1,"event":"e","callback":"1:1","path":"/"}}"#);
            assert!(decode_client_frame(&text).is_ok(), "{t}");
        }
        let error = refused(r#"{"t":"subscribe"}"#);
        assert_eq!(error.error.code, ErrorCode::UnknownFrameType);
        assert!(
            error.error.message.ends_with("emit, request, answer, close, callback, navigate, pong"),
            "{}",
            error.error.message
        );
    }

    /// What is written by hand rather than serialized from [`ServerFrame`] (the direct
    /// answer, the history position spliced into a broadcast, the sequence number) still
    /// reads back as the definition says.
    #[test]
    fn spliced_bodies_read_back_as_their_definition() {
        #[derive(Deserialize)]
        struct Received {
            seq: u64,
            #[serde(flatten)]
            frame: ServerFrame<'static>,
        }
        let read = |body: &Body| serde_json::from_str::<Received>(&body.with_seq(9)).unwrap();

        let channel = ChannelId::generate();
        let value = RawValue::from_string(r#"{"a":[1,"}"]}"#.to_owned()).unwrap();
        let Received { seq: 9, frame: ServerFrame::Answer { channel: named, id: 42, ok: Some(ok), error: None } } =
            read(&answer_on(channel, 42, Ok(&value)))
        else {
            panic!("not an answer")
        };
        assert_eq!((named.as_ref(), ok), (channel.to_string().as_str(), serde_json::json!({"a": [1, "}"]})));

        let room = RawValue::from_string("7".to_owned()).unwrap();
        let body = broadcast(&Topic::new("chat", Some(&room)), "said", &"hi").unwrap().with_position("e\"1", 5);
        let Received { frame: ServerFrame::Broadcast { name, room, epoch, offset, event, payload }, .. } = read(&body)
        else {
            panic!("not a broadcast")
        };
        assert_eq!((name.as_ref(), room, event.as_ref(), payload), ("chat", Some(7.into()), "said", "hi".into()));
        assert_eq!((epoch.as_deref(), offset), (Some("e\"1"), Some(5)));
    }

    /// The lenient decoder reads every frame the definition encodes as that frame.
    #[test]
    fn the_lenient_decoder_reads_what_the_definition_writes() {
        let json = |v: &str| serde_json::from_str::<serde_json::Value>(v).unwrap();
        let error = WireError::failed(json(r#"{"why":"no"}"#));
        let frames: Vec<ClientFrame<'static>> = vec![
            ClientFrame::Emit { channel: "c1".into(), event: "said".into(), payload: json(r#"{"a":"é\"]"}"#) },
            ClientFrame::Request { channel: "c1".into(), id: u64::MAX, event: "ask".into(), payload: json("null") },
            ClientFrame::Answer { channel: "c1".into(), id: 3, ok: Some(json("[1,2]")), error: None },
            ClientFrame::Answer { channel: "c1".into(), id: 4, ok: None, error: Some(Cow::Owned(error)) },
            ClientFrame::Close { channel: "c\u{1}".into() },
            ClientFrame::Callback { callback: "1:2".into(), data: json(r#"{"type":"click"}"#) },
            ClientFrame::Navigate { path: "/rooms/x?y=%C3%A9".into() },
            ClientFrame::Pong,
        ];
        for frame in frames {
            let text = serde_json::to_string(&frame).unwrap();
            let decoded = decode_client_frame(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(decoded.kind(), frame.kind());
            let again: ClientFrame<'static> = serde_json::from_str(&serde_json::to_string(&decoded).unwrap()).unwrap();
            assert_eq!(again, frame, "{text}");
        }
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
            request(channel, 1, "e", &1).unwrap(),
            answer("c", 1, Err(&error)),
            presence(&Topic::from("n"), true, (), ()),
            error_frame_for_test(&error),
            close(channel, "server"),
            tree::<[()]>(&[]),
            patch::<[()]>(&[]),
            render_error("C", "m"),
            page(Some("t"), Some("/a")),
        ];
        let hello = hello(Hello {
            v: crate::protocol::PROTOCOL_VERSION,
            session: SessionId::generate(),
            heartbeat_ms: 1,
            idle_timeout_ms: 2,
            limits,
            resumed: false,
            nodes: Vec::new(),
        });
        let mut seen: Vec<String> = [hello, PING.to_owned(), nodes(&["ws://a/ws".to_owned()])]
            .into_iter()
            .chain(bodies.iter().map(|body| body.with_seq(1)))
            .map(|text| {
                let t = serde_json::from_str::<serde_json::Value>(&text).unwrap()["t"].as_str().unwrap().to_owned();
                let frame: ServerFrame<'static> = serde_json::from_str(&text).unwrap();
                assert_eq!(frame.kind(), t, "{text}");
                t
            })
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
