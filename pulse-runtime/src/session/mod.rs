//! A session: one client connection and everything it owns (channels, pending
//! requests, its outbound queue).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::value::RawValue;
use tokio::sync::{Notify, oneshot};

pub(crate) mod channel;
mod dispatch;
mod handle;
pub(crate) mod handlers;
pub(crate) mod handover;
pub(crate) mod host;
mod lifecycle;
mod outbound;
mod pending;
pub(crate) mod request;

pub use handle::Session;
pub use host::Access;

use crate::error::{ChannelError, OpenError};
use crate::id::{ChannelId, SessionId};
use crate::protocol::{self, CloseCode, HistoryPosition, MAX_SINCE_POSITIONS, Query, SINCE_PARAM, Topic};
use crate::session_core::budget::Budget;
use crate::session_core::inbox::Inbox;
use crate::session_core::{Limits, OpenRefused, SessionCore};
use crate::sync::{Ranked, Watched, lock, rank};
use channel::{ChannelShared, CloseReason, RawChannel, RawHandler};
use host::{CallbackFn, Host, Identity};

/// Why a connection ends, and whether its session goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The server closes the connection with this code and reason, and ends the session.
    Close(CloseCode, String),
    /// The client said goodbye (a close frame): the session ends.
    ClientClosed,
    /// The connection broke: the session waits to be resumed.
    ClientGone,
    /// The server closes the connection with this code and reason (a silent client),
    /// but the session waits to be resumed.
    Detach(CloseCode, String),
}

impl Ending {
    /// Whether the session ends with the connection (it cannot be resumed).
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self, Ending::Close(..) | Ending::ClientClosed)
    }
}

/// A connection resuming a session, as the session relays it from the upgrade to its
/// task: what it is (a socket, what authentication said) is the server's business.
pub(crate) type Resuming = Box<dyn std::any::Any + Send>;

/// Where the answer to a pending server-to-client request is delivered.
pub(crate) type AnswerSender = oneshot::Sender<Result<Box<RawValue>, ChannelError>>;
/// Where the caller of a server-to-client request waits for its answer.
pub(crate) type AnswerReceiver = oneshot::Receiver<Result<Box<RawValue>, ChannelError>>;

type Core = SessionCore<Arc<ChannelShared>, AnswerSender>;

/// The shared heart of a session; [`Session`] and [`RawChannel`] are handles to it.
/// Its decisions are the [`SessionCore`]'s; this adds the locks, the wake-ups of the
/// connection's writer, and the effects the core asks for (handlers told, requests
/// failed, topics joined and left).
pub(crate) struct SessionShared {
    /// The span its work is logged in: `session{id, user}`.
    pub(crate) span: tracing::Span,
    pub(crate) id: SessionId,
    /// Small unique number, used as the key in server-wide tables.
    pub(crate) key: u64,
    pub(crate) host: Arc<dyn Host>,
    core: Ranked<Core, { rank::SESSION_CORE }>,
    /// Wakes the connection's writer when frames are queued.
    wake: Notify,
    /// Why the current connection ends (reset when the session is resumed).
    ending: Watched<Option<Ending>>,
    /// Set once the session has ended for good…
    finished: AtomicBool,
    /// …which wakes those waiting for it.
    on_finish: Notify,
    /// Where a resuming connection is handed to the session's task.
    pub(crate) resumes: handover::Handover<Resuming>,
    /// Milliseconds since `server.started` at the last inbound frame.
    last_inbound_ms: AtomicU64,
    /// The DOM callbacks of the current render, by id.
    callbacks: Mutex<HashMap<String, CallbackFn>>,
    /// What the authentication hook returned for this connection.
    identity: Option<Identity>,
    /// The query of the URL the session connected with.
    params: Query,
    /// Where the client navigated since (`navigate` frames), and what to tell then.
    navigation: Mutex<Option<Box<Navigation>>>,
    /// The rooms whose position from `since` a join has used (each is used once).
    since_used: Mutex<std::collections::HashSet<Arc<str>>>,
    /// What the client's events and requests waiting in its channels hold
    /// ([`Config::inbound_queue_bytes`](crate::Config::inbound_queue_bytes)).
    inbound: Budget,
}

