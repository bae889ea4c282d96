//! `Session`: the app's handle to one client session.

use std::sync::Arc;

use serde::Serialize;

use super::channel::{RawChannel, RawHandler};
use super::host;
use super::{Ending, SessionShared};
use crate::error::{ChannelError, OpenError};
use crate::id::SessionId;
use crate::protocol::{CloseCode, Topic};
use crate::target::Target;

/// A handle to one client session. Cheap to clone; valid after the session ends (its
/// operations then fail with `SessionEnded` / `Disconnected`).
#[derive(Clone)]
pub struct Session {
    pub(crate) shared: Arc<SessionShared>,
}

impl Session {
    /// The session's unguessable id (also sent to the client in `hello`).
    pub fn id(&self) -> SessionId {
        self.shared.id
    }

    /// Opens a channel named `name` in this session. Client frames for it go to
    /// `handler`; the client learns of it from an `open` frame.
    pub fn open_channel(&self, name: &str, handler: impl RawHandler) -> Result<RawChannel, OpenError> {
        self.shared.open_channel(Topic::from(name), Box::new(handler), true)
    }

    /// Opens a channel on `topic` (a name and a room) in this session.
    pub fn open_channel_on(&self, topic: Topic, handler: impl RawHandler) -> Result<RawChannel, OpenError> {
        self.shared.open_channel(topic, Box::new(handler), true)
    }

    /// Sends `event` to every session with an open channel named `name`, this one
    /// included, and says what it did by the time it returned (a
    /// [`Delivery`](crate::Delivery)).
    pub fn broadcast<P: Serialize + ?Sized>(
        &self,
        name: &str,
        event: &str,
        payload: &P,
    ) -> Result<crate::Delivery, ChannelError> {
        host::broadcast(&*self.shared.host, &Topic::from(name), &Target::All, event, payload)
    }

    /// A parameter the client connected with, percent-decoded: one of the WebSocket
    /// URL's query (`new PulseConnection({ params: { room } })` sends `/ws?v=1&room=…`),
    /// or else one of the query of the page the client is on. `PulseRoot` sends the
    /// page's address by default (and each navigation), so on the page `/?room=lobby`,
    /// `param("room")` is `Some("lobby")`.
    pub fn param(&self, name: &str) -> Option<String> {
        if let Some(value) = self.shared.params.get(name) {
            return Some(value.into_owned());
        }
        let (_, query) = self.shared.page_address()?;
        crate::protocol::Query::parse(&query).get(name).map(std::borrow::Cow::into_owned)
    }

    /// The path of the page the client is on (`/boards/7`), if it said: the
    /// TypeScript client sends the page's address (`location`) unless told not to
    /// (`page: false`), and each navigation of a page rendered by the server.
    pub fn page_path(&self) -> Option<String> {
        self.shared.page_address().map(|(path, _)| path)
    }

    /// The address of the page the client is on (where it last navigated, else the one
    /// it connected from), as its path and its query (without `?`), if it said.
    pub(crate) fn page_address(&self) -> Option<(String, String)> {
        self.shared.page_address()
    }

    /// The key of this session's user (see [`Identity`](crate::Identity)), if
    /// authentication said who it is.
    pub fn user_key(&self) -> Option<&str> {
        self.shared.user()
    }

    /// Whether the connection is still up.
    pub fn is_connected(&self) -> bool {
        !self.shared.is_ending()
    }

    /// The close code the server ended the session with; `None` while it is connected
    /// or when the client was the one to leave.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.shared.ending.with(|ending| match ending {
            Some(Ending::Close(code, _)) => Some(*code),
            _ => None,
        })
    }

    /// The identity the authentication hook gave this session, if it is a `T`.
    pub fn identity<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.shared.identity.as_ref()?.value.clone().downcast::<T>().ok()
    }

    /// How many channels are open in this session.
    pub fn channel_count(&self) -> usize {
        self.shared.channel_count()
    }

    /// Resolves when the session has ended.
    pub async fn closed(&self) {
        // Registered before the flag is read, so an end in between still wakes it.
        let mut finished = std::pin::pin!(self.shared.on_finish.notified());
        finished.as_mut().enable();
        if !self.shared.is_finished() {
            finished.await;
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.shared.id).finish()
    }
}
