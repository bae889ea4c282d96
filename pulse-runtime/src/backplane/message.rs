//! Backplane messages: a broadcast, a numbered broadcast of a room's history or a
//! presence change, as it travels between nodes (a version byte, the origin node, the
//! topic, then what each kind carries), and their decoding, which refuses anything
//! malformed.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::id::{NodeId, SessionId};
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::target::Target;

/// Why a backplane message was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    /// Too short, or of a version this node does not know.
    #[error("malformed backplane message")]
    Malformed,
    /// The topic or the frame is not UTF-8.
    #[error("backplane message is not UTF-8")]
    NotUtf8,
}

const MESSAGE_VERSION: u8 = 2;
/// A broadcast numbered in its room's history (to everyone in the room).
const KEPT_VERSION: u8 = 3;
/// A numbered change to a room's presence list.
const PRESENCE_VERSION: u8 = 4;

const TARGET_ALL: u8 = 0;
const TARGET_EXCEPT: u8 = 1;
const TARGET_USER: u8 = 2;
const TARGET_SESSION: u8 = 3;

/// A broadcast as it travels between nodes: version, origin node, topic, target, and
/// the encoded frame. Lengths are big-endian `u16`s; `None` when the topic or a user
/// key is longer than one can say (64 KiB), which is never cut short.
pub(crate) fn encode_message(node: NodeId, topic: &Topic, target: &Target, body: &Body) -> Option<Bytes> {
    let frame = body.bytes();
    let (tag, detail) = match target {
        Target::All => (TARGET_ALL, String::new()),
        Target::Except(session) => (TARGET_EXCEPT, session.to_string()),
        Target::User(user) => (TARGET_USER, user.to_string()),
        Target::Session(session) => (TARGET_SESSION, session.to_string()),
    };
    let topic = topic.as_str();
    let topic_len = u16::try_from(topic.len()).ok()?;
    let detail_len = u16::try_from(detail.len()).ok()?;
    let mut out = BytesMut::with_capacity(1 + 16 + 2 + topic.len() + 3 + detail.len() + frame.len());
    out.put_u8(MESSAGE_VERSION);
    out.put_slice(&node.0);
    out.put_u16(topic_len);
    out.put_slice(topic.as_bytes());
    out.put_u8(tag);
    out.put_u16(detail_len);
    out.put_slice(detail.as_bytes());
    out.put_slice(frame);
    Some(out.freeze())
}

/// The start of a kept broadcast's message (version, node, topic); `None` when the topic
/// is longer than one can say.
pub(crate) fn kept_head(node: NodeId, topic: &Topic) -> Option<Bytes> {
    head(KEPT_VERSION, node, topic)
}

/// The start of a presence change's message (version, node, topic); `None` when the
/// topic is longer than one can say.
pub(crate) fn presence_head(node: NodeId, topic: &Topic) -> Option<Bytes> {
    head(PRESENCE_VERSION, node, topic)
}

fn head(version: u8, node: NodeId, topic: &Topic) -> Option<Bytes> {
    let topic = topic.as_str();
    let topic_len = u16::try_from(topic.len()).ok()?;
    let mut out = BytesMut::with_capacity(1 + 16 + 2 + topic.len());
    out.put_u8(version);
    out.put_slice(&node.0);
    out.put_u16(topic_len);
    out.put_slice(topic.as_bytes());
    Some(out.freeze())
}

/// A whole kept broadcast's message, as a backplane that keeps history composes it.
pub fn kept_message(head: &[u8], epoch: &str, offset: u64, frame: &[u8]) -> Option<Bytes> {
    let offset = offset.to_string();
    let epoch_len = u8::try_from(epoch.len()).ok()?;
    let mut out = BytesMut::with_capacity(head.len() + 2 + epoch.len() + offset.len() + frame.len());
    out.put_slice(head);
    out.put_u8(epoch_len);
    out.put_slice(epoch.as_bytes());
    out.put_u8(offset.len() as u8);
    out.put_slice(offset.as_bytes());
    out.put_slice(frame);
    Some(out.freeze())
}

fn take_short_text(message: &mut Bytes) -> Result<String, MessageError> {
    if message.is_empty() {
        return Err(MessageError::Malformed);
    }
    let len = usize::from(message.get_u8());
    if message.len() < len {
        return Err(MessageError::Malformed);
    }
    String::from_utf8(message.split_to(len).to_vec()).map_err(|_| MessageError::NotUtf8)
}

fn take_text(message: &mut Bytes) -> Result<String, MessageError> {
    if message.len() < 2 {
        return Err(MessageError::Malformed);
    }
    let len = usize::from(message.get_u16());
    if message.len() < len {
        return Err(MessageError::Malformed);
    }
    String::from_utf8(message.split_to(len).to_vec()).map_err(|_| MessageError::NotUtf8)
}

/// The parts of a backplane message.
pub(crate) struct Message {
    pub node: NodeId,
    pub topic: Topic,
    pub target: Target,
    pub body: Body,
    /// For a broadcast kept in its room's history: its epoch and offset.
    pub position: Option<(String, u64)>,
    /// For a presence change: its version (the change is in `body`).
    pub presence: Option<u64>,
}

