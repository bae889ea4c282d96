//! The server: an axum route for `/ws`, sessions, topics and graceful shutdown.

mod access;
mod connection;
mod dispatch;
mod topics;

pub(crate) use access::Identity as IdentityRef;
pub use access::{Access, ConnectRequest, Origins};
#[cfg(feature = "fuzzing")]
pub(crate) use dispatch::{binary_frame as dispatch_binary, text_frame as dispatch_text};

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State, WebSocketUpgrade};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use serde::Serialize;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{Notify, oneshot};

use crate::backplane::{Backplane, NodeId, RemoteDelivery};
use crate::config::Config;
use crate::error::ChannelError;
use crate::protocol::frames;
use crate::protocol::{CloseCode, PROTOCOL_VERSION};
use crate::session::{Ending, Session, SessionShared};
use crate::sync::lock;

type SessionHook = Arc<dyn Fn(Session) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
/// Sees broadcasts that arrive from other nodes: (topic, encoded frame).
type RemoteHook = Arc<dyn Fn(&str, &frames::Body) + Send + Sync>;

/// State shared by every connection of one server.
pub(crate) struct ServerShared {
    pub(crate) config: Config,
    pub(crate) topics: topics::Topics,
    pub(crate) started: Instant,
    on_session: Vec<SessionHook>,
    root: Option<crate::component::RootFn>,
    pub(crate) node: NodeId,
    backplane: Option<Arc<dyn Backplane>>,
    backplane_started: std::sync::Once,
    remote_hooks: Vec<RemoteHook>,
    authenticator: Option<access::Authenticator>,
    pub(crate) authorizer: Option<access::Authorizer>,
    /// Every live session (attached or waiting to be resumed), by id.
    sessions: Mutex<HashMap<crate::SessionId, Arc<SessionShared>>>,
    sessions_changed: Notify,
    next_key: AtomicU64,
    shutting_down: AtomicBool,
}

impl ServerShared {
    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    fn new_session(
        self: &Arc<Self>,
        identity: Option<access::Identity>,
    ) -> (Arc<SessionShared>, tokio::sync::mpsc::Receiver<frames::Body>) {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let (session, queue) = SessionShared::new(self.clone(), key, identity);
        lock(&self.sessions).insert(session.id, session.clone());
        (session, queue)
    }

