//! Routing of client-to-server frames to channels, handlers and pending requests.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt as _;
use serde_json::value::RawValue;
use tracing::Instrument as _;

use super::channel::{ChannelShared, CloseReason, Emitted, RawChannel, RawCx, Reply, Work};
use super::{Access, AnswerOutcome, SessionShared};
use crate::error::ChannelError;
use crate::guard::{self, Callback};
use crate::protocol::frames::{self, ClientFrame, FrameError, Refused, truncate};
use crate::protocol::{ErrorCode, WireError};
use crate::session_core::inbox::Arrival;
use crate::sync::lock;

/// Handles one text frame from the client. Never panics on any input: every bad frame
/// gets an error frame (or a failed answer) and the session carries on.
pub(super) fn text_frame(session: &Arc<SessionShared>, text: &str) {
    let frame = frames::decode_client_frame(text);
    if let Some(telemetry) = session.host.telemetry() {
        telemetry.frame_in(frame.as_ref().ok().map(ClientFrame::kind));
    }
    match frame {
        Err(FrameError { error, refused: Refused::Request { channel, id } }) => {
            answer(session, &channel, id, Err(&error))
        }
        Err(FrameError { error, refused: Refused::Frame }) => report(session, &error, None, None),
        Err(FrameError { error, refused: Refused::Answer { channel, id } }) => {
            report(session, &error, Some(&channel), None);
            let result = Err(ChannelError::Rejected(error));
            if session.deliver_answer(&channel, id, result) == AnswerOutcome::Delivered {
                tracing::debug!(session = %session.id, id, "a malformed answer failed its request");
            }
        }
        Ok(ClientFrame::Emit { channel, event, payload }) => emit(session, &channel, &event, payload),
        Ok(ClientFrame::Request { channel, id, event, payload }) => request(session, &channel, id, &event, payload),
        Ok(ClientFrame::Answer { channel, id, ok, error }) => {
            let result = match error {
                Some(error) => Err(error.into_owned()),
                None => Ok(ok.unwrap_or(RawValue::NULL)),
            };
            client_answer(session, &channel, id, result)
        }
        Ok(ClientFrame::Close { channel }) => close(session, &channel),
        Ok(ClientFrame::Callback { callback: id, data }) => callback(session, &id, data),
        Ok(ClientFrame::Navigate { path }) => navigate(session, &path),
        Ok(ClientFrame::Pong) => {}
    }
}

/// The longest page address a `navigate` may name, in bytes (what a session keeps of it).
const MAX_PAGE_ADDRESS: usize = 8 * 1024;

/// The client went to another page: the session's renderer renders it. Refused when
/// the session renders no pages, or the address is not one of this server's.
fn navigate(session: &SessionShared, path: &str) {
    let local = path.strip_prefix('/').is_some_and(|rest| !rest.starts_with(['/', '\\']));
    if path.len() > MAX_PAGE_ADDRESS {
        let message = format!("`navigate`: an address is at most {MAX_PAGE_ADDRESS} bytes");
        return report(session, &WireError::new(ErrorCode::MalformedFrame, message), None, None);
    }
    if !local {
        let message = format!("`navigate` needs a path on this server (`/…`), not `{}`", truncate(path));
        return report(session, &WireError::new(ErrorCode::MalformedFrame, message), None, None);
    }
    if !session.renders_pages() {
        let message = "`navigate`: this server renders no pages (it has no root component)";
        return report(session, &WireError::new(ErrorCode::UnsupportedFrame, message), None, None);
    }
    session.navigate(path);
}

/// A binary message: the protocol speaks JSON text only.
pub(super) fn binary_frame(session: &Arc<SessionShared>) {
    if let Some(telemetry) = session.host.telemetry() {
        telemetry.frame_in(None);
    }
    let error = WireError::new(ErrorCode::UnsupportedFrame, "binary frames are not supported; send JSON text frames");
    report(session, &error, None, None);
}

fn report(session: &SessionShared, error: &WireError, channel: Option<&str>, event: Option<&str>) {
    let _ = session.enqueue(frames::error(error, channel.map(truncate), event.map(truncate)));
}

fn answer(session: &SessionShared, channel: &str, id: u64, result: Result<&RawValue, &WireError>) {
    let _ = session.enqueue(frames::answer(truncate(channel), id, result));
}

fn unknown_channel(channel: &str) -> WireError {
    WireError::new(ErrorCode::UnknownChannel, format!("no open channel `{}` in this session", truncate(channel)))
}

/// The authorization hook's verdict on a client's emit or request.
fn authorized(session: &Arc<SessionShared>, access: &Access<'_>) -> Result<(), WireError> {
    let handle = crate::session::Session { shared: session.clone() };
    session.host.authorize(&handle, access).map_err(|reason| WireError::new(ErrorCode::Forbidden, reason))
}

fn emit(session: &Arc<SessionShared>, channel_id: &str, event: &str, payload: &RawValue) {
    let Some(channel) = session.find_channel(channel_id) else {
        return report(session, &unknown_channel(channel_id), Some(channel_id), Some(event));
    };
    if let Err(error) = authorized(session, &Access::Emit { channel: channel.name(), event }) {
        return report(session, &error, Some(channel_id), Some(event));
    }
    arrive(session, channel, Work::Emit { event: event.into(), payload: payload.to_owned() });
}

