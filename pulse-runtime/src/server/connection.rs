//! One WebSocket connection of a session: the hello (and the replay of what a resumed
//! connection missed), the reader, the writer, and the close.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tungstenite::Message;

use super::ServerShared;
use super::rate::RateBudget;
use super::socket::{Reader, Socket, Writer, drain, is_reset};
use crate::protocol::CloseCode;
use crate::protocol::PROTOCOL_VERSION;
use crate::protocol::frames::{self, AnnouncedLimits, Body, Hello};
use crate::session::{Ending, SessionShared};
use crate::telemetry::{Closed, Telemetry};

/// Most frames written before one flush, so a burst goes out in few syscalls without
/// starving the heartbeat.
const WRITE_BATCH: usize = 64;

/// How long the writer tries to deliver a close frame to a client that may not read.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long sending `hello` and the replayed frames to a new connection may take.
const GREET_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection of a session: sends `hello` (and, on a resumed connection, what was
/// missed), then reads and writes until it ends.
pub(super) async fn serve_connection(
    session: Arc<SessionShared>,
    mut socket: Box<Socket>,
    missed: Option<Vec<(u64, Body)>>,
) {
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

/// Sends `hello` and, on a resumed connection, every frame the client missed.
async fn greet(
    session: &SessionShared,
    writer: &mut Writer,
    missed: Option<Vec<(u64, Body)>>,
    nodes: &[String],
) -> std::io::Result<()> {
    let config = session.host.config();
    let hello = frames::hello(Hello {
        v: PROTOCOL_VERSION,
        session: session.id,
        heartbeat_ms: config.heartbeat_interval.as_millis() as u64,
        idle_timeout_ms: config.idle_timeout.as_millis() as u64,
        limits: AnnouncedLimits {
            max_frame_bytes: config.max_frame_bytes,
            max_channels: config.max_channels_per_session,
            max_pending_requests: config.max_pending_requests,
        },
        resumed: missed.is_some(),
        nodes: nodes.to_vec(),
    });
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
pub(super) async fn close_socket(server: &ServerShared, socket: &mut Socket, code: CloseCode, reason: &str) {
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
        // A busy writer looks at the nodes between batches too (an idle one waits for
        // them below): a session that is never idle still hears of a change.
        if let Some(nodes) = nodes.as_mut()
            && nodes.has_changed().unwrap_or(false)
        {
            tell_nodes = Some(nodes.borrow_and_update().clone());
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
