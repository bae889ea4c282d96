//! A session: one client connection and everything it owns (channels, pending
//! requests, its outbound queue).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};

use crate::channel::{ChannelShared, RawChannel, RawHandler};
use crate::error::{ChannelError, OpenError};
use crate::id::{ChannelId, SessionId};
use crate::protocol::frames::{self, Body};
use crate::protocol::{self, CloseCode};
use crate::server::ServerShared;
use crate::sync::lock;

/// How a session ended, as the writer reports it to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The server closes the connection with this code and reason.
    Close(CloseCode, String),
    /// The client went away (closed the socket, or the connection broke).
    ClientGone,
}

/// Where the answer to a pending server-to-client request is delivered.
pub(crate) type AnswerSender = oneshot::Sender<Result<Box<RawValue>, ChannelError>>;
/// Where the caller of a server-to-client request waits for its answer.
pub(crate) type AnswerReceiver = oneshot::Receiver<Result<Box<RawValue>, ChannelError>>;

struct PendingRequest {
    channel: ChannelId,
    answer: AnswerSender,
}

/// What the session's lock protects.
struct SessionState {
    open: bool,
    channels: HashMap<ChannelId, Arc<ChannelShared>>,
    /// Server-to-client requests waiting for the client's answer.
    pending: HashMap<u64, PendingRequest>,
    next_request_id: u64,
    /// Ids of client-to-server requests whose answer has not been sent yet.
    inbound: HashSet<u64>,
}

/// The shared heart of a session; [`Session`] and [`RawChannel`] are handles to it.
pub(crate) struct SessionShared {
    pub(crate) id: SessionId,
    /// Small unique number, used as the key in server-wide tables.
    pub(crate) key: u64,
    pub(crate) server: Arc<ServerShared>,
    outbound: mpsc::Sender<Body>,
    ending: watch::Sender<Option<Ending>>,
    /// Milliseconds since `server.started` at the last inbound frame.
    last_inbound_ms: AtomicU64,
    state: Mutex<SessionState>,
    /// The DOM callbacks of the current render, by id.
    callbacks: Mutex<HashMap<String, crate::component::Callback>>,
}

impl SessionShared {
    pub(crate) fn new(server: Arc<ServerShared>, key: u64) -> (Arc<Self>, mpsc::Receiver<Body>) {
        let (outbound, queue) = mpsc::channel(server.config.outbound_queue_frames.max(1));
        let shared = Arc::new(SessionShared {
            id: SessionId::generate(),
            key,
            last_inbound_ms: AtomicU64::new(server.elapsed_ms()),
            server,
            outbound,
            ending: watch::Sender::new(None),
            state: Mutex::new(SessionState {
                open: true,
                channels: HashMap::new(),
                pending: HashMap::new(),
                next_request_id: 1,
                inbound: HashSet::new(),
            }),
            callbacks: Mutex::new(HashMap::new()),
        });
        (shared, queue)
    }

    /// Watches for the session's end.
    pub(crate) fn ending(&self) -> watch::Receiver<Option<Ending>> {
        self.ending.subscribe()
    }