/// Logs and counts a handler's panic (in a span naming its event), and says so to the
/// client.
fn handler_panicked(session: &SessionShared, event: &str, panic: &(dyn Any + Send)) -> WireError {
    let telemetry = session.host.telemetry();
    tracing::error_span!("handler", %event).in_scope(|| guard::caught(Callback::Handler, telemetry, panic));
    WireError::new(ErrorCode::HandlerFailed, format!("the handler for `{}` panicked", truncate(event)))
}

fn request(session: &Arc<SessionShared>, channel_id: &str, id: u64, event: &str, payload: &RawValue) {
    let Some(channel) = session.find_channel(channel_id) else {
        return answer(session, channel_id, id, Err(&unknown_channel(channel_id)));
    };
    if let Err(error) = authorized(session, &Access::Request { channel: channel.name(), event }) {
        return answer(session, channel_id, id, Err(&error));
    }
    if let Err(code) = session.begin_inbound(id, channel.id) {
        let error = match code {
            ErrorCode::DuplicateRequestId => WireError::new(code, format!("request id {id} is already pending")),
            // The channel closed since it was looked up: its `close` is on its way, and
            // the client fails the request when it hears it. Nothing may follow `close`.
            ErrorCode::UnknownChannel => return,
            _ => WireError::new(
                code,
                format!("more than {} requests pending", session.host.config().max_pending_requests),
            ),
        };
        return answer(session, channel_id, id, Err(&error));
    }
    // When it arrived, for the latency histogram (read only when the server has metrics).
    let received = session.host.telemetry().map(|_| Instant::now());
    arrive(session, channel, Work::Request { id, event: event.into(), payload: payload.to_owned(), received });
}

/// Inbound work reached its channel: it runs now if the channel is idle, or waits for
/// the work ahead of it (an async handler still running).
fn arrive(session: &Arc<SessionShared>, channel: Arc<ChannelShared>, work: Work) {
    let arrival = lock(&channel.inbox).arrive(work, session.inbound());
    match arrival {
        Arrival::Run(work) => run(session, channel, work),
        Arrival::Queued => {}
        Arrival::Full(work) => {
            let limit = session.host.config().max_pending_requests;
            let why = format!("more than {limit} events are waiting for this channel's handler");
            refuse(session, &channel, work, &WireError::new(ErrorCode::TooManyRequests, why));
        }
        Arrival::OverBudget(work) => {
            let limit = session.host.config().inbound_queue_bytes;
            let why = format!("more than {limit} bytes of events are waiting for this session's handlers");
            refuse(session, &channel, work, &WireError::new(ErrorCode::TooManyRequests, why));
        }
        // The channel closed since it was looked up: its `close` is on its way. An emit
        // is told so; a request is failed by the client when it hears `close`.
        Arrival::Closed(work @ Work::Emit { .. }) => {
            let error = unknown_channel(&channel.id.to_string());
            refuse(session, &channel, work, &error);
        }
        Arrival::Closed(Work::Request { .. }) => {}
    }
}

fn refuse(session: &SessionShared, channel: &ChannelShared, work: Work, error: &WireError) {
    let channel_id = channel.id.to_string();
    match work {
        Work::Emit { event, .. } => report(session, error, Some(&channel_id), Some(&event)),
        Work::Request { id, received, .. } => finish_request(session, channel, id, received, Err(error.clone())),
    }
}

/// Runs `work` and then whatever queued behind it, as the channel's only runner. Work
/// that leaves a future to await moves the rest of the run to a task of its own, so the
/// read loop (and the session's other channels) never wait for it.
fn run(session: &Arc<SessionShared>, channel: Arc<ChannelShared>, mut work: Work) {
    // Handlers log inside the channel's span (inside the session's): their lines name both.
    let span = channel.span.clone();
    let _entered = span.enter();
    loop {
        if let Some(pending) = execute(session, &channel, work) {
            let task = tokio::spawn(run_later(session.clone(), channel.clone(), pending).in_current_span());
            *lock(&channel.task) = Some(task.abort_handle());
            // A close that ran before the handle was stored could not abort the task.
            if channel.is_closed() {
                task.abort();
            }
            return;
        }
        match lock(&channel.inbox).next(session.inbound()) {
            Some(next) => work = next,
            None => return,
        }
    }
}

async fn run_later(session: Arc<SessionShared>, channel: Arc<ChannelShared>, mut pending: Pending) {
    loop {
        pending.complete(&session, &channel).await;
        loop {
            let Some(work) = lock(&channel.inbox).next(session.inbound()) else { return };
            if let Some(next) = execute(&session, &channel, work) {
                pending = next;
                break;
            }
        }
    }
}