    /// The session with `id`, if it is still alive (attached or waiting to be resumed).
    pub(crate) fn find_session(&self, id: crate::SessionId) -> Option<Arc<SessionShared>> {
        lock(&self.sessions).get(&id).filter(|s| !s.is_finished()).cloned()
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn new_session_for_fuzzing(
        self: &Arc<Self>,
    ) -> (Arc<SessionShared>, tokio::sync::mpsc::Receiver<frames::Body>) {
        self.new_session(None)
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn topics_len(&self) -> usize {
        self.topics.topic_count()
    }

    /// Runs the hooks that watch broadcasts from other nodes.
    pub(crate) fn remote_broadcast(&self, topic: &str, body: &frames::Body) {
        for hook in &self.remote_hooks {
            hook(topic, body);
        }
    }

    fn start_backplane(self: &Arc<Self>) {
        if let Some(backplane) = &self.backplane {
            self.backplane_started.call_once(|| backplane.start(RemoteDelivery::new(self)));
        }
    }

    pub(crate) fn remove_session(&self, session: &SessionShared) {
        lock(&self.sessions).remove(&session.id);
        self.sessions_changed.notify_waiters();
    }
}

/// Sends `event` on every open channel named `name`, in every session: the frame is
/// serialized once and its bytes shared.
pub(crate) fn broadcast<P: Serialize + ?Sized>(
    server: &ServerShared,
    name: &str,
    event: &str,
    payload: &P,
) -> Result<usize, ChannelError> {
    let body = frames::broadcast(name, event, payload).map_err(|e| ChannelError::Payload(e.to_string()))?;
    let reached = server.topics.deliver(name, &body);
    if let Some(backplane) = &server.backplane {
        backplane.publish(crate::backplane::encode_message(server.node, name, &body));
    }
    Ok(reached)
}

/// Builds a [`Server`].
#[must_use]
pub struct ServerBuilder {
    config: Config,
    on_session: Vec<SessionHook>,
    root: Option<crate::component::RootFn>,
    backplane: Option<Arc<dyn Backplane>>,
    remote_hooks: Vec<RemoteHook>,
    authenticator: Option<access::Authenticator>,
    authorizer: Option<access::Authorizer>,
}

impl ServerBuilder {
    /// Uses `config` for limits and timings.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Runs `hook` on its own task for every new session: the place to open the
    /// session's channels. The task is cancelled when the session ends. Several hooks
    /// all run, each on its own task.
    pub fn on_session<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_session.push(Arc::new(move |session| Box::pin(hook(session))));
        self
    }

    /// Renders `root` for every session: the server components' tree, sent to the
    /// browser's `<PulseRoot>` and kept in sync as state changes.
    pub fn root<N: crate::component::IntoNode>(mut self, root: impl Fn() -> N + Send + Sync + 'static) -> Self {
        self.root = Some(Arc::new(move || root().into_node()));
        self
    }

    /// Authenticates every connection before its session starts: `hook` reads the
    /// upgrade request (cookie, header, query token) and returns the session's identity,
    /// which handlers and components read with [`Session::identity`]. An `Err` closes
    /// the connection with [`CloseCode::Forbidden`] (4502, do not reconnect) and its
    /// message as the reason.
    pub fn authenticate<I, F, Fut>(mut self, hook: F) -> Self
    where
        I: Send + Sync + 'static,
        F: Fn(ConnectRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<I, String>> + Send + 'static,
    {
        self.authenticator = Some(Arc::new(move |request| {
            let outcome = hook(request);
            Box::pin(async move { outcome.await.map(|identity| Arc::new(identity) as access::Identity) })
        }));
        self
    }

    /// Decides, for each channel the server opens and each event or request a client
    /// sends, whether the session may: `Err(reason)` refuses it with `forbidden` (an
    /// open fails with [`OpenError::Forbidden`](crate::OpenError::Forbidden)).
    pub fn authorize(
        mut self,
        hook: impl Fn(&Session, &Access<'_>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.authorizer = Some(Arc::new(hook));
        self
    }

    /// Carries broadcasts to the other server nodes through `backplane` (such as
    /// [`RedisBackplane`](crate::backplane::RedisBackplane)). Without one, and without
    /// `PULSE_REDIS_URL` in the environment, broadcast stays on this node.
    pub fn backplane(mut self, backplane: impl Backplane) -> Self {
        self.backplane = Some(Arc::new(backplane));
        self
    }

    /// Calls `hook` with each broadcast of a `C` channel that another node made, so
    /// server-side state can follow it (sessions on this node already get it).
    pub fn on_remote_broadcast<C: crate::ChannelSpec>(
        mut self,
        hook: impl Fn(C::ToClient) + Send + Sync + 'static,
    ) -> Self {
        self.remote_hooks.push(Arc::new(move |topic, body| {
            if topic != C::NAME {
                return;
            }
            match body.event_payload() {
                Some((event, payload)) => match <C::ToClient as crate::typed::WireEvent>::decode(&event, &payload) {
                    Ok(event) => hook(event),
                    Err(error) => {
                        tracing::warn!(topic, %error.message, "remote broadcast does not match the declaration")
                    }
                },
                None => tracing::warn!(topic, "remote broadcast is not a broadcast frame"),
            }
        }));
        self
    }

    /// The server, ready to be mounted with [`Server::router`] or run with [`Server::bind`].
    pub fn build(self) -> Server {
        let backplane = self.backplane.or_else(backplane_from_env);
        Server {
            shared: Arc::new(ServerShared {
                config: self.config,
                topics: topics::Topics::default(),
                started: Instant::now(),
                on_session: self.on_session,
                root: self.root,
                node: NodeId::generate(),
                backplane,
                backplane_started: std::sync::Once::new(),
                remote_hooks: self.remote_hooks,
                authenticator: self.authenticator,
                authorizer: self.authorizer,
                sessions: Mutex::new(HashMap::new()),
                sessions_changed: Notify::new(),
                next_key: AtomicU64::new(1),
                shutting_down: AtomicBool::new(false),
            }),
        }
    }
}

/// A Pulse server. Mount [`Server::router`] in your axum app, or run it alone with
/// [`Server::bind`] / [`serve`].
#[derive(Clone)]
pub struct Server {
    shared: Arc<ServerShared>,
}

impl Server {
    /// A builder with the default [`Config`] and no session hook.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: Config::default(),
            on_session: Vec::new(),
            root: None,
            backplane: None,
            remote_hooks: Vec::new(),
            authenticator: None,
            authorizer: None,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<ServerShared> {
        &self.shared
    }

    /// The server's settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// An axum router serving the WebSocket endpoint at `GET /ws?v=1`. Merge it into
    /// your own router (`app.merge(server.router())`).
    pub fn router(&self) -> Router {
        self.shared.start_backplane();
        Router::new().route("/ws", get(upgrade)).with_state(self.shared.clone())
    }

    /// Sends `event` on every open channel named `name`, in every session. Returns how
    /// many sessions it was queued for.
    pub fn broadcast<P: Serialize + ?Sized>(
        &self,
        name: &str,
        event: &str,
        payload: &P,
    ) -> Result<usize, ChannelError> {
        broadcast(&self.shared, name, event, payload)
    }

    /// Counts of what the server holds now.
    pub fn stats(&self) -> ServerStats {
        let sessions: Vec<_> = lock(&self.shared.sessions).values().cloned().collect();
        ServerStats {
            sessions: sessions.len(),
            channels: sessions.iter().map(|s| s.channel_count()).sum(),
            topics: self.shared.topics.topic_count(),
            pending_requests: sessions.iter().map(|s| s.pending_count()).sum(),
        }
    }

    /// Closes every session with [`CloseCode::GoingAway`] and refuses new ones; waits
    /// up to [`Config::shutdown_grace`] for the sessions to end.
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.shutting_down.store(true, Ordering::Release);
        let deadline = tokio::time::Instant::now() + shared.config.shutdown_grace;
        loop {
            let changed = shared.sessions_changed.notified();
            let sessions: Vec<_> = lock(&shared.sessions).values().cloned().collect();
            if sessions.is_empty() {
                return;
            }
            for session in &sessions {
                session.signal_end(Ending::Close(CloseCode::GoingAway, "going_away: server shutting down".into()));
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                tracing::warn!(left = sessions.len(), "shutdown grace elapsed with sessions still open");
                return;
            }
        }
    }

    /// Binds `addr` (use port 0 for any free port) and serves [`Server::router`] there
    /// on a background task.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> std::io::Result<RunningServer> {
        self.bind_with(addr, Router::new()).await
    }

    /// Like [`Server::bind`], serving `app` merged with the WebSocket route.
    pub async fn bind_with(self, addr: impl ToSocketAddrs, app: Router) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = app.merge(self.router());
        // Small frames must go out at once: Nagle's algorithm would hold the second of two
        // back-to-back frames until the peer's delayed ACK (tens of milliseconds).
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(RunningServer { server: self, local_addr, stop: Some(stop), task })
    }
}

