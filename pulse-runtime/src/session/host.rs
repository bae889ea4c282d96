//! What a session needs from the server it belongs to, as one interface the server
//! implements: the session layer never names the server, so the modules form layers
//! (protocol, session core, sessions, registry, connection driver) without a circle.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::value::RawValue;

use super::{Session, SessionShared};
use crate::config::Config;
use crate::error::ChannelError;
use crate::id::ChannelId;
use crate::protocol::frames::{self, Body};
use crate::protocol::{Topic, WireError};
use crate::target::{Delivery, Target};

/// The server as its sessions see it (implemented by the registry, `ServerShared`).
pub(crate) trait Host: Send + Sync + 'static {
    /// The server's settings.
    fn config(&self) -> &Config;
    /// When the server started (the origin of the sessions' idle clocks).
    fn started(&self) -> Instant;
    /// The authorization hook's verdict; `Ok` when there is no hook.
    fn authorize(&self, session: &Session, access: &Access<'_>) -> Result<(), String>;
    /// `session`'s channel `channel` receives the broadcasts on `topic` from now on.
    fn join(&self, topic: &Topic, session: &Arc<SessionShared>, channel: ChannelId);
    /// The channel no longer receives them. Idempotent.
    fn leave(&self, topic: &Topic, session_key: u64, channel: ChannelId);
    /// Channels named `name` track presence (learnt when the first one opens).
    fn declare_presence(&self, name: &'static str);
    /// `session`'s presence in `topic` is now `meta` (JSON); it is listed under its user
    /// key until it leaves the topic or is untracked.
    fn track(&self, topic: &Topic, session: &Arc<SessionShared>, meta: Box<RawValue>);
    /// `session` is no longer listed in `topic`.
    fn untrack(&self, topic: &Topic, session: &SessionShared);
    /// Delivers an encoded broadcast on `topic` to the member sessions `target` admits,
    /// on this node and the others; says what it did by the time it returns.
    fn publish(&self, topic: &Topic, target: &Target, body: &Body) -> Delivery;
    /// The server's metrics, when it has them.
    fn telemetry(&self) -> Option<&crate::telemetry::Telemetry>;
    /// What the sessions waiting to be resumed may hold, together.
    fn detached_budget(&self) -> &Arc<crate::session_core::budget::Budget>;
    /// This node's follower of `topic`'s history for values of type `kind` (made with
    /// `make` if there is none); `None` if `topic`'s channel keeps no history.
    fn follow_room(
        &self,
        topic: &Topic,
        kind: std::any::TypeId,
        make: crate::history::follow::MakeView<'_>,
    ) -> Option<Arc<crate::history::follow::RoomFollow>>;
}

/// Encodes `event` once and publishes it on `topic`, to `target`, through `host`.
pub(crate) fn broadcast<P: Serialize + ?Sized>(
    host: &dyn Host,
    topic: &Topic,
    target: &Target,
    event: &str,
    payload: &P,
) -> Result<Delivery, ChannelError> {
    let body = frames::broadcast(topic, event, payload).map_err(|e| ChannelError::Payload(e.to_string()))?;
    Ok(host.publish(topic, target, &body))
}

/// The authenticated identity of a session: the value the app's authentication hook
/// returned (read it with [`Session::identity`]) and its user key.
#[derive(Clone)]
pub(crate) struct Identity {
    pub value: Arc<dyn Any + Send + Sync>,
    pub user: Arc<str>,
}

impl Identity {
    pub(crate) fn new<I: crate::target::Identity>(value: I) -> Identity {
        let user = Arc::from(value.user_key());
        Identity { value: Arc::new(value), user }
    }
}

/// A DOM callback of the current render, as the session keeps it: it decodes the
/// event data and runs the component's callback.
pub(crate) type CallbackFn = Arc<dyn Fn(&RawValue) -> Result<(), WireError> + Send + Sync>;

/// What a session is about to do, for the authorization hook.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Access<'a> {
    /// The server opens a channel named `name` in the session, in room `room` for a
    /// channel with rooms (read the key with [`Access::room`]).
    #[non_exhaustive]
    Open {
        /// The channel name.
        name: &'a str,
        /// The room key as JSON, for a channel with rooms.
        room: Option<&'a RawValue>,
    },
    /// The client emits `event` on a channel named `channel`.
    #[non_exhaustive]
    Emit {
        /// The channel name.
        channel: &'a str,
        /// The event.
        event: &'a str,
    },
    /// The client requests `event` on a channel named `channel`.
    #[non_exhaustive]
    Request {
        /// The channel name.
        channel: &'a str,
        /// The event.
        event: &'a str,
    },
}

impl Access<'_> {
    /// The room of an `Open` of a channel with rooms, decoded as `K` (the channel's
    /// declared room type); `None` for other accesses, or a key that is not a `K`.
    pub fn room<K: serde::de::DeserializeOwned>(&self) -> Option<K> {
        match self {
            Access::Open { room: Some(room), .. } => serde_json::from_str(room.get()).ok(),
            _ => None,
        }
    }
}
