//! A Redis pub/sub backplane (cargo feature `redis`).
//!
//! Each topic (a channel name and room) has its own Redis channel, `<prefix>:t:<topic>`;
//! a node publishes its broadcasts there and subscribes to the topics it has sessions in
//! ([`subscriptions`]), so it receives nothing of other rooms. When
//! Redis goes away, each node keeps serving its own sessions (local broadcast does not
//! depend on Redis), reconnects with backoff and subscribes again by itself. What is
//! lost: broadcasts published while a node was cut off from Redis do not reach the other
//! nodes (Redis pub/sub stores nothing); local delivery is unaffected. The subscription
//! task is supervised ([`supervisor`]): whatever ends it while the server runs, it is
//! started again, and subscribes again as after a reconnect.
//!
//! It keeps histories too ([`history`]), numbering a room's broadcasts in Redis so that
//! every node sees them in one order. A broadcast kept in history needs Redis: while
//! Redis is unreachable it is lost (counted in [`RedisStats::lost`]) on every node alike.

mod cluster;
mod history;
mod presence;
mod subscriptions;
mod supervisor;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use self::history::{READ_HISTORY, history_keys, parse_history, publish_kept};
use self::subscriptions::{Subscriptions, topic_channel};
use super::{
    Backplane, Gate, HistoryError, HistoryRead, KeptMessage, NodeId, NodesAlive, NodesRead, PresenceMessage,
    PresenceRead, RemoteDelivery,
};
use crate::history::History;
use crate::protocol::Topic;

/// The default prefix of the Redis channels and keys a backplane uses.
pub const DEFAULT_CHANNEL: &str = "pulse:broadcast";

/// What the publishing task sends to Redis.
enum Outgoing {
    /// A broadcast for the other nodes, on its topic's Redis channel.
    Plain(String, Bytes),
    /// A broadcast to number, keep, and publish to every node.
    Kept(KeptMessage),
    /// A change to a room's presence list.
    Presence(PresenceMessage),
}

/// Broadcasts waiting to be published before new ones are dropped.
const PUBLISH_QUEUE: usize = 4096;

/// Most plain broadcasts published in one round trip.
const MAX_PIPELINE: u64 = 256;

/// Reconnect delays; the last repeats.
const BACKOFF: [Duration; 6] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Counters of a Redis backplane, for tests and monitoring.
#[derive(Debug, Default)]
pub struct RedisStats {
    /// Broadcasts published to Redis.
    pub published: AtomicU64,
    /// Broadcasts that could not be published (Redis unreachable, queue full).
    pub lost: AtomicU64,
    /// Messages received from other nodes.
    pub received: AtomicU64,
    /// Times the subscription was (re)established.
    pub subscriptions: AtomicU64,
    /// Times the subscription task ended (a panic, or a return while its server runs)
    /// and was started again.
    pub restarts: AtomicU64,
}

/// Broadcast across nodes through Redis pub/sub.
pub struct RedisBackplane {
    client: redis::Client,
    channel: String,
    queue: mpsc::Sender<Outgoing>,
    pending: std::sync::Mutex<Option<mpsc::Receiver<Outgoing>>>,
    stats: Arc<RedisStats>,
    /// The connection reads share.
    reader: Reader,
    /// The topics this node receives.
    subscriptions: Subscriptions,
    /// How long a silent node stays listed (see [`RedisBackplane::presence_timeout`]).
    presence_timeout: Duration,
    /// Where this node and the others listen.
    cluster: Arc<cluster::Cluster>,
}

/// How long a node that stopped announcing itself stays in presence lists by default.
pub const DEFAULT_PRESENCE_TIMEOUT: Duration = Duration::from_secs(10);

impl RedisBackplane {
    /// A backplane on the Redis at `url` (`redis://127.0.0.1:6379`). Nothing connects
    /// until the server starts; an unreachable Redis is retried with backoff.
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let (queue, pending) = mpsc::channel(PUBLISH_QUEUE);
        Ok(RedisBackplane {
            client: client.clone(),
            channel: DEFAULT_CHANNEL.to_owned(),
            queue,
            pending: std::sync::Mutex::new(Some(pending)),
            stats: Arc::default(),
            reader: Reader { client: client.clone(), cached: Arc::default() },
            subscriptions: Subscriptions::default(),
            presence_timeout: DEFAULT_PRESENCE_TIMEOUT,
            cluster: Arc::default(),
        })
    }

    /// Uses `channel` as the prefix of every Redis channel and key instead of
    /// `pulse:broadcast` (to run several independent clusters on one Redis).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// A node announces itself every third of `timeout` (at least 100 ms); one silent
    /// for `timeout` (10 s by default) is dead, and the others take its sessions off
    /// the presence lists within half a `timeout` more.
    pub fn presence_timeout(mut self, timeout: Duration) -> Self {
        self.presence_timeout = timeout.max(Duration::from_millis(300));
        self
    }

    /// The backplane's counters.
    pub fn stats(&self) -> Arc<RedisStats> {
        self.stats.clone()
    }
}

