//! A session: one client connection and everything it owns (channels, pending
//! requests, its outbound queue).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{Notify, oneshot};

pub(crate) mod channel;
mod dispatch;
pub(crate) mod handlers;
pub(crate) mod handover;
pub(crate) mod host;
pub(crate) mod request;

pub use host::Access;

use crate::error::{ChannelError, OpenError};
use crate::id::{ChannelId, SessionId};
use crate::protocol::frames::{self, Body};
use crate::protocol::{self, CloseCode, Query, Topic};
use crate::session_core::budget::Budget;
use crate::session_core::inbox::Inbox;
use crate::session_core::{AnswerRoute, CannotResume, Limits, OpenRefused, Refused, SessionCore, StartRefused};
use crate::sync::{Watched, lock};
use crate::target::Target;
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
    core: Mutex<Core>,
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
    /// The rooms whose position from `since` a join has used (each is used once).
    since_used: Mutex<std::collections::HashSet<Arc<str>>>,
    /// What the client's events and requests waiting in its channels hold
    /// ([`Config::inbound_queue_bytes`](crate::Config::inbound_queue_bytes)).
    inbound: Budget,
}

/// Positions a client may send in `since`, at most; the rest are ignored.
pub(crate) const MAX_SINCE_POSITIONS: usize = 64;

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
            core: Mutex::new(SessionCore::new(Limits::from_config(host.config()), host.detached_budget().clone())),
            inbound: Budget::new(host.config().inbound_queue_bytes),
            host,
            wake: Notify::new(),
            ending: Watched::new(None),
            finished: AtomicBool::new(false),
            on_finish: Notify::new(),
            resumes: handover::Handover::default(),
            callbacks: Mutex::new(HashMap::new()),
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

    /// The frames queued for the client, taken as a writer would (tests without sockets).
    #[cfg(test)]
    pub(crate) fn take_queued(&self) -> Vec<String> {
        let mut out = Vec::new();
        lock(&self.core).take_batch(usize::MAX, &mut out);
        out.into_iter().map(|(seq, body)| body.with_seq(seq)).collect()
    }

    /// Tells the server what it needs to know of channel declaration `C` before one opens
    /// (whether it tracks presence).
    pub(crate) fn declare<C: crate::ChannelSpec>(&self) {
        if C::PRESENCE {
            self.host.declare_presence(C::NAME);
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
        #[derive(serde::Deserialize)]
        struct At {
            name: String,
            #[serde(default)]
            room: Option<Box<serde_json::value::RawValue>>,
            epoch: String,
            offset: u64,
        }
        if !lock(&self.since_used).insert(topic.shared().clone()) {
            return None;
        }
        let since = self.params.get("since")?;
        // The list is read entry by entry, the first 64 only: one unreadable entry, or
        // what comes after them, does not cost the others.
        let entries: Vec<&RawValue> = match serde_json::from_str(since) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::debug!(session = %self.id, %error, "unreadable `since`; ignored");
                return None;
            }
        };
        entries
            .into_iter()
            .take(MAX_SINCE_POSITIONS)
            .filter_map(|entry| serde_json::from_str::<At>(entry.get()).ok())
            .find_map(|at| {
                (Topic::new(&at.name, at.room.as_deref()) == *topic)
                    .then(|| crate::history::Position { epoch: Arc::from(at.epoch), offset: at.offset })
            })
    }

    /// Why the current connection ends, if it does.
    pub(crate) fn ending(&self) -> Option<Ending> {
        self.ending.with(Option::clone)
    }

    /// Waits until the current connection is asked to end.
    pub(crate) async fn wait_connection_end(&self) {
        self.ending.wait_for(Option::is_some).await;
    }

    /// Waits until the session is asked to end for good.
    pub(crate) async fn wait_session_end(&self) {
        self.ending.wait_for(|ending| ending.as_ref().is_some_and(Ending::is_terminal)).await;
    }

    /// Asks the connection to end. The first reason wins, except that a reason that
    /// ends the session replaces one that would only have detached it.
    pub(crate) fn signal_end(&self, ending: Ending) {
        self.ending.modify(|current| {
            let replaces = match current {
                None => true,
                Some(existing) => !existing.is_terminal() && ending.is_terminal(),
            };
            if replaces {
                *current = Some(ending);
            }
            replaces
        });
    }

    /// A connection is about to be attached: forget why the last one ended, unless
    /// that ends the session (a shutdown or an overflow that came meanwhile must not
    /// be forgotten).
    pub(crate) fn reset_connection(&self) {
        self.ending.modify(|current| {
            if current.as_ref().is_some_and(Ending::is_terminal) {
                return false;
            }
            *current = None;
            true
        });
    }

    /// Hands a resuming connection to the session's task, which serves it (closing the
    /// session's current connection, if any, with 4005). Gives it back if the session
    /// has ended.
    pub(crate) async fn hand_over(&self, reattach: Resuming) -> Result<(), Resuming> {
        self.resumes.send(reattach).await
    }

    /// Whether the session ended for good.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    pub(crate) fn is_ending(&self) -> bool {
        self.ending.with(Option::is_some)
    }

    pub(crate) fn touch(&self) {
        self.last_inbound_ms.store(elapsed_ms(self.host.started(), Instant::now()), Ordering::Relaxed);
    }

    pub(crate) fn idle_since(&self, now: Instant) -> std::time::Duration {
        let last = self.last_inbound_ms.load(Ordering::Relaxed);
        let now_ms = elapsed_ms(self.host.started(), now);
        std::time::Duration::from_millis(now_ms.saturating_sub(last))
    }

    // -- the outbound stream, for the connection driver --------------------------------

    /// Queues a frame for the client without waiting. A full queue means the client
    /// does not keep up: the session is ended as a slow consumer, and nobody waits.
    pub(crate) fn enqueue(&self, body: Body) -> Result<(), ChannelError> {
        let pushed = lock(&self.core).push(body);
        self.after_push(pushed).map_err(|_| ChannelError::Disconnected)
    }

    /// Queues `bodies` together, in order, taking one place in the outbound queue (a
    /// room's history replayed to a joining channel): its length is the history's, not
    /// the live queue's to bound.
    pub(crate) fn enqueue_run(&self, bodies: Vec<Body>) -> Result<(), ChannelError> {
        let pushed = lock(&self.core).push_run(bodies);
        self.after_push(pushed).map_err(|_| ChannelError::Disconnected)
    }

    /// Queues a frame naming channel `channel` (an emit); refused once it has closed.
    pub(crate) fn enqueue_on(&self, channel: ChannelId, body: Body) -> Result<(), ChannelError> {
        let pushed = lock(&self.core).push_on(channel, body);
        self.after_push(pushed).map_err(|refused| match refused {
            Refused::ChannelClosed => ChannelError::Closed,
            Refused::Ended | Refused::Overflow | Refused::OverBudget => ChannelError::Disconnected,
        })
    }

    /// A frame the core queued itself (`open`, `close`) may have overflowed the queue:
    /// then the session is a slow consumer like any other.
    fn settle_gap(&self, gap: Option<Refused>) {
        if let Some(cause) = gap {
            let _ = self.after_push(Err(cause));
        }
    }

    fn after_push(&self, pushed: Result<bool, Refused>) -> Result<(), Refused> {
        match pushed {
            Ok(wake) => {
                if wake {
                    self.wake.notify_one();
                }
                Ok(())
            }
            Err(Refused::Overflow) => {
                let limit = self.host.config().outbound_queue_frames;
                tracing::warn!(session = %self.id, limit, "outbound queue full; disconnecting slow consumer");
                self.signal_end(Ending::Close(
                    CloseCode::SlowConsumer,
                    format!("slow_consumer: more than {limit} frames waiting"),
                ));
                Err(Refused::Overflow)
            }
            Err(Refused::OverBudget) => {
                self.over_detached_budget();
                Err(Refused::OverBudget)
            }
            Err(refused @ (Refused::Ended | Refused::ChannelClosed)) => Err(refused),
        }
    }

    /// Up to `max` frames for the writer, numbered and kept for replay.
    pub(crate) fn take_batch(&self, max: usize, out: &mut Vec<(u64, Body)>) {
        lock(&self.core).take_batch(max, out);
    }

    /// Waits until frames may be queued for the writer (or a wake-up was left for it).
    pub(crate) async fn frames_queued(&self) {
        self.wake.notified().await;
    }

    /// The connection is gone: frames wait for a resume, unless what the session holds
    /// does not fit in what detached sessions may hold together: then it ends.
    pub(crate) fn detach(&self) {
        let detached = lock(&self.core).detach();
        if detached.is_err() {
            self.over_detached_budget();
        }
    }

    /// The session, detached, would hold more than detached sessions may together: it
    /// ends (its client gets a fresh session when it comes back).
    fn over_detached_budget(&self) {
        let limit = self.host.detached_budget().limit();
        tracing::warn!(
            session = %self.id,
            limit,
            "sessions waiting to be resumed hold their limit of bytes; ending this one"
        );
        self.signal_end(Ending::Close(
            CloseCode::Overloaded,
            format!("overloaded: sessions waiting to be resumed hold more than {limit} bytes"),
        ));
    }

    /// Attaches a resuming connection whose client saw up to `last_seq`; returns the
    /// frames it missed.
    pub(crate) fn resume(&self, last_seq: u64) -> Result<Vec<(u64, Body)>, CannotResume> {
        lock(&self.core).resume(last_seq)
    }

    /// Fails the server's requests whose deadline has passed.
    pub(crate) fn expire_requests(&self, now: Instant) {
        let expired = lock(&self.core).expire(now);
        for answer in expired {
            let _ = answer.send(Err(ChannelError::Timeout));
        }
    }

    /// The key of the session's user, when authentication said who it is.
    pub(crate) fn user(&self) -> Option<&str> {
        self.identity.as_ref().map(|identity| &*identity.user)
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

    /// Ends the session for good: every channel closes, every pending request fails
    /// with `Disconnected`, and the session leaves every topic.
    pub(crate) fn end(&self) {
        self.finished.store(true, Ordering::Release);
        self.on_finish.notify_waiters();
        lock(&self.callbacks).clear();
        let ended = lock(&self.core).end();
        for (id, topic, channel) in &ended.channels {
            channel.mark_closed(CloseReason::SessionEnded, &self.inbound);
            self.host.leave(topic, self.key, *id);
        }
        for answer in ended.failed {
            let _ = answer.send(Err(ChannelError::Disconnected));
        }
        for (_, _, channel) in ended.channels {
            channel.release_handler(self.host.telemetry());
        }
    }

    // -- requests ----------------------------------------------------------------------

    /// Sends a server-to-client request that fails after `timeout`; the answer arrives
    /// on the returned receiver.
    pub(crate) fn start_request<P: Serialize + ?Sized>(
        &self,
        channel: &ChannelShared,
        event: &str,
        payload: &P,
        timeout: std::time::Duration,
    ) -> Result<(u64, AnswerReceiver), ChannelError> {
        let (answer, receiver) = oneshot::channel();
        let deadline = Instant::now() + timeout;
        let started = lock(&self.core).start_request(channel.id, deadline, answer, |id| {
            frames::request(channel.id, id, event, payload).map_err(|e| ChannelError::Payload(e.to_string()))
        });
        match started {
            Ok(id) => {
                self.wake.notify_one();
                Ok((id, receiver))
            }
            Err(StartRefused::Ended) => Err(ChannelError::Disconnected),
            Err(StartRefused::ChannelClosed) => Err(ChannelError::Closed),
            Err(StartRefused::Encode(error)) => Err(error),
            Err(StartRefused::Overflow) => {
                let cause = lock(&self.core).gap();
                self.settle_gap(cause);
                Err(ChannelError::Disconnected)
            }
        }
    }

    /// Forgets a request whose caller stopped waiting (timeout or dropped future).
    pub(crate) fn forget_request(&self, id: u64) {
        lock(&self.core).forget_request(id);
    }

    /// Routes the client's answer to the request waiting for it.
    pub(crate) fn deliver_answer(
        &self,
        channel: &str,
        id: u64,
        result: Result<Box<RawValue>, ChannelError>,
    ) -> AnswerOutcome {
        let route = lock(&self.core).answer(channel.parse().ok(), id);
        match route {
            AnswerRoute::Delivered(answer) => {
                let _ = answer.send(result);
                AnswerOutcome::Delivered
            }
            AnswerRoute::UnknownChannel => AnswerOutcome::UnknownChannel,
            AnswerRoute::Late => AnswerOutcome::Late,
            AnswerRoute::Unknown => AnswerOutcome::Unknown,
        }
    }

    /// Records an inbound request id; refuses duplicates and too many at once.
    pub(crate) fn begin_inbound(&self, id: u64, channel: ChannelId) -> Result<(), protocol::ErrorCode> {
        lock(&self.core).begin_inbound(id, channel)
    }

    /// The handler of an inbound request finished: its `answer` is queued, unless its
    /// channel closed or the session ended meanwhile (in the same step, so no answer
    /// can follow the channel's `close`).
    pub(crate) fn finish_inbound(&self, id: u64, channel: ChannelId, answer: Body) {
        let pushed = lock(&self.core).finish_inbound(id, channel, answer);
        let _ = self.after_push(pushed);
    }

    /// Installs the callbacks of a new render, replacing the previous render's.
    pub(crate) fn set_callbacks(&self, callbacks: HashMap<String, CallbackFn>) {
        *lock(&self.callbacks) = callbacks;
    }

    pub(crate) fn callback(&self, id: &str) -> Option<CallbackFn> {
        lock(&self.callbacks).get(id).cloned()
    }

    /// Requests waiting for an answer, both ways.
    pub(crate) fn pending_count(&self) -> usize {
        lock(&self.core).pending_count()
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
    /// or else one of the page's own query. `PulseRoot` sends the page's address by
    /// default, so on the page `/?room=lobby`, `param("room")` is `Some("lobby")`.
    pub fn param(&self, name: &str) -> Option<String> {
        let params = &self.shared.params;
        match params.get(name) {
            Some(value) => Some(value.to_owned()),
            None => params.page_query()?.get(name).map(str::to_owned),
        }
    }

    /// The path of the page the client connected from (`/boards/7`), if it said: the
    /// TypeScript client sends the page's address (`location`) unless told not to
    /// (`page: false`).
    pub fn page_path(&self) -> Option<String> {
        self.shared.params.page_path().map(str::to_owned)
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
