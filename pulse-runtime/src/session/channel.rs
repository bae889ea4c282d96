//! Channels: named, bidirectional message streams inside one session.
//!
//! This is the untyped layer: events are strings and payloads JSON. The `#[channel]`
//! macro builds the typed API on top of it, so user code never matches on strings.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::ChannelError;
use crate::guard::{self, Callback};
use crate::id::ChannelId;
use crate::protocol::frames;
use crate::protocol::{Topic, WireError};
use crate::session::request::Request;
use crate::session::{AnswerReceiver, Session, SessionShared};
use crate::session_core::budget::Budget;
use crate::session_core::inbox::{Inbox, Weighed};
use crate::sync::lock;
use crate::target::Target;
use crate::telemetry::Telemetry;

pub(crate) struct ChannelShared {
    pub(crate) id: ChannelId,
    /// The channel's name and room: what its broadcasts are addressed to.
    pub(crate) topic: Topic,
    closed: AtomicBool,
    /// `None` once the channel is closed and its handler dropped.
    handler: Mutex<Option<Box<dyn RawHandler>>>,
    /// The client's events and requests, handled one at a time in arrival order.
    pub(super) inbox: Mutex<Inbox<Work>>,
    /// The task awaiting an async handler of this channel, aborted when it closes.
    pub(super) task: Mutex<Option<tokio::task::AbortHandle>>,
    /// Why the channel closed, for the handler's `on_close`.
    reason: Mutex<CloseReason>,
    /// Where its handler's logs go: `channel{topic, id}` inside its session's span.
    pub(crate) span: tracing::Span,
}

/// One piece of the client's inbound work on a channel, waiting its turn.
pub(crate) enum Work {
    /// An `emit` frame.
    Emit { event: Box<str>, payload: Box<RawValue> },
    /// A `request` frame (its id already recorded as pending).
    /// `received`: when it arrived, if the server measures request latency.
    Request { id: u64, event: Box<str>, payload: Box<RawValue>, received: Option<std::time::Instant> },
}

impl Weighed for Work {
    fn bytes(&self) -> usize {
        match self {
            Work::Emit { event, payload } | Work::Request { event, payload, .. } => event.len() + payload.get().len(),
        }
    }
}

impl ChannelShared {
    pub(crate) fn new(
        id: ChannelId,
        topic: Topic,
        handler: Box<dyn RawHandler>,
        inbox: Inbox<Work>,
        session: &tracing::Span,
    ) -> Self {
        let span = tracing::info_span!(parent: session, "channel", topic = %topic, id = %id);
        ChannelShared {
            span,
            id,
            topic,
            closed: AtomicBool::new(false),
            handler: Mutex::new(Some(handler)),
            inbox: Mutex::new(inbox),
            task: Mutex::new(None),
            reason: Mutex::new(CloseReason::Server),
        }
    }

    /// The channel name.
    pub(crate) fn name(&self) -> &str {
        self.topic.name()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the channel closed for `reason`: its waiting work is dropped (its bytes
    /// given back to `budget`, its session's) and the task of an async handler still
    /// running is aborted (its future dropped).
    pub(crate) fn mark_closed(&self, reason: CloseReason, budget: &Budget) {
        *lock(&self.reason) = reason;
        self.closed.store(true, Ordering::Release);
        drop(lock(&self.inbox).close(budget));
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }

    /// Tells the handler its channel is open (before the client can send on it).
    pub(crate) fn opened(&self, channel: &RawChannel) {
        let cx = RawCx { channel };
        let _entered = self.span.enter();
        let telemetry = channel.session.host.telemetry();
        // A panic is logged and counted; the channel stays open.
        let _ = self.with_handler(telemetry, |h| guard::call(Callback::OnOpen, telemetry, || h.on_open(&cx)));
    }

    /// Runs `f` with the handler, unless the channel has closed: no handler code runs
    /// once `close` is decided. The handler may close its own channel from inside `f`
    /// (`telemetry` counts a panic in its `on_close` then).
    pub(crate) fn with_handler<R>(
        &self,
        telemetry: Option<&Telemetry>,
        f: impl FnOnce(&mut dyn RawHandler) -> R,
    ) -> Option<R> {
        if self.is_closed() {
            return None;
        }
        let result = {
            let mut slot = lock(&self.handler);
            let handler = slot.as_mut()?;
            f(handler.as_mut())
        };
        // A close while `f` ran (from inside it, or from another thread that found the
        // handler busy and left it) is finished here: whoever holds the handler last
        // releases it, exactly once.
        if self.is_closed() {
            self.release_handler(telemetry);
        }
        Some(result)
    }

    /// Drops the handler of a closed channel, after telling it. If the handler is busy
    /// (the close came from inside it, or raced with it), `with_handler` releases it
    /// when it returns. A panic in `on_close` is logged and counted in `telemetry`.
    pub(crate) fn release_handler(&self, telemetry: Option<&Telemetry>) {
        let handler = match self.handler.try_lock() {
            Ok(mut slot) => slot.take(),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner().take(),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        if let Some(handler) = handler {
            self.tell_closed(handler, telemetry);
        }
    }

    fn tell_closed(&self, mut handler: Box<dyn RawHandler>, telemetry: Option<&Telemetry>) {
        let reason = *lock(&self.reason);
        let _entered = self.span.enter();
        let _ = guard::call(Callback::OnClose, telemetry, || handler.on_close(reason));
    }
}

/// Why a channel closed, as its handler's `on_close` hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client released it (`close()` on the client).
    Client,
    /// Server code closed it (`Channel::close`).
    Server,
    /// The component whose state opened it unmounted.
    Unmounted,
    /// The session ended (the client left, or the server closed it).
    SessionEnded,
}

impl CloseReason {
    /// The `reason` of the `close` frame: the client is told `"client"` when it asked,
    /// `"server"` otherwise.
    pub(crate) fn wire(self) -> &'static str {
        match self {
            CloseReason::Client => "client",
            _ => "server",
        }
    }
}

/// What an emit handler did: finished, or started work that the channel awaits before
/// it handles its next event.
pub enum Emitted {
    /// Handled.
    Done,
    /// Handled when this future completes. It runs on its own task; the channel's later
    /// events wait for it (other channels and sessions do not). An error is reported to
    /// the client as an `error` frame.
    Later(Pin<Box<dyn Future<Output = Result<(), WireError>> + Send>>),
}

/// The answer a handler gives to a request: now, or later from a future.
pub enum Reply {
    /// The answer is ready.
    Ready(Result<Box<RawValue>, WireError>),
    /// The answer comes when this future completes. It runs on its own task, so the
    /// session keeps reading frames meanwhile; the channel's later events wait for it.
    Later(Pin<Box<dyn Future<Output = Result<Box<RawValue>, WireError>> + Send>>),
}

impl Reply {
    /// A ready answer holding `value` as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Reply {
        Reply::Ready(to_raw(value))
    }

