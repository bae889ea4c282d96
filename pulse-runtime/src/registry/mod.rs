//! The registry (layer 5): what this node knows of its sessions and where each
//! broadcast goes. `mod.rs` holds the table of sessions and implements [`Host`] for
//! them; `join.rs` joins sessions to topics (with a room's history, in memory or read
//! from the backplane); `publish.rs` routes broadcasts here and to other nodes and
//! takes theirs ([`RemoteSink`]); `topics/`, `presence.rs`, `views.rs` and
//! `remote_hooks.rs` are the topics' members, presence, the followers of rooms'
//! histories, and the hooks that watch other nodes' broadcasts.

mod join;
mod presence;
mod publish;
pub(crate) mod remote_hooks;
pub(crate) mod topics;
mod views;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use tokio::sync::Notify;

pub(crate) use join::read_kept;
pub(crate) use remote_hooks::{Lanes, RemoteHook};

use crate::backplane::{Backplane, Gate, NodeId, RemoteDelivery, RemoteSink};
use crate::config::Config;
use crate::guard::{self, Callback};
use crate::history::History;
use crate::history::memory::MemoryHistories;
use crate::id::ChannelId;
use crate::protocol::{Topic, frames};
use crate::session::host::Host;
use crate::session::{Access, Session, SessionShared};
use crate::session_core::budget::Budget;
use crate::stats::ServerStats;
use crate::sync::lock;
use crate::target::{Delivery, Target};

/// What this node knows of the sessions and where broadcasts go: every live session by
/// id, the topics and their members, presence, the rooms' histories (in memory, or read
/// from the backplane), the followers of rooms' histories, the backplane and the hooks
/// that watch its broadcasts. Sessions reach it as their [`Host`]; the backplane as its
/// [`RemoteSink`]. It knows nothing of HTTP, sockets or the app's components.
pub(crate) struct Registry {
    pub(crate) config: Config,
    pub(crate) topics: topics::Topics,
    pub(crate) started: Instant,
    pub(crate) node: NodeId,
    pub(crate) backplane: Option<Arc<dyn Backplane>>,
    pub(crate) remote_hooks: Vec<RemoteHook>,
    /// Their calls waiting, by topic ([`remote_hooks`]).
    pub(crate) remote_lanes: Mutex<Lanes<frames::Body>>,
    /// The channels whose every room's broadcasts the hooks follow.
    pub(crate) followed: Vec<Arc<str>>,
    pub(crate) authorizer: Option<Authorizer>,
    /// Every live session (attached or waiting to be resumed), by id.
    pub(crate) sessions: Mutex<HashMap<crate::SessionId, Arc<SessionShared>>>,
    /// Notified when a session leaves the table (a graceful shutdown waits on it).
    pub(crate) sessions_changed: Notify,
    pub(crate) next_key: AtomicU64,
    /// The channels that keep history, by name, and how much.
    pub(crate) histories: HashMap<Arc<str>, History>,
    /// Their rooms' histories, when no backplane keeps them.
    pub(crate) memory_histories: MemoryHistories,
    /// Who is in each room of the channels that track presence.
    pub(crate) presences: presence::Presences,
    /// This registry, for the tasks that read histories.
    pub(crate) this: Weak<Registry>,
    /// The server's metrics, if it has them.
    pub(crate) telemetry: Option<crate::telemetry::Telemetry>,
    /// What the sessions waiting to be resumed hold, together ([`Config::max_detached_bytes`]).
    pub(crate) detached: Arc<Budget>,
    /// The rooms this node follows for `RoomHistory` values ([`views`]).
    pub(crate) views: views::Views,
}

