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

/// A connection resuming a session: its socket, the last sequence number its client
/// saw, and what authentication said of it (for a fresh session if resuming fails).
pub(crate) struct Reattach {
    pub socket: axum::extract::ws::WebSocket,
    pub last_seq: u64,
    pub identity: Option<crate::server::IdentityRef>,
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
    /// Why the current connection ends (reset when the session is resumed).
    ending: watch::Sender<Option<Ending>>,
    /// Set once the session has ended for good.
    finished: watch::Sender<bool>,
    /// While the session waits to be resumed: where a resuming connection is handed.
    reattach: Mutex<Option<oneshot::Sender<Reattach>>>,
    /// Milliseconds since `server.started` at the last inbound frame.
    last_inbound_ms: AtomicU64,
    state: Mutex<SessionState>,
    /// The DOM callbacks of the current render, by id.
    callbacks: Mutex<HashMap<String, crate::component::Callback>>,
    /// What the authentication hook returned for this connection.
    identity: Option<crate::server::IdentityRef>,
}

impl SessionShared {
    pub(crate) fn new(
        server: Arc<ServerShared>,
        key: u64,
        identity: Option<crate::server::IdentityRef>,
    ) -> (Arc<Self>, mpsc::Receiver<Body>) {
        let (outbound, queue) = mpsc::channel(server.config.outbound_queue_frames.max(1));
        let shared = Arc::new(SessionShared {
            id: SessionId::generate(),
            key,
            last_inbound_ms: AtomicU64::new(server.elapsed_ms()),
            server,
            outbound,
            ending: watch::Sender::new(None),
            finished: watch::Sender::new(false),
            reattach: Mutex::new(None),
            state: Mutex::new(SessionState {
                open: true,
                channels: HashMap::new(),
                pending: HashMap::new(),
                next_request_id: 1,
                inbound: HashSet::new(),
            }),
            callbacks: Mutex::new(HashMap::new()),
            identity,
        });
        (shared, queue)
    }

    /// Watches for the session's end.
    pub(crate) fn ending(&self) -> watch::Receiver<Option<Ending>> {
        self.ending.subscribe()
    }

    /// Asks the connection to end. The first reason wins, except that a reason that
    /// ends the session replaces one that would only have detached it.
    pub(crate) fn signal_end(&self, ending: Ending) {
        self.ending.send_if_modified(|current| {
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

    /// A new connection serves the session: forget why the last one ended.
    pub(crate) fn reset_connection(&self) {
        self.ending.send_replace(None);
    }

    /// Offers the session to a resuming connection; the session's task takes it if the
    /// session is waiting to be resumed. A session still attached to a connection the
    /// server believes alive (the client saw it break first) is detached from it first.
    pub(crate) async fn hand_over(&self, mut reattach: Reattach) -> Result<(), Reattach> {
        for attempt in 0..40 {
            let waiting = lock(&self.reattach).take();
            match waiting {
                Some(slot) => match slot.send(reattach) {
                    Ok(()) => return Ok(()),
                    Err(back) => reattach = back,
                },
                None if *self.finished.borrow() => break,
                None => {
                    if attempt == 0 {
                        self.signal_end(Ending::ClientGone);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
            }
        }
        Err(reattach)
    }

    /// Waits (while detached) for a resuming connection; `None` if the session must end
    /// first (a terminal signal) or the grace period passes.
    pub(crate) async fn wait_for_resume(&self, grace: std::time::Duration) -> Option<Reattach> {
        let (slot, resumed) = oneshot::channel();
        *lock(&self.reattach) = Some(slot);
        let mut ending = self.ending();
        let terminal = ending.wait_for(|e| e.as_ref().is_some_and(Ending::is_terminal));
        let outcome = tokio::select! {
            reattach = resumed => reattach.ok(),
            _ = tokio::time::sleep(grace) => None,
            _ = terminal => None,
        };
        lock(&self.reattach).take();
        outcome
    }

    /// Whether the session ended for good.
    pub(crate) fn is_finished(&self) -> bool {
        *self.finished.borrow()
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
        if let Some(authorize) = &self.server.authorizer {
            let session = Session { shared: self.clone() };
            authorize(&session, &crate::server::Access::Open { name }).map_err(OpenError::Forbidden)?;
        }
        let mut state = lock(&self.state);
        if !state.open {
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
        self.finished.send_replace(true);
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

    /// Requests waiting for an answer, both ways.
    pub(crate) fn pending_count(&self) -> usize {
        let state = lock(&self.state);
        state.pending.len() + state.inbound.len()
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

    /// The identity the authentication hook gave this session, if it is a `T`.
    pub fn identity<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.shared.identity.clone()?.downcast::<T>().ok()
    }

    /// How many channels are open in this session.
    pub fn channel_count(&self) -> usize {
        self.shared.channel_count()
    }

    /// Resolves when the session has ended.
    pub async fn closed(&self) {
        let mut finished = self.shared.finished.subscribe();
        // An error means the sender is gone, which also means the session is over.
        let _ = finished.wait_for(|done| *done).await;
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.shared.id).finish()
    }
}