    /// A ready failure, reported to the caller as a failed handler.
    pub fn failed(message: impl Into<String>) -> Reply {
        Reply::Ready(Err(WireError::new(crate::protocol::ErrorCode::HandlerFailed, message)))
    }

    /// A ready refusal with a code (`unknown_event`, `malformed_payload`, ...).
    pub fn rejected(error: WireError) -> Reply {
        Reply::Ready(Err(error))
    }
}

/// Serializes a value to raw JSON, mapping a failure to a handler failure.
pub fn to_raw<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, WireError> {
    serde_json::value::to_raw_value(value).map_err(answer_not_encoded)
}

/// The handler failure an answer that cannot be serialized stands for.
pub(crate) fn answer_not_encoded(error: serde_json::Error) -> WireError {
    WireError::new(crate::protocol::ErrorCode::HandlerFailed, format!("the answer could not be encoded: {error}"))
}

/// Receives a channel's client-to-server traffic.
///
/// A channel's events and requests are handled one at a time, in the order they
/// arrived; one that returns a future ([`Emitted::Later`], [`Reply::Later`]) holds up
/// the later ones of its channel until it completes. A panic inside a handler is
/// caught: a request gets a `handler_failed` answer, an emit gets a `handler_failed`
/// error frame, and the session carries on.
pub trait RawHandler: Send + 'static {
    /// A client emitted `event`. Return an error (`unknown_event`, `malformed_payload`)
    /// to have it reported to the client.
    fn on_emit(&mut self, cx: &RawCx<'_>, event: &str, payload: &RawValue) -> Result<Emitted, WireError>;

    /// A client requested `event`; the reply is sent back as its answer.
    fn on_request(&mut self, cx: &RawCx<'_>, event: &str, payload: &RawValue) -> Reply;

    /// The channel is open: called once, before the client can send on it. What it
    /// emits follows the channel's `open` (a late subscriber's first value).
    fn on_open(&mut self, cx: &RawCx<'_>) {
        let _ = cx;
    }

    /// The channel closed, for `reason`. Called once, if the handler still exists.
    fn on_close(&mut self, reason: CloseReason) {
        let _ = reason;
    }
}

/// A channel with no client-to-server events: everything the client sends is refused
/// with `unknown_event`. For channels the server only pushes on.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushOnly;

impl RawHandler for PushOnly {
    fn on_emit(&mut self, _: &RawCx<'_>, event: &str, _: &RawValue) -> Result<Emitted, WireError> {
        Err(unknown_event(event))
    }
    fn on_request(&mut self, _: &RawCx<'_>, event: &str, _: &RawValue) -> Reply {
        Reply::rejected(unknown_event(event))
    }
}

/// The `unknown_event` error for `event`.
pub fn unknown_event(event: &str) -> WireError {
    WireError::new(
        crate::protocol::ErrorCode::UnknownEvent,
        format!("this channel has no client-to-server event `{}`", frames::truncate(event)),
    )
}

/// The `malformed_payload` error for `event`.
pub fn malformed_payload(event: &str, error: impl std::fmt::Display) -> WireError {
    WireError::new(
        crate::protocol::ErrorCode::MalformedPayload,
        format!("payload of `{}` does not match its declared type: {error}", frames::truncate(event)),
    )
}

/// What a handler can reach while it runs: its channel and its session.
pub struct RawCx<'a> {
    pub(crate) channel: &'a RawChannel,
}

