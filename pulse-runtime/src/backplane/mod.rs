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

mod message;
#[cfg(feature = "redis")]
mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use bytes::Bytes;

#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_CHANNEL, RedisBackplane, RedisStats};

use crate::history::History;
pub use crate::id::NodeId;
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::target::Target;

pub(crate) use self::message::{Message, decode_message, encode_message, kept_head, presence_head};
pub use self::message::{MessageError, kept_message};

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
