//! State shared by every connection of one server: the config, the topics, the table of
//! live sessions, the backplane and the hooks; and broadcast through it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use tokio::sync::Notify;

use super::{access, topics};
use crate::backplane::{Backplane, NodeId, RemoteDelivery, RemoteSink};
use crate::config::Config;
use crate::id::ChannelId;
use crate::protocol::{Topic, frames};
use crate::session::host::Host;
use crate::session::{Access, Session, SessionShared};
use crate::sync::lock;
use crate::target::Target;

pub(super) type SessionHook = Arc<dyn Fn(Session) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
/// Sees broadcasts to a whole topic that arrive from other nodes: (topic, encoded frame).
pub(super) type RemoteHook = Arc<dyn Fn(&Topic, &frames::Body) + Send + Sync>;

/// State shared by every connection of one server.
pub(crate) struct ServerShared {
    pub(crate) config: Config,
    pub(crate) topics: topics::Topics,
    pub(crate) started: Instant,
    pub(super) on_session: Vec<SessionHook>,
    pub(super) root: Option<crate::component::RootFn>,
    pub(crate) node: NodeId,
    pub(super) backplane: Option<Arc<dyn Backplane>>,
    pub(super) backplane_started: std::sync::Once,
    pub(super) remote_hooks: Vec<RemoteHook>,
    pub(super) authenticator: Option<access::Authenticator>,
    pub(crate) authorizer: Option<access::Authorizer>,
    /// Every live session (attached or waiting to be resumed), by id.
    pub(super) sessions: Mutex<HashMap<crate::SessionId, Arc<SessionShared>>>,
    pub(super) sessions_changed: Notify,
    pub(super) next_key: AtomicU64,
    pub(super) shutting_down: AtomicBool,
}

impl ServerShared {
    pub(super) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(super) fn new_session(
        self: &Arc<Self>,
        identity: Option<access::Identity>,
        params: Option<String>,
    ) -> (Arc<SessionShared>, tokio::sync::mpsc::Receiver<Box<crate::session::Reattach>>) {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let (session, resumes) = SessionShared::new(self.clone() as Arc<dyn Host>, key, identity, params);
        lock(&self.sessions).insert(session.id, session.clone());
        (session, resumes)
    }

    /// The session with `id`, if it is still alive (attached or waiting to be resumed).
    pub(crate) fn find_session(&self, id: crate::SessionId) -> Option<Arc<SessionShared>> {
        lock(&self.sessions).get(&id).filter(|s| !s.is_finished()).cloned()
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn new_session_for_fuzzing(self: &Arc<Self>) -> Arc<SessionShared> {
        self.new_session(None, None).0
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn topics_len(&self) -> usize {
        self.topics.topic_count()
    }

    pub(super) fn start_backplane(self: &Arc<Self>) {
        if let Some(backplane) = &self.backplane {
            let sink: Weak<dyn RemoteSink> = Arc::downgrade(self) as Weak<dyn RemoteSink>;
            self.backplane_started.call_once(|| backplane.start(RemoteDelivery::new(sink, self.node)));
        }
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

    fn authorize(&self, session: &Session, access: &Access<'_>) -> Result<(), String> {
        match &self.authorizer {
            Some(authorize) => authorize(session, access),
            None => Ok(()),
        }
    }

    fn join(&self, topic: &Topic, session: &Arc<SessionShared>, channel: ChannelId) {
        self.topics.join(topic, session, channel);
    }

    fn leave(&self, topic: &Topic, session_key: u64, channel: ChannelId) {
        self.topics.leave(topic, session_key, channel);
    }

    /// Queues the frame (shared, not copied) for every member session of this node that
    /// `target` admits, and hands it to the backplane once for the other nodes (unless
    /// it was for one session of this node, which needs no other node).
    fn publish(&self, topic: &Topic, target: &Target, body: &frames::Body) -> usize {
        let reached = self.topics.deliver(topic.as_str(), target, body);
        let local_session = matches!(target, Target::Session(id) if lock(&self.sessions).contains_key(id));
        if let Some(backplane) = &self.backplane {
            if !local_session {
                match crate::backplane::encode_message(self.node, topic, target, body) {
                    Some(message) => backplane.publish(message),
                    None => tracing::warn!(%topic, "broadcast not sent to other nodes: its user key is over 64 KiB"),
                }
            }
        }
        reached
    }
}

impl RemoteSink for ServerShared {
    /// Runs the hooks that watch whole-topic broadcasts from other nodes, then delivers
    /// to this node's member sessions.
    fn deliver_remote(&self, topic: &Topic, target: &Target, body: &frames::Body) -> usize {
        if matches!(target, Target::All | Target::Except(_)) {
            for hook in &self.remote_hooks {
                hook(topic, body);
            }
        }
        self.topics.deliver(topic.as_str(), target, body)
    }
}