/// The environment variable that turns on the Redis backplane (feature `redis`).
pub const REDIS_URL_VAR: &str = "PULSE_REDIS_URL";

#[cfg(feature = "redis")]
fn backplane_from_env() -> Option<Arc<dyn Backplane>> {
    let url = std::env::var(REDIS_URL_VAR).ok().filter(|u| !u.is_empty())?;
    match crate::backplane::RedisBackplane::new(&url) {
        Ok(backplane) => {
            tracing::info!(url, "broadcasting across nodes through Redis");
            Some(Arc::new(backplane))
        }
        Err(error) => {
            tracing::error!(url, %error, "{REDIS_URL_VAR} is not a usable Redis URL; broadcast stays on this node");
            None
        }
    }
}

#[cfg(not(feature = "redis"))]
fn backplane_from_env() -> Option<Arc<dyn Backplane>> {
    if std::env::var_os(REDIS_URL_VAR).is_some() {
        tracing::warn!("{REDIS_URL_VAR} is set but pulse-runtime was built without the `redis` feature");
    }
    None
}

/// Counts reported by [`Server::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerStats {
    /// Connected sessions.
    pub sessions: usize,
    /// Open channels across all sessions.
    pub channels: usize,
    /// Channel names with at least one open channel.
    pub topics: usize,
    /// Requests waiting for an answer, in either direction.
    pub pending_requests: usize,
}

