//! One WebSocket connection: the hello, the reader, the writer, and the teardown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tracing::Instrument as _;
use tungstenite::Message;

use super::ServerShared;
use super::admission::SessionSlot;
use super::socket::{Reader, Socket, Writer, drain, is_reset};
use super::upgrade::Opening;
use crate::guard::{self, Callback};
use crate::protocol::frames::{self, AnnouncedLimits, Body};
use crate::protocol::{CloseCode, PROTOCOL_VERSION};
use crate::session::{Ending, Resuming, Session, SessionShared};
use crate::telemetry::{Closed, Telemetry};

/// Most frames written before one flush, so a burst goes out in few syscalls without
/// starving the heartbeat.
const WRITE_BATCH: usize = 64;

/// How long the writer tries to deliver a close frame to a client that may not read.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long sending `hello` and the replayed frames to a new connection may take.
const GREET_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection resuming a session: its socket, the last sequence number its client
/// saw, and what authentication said of it (for a fresh session if resuming fails).
struct Reattach {
    /// Boxed, so the session's task keeps a pointer, not a socket, while it waits.
    socket: Box<Socket>,
    last_seq: u64,
    identity: Option<crate::session::host::Identity>,
    /// The query of the upgrade request.
    params: crate::protocol::Query,
}

/// The next connection handed over to `session` (`None` once it takes no more).
/// Cancel-safe, as the hand-over is.
async fn next_resume(session: &SessionShared) -> Option<Box<Reattach>> {
    loop {
        if let Some(attach) = as_reattach(session.resumes.recv().await?) {
            return Some(attach);
        }
    }
}

/// A connection as the session relayed it, back to what it is: the session layer
/// holds connections without their type, and only this module hands any over.
fn as_reattach(resuming: Resuming) -> Option<Box<Reattach>> {
    resuming
        .downcast()
        .inspect_err(|_| tracing::error!("a session was handed something that is not a connection; dropped"))
        .ok()
}

/// Serves one upgraded connection until it ends.
pub(crate) async fn run(server: Arc<ServerShared>, mut socket: Socket, opening: Opening) {
    let Opening { version, identity, resume, params, slot, nodes } = opening;
    socket.nodes = nodes;
    if version != Some(PROTOCOL_VERSION) {
        let asked = version.map_or_else(|| "none".to_owned(), |v| v.to_string());
        let reason = format!("unsupported_version: asked for v={asked}, this server speaks v={PROTOCOL_VERSION}");
        close_socket(&server, &mut socket, CloseCode::UnsupportedVersion, &reason).await;
        return;
    }
    if server.is_shutting_down() {
        close_socket(&server, &mut socket, CloseCode::GoingAway, "going_away: server shutting down").await;
        return;
    }
    let identity = match identity {
        Some(Err(reason)) => {
            close_socket(&server, &mut socket, CloseCode::Forbidden, &format!("forbidden: {reason}")).await;
            return;
        }
        Some(Ok(identity)) => Some(identity),
        None => None,
    };
    let mut attach = Box::new(Reattach { socket: Box::new(socket), last_seq: 0, identity, params });
    if let Some((id, last_seq)) = resume {
        attach.last_seq = last_seq;
        if let Some(session) = server.registry.find_session(id) {
            match session.hand_over(attach).await {
                // The session's own task serves this connection now.
                Ok(()) => return,
                Err(back) => match as_reattach(back) {
                    Some(back) => attach = back,
                    None => return,
                },
            }
        }
        tracing::debug!(session = %id, "session cannot be resumed; starting a fresh one");
        if let Some(telemetry) = &server.registry.telemetry {
            telemetry.resumed(false);
        }
    }
    start_session(server, attach, slot).await;
}

/// Starts a fresh session on `attach`'s connection, in `slot` or, without one (the
/// connection meant to resume a session that has gone), in a place of its own; when
/// the server has none, the connection is closed with 4006 `overloaded`.
async fn start_session(server: Arc<ServerShared>, mut attach: Box<Reattach>, slot: Option<SessionSlot>) {
    let slot = match slot.map_or_else(|| server.admission.reserve_session(), Ok) {
        Ok(slot) => slot,
        Err(refusal) => {
            tracing::warn!("session refused: {refusal}");
            let reason = format!("{}: {refusal}", CloseCode::Overloaded.as_str());
            return close_socket(&server, &mut attach.socket, CloseCode::Overloaded, &reason).await;
        }
    };
    // The session gets a task of its own, holding only what it keeps for its whole
    // life; this one (the upgrade's, with everything above in it) ends here. An idle
    // session's memory is mostly its tasks: see `serve_connections`.
    tokio::spawn(serve_new_session(server, attach, slot));
}

