//! Backplanes: how a broadcast reaches the sessions on other server nodes.
//!
//! A broadcast is encoded once, delivered to this node's sessions, and handed to the
//! backplane once, which publishes it to the other nodes; each of them delivers it to
//! its own sessions. A node ignores its own publications, so no session gets a
//! broadcast twice. Without a backplane (the default) broadcast stays on this node.
//!
//! A backplane may also keep histories ([`Backplane::keeps_history`]): then a broadcast
//! to a whole room of a channel with history goes through it first, to be numbered in
//! the room's one order, and comes back to every node, its own included.

#[cfg(feature = "redis")]
mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use bytes::{Buf, BufMut, Bytes, BytesMut};

#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_CHANNEL, RedisBackplane, RedisStats};

use crate::history::History;
pub use crate::id::NodeId;
use crate::id::SessionId;
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::target::Target;

/// Carries broadcasts between server nodes. Implementations must not block `publish`:
/// it runs on the broadcasting task.
pub trait Backplane: Send + Sync + 'static {
    /// Starts the backplane; broadcasts from other nodes go to `remote`.
    fn start(&self, remote: RemoteDelivery);

    /// Publishes a broadcast on `topic` made on this node (already encoded) to the other
    /// nodes.
    fn publish(&self, topic: &Topic, message: Bytes);

    /// A session of this node joined `topic`, in which it had none: deliver the topic's
    /// broadcasts from now on. Returns, while the backplane is not receiving them yet, a
    /// [`Gate`] that completes once it is (the joining channel's `open` waits for it).
    /// Backplanes that deliver every topic to every node keep the default, `None`.
    fn join_topic(&self, topic: &Topic) -> Option<Gate> {
        let _ = topic;
        None
    }

    /// The last session of this node in `topic` left it.
    fn leave_topic(&self, topic: &Topic) {
        let _ = topic;
    }

    /// Delivers the broadcasts of every room of channel `name`, whether or not this node
    /// has sessions there (an `on_remote_broadcast` hook follows them).
    fn follow_channel(&self, name: &str) {
        let _ = name;
    }

    /// Whether this backplane keeps the histories of channels that have one, so that
    /// every node hands out the same positions. If not, a channel's history is kept by
    /// each node in memory, for its own sessions.
    fn keeps_history(&self) -> bool {
        false
    }

    /// Appends a broadcast to its room's history (trimmed to `history`), numbering it,
    /// and delivers it, numbered, to every node (this one too) in offset order: the
    /// message is [`KeptMessage::head`], the epoch and offset (each a length byte and
    /// text), then [`KeptMessage::frame`]. Must not block. Called only when
    /// [`Backplane::keeps_history`].
    fn publish_kept(&self, message: KeptMessage) {
        let _ = message;
    }

    /// Reads the last `history.size()` broadcasts kept for `topic`, starting the room's
    /// history (with `new_epoch`) if it has none.
    fn read_history(&self, topic: &Topic, history: History, new_epoch: &str) -> HistoryRead {
        let _ = (topic, history, new_epoch);
        Box::pin(async { Err(HistoryError::Unsupported) })
    }

    /// Whether this backplane keeps the presence lists of rooms, so that every node
    /// shows the same. If not, each node lists its own sessions only.
    fn keeps_presence(&self) -> bool {
        false
    }

    /// Applies a change to a room's presence list and delivers it, numbered, to every
    /// node (this one too) in version order: the message is [`PresenceMessage::head`],
    /// the version (a length byte and text), then `{"id": …, "entry": … or null}`. A
    /// change that changes nothing is not delivered. Must not block.
    fn publish_presence(&self, message: PresenceMessage) {
        let _ = message;
    }

    /// Reads a room's presence list and its version.
    fn read_presence(&self, topic: &Topic) -> PresenceRead {
        let _ = topic;
        Box::pin(async { Err(HistoryError::Unsupported) })
    }

    /// How long a node that stopped answering stays listed: its sessions' presences are
    /// taken off every list within one and a half times this.
    fn presence_timeout(&self) -> Option<std::time::Duration> {
        None
    }

    /// Which of `nodes` are alive (have announced themselves within the presence timeout).
    fn nodes_alive(&self, nodes: Vec<NodeId>) -> NodesAlive {
        Box::pin(async move { Ok(vec![true; nodes.len()]) })
    }

    /// Counters for the server's metrics endpoint: each a Prometheus name (ending in
    /// `_total`), its help text, and its value since the backplane started.
    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        Vec::new()
    }

    /// This node's WebSocket URL (`ws://127.0.0.1:4100/ws`, the address it listens on),
    /// for the other nodes: see [`Backplane::cluster_nodes`]. Does nothing unless the
    /// backplane keeps a list of the cluster's nodes.
    fn advertise(&self, url: String) {
        let _ = url;
    }

    /// The WebSocket URLs the cluster's live nodes advertised, this one's included, as
    /// last read (the server names them to its clients and admits their pages).
    fn cluster_nodes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Reads the cluster's nodes again now (a node that just started may not be known
    /// yet); the list [`Backplane::cluster_nodes`] gives from then on.
    fn refresh_nodes(&self) -> NodesRead {
        Box::pin(async { Vec::new() })
    }
}

/// A pending [`Backplane::refresh_nodes`].
pub type NodesRead = Pin<Box<dyn Future<Output = Vec<String>> + Send>>;

/// A pending [`Backplane::read_presence`].
pub type PresenceRead = Pin<Box<dyn Future<Output = Result<StoredPresence, HistoryError>> + Send>>;

