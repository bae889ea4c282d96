//! State shared by every connection of one server: the config, the topics, the table of
//! live sessions, the backplane and the hooks; and broadcast through it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use tokio::sync::Notify;

use super::remote_hooks::{Lanes, RemoteHook};
use super::{access, presence, topics};
use crate::backplane::{Backplane, Gate, KeptMessage, NodeId, RemoteDelivery, RemoteSink, StoredHistory};
use crate::config::Config;
use crate::guard::{self, Callback};
use crate::history::memory::MemoryHistories;
use crate::history::{History, Kept, Position, plan};
use crate::id::ChannelId;
use crate::protocol::{Topic, frames};
use crate::session::host::Host;
use crate::session::{Access, Session, SessionShared};
use crate::session_core::budget::Budget;
use crate::sync::lock;
use crate::target::{Delivery, Target};

pub(super) type SessionHook = Arc<dyn Fn(Session) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// State shared by every connection of one server.
pub(crate) struct ServerShared {
    pub(crate) config: Config,
    pub(crate) topics: topics::Topics,
    pub(crate) started: Instant,
    pub(super) on_session: Vec<SessionHook>,
    pub(super) root: Option<crate::component::RootFn>,
    pub(crate) node: NodeId,
    pub(super) backplane: Option<Arc<dyn Backplane>>,
    pub(super) started_background: std::sync::Once,
    pub(super) remote_hooks: Vec<RemoteHook>,
    /// Their calls waiting, by topic ([`super::remote_hooks`]).
    pub(super) remote_lanes: Mutex<Lanes<frames::Body>>,
    /// The channels whose every room's broadcasts the hooks follow.
    pub(super) followed: Vec<Arc<str>>,
    pub(super) authenticator: Option<access::Authenticator>,
    pub(crate) authorizer: Option<access::Authorizer>,
    /// Every live session (attached or waiting to be resumed), by id.
    pub(super) sessions: Mutex<HashMap<crate::SessionId, Arc<SessionShared>>>,
    pub(super) sessions_changed: Notify,
    pub(super) next_key: AtomicU64,
    pub(super) shutting_down: AtomicBool,
    /// The channels that keep history, by name, and how much.
    pub(super) histories: HashMap<Arc<str>, History>,
    /// Their rooms' histories, when no backplane keeps them.
    pub(super) memory_histories: MemoryHistories,
    /// Who is in each room of the channels that track presence.
    pub(super) presences: presence::Presences,
    /// This server, for the tasks that read histories.
    pub(super) this: Weak<ServerShared>,
    /// Its metrics, and where they are served ([`crate::ServerBuilder::metrics`]).
    pub(crate) telemetry: Option<crate::telemetry::Telemetry>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) metrics_path: Option<String>,
    /// The built client's folder ([`crate::ServerBuilder::assets`]).
    pub(super) assets: Option<std::path::PathBuf>,
    /// The connections and sessions admitted, against their caps.
    pub(super) admission: Arc<super::admission::Admission>,
    /// Layers around the server's whole router ([`crate::ServerBuilder::layer`]).
    pub(super) layers: Vec<super::builder::RouterLayer>,
    /// What the sessions waiting to be resumed hold, together ([`Config::max_detached_bytes`]).
    pub(super) detached: Arc<Budget>,
    /// The rooms this node follows for `RoomHistory` values ([`super::views`]).
    pub(super) views: super::views::Views,
    /// The address this node listens on, once it does ([`super::nodes`]).
    pub(super) advertised: std::sync::OnceLock<String>,
    /// The cluster's nodes' WebSocket URLs, configured or learnt: what clients are told,
    /// and whose pages are admitted ([`super::nodes`]).
    pub(super) nodes: tokio::sync::watch::Sender<Arc<[String]>>,
    /// When the backplane's list of nodes was last read for a refused origin.
    pub(super) nodes_refreshed: Mutex<Option<Instant>>,
}

/// A backplane [`Gate`] that several may await; already running on its own task.
pub(super) type SharedGate = futures_util::future::Shared<Gate>;

