//! The cluster's nodes as this node knows them: named in `Config::nodes` (or
//! `PULSE_NODES`), or else advertised through the backplane by each node once it
//! listens. A node names them to its clients in `hello` (where to fail over) and admits
//! the pages they serve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use tokio::sync::watch;

use super::ServerShared;
use super::upgrade::WS_PATH;

/// How often the list the backplane learnt is looked at for changes to tell clients,
/// and the least time between two reads of it for refused origins.
const NODES_POLL: Duration = Duration::from_millis(250);

const X_FORWARDED_FOR: header::HeaderName = header::HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: header::HeaderName = header::HeaderName::from_static("x-forwarded-host");

impl ServerShared {
    /// The server listens on `addr`: the other nodes learn it through the backplane
    /// (unless it listens on every interface, which says nothing of where it is reached).
    pub(super) fn advertise(&self, addr: SocketAddr) {
        if addr.ip().is_unspecified() {
            return;
        }
        let _ = self.advertised.set(addr.to_string());
        if let Some(backplane) = &self.registry.backplane {
            backplane.advertise(format!("ws://{addr}{WS_PATH}"));
        }
    }

    /// The cluster's nodes as a client whose upgrade came with `headers` is told them
    /// (in `hello`, then in a `nodes` frame whenever they change): the configured
    /// nodes; or, to a client that reached this node at the address it listens on (its
    /// `Host`, and no `Forwarded`/`X-Forwarded-*` header: a proxy's clients must not be
    /// sent to internal addresses), the nodes the backplane learnt. `None`: the client
    /// is told nothing.
    pub(super) fn nodes_for(&self, headers: &HeaderMap) -> Option<watch::Receiver<Arc<[String]>>> {
        if !self.config().nodes.is_empty() {
            return Some(self.nodes.subscribe());
        }
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
        // A proxy may pass the upstream address as `Host`; what it adds says it is there.
        let proxied = [header::FORWARDED, X_FORWARDED_FOR, X_FORWARDED_HOST].iter().any(|h| headers.contains_key(h));
        let direct = !proxied && self.advertised.get().is_some_and(|advertised| host.eq_ignore_ascii_case(advertised));
        (direct && self.registry.backplane.is_some()).then(|| self.nodes.subscribe())
    }

    /// Keeps [`ServerShared::nodes`] up to date with what the backplane learns, while
    /// the server lives (when the nodes are not configured).
    pub(super) fn follow_nodes(self: &Arc<Self>) {
        let (Some(backplane), true) = (self.registry.backplane.clone(), self.config().nodes.is_empty()) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let this = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut every = tokio::time::interval(NODES_POLL);
            loop {
                every.tick().await;
                let Some(server) = this.upgrade() else { return };
                server.learnt(backplane.cluster_nodes());
            }
        });
    }

    /// Whether the list may be read again now ([`NODES_POLL`] since the last time).
    fn may_refresh_nodes(&self) -> bool {
        let mut last = crate::sync::lock(&self.nodes_refreshed);
        let now = std::time::Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < NODES_POLL) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// The backplane's list of nodes is `now`.
    fn learnt(&self, mut now: Vec<String>) {
        now.sort();
        self.nodes.send_if_modified(|known| {
            let changed = **known != *now;
            if changed {
                *known = Arc::from(now);
            }
            changed
        });
    }

    /// Whether an upgrade with `headers` passes the origin check: `Config::origins`, or a
    /// page of one of the cluster's nodes (read again from the backplane before refusing,
    /// for a node that just started).
    pub(super) async fn admits_origin(&self, headers: &HeaderMap) -> bool {
        let origins = &self.config().origins;
        if super::access::admits(origins, &self.nodes.borrow(), headers) {
            return true;
        }
        match &self.registry.backplane {
            // At most one read a quarter second for refused origins (any page can send one).
            Some(backplane) if self.config().nodes.is_empty() && self.may_refresh_nodes() => {
                let nodes = backplane.refresh_nodes().await;
                let admitted = super::access::admits(origins, &nodes, headers);
                self.learnt(nodes);
                admitted
            }
            _ => false,
        }
    }
}