/// A session's navigation: the page address its client is on now, if it navigated
/// since it connected, and the session's renderer, told of each move.
#[derive(Default)]
struct Navigation {
    address: Option<(String, String)>,
    on_navigate: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl SessionShared {
    /// A new session.
    pub(crate) fn new(host: Arc<dyn Host>, key: u64, identity: Option<Identity>, params: Query) -> Arc<Self> {
        let id = SessionId::generate();
        // Everything the session does is logged inside this span (its handlers, hooks and
        // renderer too), so `RUST_LOG='info,[session{id=…}]=debug'` follows one session.
        let span = tracing::info_span!(parent: None, "session", id = %id, user = identity.as_ref().map(|i| &*i.user));
        Arc::new(SessionShared {
            span,
            id,
            key,
            last_inbound_ms: AtomicU64::new(elapsed_ms(host.started(), Instant::now())),
            core: Ranked::new(SessionCore::new(Limits::from_config(host.config()), host.detached_budget().clone())),
            inbound: Budget::new(host.config().inbound_queue_bytes),
            host,
            wake: Notify::new(),
            ending: Watched::new(None),
            finished: AtomicBool::new(false),
            on_finish: Notify::new(),
            resumes: handover::Handover::default(),
            callbacks: Mutex::new(HashMap::new()),
            navigation: Mutex::new(None),
            identity,
            params,
            since_used: Mutex::default(),
        })
    }

    /// Handles one text frame from the client (`session/dispatch.rs`): decoded, routed
    /// to its channel's inbox, handler or pending request. Never panics on any input:
    /// a bad frame gets an error frame (or a failed answer) and the session carries on.
    pub(crate) fn text_frame(self: &Arc<Self>, text: &str) {
        dispatch::text_frame(self, text);
    }

    /// A binary message from the client: refused with an error frame (the protocol
    /// speaks JSON text only).
    pub(crate) fn binary_frame(self: &Arc<Self>) {
        dispatch::binary_frame(self);
    }

    /// Tells the server what it needs to know of the channels named `name` before one
    /// opens (whether they track presence).
    pub(crate) fn declare(&self, name: &'static str, presence: bool) {
        if presence {
            self.host.declare_presence(name);
        }
    }

    /// Lists this session in `topic` with `meta` (see [`Host::track`]).
    pub(crate) fn track(self: &Arc<Self>, topic: &Topic, meta: Box<RawValue>) {
        self.host.track(topic, self, meta);
    }

    /// Takes this session off `topic`'s list.
    pub(crate) fn untrack(&self, topic: &Topic) {
        self.host.untrack(topic, self);
    }

    /// Frames that may wait in the outbound queue.
    pub(crate) fn queue_limit(&self) -> usize {
        self.host.config().outbound_queue_frames
    }

    /// Where the client stood in `topic`'s history when it connected (the `since`
    /// parameter: a JSON array of `{"name", "room"?, "epoch", "offset"}`), the first time
    /// the session joins that room; `None` after that, or if it sent none. A `since` that
    /// cannot be read is ignored.
    pub(crate) fn since_for(&self, topic: &Topic) -> Option<crate::history::Position> {
        if !lock(&self.since_used).insert(topic.shared().clone()) {
            return None;
        }
        let since = self.params.get(SINCE_PARAM)?;
        // The list is read entry by entry, the first 64 only: one unreadable entry, or
        // what comes after them, does not cost the others.
        let entries: Vec<&RawValue> = match serde_json::from_str(&since) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::debug!(session = %self.id, %error, "unreadable `since`; ignored");
                return None;
            }
        };
        entries
            .into_iter()
            .take(MAX_SINCE_POSITIONS)
            .filter_map(|entry| serde_json::from_str::<HistoryPosition>(entry.get()).ok())
            .find_map(|at| {
                (Topic::new(&at.name, at.room) == *topic)
                    .then(|| crate::history::Position { epoch: Arc::from(at.epoch), offset: at.offset })
            })
    }

    // -- the outbound stream, for the connection driver --------------------------------

    /// The key of the session's user, when authentication said who it is.
    pub(crate) fn user(&self) -> Option<&str> {
        self.identity.as_ref().map(|identity| &*identity.user)
    }

    // -- navigation --------------------------------------------------------------------

    /// The address of the page the client is on: where it last navigated to, else the
    /// one it connected from (`page`), as its path and its query.
    pub(crate) fn page_address(&self) -> Option<(String, String)> {
        let navigated = lock(&self.navigation).as_ref().and_then(|n| n.address.clone());
        navigated.or_else(|| self.params.page_address())
    }

    /// Whether the session renders pages (its renderer listens for navigation).
    pub(crate) fn renders_pages(&self) -> bool {
        lock(&self.navigation).as_ref().is_some_and(|n| n.on_navigate.is_some())
    }

    /// The client went to `address` (`/rooms/x?y=1`): the page is now that one, and the
    /// renderer hears of it.
    pub(crate) fn navigate(&self, address: &str) {
        let (path, query) = protocol::split_address(address);
        let on_navigate = {
            let mut navigation = lock(&self.navigation);
            let navigation = navigation.get_or_insert_with(Box::default);
            navigation.address = Some((path.to_owned(), query.to_owned()));
            navigation.on_navigate.clone()
        };
        if let Some(on_navigate) = on_navigate {
            on_navigate();
        }
    }

    /// Calls `on_navigate` after each navigation (the session's renderer).
    pub(crate) fn on_navigate(&self, on_navigate: Arc<dyn Fn() + Send + Sync>) {
        lock(&self.navigation).get_or_insert_with(Box::default).on_navigate = Some(on_navigate);
    }

    // -- channels ----------------------------------------------------------------------

    /// Opens a channel on `topic`. A channel opened not `ready` is announced to the
    /// client (its `open` frame sent) only once [`SessionShared::ready`] is called: its
    /// handler does not exist yet. The handler's `on_open` runs before the announcement,
    /// so it comes before anything the client sends on the channel.
    pub(crate) fn open_channel(
        self: &Arc<Self>,
        topic: Topic,
        handler: Box<dyn RawHandler>,
        ready: bool,
    ) -> Result<RawChannel, OpenError> {
        let name = topic.name();
        if !protocol::is_valid_name(name) {
            return Err(OpenError::InvalidName(name.to_owned()));
        }
        if let Some(room) = topic.room().filter(|room| room.get().len() > protocol::MAX_ROOM_LEN) {
            let len = room.get().len();
            return Err(OpenError::InvalidRoom(format!("{len} bytes of JSON, more than {}", protocol::MAX_ROOM_LEN)));
        }
        let session = Session { shared: self.clone() };
        self.host.authorize(&session, &Access::Open { name, room: topic.room() }).map_err(OpenError::Forbidden)?;
        let backlog = self.host.config().max_pending_requests;
        let channel =
            Arc::new(ChannelShared::new(ChannelId::generate(), topic, handler, Inbox::new(backlog), &self.span));
        let (opened, gap) = {
            let mut core = lock(&self.core);
            (core.open_channel(channel.id, channel.topic.clone(), channel.clone(), false), core.gap())
        };
        self.settle_gap(gap);
        match opened {
            Ok(()) => self.wake.notify_one(),
            Err(OpenRefused::Ended) => return Err(OpenError::SessionEnded),
            Err(OpenRefused::TooMany { limit }) => return Err(OpenError::TooManyChannels { limit }),
        }
        // The topic is joined after `open` is queued, so every broadcast the session gets
        // on it follows `open`. A close or an end that ran in between has already left
        // the topic (or found nothing to leave): leave again, which is idempotent.
        self.host.join(&channel.topic, self, channel.id);
        if !lock(&self.core).is_open(channel.id) {
            self.host.leave(&channel.topic, self.key, channel.id);
        }
        let raw = RawChannel::new(self.clone(), channel);
        if ready {
            raw.announce();
        }
        Ok(raw)
    }

    /// The handler of `channel` exists: it hears `on_open`, then the `open` goes out.
    pub(crate) fn ready(&self, channel: &RawChannel) {
        channel.shared().opened(channel);
        lock(&self.core).ready(channel.id());
        self.wake.notify_one();
    }

    /// Holds channel `channel`'s `open` back until [`SessionShared::release_open`] (its
    /// node subscribes to its room first). Only while the channel is joining its topic.
    pub(crate) fn hold_open(&self, channel: ChannelId) {
        lock(&self.core).hold(channel);
    }

    /// Releases what [`SessionShared::hold_open`] held.
    pub(crate) fn release_open(&self, channel: ChannelId) {
        lock(&self.core).ready(channel);
        self.wake.notify_one();
    }

    /// The channel a client frame names, if it is open (and announced) in this session.
    pub(crate) fn find_channel(&self, id: &str) -> Option<Arc<ChannelShared>> {
        let id: ChannelId = id.parse().ok()?;
        lock(&self.core).route(id).cloned()
    }

    /// Closes one channel: the client hears `close`, pending requests on it fail with
    /// `Closed` at once, and its handler is dropped. Returns false if it was not open.
    pub(crate) fn close_channel(&self, id: ChannelId, reason: CloseReason) -> bool {
        let (closed, gap) = {
            let mut core = lock(&self.core);
            (core.close_channel(id, reason.wire()), core.gap())
        };
        self.settle_gap(gap);
        let Some(closed) = closed else {
            return false;
        };
        self.wake.notify_one();
        let channel = closed.handler;
        channel.mark_closed(reason, &self.inbound);
        self.host.leave(&closed.topic, self.key, id);
        for answer in closed.failed {
            let _ = answer.send(Err(ChannelError::Closed));
        }
        channel.release_handler(self.host.telemetry());
        true
    }

    /// The budget of the client's events and requests waiting in the session's channels.
    pub(crate) fn inbound(&self) -> &Budget {
        &self.inbound
    }

    // -- requests ----------------------------------------------------------------------

    /// Installs the callbacks of a new render, replacing the previous render's.
    pub(crate) fn set_callbacks(&self, callbacks: HashMap<String, CallbackFn>) {
        *lock(&self.callbacks) = callbacks;
    }

    pub(crate) fn callback(&self, id: &str) -> Option<CallbackFn> {
        lock(&self.callbacks).get(id).cloned()
    }

    pub(crate) fn channel_count(&self) -> usize {
        lock(&self.core).channel_count()
    }
}

/// Milliseconds from `started` to `now`.
fn elapsed_ms(started: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(started).as_millis() as u64
}

/// What became of an answer frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AnswerOutcome {
    Delivered,
    /// The request had already timed out or been cancelled.
    Late,
    /// No request with that id was sent on that channel.
    Unknown,
    /// The channel is not an open channel of this session.
    UnknownChannel,
}
