//! Building a server: [`ServerBuilder`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use super::env::{backplane_from_env, nodes_from_env, origins_from_env, trusted_proxies_from_env};
use super::shared::{ServerShared, SessionHook};
use super::{ConnectRequest, Server, access};
use crate::backplane::{Backplane, NodeId};
use crate::config::Config;
use crate::history::History;
#[cfg(doc)]
use crate::protocol::CloseCode;
use crate::registry::{Registry, RemoteHook, topics};
use crate::session::Access;
use crate::session::Session;
use crate::session_core::budget::Budget;

/// Builds a [`Server`].
#[must_use]
pub struct ServerBuilder {
    pub(super) config: Config,
    pub(super) on_session: Vec<SessionHook>,
    pub(super) root: Option<crate::component::RootFn>,
    pub(super) backplane: Option<Arc<dyn Backplane>>,
    pub(super) remote_hooks: Vec<RemoteHook>,
    pub(super) followed: Vec<Arc<str>>,
    pub(super) authenticator: Option<access::Authenticator>,
    pub(super) authorizer: Option<access::Authorizer>,
    pub(super) histories: HashMap<Arc<str>, History>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) metrics: bool,
    pub(super) metrics_path: Option<String>,
    pub(super) assets: Option<std::path::PathBuf>,
    pub(super) pages: Option<super::pages::Pages>,
    pub(super) layers: Vec<RouterLayer>,
}

/// A layer around the server's router, as [`ServerBuilder::layer`] keeps it.
pub(super) type RouterLayer = Arc<dyn Fn(axum::Router) -> axum::Router + Send + Sync>;

impl ServerBuilder {
    /// Keeps the history of each room of channel `C` (its broadcasts to the whole
    /// room): a session that joins a room gets what it keeps, in order, before the live
    /// broadcasts, and a client that comes back (after the grace period, or on another
    /// node) gets exactly what it missed, or is told it cannot. With a backplane that
    /// keeps history (Redis) every node serves the same history; otherwise each node
    /// keeps its own, in memory. See docs/guide.md, "History".
    pub fn history<C: crate::ChannelSpec>(mut self, history: History) -> Self {
        self.histories.insert(Arc::from(C::NAME), history);
        self
    }

    /// Serves the built browser client (the output of `vite build`: `index.html` and
    /// its assets) from `dir`, beside the WebSocket endpoint: files by path, and
    /// `index.html` for any other path that is not a route of the app, so a client-side
    /// router's URLs load the app too. Read from disk on each request (tower-http's
    /// `ServeDir`), so a rebuilt client is served without a restart.
    ///
    /// ```no_run
    /// # use pulse_runtime::Server;
    /// # async fn run() -> std::io::Result<()> {
    /// let server = Server::builder().assets("client/dist").build();
    /// pulse_runtime::serve("127.0.0.1:3000", server).await
    /// # }
    /// ```
    pub fn assets(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.assets = Some(dir.into());
        self
    }

    /// The app's pages (`#[derive(Routes)]` on `R`): with [`assets`](Self::assets),
    /// an address that names a page is answered with the app (`200`), an old address
    /// of one with a redirect to its own (`308`), and one that names none, or whose
    /// parameter does not parse, with the app and `404` (its not-found page). Files in
    /// the assets folder are served first (a folder's `index.html` is not served for
    /// the folder's address: that address is the app's). A redirect keeps only what the
    /// page's own address holds (`/?room=x&theme=dark` leads to `/rooms/x`). A
    /// component reads its page with [`Routes::current`](crate::Routes::current).
    ///
    /// ```no_run
    /// # use pulse_runtime::{Routes, Server};
    /// #[derive(Routes, Debug, Clone, PartialEq)]
    /// enum Page {
    ///     #[route("/")]
    ///     Home,
    ///     #[route("/posts/{id}")]
    ///     Post { id: u64 },
    /// }
    ///
    /// let server = Server::builder().assets("client/dist").pages::<Page>().build();
    /// ```
    pub fn pages<R: crate::Routes>(mut self) -> Self {
        self.pages = Some(super::pages::Pages::of::<R>());
        self
    }