impl RawCx<'_> {
    /// The channel the frame arrived on.
    pub fn channel(&self) -> &RawChannel {
        self.channel
    }

    /// The session the channel belongs to.
    pub fn session(&self) -> Session {
        self.channel.session()
    }
}

/// A handle to an open channel, for the server side. Cheap to clone. Every operation
/// fails with [`ChannelError::Closed`] once the channel has closed.
#[derive(Clone)]
pub struct RawChannel {
    session: Arc<SessionShared>,
    channel: Arc<ChannelShared>,
}

impl RawChannel {
    pub(crate) fn new(session: Arc<SessionShared>, channel: Arc<ChannelShared>) -> Self {
        RawChannel { session, channel }
    }

    /// A channel that is closed from the start (an open that failed): emits are
    /// dropped and requests fail with `Closed`.
    pub(crate) fn closed(session: &Session, name: &str) -> Self {
        let span = &session.shared.span;
        let channel =
            ChannelShared::new(ChannelId::generate(), Topic::from(name), Box::new(PushOnly), Inbox::new(0), span);
        channel.mark_closed(CloseReason::Server, session.shared.inbound());
        RawChannel { session: session.shared.clone(), channel: Arc::new(channel) }
    }

    /// The channel's unguessable id; hand it to the client component that uses it.
    pub fn id(&self) -> ChannelId {
        self.channel.id
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        self.channel.name()
    }

    /// The channel's topic: its name, and its room for a channel with rooms.
    pub fn topic(&self) -> &Topic {
        &self.channel.topic
    }

    /// The session this channel belongs to.
    pub fn session(&self) -> Session {
        Session { shared: self.session.clone() }
    }

    /// Whether the channel has been closed.
    pub fn is_closed(&self) -> bool {
        self.channel.is_closed()
    }

    /// Sends `event` to this channel's client, fire-and-forget.
    pub fn emit<P: Serialize + ?Sized>(&self, event: &str, payload: &P) -> Result<(), ChannelError> {
        if self.channel.is_closed() {
            return Err(ChannelError::Closed);
        }
        let body = frames::emit(self.channel.id, event, payload).map_err(|e| ChannelError::Payload(e.to_string()))?;
        self.session.enqueue_on(self.channel.id, body)
    }

    /// Sends `event` to every session with an open channel of this channel's topic
    /// (its name, and its room), this one included, and says what it did by the time
    /// it returned (a [`Delivery`](crate::Delivery)).
    pub fn broadcast<P: Serialize + ?Sized>(&self, event: &str, payload: &P) -> Result<crate::Delivery, ChannelError> {
        super::host::broadcast(&*self.session.host, &self.channel.topic, &Target::All, event, payload)
    }

    /// Asks the client to answer `event`. Nothing is sent until the request is awaited;
    /// it fails with `Timeout` after [`Config::request_timeout`](crate::Config) unless
    /// [`Request::timeout`] sets another.
    pub fn request<P: Serialize + ?Sized>(&self, event: &str, payload: &P) -> Request {
        let body = serde_json::value::to_raw_value(payload).map_err(|e| ChannelError::Payload(e.to_string()));
        Request::new(self.clone(), event.to_owned(), body, crate::session::request::decode_json)
    }

    pub(crate) fn start_request(
        &self,
        event: &str,
        payload: &RawValue,
        timeout: std::time::Duration,
    ) -> Result<(u64, AnswerReceiver), ChannelError> {
        self.session.start_request(&self.channel, event, payload, timeout)
    }

    /// Announces a channel opened before its handler existed (see `StateCx`).
    pub(crate) fn announce(&self) {
        self.session.ready(self);
    }

    pub(crate) fn shared(&self) -> &Arc<ChannelShared> {
        &self.channel
    }

    pub(crate) fn forget_request(&self, id: u64) {
        self.session.forget_request(id);
    }

    pub(crate) fn host(&self) -> Arc<dyn super::host::Host> {
        self.session.host.clone()
    }

    pub(crate) fn session_shared(&self) -> &Arc<SessionShared> {
        &self.session
    }

    pub(crate) fn default_timeout(&self) -> std::time::Duration {
        self.session.host.config().request_timeout
    }

    /// Closes the channel: the client is told, and pending requests on it fail with
    /// `Closed` at once, on both sides. Closing twice is harmless.
    pub fn close(&self) {
        self.session.close_channel(self.channel.id, CloseReason::Server);
    }

    /// Closes the channel because the component that owned it unmounted.
    pub(crate) fn close_unmounted(&self) {
        self.session.close_channel(self.channel.id, CloseReason::Unmounted);
    }
}

impl std::fmt::Debug for RawChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawChannel").field("id", &self.channel.id).field("topic", &self.channel.topic).finish()
    }
}
