//! Backplanes: how a broadcast reaches the sessions on other server nodes.
//!
//! A broadcast is encoded once, delivered to this node's sessions, and handed to the
//! backplane once, which publishes it to the other nodes; each of them delivers it to
//! its own sessions. A node ignores its own publications, so no session gets a
//! broadcast twice. Without a backplane (the default) broadcast stays on this node.

#[cfg(feature = "redis")]
mod redis;

use std::sync::Weak;

use bytes::{Buf, BufMut, Bytes, BytesMut};

#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_CHANNEL, RedisBackplane, RedisStats};

use crate::protocol::frames::Body;

/// Carries broadcasts between server nodes. Implementations must not block `publish`:
/// it runs on the broadcasting task.
pub trait Backplane: Send + Sync + 'static {
    /// Starts the backplane; broadcasts from other nodes go to `remote`.
    fn start(&self, remote: RemoteDelivery);

    /// Publishes a broadcast made on this node (already encoded) to the other nodes.
    fn publish(&self, message: Bytes);
}

/// Delivers broadcasts that arrived from other nodes to this node's sessions.
#[derive(Clone)]
pub struct RemoteDelivery {
    server: Weak<dyn RemoteSink>,
    node: NodeId,
}

/// Where a node's broadcasts from other nodes go (implemented by the server's registry,
/// so the backplane never names the server).
pub(crate) trait RemoteSink: Send + Sync + 'static {
    /// Delivers a broadcast on `topic` to this node's sessions; returns how many.
    fn deliver_remote(&self, topic: &str, body: &Body) -> usize;
}

/// Identifies one server node (random per process), so a node can skip its own
/// publications when the backplane echoes them back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NodeId(pub [u8; 16]);

impl NodeId {
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 16];
        // See `id::RandomId::generate`: without an OS random source nothing is safe.
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        NodeId(bytes)
    }
}

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

const MESSAGE_VERSION: u8 = 1;

/// A broadcast as it travels between nodes: version, origin node, topic, encoded frame.
pub(crate) fn encode_message(node: NodeId, topic: &str, body: &Body) -> Bytes {
    let frame = body.bytes();
    let mut out = BytesMut::with_capacity(1 + 16 + 2 + topic.len() + frame.len());
    out.put_u8(MESSAGE_VERSION);
    out.put_slice(&node.0);
    // Topic names are at most 64 bytes (protocol::MAX_NAME_LEN).
    out.put_u16(topic.len() as u16);
    out.put_slice(topic.as_bytes());
    out.put_slice(frame);
    out.freeze()
}

/// The parts of a backplane message.
pub(crate) struct Message {
    pub node: NodeId,
    pub topic: String,
    pub body: Body,
}

pub(crate) fn decode_message(mut message: Bytes) -> Result<Message, MessageError> {
    if message.len() < 19 || message.get_u8() != MESSAGE_VERSION {
        return Err(MessageError::Malformed);
    }
    let mut node = [0u8; 16];
    message.copy_to_slice(&mut node);
    let topic_len = usize::from(message.get_u16());
    if message.len() < topic_len {
        return Err(MessageError::Malformed);
    }
    let topic = message.split_to(topic_len);
    let topic = String::from_utf8(topic.to_vec()).map_err(|_| MessageError::NotUtf8)?;
    let body = Body::from_bytes(message).ok_or(MessageError::NotUtf8)?;
    Ok(Message { node: NodeId(node), topic, body })
}

impl RemoteDelivery {
    pub(crate) fn new(server: Weak<dyn RemoteSink>, node: NodeId) -> Self {
        RemoteDelivery { server, node }
    }

    /// This node's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Delivers a message another node published; returns how many local sessions got
    /// it. This node's own messages, malformed ones, and messages for a server that is
    /// gone deliver to nobody.
    pub fn deliver(&self, message: Bytes) -> usize {
        let Some(server) = self.server.upgrade() else { return 0 };
        match decode_message(message) {
            Ok(message) if message.node == self.node => 0,
            Ok(message) => server.deliver_remote(&message.topic, &message.body),
            Err(error) => {
                tracing::warn!(%error, "dropped a backplane message");
                0
            }
        }
    }

    /// Whether the server is still running.
    pub fn is_alive(&self) -> bool {
        self.server.strong_count() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let node = NodeId::generate();
        let body = crate::protocol::frames::broadcast("chat", "new_message", &"hi").unwrap();
        let message = decode_message(encode_message(node, "chat", &body)).unwrap();
        assert_eq!(message.node, node);
        assert_eq!(message.topic, "chat");
        assert_eq!(message.body.bytes(), body.bytes());
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert_eq!(decode_message(Bytes::from_static(b"")).err(), Some(MessageError::Malformed));
        assert_eq!(decode_message(Bytes::from(vec![9; 40])).err(), Some(MessageError::Malformed));
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
    }
}
