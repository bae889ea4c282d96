//! Which nodes are alive, and where their clients can reach them.
//!
//! Every node says every third of the presence timeout (at most every half second)
//! that it is alive (a key that
//! expires after the timeout, which the presence sweep reads) and, once it listens, puts
//! the WebSocket URL it listens on in a sorted set (`<prefix>:nodes`) scored by when that
//! claim expires; each round drops the expired ones and reads the rest. So every node
//! knows the others' URLs within a round of their start, and forgets a dead node's
//! within the timeout: it names them to its clients (where to fail over) and admits
//! their pages (a page served by another node of the cluster).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use super::super::RemoteDelivery;
use crate::sync::lock;

/// The sorted set of the nodes' URLs.
pub(super) fn nodes_key(prefix: &str) -> String {
    format!("{prefix}:nodes")
}

/// What this node advertises and what it knows of the others.
#[derive(Default)]
pub(super) struct Cluster {
    advertised: Mutex<Option<String>>,
    known: Mutex<Vec<String>>,
    /// Wakes the announcing task at once (this node just got its address).
    changed: Notify,
}

impl Cluster {
    pub(super) fn advertise(&self, url: String) {
        *lock(&self.advertised) = Some(url);
        self.changed.notify_one();
    }

    pub(super) fn known(&self) -> Vec<String> {
        lock(&self.known).clone()
    }

    /// Reads the live nodes' URLs (dropping the expired ones) on `connection`.
    pub(super) async fn read(
        &self,
        prefix: &str,
        connection: &mut redis::aio::MultiplexedConnection,
    ) -> redis::RedisResult<Vec<String>> {
        let key = nodes_key(prefix);
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE").arg(&key).arg("-inf").arg(now_ms()).ignore();
        pipe.cmd("ZRANGE").arg(&key).arg(0).arg(-1);
        let (mut nodes,): (Vec<String>,) = pipe.query_async(connection).await?;
        nodes.sort();
        *lock(&self.known) = nodes.clone();
        Ok(nodes)
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Says every third of `timeout` (at most every half second) that this node is alive
/// (`alive_key`, expiring after `timeout`) and where it listens, and reads where the
/// others do, until the server is gone; then takes both claims away.
pub(super) async fn announce(
    client: redis::Client,
    prefix: String,
    alive_key: String,
    timeout: Duration,
    cluster: Arc<Cluster>,
    remote: RemoteDelivery,
) {
    // A third of the timeout for liveness; at most half a second, so that the others
    // learn a new node's address quickly.
    let every = (timeout / 3).clamp(Duration::from_millis(100), Duration::from_millis(500));
    let ttl_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let nodes = nodes_key(&prefix);
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    while remote.is_alive() {
        if connection.is_none() {
            connection = client.get_multiplexed_async_connection().await.ok();
        }
        if let Some(conn) = connection.as_mut() {
            let mut pipe = redis::pipe();
            pipe.cmd("SET").arg(&alive_key).arg(1).arg("PX").arg(ttl_ms).ignore();
            if let Some(url) = lock(&cluster.advertised).clone() {
                pipe.cmd("ZADD").arg(&nodes).arg(now_ms().saturating_add(ttl_ms)).arg(url).ignore();
            }
            let said: redis::RedisResult<()> = pipe.query_async(conn).await;
            let read = match said {
                Ok(()) => cluster.read(&prefix, conn).await.map(drop),
                Err(error) => Err(error),
            };
            if let Err(error) = read {
                tracing::debug!(%error, "announcing this node to Redis failed");
                connection = None;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = cluster.changed.notified() => {}
        }
    }
    if let Some(conn) = connection.as_mut() {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(&alive_key).ignore();
        if let Some(url) = lock(&cluster.advertised).clone() {
            pipe.cmd("ZREM").arg(&nodes).arg(url).ignore();
        }
        let _: redis::RedisResult<()> = pipe.query_async(conn).await;
    }
}