impl ServerShared {
    pub(super) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(super) fn new_session(
        self: &Arc<Self>,
        identity: Option<access::Identity>,
        params: crate::protocol::Query,
    ) -> Arc<SessionShared> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let session = SessionShared::new(self.clone() as Arc<dyn Host>, key, identity, params);
        lock(&self.sessions).insert(session.id, session.clone());
        session
    }

    /// A connection or a new session was refused at a cap (`peer`: the socket's
    /// address, when known): counted, logged at debug level, and at warn level at most
    /// once a second with how many were refused since.
    pub(super) fn refused(&self, peer: Option<std::net::SocketAddr>, refusal: &super::admission::Refusal) {
        if let Some(telemetry) = &self.telemetry {
            telemetry.refused();
        }
        tracing::debug!(?peer, "refused: {refusal}");
        if let Some(refused) = self.admission.warn_of_refusal(Instant::now()) {
            tracing::warn!(refused, "refused: {refusal} ({refused} refused since the last warning)");
        }
    }

    /// Sessions alive (attached or waiting to be resumed).
    pub(super) fn session_count(&self) -> usize {
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

    /// Starts the server's background work once: the backplane (and the presence
    /// sweeper that goes with it), giving memory back after a crowd leaves, and the
    /// metrics' upkeep.
    pub(super) fn start_background(self: &Arc<Self>) {
        self.started_background.call_once(|| {
            super::memory::start(self.this.clone());
            if let Some(backplane) = &self.backplane {
                let sink: Weak<dyn RemoteSink> = Arc::downgrade(self) as Weak<dyn RemoteSink>;
                for name in &self.followed {
                    backplane.follow_channel(name);
                }
                backplane.start(RemoteDelivery::new(sink, self.node));
                self.start_presence_sweeper();
                self.follow_nodes();
            }
            #[cfg(feature = "metrics")]
            if self.telemetry.is_some() {
                let this = self.this.clone();
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return tracing::warn!(
                        "the server's router was made outside a tokio runtime: metrics upkeep not started"
                    );
                };
                runtime.spawn(async move {
                    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
                    loop {
                        every.tick().await;
                        let Some(server) = this.upgrade() else { return };
                        if let Some(telemetry) = &server.telemetry {
                            telemetry.upkeep();
                        }
                    }
                });
            }
        });
    }

    /// The metrics in Prometheus' text format, with the gauges read now.
    #[cfg(feature = "metrics")]
    pub(crate) fn render_metrics(&self) -> Option<String> {
        let telemetry = self.telemetry.as_ref()?;
        let counters = self.backplane.as_ref().map(|b| b.counters()).unwrap_or_default();
        Some(telemetry.render(self.stats(), &counters))
    }

    /// Counts of what the server holds now.
    pub(crate) fn stats(&self) -> crate::ServerStats {
        let sessions: Vec<_> = lock(&self.sessions).values().cloned().collect();
        crate::ServerStats {
            sessions: sessions.len(),
            channels: sessions.iter().map(|s| s.channel_count()).sum(),
            topics: self.topics.topic_count(),
            pending_requests: sessions.iter().map(|s| s.pending_count()).sum(),
            detached_bytes: self.detached.used(),
        }
    }

    /// How much `topic`'s channel keeps, if it keeps history.
    pub(super) fn history_of(&self, topic: &Topic) -> Option<History> {
        self.histories.get(topic.name()).copied()
    }

    /// The backplane, if it keeps the histories.
    pub(super) fn history_backplane(&self) -> Option<&Arc<dyn Backplane>> {
        self.backplane.as_ref().filter(|backplane| backplane.keeps_history())
    }

    /// Joins a room whose history is in memory: under the room's lock, the session gets
    /// the `history` frame and its replay, then becomes a member, so the next broadcast
    /// (made under the same lock) follows the replay with nothing missed or repeated.
    fn join_memory(&self, topic: &Topic, history: History, session: &Arc<SessionShared>, channel: ChannelId) -> bool {
        let room = self.memory_histories.room(topic, history);
        let mut room = lock(&room);
        if self.topics.is_member(topic, session.key) {
            // Another channel of the same room: the replay went to the first.
            return self.topics.join(topic, session, channel);
        }
        let kept = room.kept(Instant::now());
        let since = session.since_for(topic);
        let replay = plan(&kept, since.as_ref());
        let _ = session.enqueue(replay.start_frame(topic));
        let _ = session.enqueue_run(replay.entries.iter().map(|(_, body)| body.clone()).collect());
        self.topics.join_live(topic, session, channel, Position { epoch: kept.epoch.clone(), offset: kept.top })
    }

    /// A session became a member of `topic`: the backplane delivers the topic's
    /// broadcasts to this node from now on. While it is not yet receiving them, the
    /// channel's `open` is held back, and the returned gate (awaited by whoever runs
    /// it) releases it once it is.
    fn subscribe(&self, topic: &Topic, session: &Arc<SessionShared>, channel: ChannelId) -> Option<SharedGate> {
        use futures_util::FutureExt as _;
        let gate = self.backplane.as_ref()?.join_topic(topic)?;
        session.hold_open(channel);
        let session = session.clone();
        let gate: Gate = Box::pin(async move {
            gate.await;
            session.release_open(channel);
        });
        let gate = gate.shared();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(gate.clone())),
            Err(_) => tracing::error!("joining a topic needs a Tokio runtime"),
        }
        Some(gate)
    }

    /// Joins `topic` (with its history, if its channel keeps one); returns whether the
    /// session became a member, and the gate of the node's subscription to the topic,
    /// if it must be awaited.
    pub(super) fn join_topic(
        &self,
        topic: &Topic,
        session: &Arc<SessionShared>,
        channel: ChannelId,
    ) -> (bool, Option<SharedGate>) {
        let Some(history) = self.history_of(topic) else {
            let created = self.topics.join(topic, session, channel);
            return (created, created.then(|| self.subscribe(topic, session, channel)).flatten());
        };
        if self.history_backplane().is_none() {
            let created = self.join_memory(topic, history, session, channel);
            return (created, created.then(|| self.subscribe(topic, session, channel)).flatten());
        }
        if self.topics.is_member(topic, session.key) {
            return (self.topics.join(topic, session, channel), None);
        }
        let since = session.since_for(topic);
        match self.topics.join_recovering(topic, session, channel, since) {
            Some(refetch) => {
                let gate = self.subscribe(topic, session, channel);
                self.recover(topic, history, refetch, gate.clone());
                (true, gate)
            }
            None => (false, None),
        }
    }

    /// Reads `topic`'s history from the backplane for a member that is recovering, and
    /// hands it over; retried with backoff while Redis is unreachable and the member
    /// still waits for it.
    fn recover(&self, topic: &Topic, history: History, refetch: topics::Refetch, gate: Option<SharedGate>) {
        let (Some(server), Some(backplane)) = (self.this.upgrade(), self.history_backplane().cloned()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(%topic, "a history read needs a Tokio runtime");
            return;
        };
        let topic = topic.clone();
        runtime.spawn(async move {
            // The history is read once this node receives the room's broadcasts, so that
            // every broadcast is in the history read or arrives after it.
            if let Some(gate) = gate {
                gate.await;
            }
            let wanted = || server.topics.is_recovering(&topic, refetch.session_key, refetch.token);
            let Some(kept) = read_kept(&*backplane, &topic, history, wanted).await else { return };
            for again in server.topics.recovered(&topic, refetch.session_key, refetch.token, &kept) {
                server.recover(&topic, history, again, None);
            }
        });
    }

    pub(crate) fn remove_session(&self, session: &SessionShared) {
        lock(&self.sessions).remove(&session.id);
        self.sessions_changed.notify_waiters();
    }
}