pub(crate) fn decode_message(mut message: Bytes) -> Result<Message, MessageError> {
    if message.len() < 19 {
        return Err(MessageError::Malformed);
    }
    let version = message.get_u8();
    if version != MESSAGE_VERSION && version != KEPT_VERSION && version != PRESENCE_VERSION {
        return Err(MessageError::Malformed);
    }
    let mut node = [0u8; 16];
    message.copy_to_slice(&mut node);
    let topic = Topic::parse(&take_text(&mut message)?).ok_or(MessageError::Malformed)?;
    if version == KEPT_VERSION {
        let epoch = take_short_text(&mut message)?;
        let offset = take_short_text(&mut message)?.parse().map_err(|_| MessageError::Malformed)?;
        let body = Body::from_bytes(message).ok_or(MessageError::NotUtf8)?;
        let position = Some((epoch, offset));
        return Ok(Message { node: NodeId(node), topic, target: Target::All, body, position, presence: None });
    }
    if version == PRESENCE_VERSION {
        let change_version = take_short_text(&mut message)?.parse().map_err(|_| MessageError::Malformed)?;
        let body = Body::from_bytes(message).ok_or(MessageError::NotUtf8)?;
        let presence = Some(change_version);
        return Ok(Message { node: NodeId(node), topic, target: Target::All, body, position: None, presence });
    }
    if message.is_empty() {
        return Err(MessageError::Malformed);
    }
    let tag = message.get_u8();
    let detail = take_text(&mut message)?;
    let session = || detail.parse::<SessionId>().map_err(|_| MessageError::Malformed);
    let target = match tag {
        TARGET_ALL => Target::All,
        TARGET_EXCEPT => Target::Except(session()?),
        TARGET_USER => Target::User(detail.as_str().into()),
        TARGET_SESSION => Target::Session(session()?),
        _ => return Err(MessageError::Malformed),
    };
    let body = Body::from_bytes(message).ok_or(MessageError::NotUtf8)?;
    Ok(Message { node: NodeId(node), topic, target, body, position: None, presence: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The topic of the chat's lobby.
    fn lobby() -> Topic {
        Topic::new("chat", Some(&serde_json::value::to_raw_value(&"lobby").unwrap()))
    }

    #[test]
    fn messages_round_trip() {
        let (node, topic) = (NodeId::generate(), lobby());
        let body = crate::protocol::frames::broadcast(&topic, "new_message", &"hi").unwrap();
        let targets = [
            Target::All,
            Target::Except(SessionId::generate()),
            Target::User("ann".into()),
            Target::Session(SessionId::generate()),
        ];
        for target in targets {
            let message = decode_message(encode_message(node, &topic, &target, &body).unwrap()).unwrap();
            assert_eq!(message.node, node);
            assert_eq!(message.topic, topic);
            assert_eq!(message.target, target);
            assert_eq!(message.body.bytes(), body.bytes());
        }
    }

    #[test]
    fn kept_messages_round_trip_and_truncated_ones_are_refused() {
        let (node, topic) = (NodeId::generate(), lobby());
        let body = crate::protocol::frames::broadcast(&topic, "said", &"hi").unwrap();
        let head = kept_head(node, &topic).unwrap();
        let whole = kept_message(&head, "0a1b", 42, body.bytes()).unwrap();
        let message = decode_message(whole.clone()).unwrap();
        assert_eq!((message.node, &message.topic, &message.target), (node, &topic, &Target::All));
        assert_eq!(message.position, Some(("0a1b".to_owned(), 42)));
        assert_eq!(message.body.bytes(), body.bytes());
        for cut in [head.len(), head.len() + 3, head.len() + 6] {
            assert!(decode_message(whole.slice(..cut)).is_err(), "{cut}");
        }
        let mut not_number = head.to_vec();
        not_number.extend([1, b'e', 2, b'4', b'x']);
        assert_eq!(decode_message(Bytes::from(not_number)).err(), Some(MessageError::Malformed));
    }

    #[test]
    fn malformed_messages_are_refused() {
        let header = |topic: &[u8]| {
            let mut m = vec![MESSAGE_VERSION];
            m.extend([0; 16]);
            m.extend((topic.len() as u16).to_be_bytes());
            m.extend(topic);
            m
        };
        assert_eq!(decode_message(Bytes::from_static(b"")).err(), Some(MessageError::Malformed));
        assert_eq!(decode_message(Bytes::from(vec![9; 40])).err(), Some(MessageError::Malformed));
        // A user key too long to say is not sent at all, never cut short.
        let body = crate::protocol::frames::broadcast(&Topic::from("chat"), "e", &1).unwrap();
        let long = Target::User("x".repeat(70_000).into());
        assert!(encode_message(NodeId::generate(), &Topic::from("chat"), &long, &body).is_none());
        let mut short = vec![MESSAGE_VERSION];
        short.extend([0; 16]);
        short.extend(200u16.to_be_bytes());
        short.extend(b"abc");
        assert_eq!(decode_message(Bytes::from(short)).err(), Some(MessageError::Malformed));
        let mut bad = vec![MESSAGE_VERSION];
        bad.extend([0; 16]);
        bad.extend(1u16.to_be_bytes());
        bad.extend([0xff, b'x']);
        assert_eq!(decode_message(Bytes::from(bad)).err(), Some(MessageError::NotUtf8));
        // A topic that is no channel name, a missing target, an unknown target, a
        // session target that is no session id.
        assert_eq!(decode_message(Bytes::from(header(b"no name!"))).err(), Some(MessageError::Malformed));
        assert_eq!(decode_message(Bytes::from(header(b"chat"))).err(), Some(MessageError::Malformed));
        let mut unknown = header(b"chat");
        unknown.extend([9, 0, 0]);
        assert_eq!(decode_message(Bytes::from(unknown)).err(), Some(MessageError::Malformed));
        let mut not_id = header(b"chat");
        not_id.extend([TARGET_SESSION, 0, 3]);
        not_id.extend(b"abc");
        assert_eq!(decode_message(Bytes::from(not_id)).err(), Some(MessageError::Malformed));
    }
}
