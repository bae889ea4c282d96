//! A server to mount or run: [`Server`], its stats, and running it on a socket
//! ([`RunningServer`], [`serve`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde::Serialize;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;

use super::ServerBuilder;
use super::ServerShared;
use super::listener::Listener;
use super::upgrade::{WS_PATH, upgrade};
use crate::config::Config;
use crate::error::ChannelError;
use crate::protocol::{CloseCode, PROTOCOL_VERSION};
use crate::session::Ending;
use crate::sync::lock;

/// A Pulse server. Mount [`Server::router`] in your axum app, or run it alone with
/// [`Server::bind`] / [`serve`].
#[derive(Clone)]
pub struct Server {
    pub(super) shared: Arc<ServerShared>,
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
            followed: Vec::new(),
            authenticator: None,
            authorizer: None,
            histories: Default::default(),
            metrics: false,
            metrics_path: None,
            assets: None,
            pages: None,
            layers: Vec::new(),
        }
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn shared(&self) -> &Arc<ServerShared> {
        &self.shared
    }

    /// The server's settings.
    pub fn config(&self) -> &Config {
        self.shared.config()
    }

    /// An axum router serving the WebSocket endpoint at `GET /ws?v=1`. Merge it into
    /// your own router (`app.merge(server.router())`).
    /// With [`ServerBuilder::metrics`] it serves the metrics too, and with
    /// [`ServerBuilder::assets`] the built client, as the router's fallback: axum
    /// refuses to merge two routers that both have one, so to add routes of your own
    /// beside the assets, pass them to [`Server::bind_with`] or [`serve_with`].
    /// The layers of [`ServerBuilder::layer`] wrap all of it; layers you add to your
    /// app around it apply to `/ws` as to your other routes. Mounted so, the server's
    /// caps on connections and its request-head timeout are yours to set in the server
    /// you run it in; and each upgrade goes through hyper, which holds two 8 KiB
    /// buffers per handshake while it lasts. [`Server::bind`] and [`serve`] read
    /// upgrades to `/ws` themselves (the same router answers them) and hand hyper
    /// everything else.
    ///
    /// ```no_run
    /// # use pulse_runtime::Server;
    /// use axum::{Router, routing::get};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let server = Server::builder().build();
    /// let app = Router::new().route("/health", get(|| async { "ok" })).merge(server.router());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// axum::serve(listener, app).await
    /// # }
    /// ```
    pub fn router(&self) -> Router {
        self.with_layers(self.with_assets(self.routes()))
    }

    /// `router` inside the layers of [`ServerBuilder::layer`], the first innermost.
    fn with_layers(&self, router: Router) -> Router {
        self.shared.layers.iter().fold(router, |router, layer| layer(router))
    }

    /// The server's own routes: the WebSocket endpoint and the metrics.
    fn routes(&self) -> Router {
        self.shared.start_background();
        #[cfg_attr(not(feature = "metrics"), allow(unused_mut))]
        let mut router = Router::new().route(WS_PATH, get(upgrade));
        #[cfg(feature = "metrics")]
        if let Some(path) = &self.shared.metrics_path {
            router = router.route(path, get(metrics));
        }
        router.with_state(self.shared.clone())
    }

    /// `router` answering every path it has no route for with the built client's files
    /// (and `index.html` for paths that are no file), each `Cache-Control: no-cache` so
    /// a browser revalidates after a deploy instead of keeping an old `index.html`
    /// that names bundles no longer there. With the app's pages, what is no file is
    /// answered as its route says (`pages.rs`).
    fn with_assets(&self, router: Router) -> Router {
        let Some(dir) = &self.shared.assets else { return router };
        let index_path: Arc<std::path::Path> = dir.join("index.html").into();
        let index = tower_http::services::ServeFile::new(&*index_path);
        // Unless the response says otherwise (a rendered page is `no-store`).
        fn no_cache<S>(service: S) -> tower_http::set_header::SetResponseHeader<S, axum::http::HeaderValue> {
            tower_http::set_header::SetResponseHeader::if_not_present(
                service,
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-cache"),
            )
        }
        match self.shared.pages {
            None => router.fallback_service(no_cache(tower_http::services::ServeDir::new(dir).fallback(index))),
            Some(pages) => {
                let server = self.shared.clone();
                let index_page = Arc::new(super::index_page::IndexFile::new(index_path));
                let page = move |request| {
                    super::pages::answer(server.clone(), pages, index.clone(), index_page.clone(), request)
                };
                let page = axum::handler::HandlerWithoutStateExt::into_service(page);
                let files = tower_http::services::ServeDir::new(dir).append_index_html_on_directories(false);
                router.fallback_service(no_cache(files.fallback(page)))
            }
        }
    }

    /// The metrics in Prometheus' text format, if the server has them
    /// ([`ServerBuilder::metrics`]); to serve them yourself, elsewhere.
    #[cfg(feature = "metrics")]
    pub fn metrics(&self) -> Option<String> {
        self.shared.render_metrics()
    }

    /// Sends `event` on every open channel named `name`, in every session, and says
    /// what it did by the time it returned (a [`Delivery`](crate::Delivery)).
    pub fn broadcast<P: Serialize + ?Sized>(
        &self,
        name: &str,
        event: &str,
        payload: &P,
    ) -> Result<crate::Delivery, ChannelError> {
        crate::session::host::broadcast(
            &*self.shared.registry,
            &crate::protocol::Topic::from(name),
            &crate::target::Target::All,
            event,
            payload,
        )
    }

    /// Counts of what the server holds now.
    pub fn stats(&self) -> crate::ServerStats {
        self.shared.registry.stats()
    }

    /// Closes every session with [`CloseCode::GoingAway`] and refuses new ones; waits
    /// up to [`Config::shutdown_grace`] for the sessions to end.
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.shutting_down.store(true, Ordering::Release);
        let deadline = tokio::time::Instant::now() + shared.config().shutdown_grace;
        loop {
            let changed = shared.registry.sessions_changed.notified();
            let sessions: Vec<_> = lock(&shared.registry.sessions).values().cloned().collect();
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
    ///
    /// ```
    /// # use pulse_runtime::Server;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let running = Server::builder().build().bind("127.0.0.1:0").await?;
    /// println!("clients connect to {}", running.ws_url()); // ws://127.0.0.1:PORT/ws?v=1
    /// assert_eq!(running.server().stats().sessions, 0);
    /// running.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bind(self, addr: impl ToSocketAddrs) -> std::io::Result<RunningServer> {
        self.bind_with(addr, Router::new()).await
    }

    /// Like [`Server::bind`], serving `app` merged with the server's routes. With
    /// [`ServerBuilder::assets`], the built client answers what no route takes (in place
    /// of a fallback `app` may have). As in axum, layers on `app` wrap `app`'s own
    /// routes; the layers of [`ServerBuilder::layer`] wrap everything, `/ws` included.
    ///
    /// Every connection is admitted against [`Config::max_connections`] and
    /// [`Config::max_connections_per_address`] when accepted, and must send its request
    /// head within [`Config::request_head_timeout`]. Requests carry axum's
    /// `ConnectInfo<SocketAddr>` and the [`ClientAddr`](crate::ClientAddr) the server
    /// counts them by.
    ///
    /// ```
    /// # use pulse_runtime::Server;
    /// use axum::{Router, routing::get};
    /// use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let app = Router::new().route("/health", get(|| async { "ok" }));
    /// let running = Server::builder().build().bind_with("127.0.0.1:0", app).await?;
    ///
    /// let mut http = tokio::net::TcpStream::connect(running.local_addr()).await?;
    /// http.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
    /// let mut answer = String::new();
    /// http.read_to_string(&mut answer).await?;
    /// assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"));
    /// running.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bind_with(self, addr: impl ToSocketAddrs, app: Router) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await.map_err(explain_bind_error)?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = self.with_layers(self.with_assets(app.merge(self.routes())));
        let listener = Listener::new(listener, self.shared.clone(), router);
        self.shared.advertise(local_addr);
        let task = tokio::spawn(listener.run(async move {
            let _ = stopped.await;
        }));
        Ok(RunningServer { server: self, local_addr, stop: Some(stop), task })
    }
}

