//! One WebSocket connection: the hello, the reader, the writer, and the teardown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;

use super::ServerShared;
use crate::protocol::frames::{self, AnnouncedLimits, Body};
use crate::protocol::{CloseCode, PROTOCOL_VERSION};
use crate::session::{Ending, Session, SessionShared};

/// Most frames written before one flush, so a burst goes out in few syscalls without
/// starving the heartbeat.
const WRITE_BATCH: usize = 64;

/// How long the writer tries to deliver a close frame to a client that may not read.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves one upgraded connection until it ends.
pub(crate) async fn run(server: Arc<ServerShared>, mut socket: WebSocket, version: Option<u32>) {
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

    let (session, queue) = server.new_session();
    let config = &server.config;
    let hello = frames::hello(
        &session.id,
        config.heartbeat_interval.as_millis() as u64,
        config.idle_timeout.as_millis() as u64,
        AnnouncedLimits {
            max_frame_bytes: config.max_frame_bytes,
            max_channels: config.max_channels_per_session,
            max_pending_requests: config.max_pending_requests,
        },
    );
    if socket.send(Message::Text(hello.into())).await.is_err() {
        server.remove_session(&session);
        return;
    }
    tracing::debug!(session = %session.id, "session started");

    let hook = server.on_session.clone().map(|hook| tokio::spawn(hook(Session { shared: session.clone() })));
    let renderer = server
        .root
        .clone()
        .map(|root| tokio::spawn(crate::component::run_renderer(Session { shared: session.clone() }, root)));
    let (sink, stream) = socket.split();
    tokio::join!(read_loop(&session, stream), write_loop(&session, sink, queue));
    for task in [hook, renderer].into_iter().flatten() {
        task.abort();
    }
    session.end();
    server.remove_session(&session);
    tracing::debug!(session = %session.id, "session ended");
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

fn truncate_to(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Ends when the client goes away, sends something fatal, or the session ends.
async fn read_loop(session: &Arc<SessionShared>, mut stream: SplitStream<WebSocket>) {
    let mut ending = session.ending();
    // One waiter for the whole loop: making a new one per frame showed in W1's profile.
    let ended = ending.wait_for(Option::is_some);
    tokio::pin!(ended);
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
        match message {
            Message::Text(text) => super::dispatch::text_frame(session, text.as_str()),
            Message::Binary(_) => super::dispatch::binary_frame(session),
            Message::Close(_) => return session.signal_end(Ending::ClientGone),
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
    mut queue: mpsc::Receiver<Body>,
) {
    // One waiter for the whole loop (see `read_loop`).
    let mut end_watch = session.ending();
    let ended = end_watch.wait_for(Option::is_some);
    tokio::pin!(ended);
    let config = &session.server.config;
    let mut heartbeat = tokio::time::interval(config.heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.reset();
    let mut seq: u64 = 0;
    loop {
        let step = tokio::select! {
            biased;
            _ = &mut ended => break,
            body = queue.recv() => match body {
                Some(body) => write_batch(&mut sink, &mut queue, &mut seq, body),
                None => break,
            },
            _ = heartbeat.tick() => {
                if session.idle_since(Instant::now()) > config.idle_timeout {
                    let ms = config.idle_timeout.as_millis();
                    session.signal_end(Ending::Close(CloseCode::IdleTimeout, format!("idle_timeout: nothing received for {ms} ms")));
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
            Some(Ending::Close(code, reason)) => sink.send(close_frame(code, &reason)).await,
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
    seq: &'a mut u64,
    first: Body,
) -> WriteStep<'a> {
    Box::pin(async move {
        let mut next = Some(first);
        let mut written = 0;
        while let Some(body) = next.take() {
            *seq += 1;
            if sink.feed(Message::Text(body.with_seq(*seq).into())).await.is_err() {
                return false;
            }
            written += 1;
            if written < WRITE_BATCH {
                next = queue.try_recv().ok();
            }
        }
        sink.flush().await.is_ok()
    })
}