impl Backplane for RedisBackplane {
    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        let stats = &self.stats;
        vec![
            (
                "pulse_backplane_published_total",
                "Messages published to Redis.",
                stats.published.load(Ordering::Relaxed),
            ),
            (
                "pulse_backplane_lost_total",
                "Messages that could not be published (Redis unreachable, queue full).",
                stats.lost.load(Ordering::Relaxed),
            ),
            ("pulse_backplane_received_total", "Messages received from Redis.", stats.received.load(Ordering::Relaxed)),
            (
                "pulse_backplane_subscriptions_total",
                "Times the Redis subscription connection was (re)established.",
                stats.subscriptions.load(Ordering::Relaxed),
            ),
            (
                "pulse_backplane_restarts_total",
                "Times the Redis subscription task ended (a panic, or an error it did not recover from) and was restarted.",
                stats.restarts.load(Ordering::Relaxed),
            ),
        ]
    }

    fn start(&self, remote: RemoteDelivery) {
        let Some(pending) = crate::sync::lock(&self.pending).take() else {
            tracing::warn!("a RedisBackplane can serve one server; it was started twice");
            return;
        };
        let publisher = Publisher { channel: self.channel.clone(), presence_timeout: self.presence_timeout };
        tokio::spawn(publish_loop(self.client.clone(), publisher, pending, self.stats.clone()));
        let node = remote.node();
        tokio::spawn(self.subscriptions.clone().supervised(self.client.clone(), remote.clone(), self.stats.clone()));
        tokio::spawn(cluster::announce(
            self.client.clone(),
            self.channel.clone(),
            presence::node_key(&self.channel, node),
            self.presence_timeout,
            self.cluster.clone(),
            remote,
        ));
    }

    fn publish(&self, topic: &Topic, message: Bytes) {
        if self.queue.try_send(Outgoing::Plain(topic_channel(&self.channel, topic), message)).is_err() {
            self.stats.lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("backplane publish queue full; broadcast not sent to other nodes");
        }
    }

    fn join_topic(&self, topic: &Topic) -> Option<Gate> {
        self.subscriptions.join(&self.channel, topic)
    }

    fn leave_topic(&self, topic: &Topic) {
        self.subscriptions.leave(&self.channel, topic);
    }

    fn follow_channel(&self, name: &str) {
        self.subscriptions.follow(&self.channel, name);
    }

    fn keeps_history(&self) -> bool {
        true
    }

    fn keeps_presence(&self) -> bool {
        true
    }

    fn publish_presence(&self, message: PresenceMessage) {
        if self.queue.try_send(Outgoing::Presence(message)).is_err() {
            self.stats.lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("backplane publish queue full; a presence change was lost");
        }
    }

    fn read_presence(&self, topic: &Topic) -> PresenceRead {
        let reader = self.reader.clone();
        let (list, version) = presence::keys(&self.channel, topic);
        Box::pin(async move {
            let mut connection = reader.connection().await?;
            let reply: redis::RedisResult<redis::Value> =
                redis::Script::new(presence::READ).key(list).key(version).invoke_async(&mut connection).await;
            match reply {
                Ok(value) => presence::parse(value),
                Err(error) => Err(reader.failed(error).await),
            }
        })
    }

    fn presence_timeout(&self) -> Option<Duration> {
        Some(self.presence_timeout)
    }

    fn nodes_alive(&self, nodes: Vec<NodeId>) -> NodesAlive {
        let reader = self.reader.clone();
        let keys: Vec<String> = nodes.iter().map(|node| presence::node_key(&self.channel, *node)).collect();
        Box::pin(async move {
            let mut connection = reader.connection().await?;
            let mut alive = Vec::with_capacity(keys.len());
            for key in keys {
                let exists: redis::RedisResult<bool> =
                    redis::cmd("EXISTS").arg(&key).query_async(&mut connection).await;
                match exists {
                    Ok(exists) => alive.push(exists),
                    Err(error) => return Err(reader.failed(error).await),
                }
            }
            Ok(alive)
        })
    }

    fn publish_kept(&self, message: KeptMessage) {
        if self.queue.try_send(Outgoing::Kept(message)).is_err() {
            self.stats.lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("backplane publish queue full; a broadcast kept in history was lost");
        }
    }

    fn advertise(&self, url: String) {
        self.cluster.advertise(url);
    }

    fn cluster_nodes(&self) -> Vec<String> {
        self.cluster.known()
    }

    fn refresh_nodes(&self) -> NodesRead {
        let (reader, cluster, prefix) = (self.reader.clone(), self.cluster.clone(), self.channel.clone());
        Box::pin(async move {
            let Ok(mut connection) = reader.connection().await else { return cluster.known() };
            match cluster.read(&prefix, &mut connection).await {
                Ok(nodes) => nodes,
                Err(error) => {
                    reader.failed(error).await;
                    cluster.known()
                }
            }
        })
    }

    fn read_history(&self, topic: &Topic, history: History, new_epoch: &str) -> HistoryRead {
        let reader = self.reader.clone();
        let keys = history_keys(&self.channel, topic);
        let new_epoch = new_epoch.to_owned();
        Box::pin(async move {
            let mut connection = reader.connection().await?;
            let reply: redis::RedisResult<redis::Value> = redis::Script::new(READ_HISTORY)
                .key(&keys.0)
                .key(&keys.1)
                .arg(&new_epoch)
                .arg(history.ttl().as_secs().max(1))
                .arg(history.size())
                .invoke_async(&mut connection)
                .await;
            match reply {
                Ok(value) => parse_history(value),
                Err(error) => Err(reader.failed(error).await),
            }
        })
    }
}