    /// Serves the server's metrics at `path` (such as `"/metrics"`) in Prometheus'
    /// text format: sessions, channels, rooms and pending requests; frames received and
    /// sent by type; broadcasts and their deliveries; the request latency histogram;
    /// sessions started, resumes and failed resumes; closes by code, rate-limit closes;
    /// panics caught in the app's callbacks, by callback, and `on_remote_broadcast`
    /// calls dropped; and the backplane's counters. The endpoint is public on the server's port: put
    /// it behind your proxy's access rules, or use [`ServerBuilder::metrics_unserved`]
    /// and serve [`Server::metrics`] yourself, on another port. Feature `metrics` (on
    /// by default).
    ///
    /// ```
    /// # use pulse_runtime::Server;
    /// let server = Server::builder().metrics("/metrics").build();
    /// assert!(server.metrics().unwrap().contains("pulse_sessions 0"));
    /// ```
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.metrics_path = Some(if path.starts_with('/') { path } else { format!("/{path}") });
        self.metrics = true;
        self
    }

    /// Records the same metrics as [`ServerBuilder::metrics`] without a route on the
    /// server's port: [`Server::metrics`] returns them, for an endpoint of your own.
    #[cfg(feature = "metrics")]
    pub fn metrics_unserved(mut self) -> Self {
        self.metrics_path = None;
        self.metrics = true;
        self
    }

    /// Wraps every route of the server in `layer` (a tower layer, as axum's
    /// `Router::layer` takes): the WebSocket upgrade at `/ws` included, whichever way
    /// the server runs ([`Server::bind`](crate::Server::bind), [`serve`](crate::serve)
    /// or [`Server::router`](crate::Server::router) mounted in an app), and the routes
    /// of the app given to [`Server::bind_with`](crate::Server::bind_with) /
    /// [`serve_with`](crate::serve_with). The place for authentication, tracing,
    /// address filters or rate limits that must hold for the WebSocket too. Layers
    /// added later wrap those added before.
    ///
    /// ```
    /// # use pulse_runtime::Server;
    /// use axum::http::StatusCode;
    /// use axum::middleware::{self, Next};
    /// use axum::extract::Request;
    ///
    /// async fn only_with_token(request: Request, next: Next) -> Result<axum::response::Response, StatusCode> {
    ///     match request.uri().query().is_some_and(|q| q.contains("token=")) {
    ///         true => Ok(next.run(request).await),
    ///         false => Err(StatusCode::UNAUTHORIZED),
    ///     }
    /// }
    ///
    /// let server = Server::builder().layer(middleware::from_fn(only_with_token)).build();
    /// # let _ = server;
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower_layer::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower_service::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Error: Into<std::convert::Infallible> + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.layers.push(Arc::new(move |router: axum::Router| router.layer(layer.clone())));
        self
    }

    /// Uses `config` for limits and timings.
    ///
    /// ```
    /// # use pulse_runtime::{Config, Origins, Server};
    /// # use std::time::Duration;
    /// let server = Server::builder()
    ///     .config(Config {
    ///         request_timeout: Duration::from_secs(5),
    ///         origins: Origins::List(vec!["https://app.example.com".into()]),
    ///         ..Config::default()
    ///     })
    ///     .build();
    /// assert_eq!(server.config().request_timeout, Duration::from_secs(5));
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Runs `hook` on its own task for every new session: the place to open the
    /// session's channels. The task is cancelled when the session ends. Several hooks
    /// all run, each on its own task. A panic in `hook` (in the call or its future) is
    /// caught, logged at error level and counted
    /// (`pulse_callback_panics_total{callback="on_session"}`): it ends that hook's task
    /// only, and the session, what the hook opened before it panicked, and the other
    /// hooks carry on.
    pub fn on_session<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_session.push(Arc::new(move |session| Box::pin(hook(session))));
        self
    }

    /// Renders `root` for every session: the server components' tree, sent to the
    /// browser's `<PulseRoot>` and kept in sync as state changes. A render that panics
    /// is caught, logged and counted (`pulse_callback_panics_total{callback="render"}`):
    /// the client gets `render_error` and the component keeps its last output.
    pub fn root<N: crate::component::IntoNode>(mut self, root: impl Fn() -> N + Send + Sync + 'static) -> Self {
        self.root = Some(Arc::new(move || root().into_node()));
        self
    }

    /// Authenticates every connection before its session starts: `hook` reads the
    /// upgrade request (cookie, header, query token) and returns the session's identity,
    /// which handlers and components read with [`Session::identity`]. An `Err` closes
    /// the connection with [`CloseCode::Forbidden`] (4502, do not reconnect) and its
    /// message as the reason. A panic (in the call or its future) refuses the
    /// connection the same way, with the reason `internal error: the server's
    /// authentication failed` (the panic's message stays in the server's log), and is
    /// logged at error level and counted
    /// (`pulse_callback_panics_total{callback="authenticate"}`).
    ///
    /// ```
    /// # use pulse_runtime::Server;
    /// let server = Server::builder()
    ///     .authenticate(|request| async move {
    ///         match request.cookie("user") {
    ///             Some(user) if !user.is_empty() => Ok(user.to_owned()), // a `String` is an identity
    ///             _ => Err("sign in first".to_owned()),
    ///         }
    ///     })
    ///     .on_session(|session| async move {
    ///         let user = session.identity::<String>(); // Some(the user) on every session
    ///         # let _ = user;
    ///     })
    ///     .build();
    /// # let _ = server;
    /// ```
    pub fn authenticate<I, F, Fut>(mut self, hook: F) -> Self
    where
        I: crate::Identity,
        F: Fn(ConnectRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<I, String>> + Send + 'static,
    {
        self.authenticator = Some(Arc::new(move |request| {
            let outcome = hook(request);
            Box::pin(async move { outcome.await.map(access::Identity::new) })
        }));
        self
    }

    /// Decides, for each channel the server opens and each event or request a client
    /// sends, whether the session may: `Err(reason)` refuses it with `forbidden` (an
    /// open fails with [`OpenError::Forbidden`](crate::OpenError::Forbidden)). A panic
    /// refuses that one access the same way, with the reason `internal error: the
    /// server's authorization failed`, and is logged at error level and counted
    /// (`pulse_callback_panics_total{callback="authorize"}`); the session carries on,
    /// and its next access asks the hook again.
    ///
    /// ```
    /// # use pulse_runtime::{Access, Server};
    /// let server = Server::builder()
    ///     .authorize(|_session, access| match access {
    ///         Access::Open { name: "admin", .. } => Err("admins only".into()),
    ///         _ if access.room::<String>().as_deref() == Some("staff") => Err("the staff room is for staff".into()),
    ///         _ => Ok(()),
    ///     })
    ///     .build();
    /// # let _ = server;
    /// ```
    pub fn authorize(
        mut self,
        hook: impl Fn(&Session, &Access<'_>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.authorizer = Some(Arc::new(hook));
        self
    }

    /// Carries broadcasts to the other server nodes through `backplane` (such as
    /// `RedisBackplane`, feature `redis`). Without one, and without
    /// `PULSE_REDIS_URL` in the environment, broadcast stays on this node.
    pub fn backplane(mut self, backplane: impl Backplane) -> Self {
        self.backplane = Some(Arc::new(backplane));
        self
    }

    /// Calls `hook` with each broadcast to a room (or to a whole channel without rooms)
    /// of a `C` channel that another node made, and its room, so server-side state can
    /// follow it (sessions on this node already get it). Broadcasts to one user or one
    /// session are not shown. For a channel without rooms the room is `()`. This node
    /// then receives every room's broadcasts of `C`, even rooms none of its sessions is in.
    ///
    /// The hook runs off the backplane's task, after this node's sessions got the
    /// broadcast: each room's calls in arrival order, on a task of that room's own on
    /// Tokio's blocking pool (so the hook may block). A slow hook delays only its own
    /// room's later calls; past 1024 calls waiting for a room (65,536 across rooms) the
    /// newest are dropped, with a warning, and counted in
    /// `pulse_remote_hook_drops_total`. A panic is caught, logged at error level and
    /// counted (`pulse_callback_panics_total{callback="on_remote_broadcast"}`); the
    /// next call runs as usual.
    pub fn on_remote_broadcast<C: crate::ChannelSpec>(
        mut self,
        hook: impl Fn(C::Room, C::ToClient) + Send + Sync + 'static,
    ) -> Self {
        self.followed.push(Arc::from(C::NAME));
        self.remote_hooks.push(Arc::new(move |topic, body| {
            if topic.name() != C::NAME {
                return;
            }
            let room = match topic.room() {
                Some(room) => serde_json::from_str::<C::Room>(room.get()),
                None => serde_json::from_str::<C::Room>("null"),
            };
            let Ok(room) = room else {
                tracing::warn!(%topic, "remote broadcast's room is not a room of the declaration");
                return;
            };
            match body.event_payload() {
                Some((event, payload)) => match <C::ToClient as crate::typed::WireEvent>::decode(&event, &payload) {
                    Ok(event) => hook(room, event),
                    Err(error) => {
                        tracing::warn!(%topic, %error.message, "remote broadcast does not match the declaration")
                    }
                },
                None => tracing::warn!(%topic, "remote broadcast is not a broadcast frame"),
            }
        }));
        self
    }

    /// The server, ready to be mounted with [`Server::router`] or run with [`Server::bind`].
    pub fn build(mut self) -> Server {
        if self.pages.is_some() && self.assets.is_none() {
            tracing::warn!(
                "the app's pages are declared (`pages`) without the built client (`assets`): this server answers \
                 no page's address (a dev server in front of it, such as Vite's, serves them)"
            );
        }
        if let Some(problem) = self.assets.as_deref().and_then(assets_problem) {
            tracing::warn!("{problem}");
        }
        let backplane = self.backplane.or_else(backplane_from_env);
        self.config.trusted_proxies.extend(trusted_proxies_from_env());
        if let Some(origins) = origins_from_env() {
            self.config.origins = origins;
        }
        if let Some(nodes) = nodes_from_env() {
            self.config.nodes = nodes;
        }
        if let Some(backplane) = &backplane {
            if !self.histories.is_empty() && !backplane.keeps_history() {
                tracing::warn!("the backplane keeps no history: each node keeps its own channels' histories");
            }
        }
        let nodes = tokio::sync::watch::Sender::new(Arc::from(self.config.nodes.clone()));
        #[cfg(feature = "metrics")]
        let telemetry = self.metrics.then(crate::telemetry::Telemetry::new);
        #[cfg(not(feature = "metrics"))]
        let telemetry = None;
        let admission = Arc::new(super::admission::Admission::new(&self.config));
        let registry = Arc::new_cyclic(|this| Registry {
            detached: Arc::new(Budget::new(self.config.max_detached_bytes)),
            config: self.config,
            topics: topics::Topics::default(),
            started: Instant::now(),
            node: NodeId::generate(),
            backplane,
            remote_hooks: self.remote_hooks,
            remote_lanes: Mutex::default(),
            followed: self.followed,
            authorizer: self.authorizer,
            sessions: Mutex::new(HashMap::new()),
            sessions_changed: Notify::new(),
            next_key: AtomicU64::new(1),
            histories: self.histories,
            memory_histories: crate::history::memory::MemoryHistories::default(),
            presences: Default::default(),
            this: this.clone(),
            telemetry,
            views: Default::default(),
        });
        Server {
            shared: Arc::new(ServerShared {
                registry,
                admission,
                on_session: self.on_session,
                root: self.root,
                started_background: std::sync::Once::new(),
                authenticator: self.authenticator,
                shutting_down: AtomicBool::new(false),
                metrics_path: self.metrics_path,
                assets: self.assets,
                pages: self.pages,
                layers: self.layers,
                advertised: std::sync::OnceLock::new(),
                nodes,
                nodes_refreshed: Mutex::default(),
            }),
        }
    }
}

/// What is wrong with `dir` as the built client's folder, if anything: it must hold an
/// `index.html`, or every page is a 404.
fn assets_problem(dir: &std::path::Path) -> Option<String> {
    if dir.join("index.html").is_file() {
        return None;
    }
    let what = if dir.is_dir() { "has no index.html" } else { "does not exist" };
    Some(format!(
        "the client's folder {} {what}: every page will be a 404 until the client is built there \
         (`npm run build` in the client's folder), or `assets` names the right one",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::assets_problem;

    #[test]
    fn a_client_folder_without_its_index_is_named_with_the_fix() {
        let missing = assets_problem(std::path::Path::new("/nonexistent/dist")).unwrap();
        assert!(missing.contains("/nonexistent/dist does not exist"), "{missing}");
        assert!(missing.contains("npm run build"), "{missing}");
        let empty = std::env::temp_dir();
        assert!(assets_problem(&empty).unwrap().contains("has no index.html"));
    }
}