/// A pending [`Backplane::nodes_alive`].
pub type NodesAlive = Pin<Box<dyn Future<Output = Result<Vec<bool>, HistoryError>> + Send>>;

/// A change to a room's presence list: see [`Backplane::publish_presence`].
#[derive(Debug, Clone)]
pub struct PresenceMessage {
    /// The room.
    pub topic: Topic,
    /// The session it is about.
    pub id: Arc<str>,
    /// The node that makes the change: listing a session says this node is alive.
    pub node: NodeId,
    /// Its entry as JSON (`{"user", "meta", "node"}`), or `None` for a leave.
    pub entry: Option<String>,
    /// The start of the message to publish (version, node, topic).
    pub head: Bytes,
}

/// A room's presence list as a backplane keeps it.
#[derive(Debug, Clone, Default)]
pub struct StoredPresence {
    /// The version of the last change.
    pub version: u64,
    /// Session id and entry JSON of each session listed.
    pub entries: Vec<(String, String)>,
}

/// Completes once a backplane delivers a topic's broadcasts ([`Backplane::join_topic`]).
pub type Gate = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A pending [`Backplane::read_history`].
pub type HistoryRead = Pin<Box<dyn Future<Output = Result<StoredHistory, HistoryError>> + Send>>;

/// A broadcast to keep in its room's history and publish: see [`Backplane::publish_kept`].
#[derive(Debug, Clone)]
pub struct KeptMessage {
    /// The room.
    pub topic: Topic,
    /// How much its history keeps.
    pub history: History,
    /// The epoch to start the room's history with, if it has none.
    pub new_epoch: Arc<str>,
    /// The start of the message to publish (version, node, topic).
    pub head: Bytes,
    /// The encoded frame, without its position; also what the history keeps.
    pub frame: Bytes,
}

/// A room's history as a backplane keeps it.
#[derive(Debug, Clone, Default)]
pub struct StoredHistory {
    /// The history's epoch.
    pub epoch: String,
    /// The offset of the newest broadcast ever made in it (0 before the first).
    pub top: u64,
    /// The broadcasts kept, oldest first: offset, time kept (milliseconds since the
    /// Unix epoch) and the frame without its position.
    pub entries: Vec<(u64, u64, Bytes)>,
}

/// Why a room's history could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// This backplane keeps no history.
    #[error("this backplane keeps no history")]
    Unsupported,
    /// The store answered something that is not a history.
    #[error("the stored history is malformed: {0}")]
    Malformed(String),
    /// The store could not be reached.
    #[error("the history store is unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
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
    /// Delivers a broadcast on `topic` to this node's sessions `target` admits; returns
    /// how many.
    fn deliver_remote(&self, topic: &Topic, target: &Target, body: &Body) -> usize;

    /// The node may have missed broadcasts (its subscription was lost): every member of
    /// a room with history reads what it missed.
    fn resync_kept(&self);

    /// Applies change `version` of `topic`'s presence list (`change`:
    /// `{"id": …, "entry": … or null}`), made on node `from`.
    fn deliver_presence(&self, from: NodeId, topic: &Topic, version: u64, change: &[u8]);

    /// Delivers broadcast `offset` of `epoch` in `topic`'s history (`frame` without its
    /// position), made by node `from` (maybe this one), to this node's members.
    fn deliver_kept(&self, from: NodeId, topic: &Topic, epoch: &str, offset: u64, frame: &Body);
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
    let topic = topic.as_str();
    let topic_len = u16::try_from(topic.len()).ok()?;
    let mut out = BytesMut::with_capacity(1 + 16 + 2 + topic.len());
    out.put_u8(KEPT_VERSION);
    out.put_slice(&node.0);
    out.put_u16(topic_len);
    out.put_slice(topic.as_bytes());
    Some(out.freeze())
}

/// The start of a presence change's message (version, node, topic); `None` when the
/// topic is longer than one can say.
pub(crate) fn presence_head(node: NodeId, topic: &Topic) -> Option<Bytes> {
    let topic = topic.as_str();
    let topic_len = u16::try_from(topic.len()).ok()?;
    let mut out = BytesMut::with_capacity(1 + 16 + 2 + topic.len());
    out.put_u8(PRESENCE_VERSION);
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
    /// gone deliver to nobody. Kept broadcasts (numbered in a room's history) are
    /// delivered whichever node made them, this one included, and count 0 here.
    pub fn deliver(&self, message: Bytes) -> usize {
        let Some(server) = self.server.upgrade() else { return 0 };
        match decode_message(message) {
            Ok(Message { node, topic, body, position: Some((epoch, offset)), .. }) => {
                server.deliver_kept(node, &topic, &epoch, offset, &body);
                0
            }
            Ok(Message { node, topic, body, presence: Some(version), .. }) => {
                server.deliver_presence(node, &topic, version, body.bytes());
                0
            }
            Ok(message) if message.node == self.node => 0,
            Ok(message) => server.deliver_remote(&message.topic, &message.target, &message.body),
            Err(error) => {
                tracing::warn!(%error, "dropped a backplane message");
                0
            }
        }
    }

    /// Tells the server its subscription is (again) in place: sessions in rooms with
    /// history read what they may have missed while there was none, presence lists are
    /// read again, and this node's sessions are listed again.
    pub fn resubscribed(&self) {
        if let Some(server) = self.server.upgrade() {
            server.resync_kept();
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
        let room = serde_json::value::to_raw_value(&"lobby").unwrap();
        let topic = Topic::new("chat", Some(&room));
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
        let node = NodeId::generate();
        let room = serde_json::value::to_raw_value(&"lobby").unwrap();
        let topic = Topic::new("chat", Some(&room));
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