/// A server listening on a socket. Dropping it leaves the server running until the
/// runtime stops; call [`RunningServer::shutdown`] to stop it gracefully.
pub struct RunningServer {
    server: Server,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// The address the server is listening on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket URL of this server, with the protocol version.
    pub fn ws_url(&self) -> String {
        format!("ws://{}{WS_PATH}?v={PROTOCOL_VERSION}", self.local_addr)
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
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

/// Runs `server` on `addr` until Ctrl-C or `SIGTERM` ([`stop_signal`]), then shuts it
/// down gracefully.
///
/// ```no_run
/// # use pulse_runtime::Server;
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let server = Server::builder().assets("client/dist").build();
///     pulse_runtime::serve("127.0.0.1:3000", server).await
/// }
/// ```
pub async fn serve(addr: impl ToSocketAddrs, server: Server) -> std::io::Result<()> {
    serve_with(addr, server, Router::new()).await
}

/// Like [`serve`], with your own routes merged in (pages, assets, APIs).
///
/// ```no_run
/// # use pulse_runtime::Server;
/// use axum::{Router, routing::get};
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let api = Router::new().route("/api/version", get(|| async { env!("CARGO_PKG_VERSION") }));
///     pulse_runtime::serve_with("127.0.0.1:3000", Server::builder().build(), api).await
/// }
/// ```
pub async fn serve_with(addr: impl ToSocketAddrs, server: Server, app: Router) -> std::io::Result<()> {
    let running = server.bind_with(addr, app).await?;
    tracing::info!(addr = %running.local_addr(), "pulse server listening");
    stop_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Resolves when the process is asked to stop: Ctrl-C (`SIGINT`), or `SIGTERM` on Unix
/// (what systemd, Docker and Kubernetes send on a deploy). Await it, then
/// [`RunningServer::shutdown`], so sessions are told to go (close 4000, and their clients
/// reconnect) rather than cut.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A bind error with what to do about it, when there is something to say: a port in use
/// is most often an earlier run of the same server, still going.
fn explain_bind_error(error: std::io::Error) -> std::io::Error {
    let advice = match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            "the address is in use: another server listens there (an earlier run of this one, still going?); \
             stop it, or choose another port"
        }
        std::io::ErrorKind::AddrNotAvailable => "the address is not one of this machine's",
        std::io::ErrorKind::PermissionDenied => "ports below 1024 need privileges: choose a port above 1023",
        _ => return error,
    };
    std::io::Error::new(error.kind(), format!("cannot listen: {advice} ({error})"))
}

/// `GET` on the metrics path.
#[cfg(feature = "metrics")]
async fn metrics(axum::extract::State(server): axum::extract::State<Arc<ServerShared>>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let text = server.render_metrics().unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

impl Server {
    /// Room `room`'s history of `C` as this node follows it, the same on every node: see
    /// [`RoomHistory`](crate::RoomHistory).
    pub fn room_history<C: crate::ChannelSpec + crate::typed::WithRooms>(&self, room: &C::Room) -> crate::RoomHistory<C>
    where
        C::ToClient: Sync,
    {
        crate::RoomHistory::in_room(&*self.shared.registry, room)
    }
}

/// `C::broadcast(&server)`: every session of `server` with a `C` channel open, on every
/// node (for the generated code).
pub fn broadcast_to<C: crate::ChannelSpec>(server: &Server) -> crate::typed::private::Targeted<C> {
    let topic = crate::protocol::Topic::from(C::NAME);
    crate::typed::private::Targeted::new(crate::Broadcaster::new(server.shared.registry.clone(), topic))
}

/// `C::to_room(&server, &room)`: every session of `server` with a `C` channel open in
/// room `room`, on every node (for the generated code).
pub fn broadcast_to_room<C: crate::ChannelSpec>(server: &Server, room: &C::Room) -> crate::typed::private::Targeted<C> {
    crate::typed::private::Targeted::new(crate::Broadcaster::in_room::<C>(server.shared.registry.clone(), room))
}