/// Starts a session on `attach`'s connection and serves it, across resumed
/// connections, until it ends; its `slot` is given back then.
async fn serve_new_session(server: Arc<ServerShared>, attach: Box<Reattach>, slot: SessionSlot) {
    let Reattach { socket, identity, params, .. } = *attach;
    let session = server.registry.new_session(identity, params);
    let span = session.span.clone();
    serve_session(server, session, socket).instrument(span).await;
    drop(slot);
}

async fn serve_session(server: Arc<ServerShared>, session: Arc<SessionShared>, socket: Box<Socket>) {
    tracing::debug!(session = %session.id, "session started");
    if let Some(telemetry) = &server.registry.telemetry {
        telemetry.session_started();
    }
    // Each hook and the renderer run on a task of their own until they finish or the
    // session ends. No handle is kept: a hook that has opened its channels and returned
    // frees its task at once (an idle session's memory is mostly its tasks). A panic in
    // either ends its task only, logged and counted (the renders inside the renderer
    // are caught one by one, in `component::tree`).
    let handle = || Session { shared: session.clone() };
    for hook in &server.on_session {
        let (hook, session) = (hook.clone(), handle());
        let guarded = async move {
            let telemetry = session.shared.host.telemetry();
            let _ = guard::call_async(Callback::OnSession, telemetry, || hook(session.clone())).await;
        };
        tokio::spawn(until_closed(handle(), guarded).in_current_span());
    }
    if let Some(root) = server.root.clone() {
        let session = handle();
        let renderer = async move {
            let telemetry = session.shared.host.telemetry();
            let _ = guard::call_async(Callback::Render, telemetry, || {
                crate::component::run_renderer(session.clone(), root)
            })
            .await;
        };
        tokio::spawn(until_closed(handle(), renderer).in_current_span());
    }
    let mut fresh = serve_connections(&server, &session, socket).await;
    session.end();
    server.registry.remove_session(&session);
    // No resume can be handed over any more; those already handed get sessions of
    // their own, like a resume that came too late to replay what was missed.
    fresh.extend(session.resumes.close().and_then(as_reattach));
    tracing::debug!(session = %session.id, "session ended");
    for attach in fresh {
        tokio::spawn(start_fresh(server.clone(), attach));
    }
}

/// Runs `work` until it finishes or `session` ends, whichever comes first: then `work`
/// is dropped, as an aborted task's would be.
async fn until_closed(session: Session, work: impl Future<Output = ()>) {
    tokio::select! {
        biased;
        () = session.closed() => {}
        () = work => {}
    }
}

/// [`start_session`] as a boxed future, so a session can start another.
fn start_fresh(server: Arc<ServerShared>, attach: Box<Reattach>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(start_session(server, attach, None))
}

/// Serves the session on `socket`, then on each connection that resumes it, until it
/// ends. Returns the resuming connections that could not be given what they missed.
///
/// Each connection (its greeting, reader and writer) runs on a task of its own: this
/// one is woken only when that ends or a resume arrives, not for every frame, and while
/// it waits it holds a few pointers, never a socket or a timer.
async fn serve_connections(
    server: &Arc<ServerShared>,
    session: &Arc<SessionShared>,
    mut socket: Box<Socket>,
) -> Vec<Box<Reattach>> {
    let config = &server.config;
    let mut missed: Option<Vec<(u64, Body)>> = None;
    loop {
        session.touch();
        // A resume that arrives while this connection is served replaces it.
        let mut next: Option<Box<Reattach>> = None;
        let mut serve = tokio::spawn(serve_connection(session.clone(), socket, missed.take()).in_current_span());
        loop {
            tokio::select! {
                _ = &mut serve => break,
                Some(attach) = next_resume(session), if next.is_none() => {
                    let reason = "replaced: the session was resumed on a newer connection";
                    session.signal_end(Ending::Detach(CloseCode::Replaced, reason.into()));
                    next = Some(attach);
                }
            }
        }
        // The writer has stopped: frames queue up for the next connection.
        session.detach();
        let ending = session.ending();
        if config.resume_grace.is_zero() || ending.as_ref().is_none_or(Ending::is_terminal) {
            return next.into_iter().collect();
        }
        let attach = match next {
            Some(attach) => attach,
            None => {
                tracing::debug!(session = %session.id, ?ending, "connection lost; the session waits to be resumed");
                match Box::pin(wait_for_resume(session, config.resume_grace)).await {
                    Some(attach) => attach,
                    None => return Vec::new(),
                }
            }
        };
        // Forget why the last connection ended before attaching the next one: a reason
        // that comes after this (an overflow, a shutdown) then applies to the new one.
        session.reset_connection();
        match session.resume(attach.last_seq) {
            Ok(frames) => {
                tracing::debug!(session = %session.id, last_seq = attach.last_seq, "session resumed");
                if let Some(telemetry) = &server.registry.telemetry {
                    telemetry.resumed(true);
                }
                missed = Some(frames);
                socket = attach.socket;
            }
            Err(why) => {
                tracing::debug!(session = %session.id, last_seq = attach.last_seq, ?why, "cannot resume; ending the session");
                if let Some(telemetry) = &server.registry.telemetry {
                    telemetry.resumed(false);
                }
                return vec![attach];
            }
        }
    }
}

