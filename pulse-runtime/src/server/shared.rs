//! `ServerShared`: what every connection of one server shares above the registry —
//! the HTTP side's settings (the built client's folder, the metrics' path, the router's
//! layers), the hooks that run per connection (authentication, `on_session`, the root
//! component), admission, the cluster's nodes as clients are told them, and shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::registry::Registry;
use crate::session::Session;

pub(super) type SessionHook = Arc<dyn Fn(Session) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// State shared by every connection of one server.
pub(crate) struct ServerShared {
    /// Sessions, topics, histories, presence and the backplane.
    pub(crate) registry: Arc<Registry>,
    pub(super) on_session: Vec<SessionHook>,
    pub(super) root: Option<crate::component::RootFn>,
    pub(super) started_background: std::sync::Once,
    pub(super) authenticator: Option<super::access::Authenticator>,
    pub(super) shutting_down: AtomicBool,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) metrics_path: Option<String>,
    /// The built client's folder ([`crate::ServerBuilder::assets`]).
    pub(super) assets: Option<std::path::PathBuf>,
    /// The app's pages, if it declared them (`ServerBuilder::pages`).
    pub(super) pages: Option<super::pages::Pages>,
    /// The connections and sessions admitted, against their caps.
    pub(super) admission: Arc<super::admission::Admission>,
    /// Layers around the server's whole router ([`crate::ServerBuilder::layer`]).
    pub(super) layers: Vec<super::builder::RouterLayer>,
    /// The address this node listens on, once it does ([`super::nodes`]).
    pub(super) advertised: std::sync::OnceLock<String>,
    /// The cluster's nodes' WebSocket URLs, configured or learnt: what clients are told,
    /// and whose pages are admitted ([`super::nodes`]).
    pub(super) nodes: tokio::sync::watch::Sender<Arc<[String]>>,
    /// When the backplane's list of nodes was last read for a refused origin.
    pub(super) nodes_refreshed: Mutex<Option<Instant>>,
}

impl ServerShared {
    /// The server's settings (the registry's: one copy).
    pub(crate) fn config(&self) -> &crate::config::Config {
        &self.registry.config
    }

    pub(super) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// A connection or a new session was refused at a cap (`peer`: the socket's
    /// address, when known): counted, logged at debug level, and at warn level at most
    /// once a second with how many were refused since.
    pub(super) fn refused(&self, peer: Option<std::net::SocketAddr>, refusal: &super::admission::Refusal) {
        if let Some(telemetry) = &self.registry.telemetry {
            telemetry.refused();
        }
        tracing::debug!(?peer, "refused: {refusal}");
        if let Some(refused) = self.admission.warn_of_refusal(Instant::now()) {
            tracing::warn!(refused, "refused: {refusal} ({refused} refused since the last warning)");
        }
    }

    /// Starts the server's background work once: the backplane (and the presence
    /// sweeper that goes with it) and the poll of the cluster's nodes, giving memory
    /// back after a crowd leaves, and the metrics' upkeep.
    pub(super) fn start_background(self: &Arc<Self>) {
        self.started_background.call_once(|| {
            super::memory::start(Arc::downgrade(self));
            if self.registry.backplane.is_some() {
                self.registry.start_backplane();
                self.follow_nodes();
            }
            #[cfg(feature = "metrics")]
            if self.registry.telemetry.is_some() {
                let registry = Arc::downgrade(&self.registry);
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return tracing::warn!(
                        "the server's router was made outside a tokio runtime: metrics upkeep not started"
                    );
                };
                runtime.spawn(async move {
                    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
                    loop {
                        every.tick().await;
                        let Some(registry) = registry.upgrade() else { return };
                        if let Some(telemetry) = &registry.telemetry {
                            telemetry.upkeep();
                        }
                    }
                });
            }
        });
    }

    /// The metrics in Prometheus' text format, with the gauges read now.
    #[cfg(feature = "metrics")]
    pub(crate) fn render_metrics(&self) -> Option<String> {
        let registry = &self.registry;
        let telemetry = registry.telemetry.as_ref()?;
        let counters = registry.backplane.as_ref().map(|b| b.counters()).unwrap_or_default();
        Some(telemetry.render(registry.stats(), &counters))
    }
}
