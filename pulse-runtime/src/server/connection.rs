//! One WebSocket connection: the hello, the reader, the writer, and the teardown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;

use super::ServerShared;
use crate::id::SessionId;
use crate::protocol::frames::{self, AnnouncedLimits, Body, truncate_to};
use crate::protocol::{CloseCode, PROTOCOL_VERSION};
use crate::session::{Ending, Reattach, Session, SessionShared};

/// Most frames written before one flush, so a burst goes out in few syscalls without
/// starving the heartbeat.
const WRITE_BATCH: usize = 64;

/// How long the writer tries to deliver a close frame to a client that may not read.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves one upgraded connection until it ends.
pub(crate) async fn run(
    server: Arc<ServerShared>,
    mut socket: WebSocket,
    version: Option<u32>,
    identity: Option<Result<super::access::Identity, String>>,
    resume: Option<(SessionId, u64)>,
) {
    if version != Some(PROTOCOL_VERSION) {
        let asked = version.map_or_else(|| "none".to_owned(), |v| v.to_string());
        let reason = format!("unsupported_version: asked for v={asked}, this server speaks v={PROTOCOL_VERSION}");
        close_socket(&mut socket, CloseCode::UnsupportedVersion, &reason).await;
        return;
    }
    if server.is_shutting_down() {
        close_socket(&mut socket, CloseCode::GoingAway, "going_away: server shutting down").await;
        return;
    }
    let identity = match identity {
        Some(Err(reason)) => {
            close_socket(&mut socket, CloseCode::Forbidden, &format!("forbidden: {reason}")).await;
            return;
        }
        Some(Ok(identity)) => Some(identity),
        None => None,
    };
    let mut attach = Reattach { socket, last_seq: 0, identity };
    if let Some((id, last_seq)) = resume {
        attach.last_seq = last_seq;
        if let Some(session) = server.find_session(id) {
            match session.hand_over(attach).await {
                // The session's own task serves this connection now.
                Ok(()) => return,
                Err(back) => attach = back,
            }
        }
        tracing::debug!(session = %id, "session cannot be resumed; starting a fresh one");
    }
    serve_new_session(server, attach).await;
}

/// Starts a session on `attach`'s connection and serves it, across resumed
/// connections, until it ends.
async fn serve_new_session(server: Arc<ServerShared>, attach: Reattach) {
    let Reattach { socket, identity, .. } = attach;
    let (session, queue) = server.new_session(identity);
    tracing::debug!(session = %session.id, "session started");
    let mut tasks: Vec<_> =
        server.on_session.iter().map(|hook| tokio::spawn(hook(Session { shared: session.clone() }))).collect();
    if let Some(root) = server.root.clone() {
        tasks.push(tokio::spawn(crate::component::run_renderer(Session { shared: session.clone() }, root)));
    }
    let fresh = serve_connections(&server, &session, socket, queue).await;
    for task in tasks {
        task.abort();
    }
    session.end();
    server.remove_session(&session);
    tracing::debug!(session = %session.id, "session ended");
    // A resume that came too late to replay what was missed gets a session of its own.
    if let Some(attach) = fresh {
        Box::pin(serve_new_session(server, attach)).await;
    }
}

/// Serves the session on `socket`, then on each connection that resumes it, until it
/// ends. Returns a resuming connection that could not be given what it missed.
async fn serve_connections(
    server: &Arc<ServerShared>,
    session: &Arc<SessionShared>,
    mut socket: WebSocket,
    mut queue: mpsc::Receiver<Body>,
) -> Option<Reattach> {
    let config = &server.config;
    let mut written = Written { seq: 0, replay: Replay::new(config.replay_buffer_frames, config.replay_buffer_bytes) };
    let mut resumed_from: Option<u64> = None;
    loop {
        session.reset_connection();
        session.touch();
        if greet(session, &mut socket, resumed_from, &written).await.is_ok() {
            let (sink, stream) = socket.split();
            tokio::join!(read_loop(session, stream), write_loop(session, sink, &mut queue, &mut written));
        } else {
            session.signal_end(Ending::ClientGone);
        }
        let ending = session.ending().borrow().clone();
        if config.resume_grace.is_zero() || ending.as_ref().is_none_or(Ending::is_terminal) {
            return None;
        }
        tracing::debug!(session = %session.id, ?ending, "connection lost; the session waits to be resumed");
        let attach = session.wait_for_resume(config.resume_grace).await?;
        if !written.replay.covers(attach.last_seq, written.seq) {
            tracing::debug!(session = %session.id, last_seq = attach.last_seq, "missed frames are gone; ending the session");
            return Some(attach);
        }
        tracing::debug!(session = %session.id, last_seq = attach.last_seq, "session resumed");
        resumed_from = Some(attach.last_seq);
        socket = attach.socket;
    }
}