/// One connection of a session: sends `hello` (and, on a resumed connection, what was
/// missed), then reads and writes until it ends.
async fn serve_connection(session: Arc<SessionShared>, mut socket: Box<Socket>, missed: Option<Vec<(u64, Body)>>) {
    // A client that stalls during the greeting (it vanished right after the upgrade)
    // must not hold the session: past the limit the connection counts as broken.
    let nodes = socket.nodes.as_mut().map(|nodes| nodes.borrow_and_update().clone()).unwrap_or_else(|| Arc::from([]));
    let greeted = tokio::time::timeout(GREET_TIMEOUT, greet(&session, &mut socket.writer, missed, &nodes)).await;
    if !matches!(greeted, Ok(Ok(()))) {
        session.signal_end(Ending::ClientGone);
        if let Some(telemetry) = session.host.telemetry() {
            telemetry.closed(Closed::Lost);
        }
        return;
    }
    // The reader stays boxed: this task lives as long as the connection, and an idle
    // connection's memory is mostly its tasks.
    let Socket { reader, writer, nodes } = *socket;
    tokio::join!(read_loop(&session, Box::new(reader)), write_loop(&session, writer, nodes));
}

/// Waits (while detached) for a resuming connection; `None` if the session must end
/// first (a terminal signal) or the grace period passes.
async fn wait_for_resume(session: &SessionShared, grace: Duration) -> Option<Box<Reattach>> {
    let terminal = session.wait_session_end();
    tokio::select! {
        attach = next_resume(session) => attach,
        _ = tokio::time::sleep(grace) => None,
        _ = terminal => None,
    }
}

/// Sends `hello` and, on a resumed connection, every frame the client missed.
async fn greet(
    session: &SessionShared,
    writer: &mut Writer,
    missed: Option<Vec<(u64, Body)>>,
    nodes: &[String],
) -> std::io::Result<()> {
    let config = session.host.config();
    let hello = frames::hello(
        &session.id,
        config.heartbeat_interval.as_millis() as u64,
        config.idle_timeout.as_millis() as u64,
        AnnouncedLimits {
            max_frame_bytes: config.max_frame_bytes,
            max_channels: config.max_channels_per_session,
            max_pending_requests: config.max_pending_requests,
        },
        missed.is_some(),
        nodes,
    );
    let telemetry = session.host.telemetry();
    if let Some(telemetry) = telemetry {
        telemetry.frame_out(&hello);
    }
    writer.text(&hello);
    write_numbered(writer, telemetry, missed.into_iter().flatten()).await
}

/// Encodes `frames` (numbered and kept already) after what the writer holds, and writes
/// it all: a write each time the buffer is full, and one at the end. A write cut short
/// keeps the rest for the next one.
async fn write_numbered(
    writer: &mut Writer,
    telemetry: Option<&Telemetry>,
    frames: impl IntoIterator<Item = (u64, Body)>,
) -> std::io::Result<()> {
    for (seq, body) in frames {
        if let Some(telemetry) = telemetry {
            telemetry.frame_out(body.text());
        }
        writer.numbered(seq, &body);
        if writer.is_full() {
            writer.flush().await?;
        }
    }
    writer.flush().await
}