impl Host for ServerShared {
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
            .unwrap_or_else(|_panicked| Err(access::AUTHORIZE_PANICKED.to_owned()))
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
        ServerShared::follow_room(self, topic, kind, make)
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

impl ServerShared {
    fn publish_here_and_there(&self, topic: &Topic, target: &Target, body: &frames::Body) -> Delivery {
        if let (Target::All, Some(history)) = (target, self.history_of(topic)) {
            if let Some(backplane) = self.history_backplane() {
                let Some(head) = crate::backplane::kept_head(self.node, topic) else {
                    // Unreachable: a topic is shorter than `MAX_ROOM_LEN` and its name.
                    tracing::warn!(%topic, "broadcast not kept: its topic is over 64 KiB");
                    return Delivery::Queued(0);
                };
                let frame = bytes::Bytes::copy_from_slice(body.bytes());
                let new_epoch = crate::history::new_epoch();
                backplane.publish_kept(KeptMessage { topic: topic.clone(), history, new_epoch, head, frame });
                return Delivery::Kept;
            }
            let room = self.memory_histories.room(topic, history);
            let mut room = lock(&room);
            let (offset, numbered) = room.append(body, Instant::now());
            let epoch = room.epoch().clone();
            let reached = self.topics.deliver_kept(topic, &epoch, offset, &numbered).reached;
            let mut kept = || room.kept(Instant::now());
            self.views_arrive(topic, &epoch, offset, &numbered, Some(&mut kept));
            drop(room);
            if let Some(backplane) = &self.backplane {
                // A backplane that keeps no history: other nodes get it unnumbered.
                if let Some(message) = crate::backplane::encode_message(self.node, topic, target, body) {
                    backplane.publish(topic, message);
                }
            }
            return Delivery::Queued(reached);
        }
        let reached = self.topics.deliver(topic.as_str(), target, body);
        let local_session = matches!(target, Target::Session(id) if lock(&self.sessions).contains_key(id));
        if let Some(backplane) = &self.backplane {
            if !local_session {
                match crate::backplane::encode_message(self.node, topic, target, body) {
                    Some(message) => backplane.publish(topic, message),
                    None => tracing::warn!(%topic, "broadcast not sent to other nodes: its user key is over 64 KiB"),
                }
            }
        }
        Delivery::Queued(reached)
    }
}

impl RemoteSink for ServerShared {
    /// Delivers to this node's member sessions, then queues the call of the hooks that
    /// watch whole-topic broadcasts from other nodes (they run on a task of their own).
    fn deliver_remote(&self, topic: &Topic, target: &Target, body: &frames::Body) -> usize {
        let reached = self.topics.deliver(topic.as_str(), target, body);
        if matches!(target, Target::All | Target::Except(_)) {
            self.queue_remote_hooks(topic, body);
        }
        reached
    }