/// Sends `hello` and, on a resumed connection, every frame the client missed.
async fn greet(
    session: &SessionShared,
    socket: &mut WebSocket,
    resumed_from: Option<u64>,
    written: &Written,
) -> Result<(), axum::Error> {
    let config = &session.server.config;
    let hello = frames::hello(
        &session.id,
        config.heartbeat_interval.as_millis() as u64,
        config.idle_timeout.as_millis() as u64,
        AnnouncedLimits {
            max_frame_bytes: config.max_frame_bytes,
            max_channels: config.max_channels_per_session,
            max_pending_requests: config.max_pending_requests,
        },
        resumed_from.is_some(),
    );
    socket.send(Message::Text(hello.into())).await?;
    if let Some(last_seq) = resumed_from {
        for text in written.replay.after(last_seq) {
            socket.feed(Message::Text(text)).await?;
        }
        socket.flush().await?;
    }
    Ok(())
}

/// The session's outbound stream so far: the last sequence number given, and the
/// recent frames kept for replay.
struct Written {
    seq: u64,
    replay: Replay,
}

/// The most recent frames written, kept so that a resumed connection gets exactly the
/// frames its client missed. Bounded by count and by bytes.
struct Replay {
    frames: std::collections::VecDeque<(u64, Utf8Bytes)>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

impl Replay {
    fn new(max_frames: usize, max_bytes: usize) -> Self {
        Replay { frames: Default::default(), bytes: 0, max_frames, max_bytes }
    }

    fn push(&mut self, seq: u64, text: Utf8Bytes) {
        if self.max_frames == 0 {
            return;
        }
        self.bytes += text.len();
        self.frames.push_back((seq, text));
        while self.frames.len() > self.max_frames || (self.bytes > self.max_bytes && self.frames.len() > 1) {
            if let Some((_, dropped)) = self.frames.pop_front() {
                self.bytes -= dropped.len();
            }
        }
    }

    /// Whether a client that saw up to `last_seq` can be given everything after it,
    /// when `newest` frames have been written.
    fn covers(&self, last_seq: u64, newest: u64) -> bool {
        if last_seq > newest {
            return false;
        }
        last_seq == newest || self.frames.front().is_some_and(|(oldest, _)| *oldest <= last_seq + 1)
    }

    /// The frames after `last_seq`, in order.
    fn after(&self, last_seq: u64) -> impl Iterator<Item = Utf8Bytes> + '_ {
        self.frames.iter().filter(move |(seq, _)| *seq > last_seq).map(|(_, text)| text.clone())
    }
}

async fn close_socket(socket: &mut WebSocket, code: CloseCode, reason: &str) {
    let frame = close_frame(code, reason);
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, socket.send(frame)).await;
}

fn close_frame(code: CloseCode, reason: &str) -> Message {
    // A close reason is at most 123 bytes on the wire.
    let reason = truncate_to(reason, 123);
    Message::Close(Some(CloseFrame { code: code.code(), reason: Utf8Bytes::from(reason) }))
}