/// A server listening on a socket. Dropping it leaves the server running until the
/// runtime stops; call [`RunningServer::shutdown`] to stop it gracefully.
pub struct RunningServer {
    server: Server,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The address the server is listening on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket URL of this server, with the protocol version.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws?v={PROTOCOL_VERSION}", self.local_addr)
    }

    /// The server, for broadcast and stats.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Stops accepting connections, closes every session with "going away", and waits
    /// for the listener task to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.shutdown().await;
        match tokio::time::timeout(Duration::from_secs(5), &mut self.task).await {
            Ok(Ok(Err(error))) => tracing::warn!(%error, "server ended with an error"),
            Ok(_) => {}
            Err(_) => self.task.abort(),
        }
    }
}

/// Runs `server` on `addr` until Ctrl-C, then shuts it down gracefully.
pub async fn serve(addr: impl ToSocketAddrs, server: Server) -> std::io::Result<()> {
    serve_with(addr, server, Router::new()).await
}

/// Like [`serve`], with your own routes merged in (pages, assets, APIs).
pub async fn serve_with(addr: impl ToSocketAddrs, server: Server, app: Router) -> std::io::Result<()> {
    let running = server.bind_with(addr, app).await?;
    tracing::info!(addr = %running.local_addr(), "pulse server listening");
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn upgrade(
    State(server): State<Arc<ServerShared>>,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !server.config.origins.allows(&headers) {
        let origin = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
        tracing::warn!(origin, "WebSocket upgrade from a refused origin");
        return (axum::http::StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let version = requested_version(query.as_deref());
    let resume = requested_resume(query.as_deref());
    let identity = match &server.authenticator {
        Some(authenticate) => Some(authenticate(ConnectRequest::new(headers, query)).await),
        None => None,
    };
    let config = &server.config;
    let limit = config.max_frame_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(config.read_buffer_bytes)
        .write_buffer_size(config.write_buffer_bytes)
        .on_upgrade(move |socket| connection::run(server, socket, version, identity, resume))
}

/// The session to resume and the last sequence number its client saw:
/// `resume=<session id>&last_seq=<n>`.
fn requested_resume(query: Option<&str>) -> Option<(crate::SessionId, u64)> {
    let param = |name: &str| query?.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='));
    let session = param("resume")?.parse().ok()?;
    let last_seq = param("last_seq").and_then(|n| n.parse().ok()).unwrap_or(0);
    Some((session, last_seq))
}

/// The `v` parameter of the query string, if present and a number.
fn requested_version(query: Option<&str>) -> Option<u32> {
    query?.split('&').find_map(|pair| pair.strip_prefix("v=")).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::requested_version;

    #[test]
    fn version_parameter() {
        assert_eq!(requested_version(Some("v=1")), Some(1));
        assert_eq!(requested_version(Some("x=2&v=3")), Some(3));
        assert_eq!(requested_version(Some("v=abc")), None);
        assert_eq!(requested_version(None), None);
    }
}
