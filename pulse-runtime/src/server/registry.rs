//! State shared by every connection of one server: the config, the topics, the table of
//! live sessions, the backplane and the hooks; and broadcast through it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Notify;

use super::{access, topics};
use crate::backplane::{Backplane, NodeId, RemoteDelivery};
use crate::config::Config;
use crate::error::ChannelError;
use crate::protocol::frames;
use crate::session::{Session, SessionShared};
use crate::sync::lock;

pub(super) type SessionHook = Arc<dyn Fn(Session) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
/// Sees broadcasts that arrive from other nodes: (topic, encoded frame).
pub(super) type RemoteHook = Arc<dyn Fn(&str, &frames::Body) + Send + Sync>;

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
    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub(super) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(super) fn new_session(
        self: &Arc<Self>,
        identity: Option<access::Identity>,
    ) -> (Arc<SessionShared>, tokio::sync::mpsc::Receiver<crate::session::Reattach>) {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let (session, resumes) = SessionShared::new(self.clone(), key, identity);
        lock(&self.sessions).insert(session.id, session.clone());
        (session, resumes)
    }

    /// The session with `id`, if it is still alive (attached or waiting to be resumed).
    pub(crate) fn find_session(&self, id: crate::SessionId) -> Option<Arc<SessionShared>> {
        lock(&self.sessions).get(&id).filter(|s| !s.is_finished()).cloned()
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn new_session_for_fuzzing(self: &Arc<Self>) -> Arc<SessionShared> {
        self.new_session(None).0
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn topics_len(&self) -> usize {
        self.topics.topic_count()
    }

    /// Runs the hooks that watch broadcasts from other nodes.
    pub(crate) fn remote_broadcast(&self, topic: &str, body: &frames::Body) {
        for hook in &self.remote_hooks {
            hook(topic, body);
        }
    }

    pub(super) fn start_backplane(self: &Arc<Self>) {
        if let Some(backplane) = &self.backplane {
            self.backplane_started.call_once(|| backplane.start(RemoteDelivery::new(self)));
        }
    }

    pub(crate) fn remove_session(&self, session: &SessionShared) {
        lock(&self.sessions).remove(&session.id);
        self.sessions_changed.notify_waiters();
    }
}

/// Sends `event` on every open channel named `name`, in every session: the frame is
/// serialized once and its bytes shared.
pub(crate) fn broadcast<P: Serialize + ?Sized>(
    server: &ServerShared,
    name: &str,
    event: &str,
    payload: &P,
) -> Result<usize, ChannelError> {
    let body = frames::broadcast(name, event, payload).map_err(|e| ChannelError::Payload(e.to_string()))?;
    let reached = server.topics.deliver(name, &body);
    if let Some(backplane) = &server.backplane {
        backplane.publish(crate::backplane::encode_message(server.node, name, &body));
    }
    Ok(reached)
}