    /// Asks the connection to end; the first reason given wins.
    pub(crate) fn signal_end(&self, ending: Ending) {
        self.ending.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(ending);
            true
        });
    }

    pub(crate) fn is_ending(&self) -> bool {
        self.ending.borrow().is_some()
    }

    pub(crate) fn touch(&self) {
        self.last_inbound_ms.store(self.server.elapsed_ms(), Ordering::Relaxed);
    }

    pub(crate) fn idle_since(&self, now: Instant) -> std::time::Duration {
        let last = self.last_inbound_ms.load(Ordering::Relaxed);
        let now_ms = now.saturating_duration_since(self.server.started).as_millis() as u64;
        std::time::Duration::from_millis(now_ms.saturating_sub(last))
    }

    /// Queues a frame for the client without waiting. A full queue means the client
    /// does not keep up: the session is ended as a slow consumer, and nobody waits.
    pub(crate) fn enqueue(&self, body: Body) -> Result<(), ChannelError> {
        match self.outbound.try_send(body) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                let limit = self.server.config.outbound_queue_frames;
                tracing::warn!(session = %self.id, limit, "outbound queue full; disconnecting slow consumer");
                self.signal_end(Ending::Close(
                    CloseCode::SlowConsumer,
                    format!("slow_consumer: more than {limit} frames waiting"),
                ));
                Err(ChannelError::Disconnected)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(ChannelError::Disconnected),
        }
    }

    pub(crate) fn open_channel(
        self: &Arc<Self>,
        name: &str,
        handler: Box<dyn RawHandler>,
    ) -> Result<RawChannel, OpenError> {
        if !protocol::is_valid_name(name) {
            return Err(OpenError::InvalidName(name.to_owned()));
        }
        let mut state = lock(&self.state);
        if !state.open || self.is_ending() {
            return Err(OpenError::SessionEnded);
        }
        let limit = self.server.config.max_channels_per_session;
        if state.channels.len() >= limit {
            return Err(OpenError::TooManyChannels { limit });
        }
        let channel = Arc::new(ChannelShared::new(ChannelId::generate(), name.into(), handler));
        state.channels.insert(channel.id, channel.clone());
        // Joined under the session lock, so that `end` cannot run between the insert
        // and the join and leave a member behind in the topic table.
        self.server.topics.join(&channel.name, self);
        let _ = self.enqueue(frames::open(channel.id, name));
        drop(state);
        Ok(RawChannel::new(self.clone(), channel))
    }

    pub(crate) fn find_channel(&self, id: &str) -> Option<Arc<ChannelShared>> {
        let id: ChannelId = id.parse().ok()?;
        lock(&self.state).channels.get(&id).cloned()
    }

    /// Closes one channel: the client hears `close`, pending requests on it fail with
    /// `Closed` at once, and its handler is dropped. Returns false if it was not open.
    pub(crate) fn close_channel(&self, id: ChannelId, reason: &str) -> bool {
        let mut state = lock(&self.state);
        let Some(channel) = state.channels.remove(&id) else {
            return false;
        };
        channel.mark_closed();
        self.server.topics.leave(&channel.name, self.key);
        let failed: Vec<u64> =
            state.pending.iter().filter(|(_, p)| p.channel == id).map(|(request, _)| *request).collect();
        let failed: Vec<PendingRequest> = failed.iter().filter_map(|r| state.pending.remove(r)).collect();
        if state.open {
            let _ = self.enqueue(frames::close(id, reason));
        }
        drop(state);
        for pending in failed {
            let _ = pending.answer.send(Err(ChannelError::Closed));
        }
        channel.release_handler();
        true
    }

    /// Ends the session for good: every channel closes, every pending request fails
    /// with `Disconnected`, and the session leaves every topic.
    pub(crate) fn end(&self) {
        lock(&self.callbacks).clear();
        let mut state = lock(&self.state);
        state.open = false;
        let channels: Vec<_> = state.channels.drain().map(|(_, c)| c).collect();
        let pending: Vec<_> = state.pending.drain().map(|(_, p)| p).collect();
        state.inbound.clear();
        for channel in &channels {
            channel.mark_closed();
            self.server.topics.leave(&channel.name, self.key);
        }
        drop(state);
        for p in pending {
            let _ = p.answer.send(Err(ChannelError::Disconnected));
        }
        for channel in channels {
            channel.release_handler();
        }
    }

    /// Sends a server-to-client request; the answer arrives on the returned receiver.
    pub(crate) fn start_request<P: Serialize + ?Sized>(
        &self,
        channel: &ChannelShared,
        event: &str,
        payload: &P,
    ) -> Result<(u64, AnswerReceiver), ChannelError> {
        let mut state = lock(&self.state);
        if !state.open {
            return Err(ChannelError::Disconnected);
        }
        if channel.is_closed() {
            return Err(ChannelError::Closed);
        }
        let id = state.next_request_id;
        let body = frames::request(channel.id, id, event, payload).map_err(|e| ChannelError::Payload(e.to_string()))?;
        self.enqueue(body)?;
        state.next_request_id += 1;
        let (answer, receiver) = oneshot::channel();
        state.pending.insert(id, PendingRequest { channel: channel.id, answer });
        Ok((id, receiver))
    }

    /// Forgets a request whose caller stopped waiting (timeout or dropped future).
    pub(crate) fn forget_request(&self, id: u64) {
        lock(&self.state).pending.remove(&id);
    }

    /// Routes the client's answer to the request waiting for it.
    pub(crate) fn deliver_answer(
        &self,
        channel: &str,
        id: u64,
        result: Result<Box<RawValue>, ChannelError>,
    ) -> AnswerOutcome {
        let mut state = lock(&self.state);
        let Some(pending) = state.pending.get(&id) else {
            // Ids are issued in order: one below the next id was issued and has since
            // timed out or been cancelled, so a late answer is dropped quietly.
            return if id < state.next_request_id { AnswerOutcome::Late } else { AnswerOutcome::Unknown };
        };
        if channel.parse::<ChannelId>().ok() != Some(pending.channel) {
            return AnswerOutcome::WrongChannel;
        }
        if let Some(pending) = state.pending.remove(&id) {
            drop(state);
            let _ = pending.answer.send(result);
        }
        AnswerOutcome::Delivered
    }

    /// Records an inbound request id; refuses duplicates and too many at once.
    pub(crate) fn begin_inbound(&self, id: u64) -> Result<(), protocol::ErrorCode> {
        let mut state = lock(&self.state);
        if state.inbound.contains(&id) {
            return Err(protocol::ErrorCode::DuplicateRequestId);
        }
        if state.inbound.len() >= self.server.config.max_pending_requests {
            return Err(protocol::ErrorCode::TooManyRequests);
        }
        state.inbound.insert(id);
        Ok(())
    }

    pub(crate) fn finish_inbound(&self, id: u64) {
        lock(&self.state).inbound.remove(&id);
    }

    /// Installs the callbacks of a new render, replacing the previous render's.
    pub(crate) fn set_callbacks(&self, callbacks: HashMap<String, crate::component::Callback>) {
        *lock(&self.callbacks) = callbacks;
    }

    pub(crate) fn callback(&self, id: &str) -> Option<crate::component::Callback> {
        lock(&self.callbacks).get(id).cloned()
    }

    pub(crate) fn channel_count(&self) -> usize {
        lock(&self.state).channels.len()
    }
}