/// Ends when the client goes away, sends something fatal, or the session ends.
async fn read_loop(session: &Arc<SessionShared>, mut stream: SplitStream<WebSocket>) {
    let mut ending = session.ending();
    // One waiter for the whole loop: making a new one per frame showed in W1's profile.
    let ended = ending.wait_for(Option::is_some);
    tokio::pin!(ended);
    let mut budget = RateBudget::new(&session.server.config);
    loop {
        let message = tokio::select! {
            biased;
            _ = &mut ended => return,
            message = stream.next() => message,
        };
        let message = match message {
            None => return session.signal_end(Ending::ClientGone),
            Some(Err(error)) => return session.signal_end(read_error_ending(error, &session.server)),
            Some(Ok(message)) => message,
        };
        session.touch();
        if !budget.spend(Instant::now()) {
            let rate = session.server.config.inbound_frames_per_second;
            tracing::warn!(session = %session.id, rate, "inbound rate limit exceeded");
            let reason = format!("rate_limited: more than {rate} frames per second");
            return session.signal_end(Ending::Close(CloseCode::RateLimited, reason));
        }
        match message {
            Message::Text(text) => super::dispatch::text_frame(session, text.as_str()),
            Message::Binary(_) => super::dispatch::binary_frame(session),
            Message::Close(_) => return session.signal_end(Ending::ClientClosed),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

fn read_error_ending(error: axum::Error, server: &ServerShared) -> Ending {
    let too_large = error
        .into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
    if too_large {
        let limit = server.config.max_frame_bytes;
        Ending::Close(CloseCode::FrameTooLarge, format!("frame_too_large: a message exceeded {limit} bytes"))
    } else {
        Ending::ClientGone
    }
}

/// Drains the outbound queue, numbering each frame, and sends heartbeats; at the end,
/// sends the close frame if the server is the one closing.
async fn write_loop(
    session: &Arc<SessionShared>,
    mut sink: SplitSink<WebSocket, Message>,
    queue: &mut mpsc::Receiver<Body>,
    written: &mut Written,
) {
    // One waiter for the whole loop (see `read_loop`).
    let mut end_watch = session.ending();
    let ended = end_watch.wait_for(Option::is_some);
    tokio::pin!(ended);
    let config = &session.server.config;
    let mut heartbeat = tokio::time::interval(config.heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.reset();
    loop {
        let step = tokio::select! {
            biased;
            _ = &mut ended => break,
            body = queue.recv() => match body {
                Some(body) => write_batch(&mut sink, queue, written, body),
                None => break,
            },
            _ = heartbeat.tick() => {
                if session.idle_since(Instant::now()) > config.idle_timeout {
                    let ms = config.idle_timeout.as_millis();
                    let reason = format!("idle_timeout: nothing received for {ms} ms");
                    session.signal_end(Ending::Detach(CloseCode::IdleTimeout, reason));
                    break;
                }
                Box::pin(async { sink.send(Message::Text(Utf8Bytes::from_static(frames::PING))).await.is_ok() })
            }
        };
        // Writing races the end signal, so a client that stopped reading cannot keep the
        // writer stuck in a full socket once the session is over.
        let written = tokio::select! {
            biased;
            _ = &mut ended => break,
            ok = step => ok,
        };
        if !written {
            session.signal_end(Ending::ClientGone);
            break;
        }
    }
    let end = session.ending().borrow().clone();
    let goodbye = async {
        match end {
            Some(Ending::Close(code, reason) | Ending::Detach(code, reason)) => {
                sink.send(close_frame(code, &reason)).await
            }
            // Flushes tungstenite's reply to the client's close frame, if there was one.
            _ => sink.close().await,
        }
    };
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, goodbye).await;
}

type WriteStep<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;

/// Sends `first` and whatever else is already queued (up to a batch), then flushes.
fn write_batch<'a>(
    sink: &'a mut SplitSink<WebSocket, Message>,
    queue: &'a mut mpsc::Receiver<Body>,
    written: &'a mut Written,
    first: Body,
) -> WriteStep<'a> {
    Box::pin(async move {
        let mut next = Some(first);
        let mut count = 0;
        while let Some(body) = next.take() {
            written.seq += 1;
            let text = Utf8Bytes::from(body.with_seq(written.seq));
            written.replay.push(written.seq, text.clone());
            if sink.feed(Message::Text(text)).await.is_err() {
                return false;
            }
            count += 1;
            if count < WRITE_BATCH {
                next = queue.try_recv().ok();
            }
        }
        sink.flush().await.is_ok()
    })
}

/// A token bucket: `inbound_burst` frames at once, refilled at
/// `inbound_frames_per_second`.
struct RateBudget {
    tokens: f64,
    burst: f64,
    per_second: f64,
    last: Instant,
}

impl RateBudget {
    fn new(config: &crate::Config) -> Self {
        let burst = f64::from(config.inbound_burst.max(1));
        RateBudget {
            tokens: burst,
            burst,
            per_second: f64::from(config.inbound_frames_per_second),
            last: Instant::now(),
        }
    }

    /// Takes one frame's token; false when the session is over its rate.
    fn spend(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}
