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
use crate::id::ChannelId;
use crate::protocol::WireError;
use crate::protocol::frames;
use crate::session::request::Request;
use crate::session::{AnswerReceiver, Session, SessionShared};
use crate::sync::lock;

pub(crate) struct ChannelShared {
    pub(crate) id: ChannelId,
    pub(crate) name: Arc<str>,
    closed: AtomicBool,
    /// `None` once the channel is closed and its handler dropped.
    handler: Mutex<Option<Box<dyn RawHandler>>>,
}

impl ChannelShared {
    pub(crate) fn new(id: ChannelId, name: Arc<str>, handler: Box<dyn RawHandler>) -> Self {
        ChannelShared { id, name, closed: AtomicBool::new(false), handler: Mutex::new(Some(handler)) }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Runs `f` with the handler, unless the channel has closed. The handler may close
    /// its own channel from inside `f`: the handler is then dropped right after.
    pub(crate) fn with_handler<R>(&self, f: impl FnOnce(&mut dyn RawHandler) -> R) -> Option<R> {
        let mut slot = lock(&self.handler);
        let handler = slot.as_mut()?;
        let result = f(handler.as_mut());
        if self.is_closed() {
            if let Some(mut handler) = slot.take() {
                handler.on_close();
            }
        }
        Some(result)
    }

    /// Drops the handler of a closed channel, after telling it. If the handler is busy
    /// (the close came from inside it), `with_handler` drops it when it returns.
    pub(crate) fn release_handler(&self) {
        let handler = match self.handler.try_lock() {
            Ok(mut slot) => slot.take(),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner().take(),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        if let Some(mut handler) = handler {
            handler.on_close();
        }
    }
}

/// The answer a handler gives to a request: now, or later from a future.
pub enum Reply {
    /// The answer is ready.
    Ready(Result<Box<RawValue>, WireError>),
    /// The answer comes when this future completes. It runs on its own task, so the
    /// session keeps reading frames meanwhile.
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
/// Handlers of one session run one at a time, in the order the frames arrived. A
/// panic inside a handler is caught: a request gets a `handler_failed` answer, an emit
/// gets a `handler_failed` error frame, and the session carries on.
pub trait RawHandler: Send + 'static {
    /// A client emitted `event`. Return an error (`unknown_event`, `malformed_payload`)
    /// to have it reported to the client.
    fn on_emit(&mut self, cx: &RawCx<'_>, event: &str, payload: &RawValue) -> Result<(), WireError>;

    /// A client requested `event`; the reply is sent back as its answer.
    fn on_request(&mut self, cx: &RawCx<'_>, event: &str, payload: &RawValue) -> Reply;

    /// The channel closed (either side, or the session ended). Called once.
    fn on_close(&mut self) {}
}

/// A channel with no client-to-server events: everything the client sends is refused
/// with `unknown_event`. For channels the server only pushes on.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushOnly;

impl RawHandler for PushOnly {
    fn on_emit(&mut self, _: &RawCx<'_>, event: &str, _: &RawValue) -> Result<(), WireError> {
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
        let channel = ChannelShared::new(ChannelId::generate(), name.into(), Box::new(PushOnly));
        channel.mark_closed();
        RawChannel { session: session.shared.clone(), channel: Arc::new(channel) }
    }

    /// The channel's unguessable id; hand it to the client component that uses it.
    pub fn id(&self) -> ChannelId {
        self.channel.id
    }

    /// The channel's name (its broadcast topic).
    pub fn name(&self) -> &str {
        &self.channel.name
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

    /// Sends `event` to every session with an open channel of this channel's name,
    /// this one included. Returns how many sessions it was queued for.
    pub fn broadcast<P: Serialize + ?Sized>(&self, event: &str, payload: &P) -> Result<usize, ChannelError> {
        super::host::broadcast(&*self.session.host, &self.channel.name, event, payload)
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
        self.session.ready(self.channel.id);
    }

    pub(crate) fn forget_request(&self, id: u64) {
        self.session.forget_request(id);
    }

    pub(crate) fn host(&self) -> Arc<dyn super::host::Host> {
        self.session.host.clone()
    }

    pub(crate) fn default_timeout(&self) -> std::time::Duration {
        self.session.host.config().request_timeout
    }

    /// Closes the channel: the client is told, and pending requests on it fail with
    /// `Closed` at once, on both sides. Closing twice is harmless.
    pub fn close(&self) {
        self.session.close_channel(self.channel.id, "server");
    }
}

impl std::fmt::Debug for RawChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawChannel").field("id", &self.channel.id).field("name", &self.channel.name).finish()
    }
}