/// What became of an answer frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AnswerOutcome {
    Delivered,
    /// The request had already timed out or been cancelled.
    Late,
    /// No request with that id was ever issued.
    Unknown,
    /// The id is pending, but on another channel.
    WrongChannel,
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
        self.shared.open_channel(name, Box::new(handler))
    }

    /// Sends `event` to every session with an open channel named `name`, this one
    /// included. Returns how many sessions it was queued for.
    pub fn broadcast<P: Serialize + ?Sized>(
        &self,
        name: &str,
        event: &str,
        payload: &P,
    ) -> Result<usize, ChannelError> {
        crate::server::broadcast(&self.shared.server, name, event, payload)
    }

    /// Whether the connection is still up.
    pub fn is_connected(&self) -> bool {
        !self.shared.is_ending()
    }

    /// The close code the server ended the session with; `None` while it is connected
    /// or when the client was the one to leave.
    pub fn close_code(&self) -> Option<CloseCode> {
        match &*self.shared.ending.borrow() {
            Some(Ending::Close(code, _)) => Some(*code),
            _ => None,
        }
    }

    /// How many channels are open in this session.
    pub fn channel_count(&self) -> usize {
        self.shared.channel_count()
    }

    /// Resolves when the session has ended.
    pub async fn closed(&self) {
        let mut ending = self.shared.ending();
        // An error means the sender is gone, which also means the session is over.
        let _ = ending.wait_for(Option::is_some).await;
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.shared.id).finish()
    }
}