/// A handler's future, and what to do with its output.
enum Pending {
    Emit {
        event: Box<str>,
        future: Pin<Box<dyn Future<Output = Result<(), WireError>> + Send>>,
    },
    Request {
        id: u64,
        event: Box<str>,
        received: Option<Instant>,
        future: Pin<Box<dyn Future<Output = Result<Box<RawValue>, WireError>> + Send>>,
    },
}

impl Pending {
    async fn complete(self, session: &SessionShared, channel: &ChannelShared) {
        match self {
            Pending::Emit { event, future } => {
                let outcome = AssertUnwindSafe(future).catch_unwind().await;
                let error = match outcome {
                    Ok(Ok(())) => return,
                    Ok(Err(error)) => error,
                    Err(panic) => handler_panicked(session, &event, panic.as_ref()),
                };
                if !channel.is_closed() {
                    report(session, &error, Some(&channel.id.to_string()), Some(&event));
                }
            }
            Pending::Request { id, event, received, future } => {
                let result = match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(result) => result,
                    Err(panic) => Err(handler_panicked(session, &event, panic.as_ref())),
                };
                finish_request(session, channel, id, received, result);
            }
        }
    }
}

/// Runs the synchronous part of one piece of work; returns its future, if it left one.
fn execute(session: &Arc<SessionShared>, channel: &Arc<ChannelShared>, work: Work) -> Option<Pending> {
    let handle = RawChannel::new(session.clone(), channel.clone());
    let cx = RawCx { channel: &handle };
    match work {
        Work::Emit { event, payload } => {
            let outcome = channel.with_handler(session.host.telemetry(), |h| {
                std::panic::catch_unwind(AssertUnwindSafe(|| h.on_emit(&cx, &event, &payload)))
            });
            let error = match outcome {
                Some(Ok(Ok(Emitted::Done))) => return None,
                Some(Ok(Ok(Emitted::Later(future)))) => return Some(Pending::Emit { event, future }),
                None => unknown_channel(&channel.id.to_string()),
                Some(Ok(Err(error))) => error,
                Some(Err(panic)) => handler_panicked(session, &event, panic.as_ref()),
            };
            report(session, &error, Some(&channel.id.to_string()), Some(&event));
            None
        }
        Work::Request { id, event, payload, received } => {
            let reply = channel.with_handler(session.host.telemetry(), |h| {
                std::panic::catch_unwind(AssertUnwindSafe(|| h.on_request(&cx, &event, &payload)))
            });
            let reply = match reply {
                // Closed meanwhile: the client fails the request when it hears `close`.
                None => return None,
                Some(Ok(reply)) => reply,
                Some(Err(panic)) => Reply::Ready(Err(handler_panicked(session, &event, panic.as_ref()))),
            };
            match reply {
                Reply::Ready(result) => finish_request(session, channel, id, received, result),
                Reply::Later(future) => return Some(Pending::Request { id, event, received, future }),
            }
            None
        }
    }
}

fn finish_request(
    session: &SessionShared,
    channel: &ChannelShared,
    id: u64,
    received: Option<Instant>,
    result: Result<Box<RawValue>, WireError>,
) {
    if let (Some(telemetry), Some(received)) = (session.host.telemetry(), received) {
        telemetry.request_answered(received.elapsed());
    }
    // A closed channel's requests were already failed on the client when it heard
    // `close`; the session queues no answer naming a channel the client has forgotten.
    let body = match &result {
        Ok(value) => frames::answer_on(channel.id, id, Ok(value)),
        Err(error) => frames::answer_on(channel.id, id, Err(error)),
    };
    session.finish_inbound(id, channel.id, body);
}

fn client_answer(session: &SessionShared, channel_id: &str, id: u64, result: Result<&RawValue, WireError>) {
    let result = result.map(RawValue::to_owned).map_err(ChannelError::from_wire);
    match session.deliver_answer(channel_id, id, result) {
        AnswerOutcome::Delivered => {}
        AnswerOutcome::Late => tracing::debug!(session = %session.id, id, "late answer dropped"),
        AnswerOutcome::Unknown => {
            let error = WireError::new(
                ErrorCode::UnknownRequest,
                format!("no request {id} was sent on channel `{}`", truncate(channel_id)),
            );
            report(session, &error, Some(channel_id), None);
        }
        AnswerOutcome::UnknownChannel => report(session, &unknown_channel(channel_id), Some(channel_id), None),
    }
}

fn close(session: &SessionShared, channel_id: &str) {
    let closed = channel_id.parse().is_ok_and(|id| session.close_channel(id, CloseReason::Client));
    if !closed {
        report(session, &unknown_channel(channel_id), Some(channel_id), None);
    }
}

fn callback(session: &SessionShared, id: &str, data: &RawValue) {
    let Some(callback) = session.callback(id) else {
        let error =
            WireError::new(ErrorCode::UnknownCallback, format!("no callback `{}` in the current render", truncate(id)));
        return report(session, &error, None, None);
    };
    match guard::call(Callback::DomEvent, session.host.telemetry(), || callback(data)) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => report(session, &error, None, None),
        Err(_panicked) => {
            let error = WireError::new(ErrorCode::HandlerFailed, format!("the callback `{}` panicked", truncate(id)));
            report(session, &error, None, None);
        }
    }
}
