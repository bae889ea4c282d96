//! One task per session: it serves the session's connection, then each connection
//! that resumes it, until the session ends; between connections it waits for a resume
//! holding no socket or timer. It starts the app's `on_session` hooks and the
//! renderer, and gives the session's place back when it ends.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument as _;

use super::ServerShared;
use super::admission::{SessionSlot, UnattachedSlot};
use super::connection::{close_socket, serve_connection};
use super::socket::Socket;
use super::upgrade::Opening;
use crate::guard::{self, Callback};
use crate::protocol::frames::Body;
use crate::protocol::{CloseCode, PROTOCOL_VERSION};
use crate::session::{Ending, Resuming, Session, SessionShared};
use crate::telemetry::PageSession;

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
        // A session is resumed by its own user only: when authentication says this
        // connection is someone else (a page's session rendered for an anonymous `GET`,
        // a tab that has since logged in), it gets a fresh session of its own.
        let user = attach.identity.as_ref().map(|identity| &*identity.user);
        if let Some(session) = server.registry.find_session(id).filter(|session| session.user() == user) {
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
    async {
        start_work(&server, &session, None);
        let fresh = serve_connections(&server, &session, socket, None).await;
        end_session(&server, &session, fresh);
    }
    .instrument(span)
    .await;
    drop(slot);
}

/// Starts a session with no connection, for a page rendered over HTTP: its renderer
/// hands its trees to `paint`, and its frames wait for the page's connection to resume
/// it (within `Config::resume_grace`, like any detached session). `unattached` (its
/// place among the sessions waiting for their page) is given back once a connection
/// attaches, `slot` when the session ends.
pub(crate) fn start_unattached(
    server: Arc<ServerShared>,
    identity: Option<crate::session::host::Identity>,
    params: crate::protocol::Query,
    slot: SessionSlot,
    unattached: Option<UnattachedSlot>,
    paint: crate::component::PaintSender,
) -> Arc<SessionShared> {
    let session = server.registry.new_session(identity, params);
    // Frames wait for the page's connection.
    session.detach();
    let span = session.span.clone();
    let served = session.clone();
    tokio::spawn(
        async move {
            start_work(&server, &served, Some(paint));
            let fresh = match page_connection(&server, &served, unattached).await {
                Ok((socket, missed)) => serve_connections(&server, &served, socket, Some(missed)).await,
                Err(fresh) => fresh,
            };
            end_session(&server, &served, fresh);
            drop(slot);
        }
        .instrument(span),
    );
    session
}

/// Starts what runs beside a session's connections: the app's `on_session` hooks, and
/// the renderer (handing its trees to `paint` too, for a page rendered over HTTP).
fn start_work(server: &ServerShared, session: &Arc<SessionShared>, paint: Option<crate::component::PaintSender>) {
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
                crate::component::run_renderer(session.clone(), root, paint)
            })
            .await;
        };
        tokio::spawn(until_closed(handle(), renderer).in_current_span());
    }
}

/// The session is over: it leaves the registry, and the connections that came to
/// resume it too late (`fresh`, and any handed over meanwhile) get sessions of their own.
fn end_session(server: &Arc<ServerShared>, session: &SessionShared, fresh: impl IntoIterator<Item = Box<Reattach>>) {
    session.end();
    server.registry.remove_session(session);
    // No resume can be handed over any more; those already handed get sessions of
    // their own, like a resume that came too late to replay what was missed.
    let fresh: Vec<_> = fresh.into_iter().chain(session.resumes.close().and_then(as_reattach)).collect();
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

/// A connection attached to a waiting session, and the frames its client missed.
type Resumed = (Box<Socket>, Vec<(u64, Body)>);

/// Connections that came to resume a session and must be given fresh ones.
#[allow(clippy::vec_box)] // boxed as the session's hand-over carries them
type Fresh = Vec<Box<Reattach>>;

/// The first connection of a session rendered for a page (`unattached` until then):
/// the page's, which resumes it from its start, within `Config::resume_grace`. `Err`
/// with the connections to give fresh sessions when none could attach.
async fn page_connection(
    server: &Arc<ServerShared>,
    session: &SessionShared,
    unattached: Option<UnattachedSlot>,
) -> Result<Resumed, Fresh> {
    tracing::debug!(session = %session.id, "page rendered; the session waits for the page's connection");
    let Some(attach) = wait_for_resume(session, server.config().resume_grace).await else {
        tracing::debug!(session = %session.id, "no connection came for the rendered page; the session ends");
        if let Some(telemetry) = &server.registry.telemetry {
            telemetry.page_session(PageSession::Unclaimed);
        }
        return Err(Vec::new());
    };
    // Attached: the session is one like any other now.
    drop(unattached);
    attach_resumed(server, session, attach, true)
}

/// Attaches `attach` to the waiting `session` (the connection of the page that started
/// it, if `page`), with the frames its client missed; or gives it back, for a fresh
/// session, when what it missed is gone.
fn attach_resumed(
    server: &ServerShared,
    session: &SessionShared,
    attach: Box<Reattach>,
    page: bool,
) -> Result<Resumed, Fresh> {
    // Forget why the last connection ended before attaching the next one: a reason
    // that comes after this (an overflow, a shutdown) then applies to the new one.
    session.reset_connection();
    match session.resume(attach.last_seq) {
        Ok(frames) => {
            tracing::debug!(session = %session.id, last_seq = attach.last_seq, "session resumed");
            if let Some(telemetry) = &server.registry.telemetry {
                if page {
                    telemetry.page_session(PageSession::Attached);
                } else {
                    telemetry.resumed(true);
                }
            }
            Ok((attach.socket, frames))
        }
        Err(why) => {
            tracing::debug!(session = %session.id, last_seq = attach.last_seq, ?why, "cannot resume; ending the session");
            if let Some(telemetry) = &server.registry.telemetry {
                if page {
                    telemetry.page_session(PageSession::Lost);
                } else {
                    telemetry.resumed(false);
                }
            }
            Err(vec![attach])
        }
    }
}

/// Serves the session on `socket` (after the frames it `missed`, if it resumed the
/// session), then on each connection that resumes it, until it ends. Returns the
/// resuming connections that could not be given what they missed.
///
/// Each connection (its greeting, reader and writer) runs on a task of its own: this
/// one is woken only when that ends or a resume arrives, not for every frame, and while
/// it waits it holds a few pointers, never a socket or a timer.
async fn serve_connections(
    server: &Arc<ServerShared>,
    session: &Arc<SessionShared>,
    mut socket: Box<Socket>,
    mut missed: Option<Vec<(u64, Body)>>,
) -> Vec<Box<Reattach>> {
    let config = server.config();
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
        match attach_resumed(server, session, attach, false) {
            Ok((resumed, frames)) => {
                missed = Some(frames);
                socket = resumed;
            }
            Err(fresh) => return fresh,
        }
    }
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