/// The authorization hook ([`crate::ServerBuilder::authorize`]).
pub(crate) type Authorizer = Arc<dyn Fn(&Session, &Access<'_>) -> Result<(), String> + Send + Sync>;

/// The refusal when the authorization hook panicked: the client is not told the
/// panic's message (it may hold the server's internals), only that it was the server's
/// fault.
pub(crate) const AUTHORIZE_PANICKED: &str = "internal error: the server's authorization failed";

/// A backplane [`Gate`] that several may await; already running on its own task.
pub(crate) type SharedGate = futures_util::future::Shared<Gate>;

impl Registry {
    pub(crate) fn new_session(
        self: &Arc<Self>,
        identity: Option<crate::session::host::Identity>,
        params: crate::protocol::Query,
    ) -> Arc<SessionShared> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let session = SessionShared::new(self.clone() as Arc<dyn Host>, key, identity, params);
        lock(&self.sessions).insert(session.id, session.clone());
        session
    }

    /// Sessions alive (attached or waiting to be resumed).
    pub(crate) fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// The session with `id`, if it is still alive (attached or waiting to be resumed).
    pub(crate) fn find_session(&self, id: crate::SessionId) -> Option<Arc<SessionShared>> {
        lock(&self.sessions).get(&id).filter(|s| !s.is_finished()).cloned()
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn new_session_for_fuzzing(self: &Arc<Self>) -> Arc<SessionShared> {
        self.new_session(None, crate::protocol::Query::default())
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn topics_len(&self) -> usize {
        self.topics.topic_count()
    }

    /// Starts the backplane once the server runs: its channels followed by the hooks,
    /// its delivery to this registry, and the sweep of dead nodes' presence.
    pub(crate) fn start_backplane(self: &Arc<Self>) {
        let Some(backplane) = &self.backplane else { return };
        let sink: Weak<dyn RemoteSink> = Arc::downgrade(self) as Weak<dyn RemoteSink>;
        for name in &self.followed {
            backplane.follow_channel(name);
        }
        backplane.start(RemoteDelivery::new(sink, self.node));
        self.start_presence_sweeper();
    }

    /// Counts of what the server holds now.
    pub(crate) fn stats(&self) -> ServerStats {
        let sessions: Vec<_> = lock(&self.sessions).values().cloned().collect();
        ServerStats {
            sessions: sessions.len(),
            channels: sessions.iter().map(|s| s.channel_count()).sum(),
            topics: self.topics.topic_count(),
            pending_requests: sessions.iter().map(|s| s.pending_count()).sum(),
            detached_bytes: self.detached.used(),
        }
    }

    /// How much `topic`'s channel keeps, if it keeps history.
    pub(crate) fn history_of(&self, topic: &Topic) -> Option<History> {
        self.histories.get(topic.name()).copied()
    }

    /// The backplane, if it keeps the histories.
    pub(crate) fn history_backplane(&self) -> Option<&Arc<dyn Backplane>> {
        self.backplane.as_ref().filter(|backplane| backplane.keeps_history())
    }

    pub(crate) fn remove_session(&self, session: &SessionShared) {
        lock(&self.sessions).remove(&session.id);
        self.sessions_changed.notify_waiters();
    }
}

impl Host for Registry {
    fn config(&self) -> &Config {
        &self.config
    }

    fn started(&self) -> Instant {
        self.started
    }

    /// The authorization hook's verdict; a panic in it refuses (and is logged and counted).
    fn authorize(&self, session: &Session, access: &Access<'_>) -> Result<(), String> {
        let Some(authorize) = &self.authorizer else { return Ok(()) };
        guard::call(Callback::Authorize, self.telemetry.as_ref(), || authorize(session, access))
            .unwrap_or_else(|_panicked| Err(AUTHORIZE_PANICKED.to_owned()))
    }

    fn join(&self, topic: &Topic, session: &Arc<SessionShared>, channel: ChannelId) {
        if self.presences.tracks(topic) {
            self.join_with_presence(topic, session, channel);
        } else {
            self.join_topic(topic, session, channel);
        }
    }

    fn leave(&self, topic: &Topic, session_key: u64, channel: ChannelId) {
        if self.topics.leave(topic, session_key, channel) {
            if self.presences.tracks(topic) {
                self.left_presence(topic, session_key);
            }
            if let Some(backplane) = &self.backplane {
                backplane.leave_topic(topic);
            }
        }
    }

    fn declare_presence(&self, name: &'static str) {
        self.presences.declare(name);
    }

    fn track(&self, topic: &Topic, session: &Arc<SessionShared>, meta: Box<serde_json::value::RawValue>) {
        self.track_presence(topic, session, meta);
    }

    fn untrack(&self, topic: &Topic, session: &SessionShared) {
        self.untrack_presence(topic, session);
    }

    fn telemetry(&self) -> Option<&crate::telemetry::Telemetry> {
        self.telemetry.as_ref()
    }

    fn detached_budget(&self) -> &Arc<Budget> {
        &self.detached
    }

    fn follow_room(
        &self,
        topic: &Topic,
        kind: std::any::TypeId,
        make: crate::history::follow::MakeView<'_>,
    ) -> Option<Arc<crate::history::follow::RoomFollow>> {
        Registry::follow_room(self, topic, kind, make)
    }

    /// Queues the frame (shared, not copied) for every member session of this node that
    /// `target` admits, and hands it to the backplane once for the other nodes (unless
    /// it was for one session of this node, which needs no other node).
    ///
    /// A broadcast to a whole room of a channel that keeps history is numbered first: in
    /// memory, here, delivered under the room's lock; with a backplane that keeps
    /// history, by the backplane, which brings it back to every node (this one too), so
    /// it counts 0 here.
    fn publish(&self, topic: &Topic, target: &Target, body: &frames::Body) -> Delivery {
        let delivery = self.publish_here_and_there(topic, target, body);
        if let Some(telemetry) = &self.telemetry {
            telemetry.broadcast(delivery.queued().unwrap_or(0));
        }
        delivery
    }
}
