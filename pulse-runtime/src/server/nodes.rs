//! The cluster's nodes as this node knows them: named in `Config::nodes` (or
//! `PULSE_NODES`), or else advertised through the backplane by each node once it
//! listens. A node names them to its clients in `hello` (where to fail over) and admits
//! the pages they serve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use tokio::sync::watch;

use super::registry::ServerShared;
use super::upgrade::WS_PATH;

/// How often the list the backplane learnt is looked at for changes to tell clients.
const NODES_POLL: Duration = Duration::from_millis(250);

impl ServerShared {
    /// The server listens on `addr`: the other nodes learn it through the backplane
    /// (unless it listens on every interface, which says nothing of where it is reached).
    pub(super) fn advertise(&self, addr: SocketAddr) {
        if addr.ip().is_unspecified() {
            return;
        }
        let _ = self.advertised.set(addr.to_string());
        if let Some(backplane) = &self.backplane {
            backplane.advertise(format!("ws://{addr}{WS_PATH}"));
        }
    }

    /// The cluster's nodes' WebSocket URLs: the configured ones, or else those the
    /// backplane learnt.
    pub(super) fn cluster_nodes(&self) -> Vec<String> {
        if !self.config.nodes.is_empty() {
            return self.config.nodes.clone();
        }
        self.backplane.as_ref().map(|backplane| backplane.cluster_nodes()).unwrap_or_default()
    }

    /// The cluster's nodes as a client whose upgrade came with `headers` is told them
    /// (in `hello`, then in a `nodes` frame whenever they change): the configured
    /// nodes; or, to a client that reached this node at the address it listens on (not
    /// through a proxy, whose clients must not be sent to internal addresses), the nodes
    /// the backplane learnt. `None`: the client is told nothing.
    pub(super) fn nodes_for(&self, headers: &HeaderMap) -> Option<watch::Receiver<Arc<[String]>>> {
        if !self.config.nodes.is_empty() {
            return Some(self.nodes.subscribe());
        }
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
        let direct = self.advertised.get().is_some_and(|advertised| host.eq_ignore_ascii_case(advertised));
        (direct && self.backplane.is_some()).then(|| self.nodes.subscribe())
    }

    /// Keeps [`ServerShared::nodes`] up to date with what the backplane learns, while
    /// the server lives (when the nodes are not configured).
    pub(super) fn follow_nodes(&self) {
        let (Some(backplane), true) = (self.backplane.clone(), self.config.nodes.is_empty()) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let this = self.this.clone();
        runtime.spawn(async move {
            let mut every = tokio::time::interval(NODES_POLL);
            loop {
                every.tick().await;
                let Some(server) = this.upgrade() else { return };
                server.learnt(backplane.cluster_nodes());
            }
        });
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
        let origins = &self.config.origins;
        if super::access::admits(origins, &self.cluster_nodes(), headers) {
            return true;
        }
        match &self.backplane {
            Some(backplane) if self.config.nodes.is_empty() => {
                let nodes = backplane.refresh_nodes().await;
                let admitted = super::access::admits(origins, &nodes, headers);
                self.learnt(nodes);
                admitted
            }
            _ => false,
        }
    }
}