    fn deliver_presence(&self, _from: NodeId, topic: &Topic, version: u64, change: &[u8]) {
        self.presence_arrived(topic, version, change);
    }

    fn resync_kept(&self) {
        self.resync_presence();
        if self.history_backplane().is_none() {
            return; // histories in memory miss nothing
        }
        self.resync_views();
        for (topic, refetch) in self.topics.resync() {
            if let Some(history) = self.history_of(&topic) {
                self.recover(&topic, history, refetch, None);
            }
        }
    }

    fn deliver_kept(&self, from: NodeId, topic: &Topic, epoch: &str, offset: u64, frame: &frames::Body) {
        if from != self.node {
            self.queue_remote_hooks(topic, frame);
        }
        let Some(history) = self.history_of(topic) else { return };
        let epoch: Arc<str> = Arc::from(epoch);
        let numbered = frame.with_position(&epoch, offset);
        let delivered = self.topics.deliver_kept(topic, &epoch, offset, &numbered);
        self.views_arrive(topic, &epoch, offset, &numbered, None);
        if let Some(telemetry) = &self.telemetry {
            // Counted once per broadcast, on the node that made it (its `publish` counted 0).
            if from == self.node {
                telemetry.delivered(delivered.reached);
            }
        }
        for refetch in delivered.refetch {
            self.recover(topic, history, refetch, None);
        }
    }
}

/// `topic`'s history read from `backplane`, as sessions get it; retried with backoff
/// (50 ms … 2 s) while the backplane is unreachable and `wanted()` holds, which is
/// asked before each try. `None` once it no longer holds.
pub(super) async fn read_kept(
    backplane: &dyn Backplane,
    topic: &Topic,
    history: History,
    wanted: impl Fn() -> bool,
) -> Option<Kept> {
    let mut delay = std::time::Duration::from_millis(50);
    while wanted() {
        match backplane.read_history(topic, history, &crate::history::new_epoch()).await {
            Ok(stored) => return Some(kept_from_store(stored, history)),
            Err(error) => {
                tracing::warn!(%topic, %error, "reading a room's history failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
    None
}

/// A history as the backplane stored it, as sessions get it: broadcasts older than
/// the history keeps left out, and only the run that ends at `top` with no hole.
fn kept_from_store(stored: StoredHistory, history: History) -> Kept {
    let epoch: Arc<str> = Arc::from(stored.epoch);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    let oldest_ms = now_ms.saturating_sub(u64::try_from(history.ttl().as_millis()).unwrap_or(u64::MAX));
    let mut entries = Vec::new();
    let mut expected = stored.top;
    for (offset, at_ms, frame) in stored.entries.into_iter().rev() {
        if offset != expected || at_ms < oldest_ms {
            break;
        }
        let Some(body) = frames::Body::from_bytes(frame) else { break };
        entries.push((offset, body.with_position(&epoch, offset)));
        expected = expected.saturating_sub(1);
    }
    entries.reverse();
    Kept { epoch, top: stored.top, entries, size: history.size() }
}
