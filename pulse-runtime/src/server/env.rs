//! What a server reads from its environment ([`ServerBuilder::build`](super::ServerBuilder::build)):
//! the Redis backplane, trusted proxies, browser origins and the cluster's nodes. Each
//! variable is logged when it is read, and a value that cannot be used is logged and
//! left out.

use std::sync::Arc;

use crate::backplane::Backplane;
#[cfg(doc)]
use crate::config::Config;

/// The environment variable that turns on the Redis backplane (feature `redis`).
pub const REDIS_URL_VAR: &str = "PULSE_REDIS_URL";

/// The environment variable naming reverse proxies to trust, added to
/// [`Config::trusted_proxies`]: addresses or CIDR blocks, separated by commas
/// (`PULSE_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8`).
pub const TRUSTED_PROXIES_VAR: &str = "PULSE_TRUSTED_PROXIES";

/// The environment variable naming the browser origins that may connect, replacing
/// [`Config::origins`]: `*` for any, or origins separated by commas
/// (`PULSE_ORIGINS=https://app.example,https://www.app.example`).
pub const ORIGINS_VAR: &str = "PULSE_ORIGINS";

/// The environment variable naming the cluster's nodes ([`Config::nodes`](crate::Config::nodes)):
/// their WebSocket URLs, comma-separated (`wss://a.example.com/ws,wss://b.example.com/ws`).
pub const NODES_VAR: &str = "PULSE_NODES";

/// What [`NODES_VAR`] says, if it is set.
pub(super) fn nodes_from_env() -> Option<Vec<String>> {
    let value = std::env::var(NODES_VAR).ok()?;
    let nodes: Vec<String> = value.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect();
    for node in &nodes {
        if super::access::node_origin(node).is_none() {
            tracing::error!(node, "{NODES_VAR}: not a ws:// or wss:// URL; clients cannot fail over to it");
        }
    }
    tracing::info!(%value, "the cluster's nodes from {NODES_VAR}");
    Some(nodes)
}

/// What [`ORIGINS_VAR`] says, if it is set.
pub(super) fn origins_from_env() -> Option<crate::config::Origins> {
    let value = std::env::var(ORIGINS_VAR).ok()?;
    let origins = match value.trim() {
        "*" => crate::config::Origins::Any,
        list => crate::config::Origins::List(
            list.split(',').map(str::trim).filter(|origin| !origin.is_empty()).map(str::to_owned).collect(),
        ),
    };
    tracing::info!(%value, "browser origins from {ORIGINS_VAR}");
    Some(origins)
}

/// What [`TRUSTED_PROXIES_VAR`] names; an entry that is not an address or a CIDR block
/// is logged and left out.
pub(super) fn trusted_proxies_from_env() -> Vec<crate::config::ProxyAddresses> {
    let Ok(list) = std::env::var(TRUSTED_PROXIES_VAR) else { return Vec::new() };
    let mut proxies = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        match entry.parse() {
            Ok(proxy) => proxies.push(proxy),
            Err(error) => {
                tracing::error!(entry, %error, "{TRUSTED_PROXIES_VAR}: not an address or CIDR block; left out")
            }
        }
    }
    if !proxies.is_empty() {
        tracing::info!(%list, "trusting the forwarding headers of these proxies");
    }
    proxies
}

#[cfg(feature = "redis")]
pub(super) fn backplane_from_env() -> Option<Arc<dyn Backplane>> {
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
pub(super) fn backplane_from_env() -> Option<Arc<dyn Backplane>> {
    if std::env::var_os(REDIS_URL_VAR).is_some() {
        tracing::warn!("{REDIS_URL_VAR} is set but pulse-runtime was built without the `redis` feature");
    }
    None
}
