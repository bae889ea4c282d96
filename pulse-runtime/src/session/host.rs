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
use crate::protocol::WireError;
use crate::protocol::frames::{self, Body};

/// The server as its sessions see it (implemented by the registry, `ServerShared`).
pub(crate) trait Host: Send + Sync + 'static {
    /// The server's settings.
    fn config(&self) -> &Config;
    /// When the server started (the origin of the sessions' idle clocks).
    fn started(&self) -> Instant;
    /// The authorization hook's verdict; `Ok` when there is no hook.
    fn authorize(&self, session: &Session, access: &Access<'_>) -> Result<(), String>;
    /// `session`'s channel `channel` receives the broadcasts on `name` from now on.
    fn join(&self, name: &Arc<str>, session: &Arc<SessionShared>, channel: ChannelId);
    /// The channel no longer receives them. Idempotent.
    fn leave(&self, name: &str, session_key: u64, channel: ChannelId);
    /// Delivers an encoded broadcast on `name` to every member session, on this node and
    /// the others; returns how many sessions of this node it was queued for.
    fn publish(&self, name: &str, body: &Body) -> usize;
}

/// Encodes `event` once and publishes it on `name` through `host`.
pub(crate) fn broadcast<P: Serialize + ?Sized>(
    host: &dyn Host,
    name: &str,
    event: &str,
    payload: &P,
) -> Result<usize, ChannelError> {
    let body = frames::broadcast(name, event, payload).map_err(|e| ChannelError::Payload(e.to_string()))?;
    Ok(host.publish(name, &body))
}

/// The authenticated identity of a session, of whatever type the app's authentication
/// hook returns; read it with [`Session::identity`].
pub(crate) type Identity = Arc<dyn Any + Send + Sync>;

/// A DOM callback of the current render, as the session keeps it: it decodes the
/// event data and runs the component's callback.
pub(crate) type CallbackFn = Arc<dyn Fn(&RawValue) -> Result<(), WireError> + Send + Sync>;

/// What a session is about to do, for the authorization hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access<'a> {
    /// The server opens a channel named `name` in the session.
    Open {
        /// The channel name.
        name: &'a str,
    },
    /// The client emits `event` on a channel named `channel`.
    Emit {
        /// The channel name.
        channel: &'a str,
        /// The event.
        event: &'a str,
    },
    /// The client requests `event` on a channel named `channel`.
    Request {
        /// The channel name.
        channel: &'a str,
        /// The event.
        event: &'a str,
    },
}