/// A multiplexed connection that reads share, made on first use and again after a failure.
#[derive(Clone)]
struct Reader {
    client: redis::Client,
    cached: Arc<tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>>,
}

impl Reader {
    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, HistoryError> {
        let mut cached = self.cached.lock().await;
        if let Some(connection) = &*cached {
            return Ok(connection.clone());
        }
        let connection =
            self.client.get_multiplexed_async_connection().await.map_err(|e| HistoryError::Unreachable(Box::new(e)))?;
        *cached = Some(connection.clone());
        Ok(connection)
    }

    /// A read failed: the next one makes a new connection.
    async fn failed(&self, error: redis::RedisError) -> HistoryError {
        self.cached.lock().await.take();
        HistoryError::Unreachable(Box::new(error))
    }
}

/// What the publishing task needs to know.
struct Publisher {
    /// The prefix of the Redis channels and keys.
    channel: String,
    presence_timeout: Duration,
}

async fn publish_loop(
    client: redis::Client,
    publisher: Publisher,
    mut queue: mpsc::Receiver<Outgoing>,
    stats: Arc<RedisStats>,
) {
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    let mut attempt = 0;
    // A message taken from the queue while gathering a pipeline, which did not fit in it.
    let mut held: Option<Outgoing> = None;
    loop {
        let message = match held.take() {
            Some(message) => message,
            None => match queue.recv().await {
                Some(message) => message,
                None => return,
            },
        };
        if connection.is_none() {
            match client.get_multiplexed_async_connection().await {
                Ok(c) => {
                    attempt = 0;
                    connection = Some(c);
                }
                Err(error) => {
                    stats.lost.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "Redis unreachable; broadcast not sent to other nodes");
                    // Back off before the next try, dropping what arrives meanwhile is
                    // not needed: the next message retries after the delay.
                    tokio::time::sleep(BACKOFF[attempt.min(BACKOFF.len() - 1)]).await;
                    attempt += 1;
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else { continue };
        let (count, published): (u64, redis::RedisResult<()>) = match &message {
            Outgoing::Plain(topic, message) => {
                // The plain broadcasts queued behind this one go with it, in order, in one
                // round trip: one at a time, each waited for Redis's reply, and under load
                // the other nodes got them one by one (a write per frame to each session).
                let mut pipe = redis::pipe();
                pipe.cmd("PUBLISH").arg(topic).arg(message.as_ref()).ignore();
                let mut count = 1;
                while count < MAX_PIPELINE {
                    match queue.try_recv() {
                        Ok(Outgoing::Plain(topic, message)) => {
                            pipe.cmd("PUBLISH").arg(topic).arg(message.as_ref()).ignore();
                            count += 1;
                        }
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                (count, pipe.query_async(conn).await)
            }
            Outgoing::Kept(message) => (1, publish_kept(conn, &publisher.channel, message).await.map(drop)),
            Outgoing::Presence(message) => {
                (1, presence::publish(conn, &publisher.channel, publisher.presence_timeout, message).await)
            }
        };
        match published {
            Ok(()) => {
                stats.published.fetch_add(count, Ordering::Relaxed);
            }
            Err(error) => {
                stats.lost.fetch_add(count, Ordering::Relaxed);
                tracing::warn!(%error, "publishing to Redis failed; reconnecting");
                connection = None;
            }
        }
    }
}