/// Closes a connection that has no session (refused at connect), completing the close
/// handshake: what the client sent meanwhile is read and ignored until it answers the
/// close, so it gets the code rather than a reset.
async fn close_socket(server: &ServerShared, socket: &mut Socket, code: CloseCode, reason: &str) {
    if let Some(telemetry) = &server.registry.telemetry {
        telemetry.closed(Closed::Code(code));
    }
    socket.writer.close(code.code(), reason);
    let handshake = async {
        socket.writer.flush().await?;
        drain(&mut socket.reader, false).await;
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT * 2, handshake).await;
}

/// Reads until the client goes away, sends something fatal, or the session ends. When
/// the server is the one closing, the rest of the client's traffic is read (and
/// ignored) on a task of its own until the client answers the close, so the close
/// handshake completes instead of ending in a TCP reset: also when what the client
/// sent broke the frame parser ([`drain`]).
async fn read_loop(session: &Arc<SessionShared>, mut stream: Box<Reader>) {
    let parser_failed = read_frames(session, &mut stream).await;
    if matches!(session.ending(), Some(Ending::Close(..) | Ending::Detach(..))) {
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT * 2, drain(&mut stream, parser_failed)).await;
        });
    }
}

/// Reads and dispatches frames until the connection or the session ends; true if it
/// ended because the frame parser failed (the client broke a rule or a limit).
async fn read_frames(session: &Arc<SessionShared>, stream: &mut Reader) -> bool {
    // One waiter for the whole loop: making a new one per frame showed in W1's profile.
    let ended = session.wait_connection_end();
    tokio::pin!(ended);
    let mut budget = RateBudget::new(session.host.config());
    loop {
        let message = tokio::select! {
            biased;
            _ = &mut ended => return false,
            message = stream.next() => message,
        };
        let message = match message {
            None => {
                session.signal_end(Ending::ClientGone);
                return false;
            }
            Some(Err(error)) => {
                let ending = read_error_ending(error, session.host.config());
                let parser_failed = matches!(ending, Ending::Close(..));
                session.signal_end(ending);
                return parser_failed;
            }
            Some(Ok(message)) => message,
        };
        session.touch();
        if !budget.spend(Instant::now()) {
            let rate = session.host.config().inbound_frames_per_second;
            tracing::warn!(session = %session.id, rate, "inbound rate limit exceeded");
            let reason = format!("rate_limited: more than {rate} frames per second");
            session.signal_end(Ending::Close(CloseCode::RateLimited, reason));
            return false;
        }
        match message {
            Message::Text(text) => session.text_frame(text.as_str()),
            Message::Binary(_) => session.binary_frame(),
            Message::Close(_) => {
                // Hands tungstenite's answer to the writer, which sends it before it ends.
                let _ = stream.flush().await;
                session.signal_end(Ending::ClientClosed);
                return false;
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

pub(crate) fn read_error_ending(error: tungstenite::Error, config: &crate::Config) -> Ending {
    match error {
        tungstenite::Error::Capacity(_) => {
            let limit = config.max_frame_bytes;
            Ending::Close(CloseCode::FrameTooLarge, format!("frame_too_large: a message exceeded {limit} bytes"))
        }
        tungstenite::Error::Utf8(_) => {
            Ending::Close(CloseCode::InvalidData, "invalid_data: a text message was not UTF-8".to_owned())
        }
        tungstenite::Error::Protocol(error) if !is_reset(&error) => {
            Ending::Close(CloseCode::ProtocolError, format!("protocol_error: {error}"))
        }
        _ => Ending::ClientGone,
    }
}

/// Writes what the session core hands out (numbered, and kept for replay before it is
/// handed out, so a write cut short loses nothing), sends heartbeats, and fails the
/// server's requests past their deadline; at the end, sends the close frame if the
/// server is the one closing.
async fn write_loop(
    session: &Arc<SessionShared>,
    mut writer: Writer,
    mut nodes: Option<tokio::sync::watch::Receiver<Arc<[String]>>>,
) {
    // One waiter for the whole loop (see `read_frames`).
    let ended = session.wait_connection_end();
    tokio::pin!(ended);
    let config = session.host.config();
    let telemetry = session.host.telemetry();
    let mut next_beat = tokio::time::Instant::now() + config.heartbeat_interval;
    // One timer for the whole loop, reset once per beat (or idle deadline): a timer
    // made per wait showed in W1's profile (a timer-wheel insert and removal per
    // delivery). It wakes for the next beat or the moment the session would have been
    // idle too long, whichever comes first, so the idle timeout holds to the tick.
    let mut wake = next_beat.min(tokio::time::Instant::now() + config.idle_timeout);
    let timer = tokio::time::sleep_until(wake);
    tokio::pin!(timer);
    // Grows to the largest batch seen (idle sessions keep it empty).
    let mut batch = Vec::new();
    let mut ping = false;
    // The cluster's nodes, when they changed since the client was told.
    let mut tell_nodes: Option<Arc<[String]>> = None;
    loop {
        let now = tokio::time::Instant::now();
        if now >= wake {
            session.expire_requests(now.into_std());
            let idle = session.idle_since(now.into_std());
            if idle >= config.idle_timeout {
                let ms = config.idle_timeout.as_millis();
                let reason = format!("idle_timeout: nothing received for {ms} ms");
                session.signal_end(Ending::Detach(CloseCode::IdleTimeout, reason));
                break;
            }
            if now >= next_beat {
                ping = true;
                next_beat = now + config.heartbeat_interval;
            }
            wake = next_beat.min(now + (config.idle_timeout - idle));
            timer.as_mut().reset(wake);
        }
        session.take_batch(WRITE_BATCH, &mut batch);
        if batch.is_empty() && !ping && tell_nodes.is_none() && !writer.has_replies() {
            writer.release();
            let nodes_changed = async {
                let Some(nodes) = nodes.as_mut() else { return std::future::pending().await };
                if nodes.changed().await.is_err() {
                    return std::future::pending().await; // the server is gone
                }
                nodes.borrow_and_update().clone()
            };
            tokio::select! {
                biased;
                _ = &mut ended => break,
                _ = session.frames_queued() => {}
                _ = writer.replies_arrived() => {}
                _ = &mut timer => {}
                changed = nodes_changed => tell_nodes = Some(changed),
            }
            continue;
        }
        // Writing races the end signal, so a client that stopped reading cannot keep the
        // writer stuck in a full socket once the session is over.
        let write = async {
            let bytes = batch.iter().map(|(_, body)| body.bytes().len()).sum::<usize>();
            writer.reserve(batch.len() + 1, bytes + frames::PING.len());
            if std::mem::take(&mut ping) {
                if let Some(telemetry) = telemetry {
                    telemetry.frame_out(frames::PING);
                }
                writer.text(frames::PING);
            }
            if let Some(nodes) = tell_nodes.take() {
                let frame = frames::nodes(&nodes);
                if let Some(telemetry) = telemetry {
                    telemetry.frame_out(&frame);
                }
                writer.text(&frame);
            }
            // Encoded here, outside the session's lock.
            write_numbered(&mut writer, telemetry, batch.drain(..)).await
        };
        let written = tokio::select! {
            biased;
            _ = &mut ended => break,
            written = write => written.is_ok(),
        };
        if !written {
            session.signal_end(Ending::ClientGone);
            break;
        }
    }
    let end = session.ending();
    if let Some(telemetry) = telemetry {
        telemetry.closed(match &end {
            Some(Ending::Close(code, _) | Ending::Detach(code, _)) => Closed::Code(*code),
            Some(Ending::ClientClosed) => Closed::ByClient,
            Some(Ending::ClientGone) | None => Closed::Lost,
        });
    }
    let goodbye = async {
        match end {
            Some(Ending::Close(code, reason) | Ending::Detach(code, reason)) => {
                writer.close(code.code(), &reason);
                writer.flush().await
            }
            // Sends the answer to the client's close frame, if there was one, and ends
            // the stream: the server closes the TCP connection first (RFC 6455 §7.1.1).
            _ => writer.shutdown().await,
        }
    };
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, goodbye).await;
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

#[cfg(test)]
mod idle_footprint {
    //! An idle session's memory is mostly the state of its two tasks: the session's
    //! (waiting for its connection to end or a resume) and the connection's (its reader
    //! and writer). These bounds keep what either holds across a wait from growing
    //! unnoticed (the session's task once held 4 KiB: the upgrade's state and a socket).
    use super::*;

    fn future_size<A, B, C, Fut>(_: impl FnOnce(A, B, C) -> Fut) -> usize {
        std::mem::size_of::<Fut>()
    }

    #[test]
    fn a_sessions_task_holds_no_socket_while_it_waits() {
        let session = future_size(serve_new_session);
        assert!(session <= 512, "the session's task is {session} bytes");
    }

    #[test]
    fn a_connections_task_stays_small() {
        let connection = future_size(serve_connection);
        assert!(connection <= 1536, "the connection's task is {connection} bytes");
    }
}
