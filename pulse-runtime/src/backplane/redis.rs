//! A Redis pub/sub backplane (cargo feature `redis`).
//!
//! Every node publishes its broadcasts to one Redis channel and subscribes to it. When
//! Redis goes away, each node keeps serving its own sessions (local broadcast does not
//! depend on Redis), reconnects with backoff and subscribes again by itself. What is
//! lost: broadcasts published while a node was cut off from Redis do not reach the other
//! nodes (Redis pub/sub stores nothing); local delivery is unaffected.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::{Backplane, RemoteDelivery};

/// The Redis channel all nodes publish to and subscribe to.
pub const DEFAULT_CHANNEL: &str = "pulse:broadcast";

/// Broadcasts waiting to be published before new ones are dropped.
const PUBLISH_QUEUE: usize = 4096;

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
}

/// Broadcast across nodes through Redis pub/sub.
pub struct RedisBackplane {
    client: redis::Client,
    channel: String,
    queue: mpsc::Sender<Bytes>,
    pending: std::sync::Mutex<Option<mpsc::Receiver<Bytes>>>,
    stats: Arc<RedisStats>,
}

impl RedisBackplane {
    /// A backplane on the Redis at `url` (`redis://127.0.0.1:6379`). Nothing connects
    /// until the server starts; an unreachable Redis is retried with backoff.
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let (queue, pending) = mpsc::channel(PUBLISH_QUEUE);
        Ok(RedisBackplane {
            client,
            channel: DEFAULT_CHANNEL.to_owned(),
            queue,
            pending: std::sync::Mutex::new(Some(pending)),
            stats: Arc::default(),
        })
    }

    /// Uses Redis channel `channel` instead of `pulse:broadcast` (to run several
    /// independent clusters on one Redis).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// The backplane's counters.
    pub fn stats(&self) -> Arc<RedisStats> {
        self.stats.clone()
    }
}

impl Backplane for RedisBackplane {
    fn start(&self, remote: RemoteDelivery) {
        let Some(pending) = crate::sync::lock(&self.pending).take() else {
            tracing::warn!("a RedisBackplane can serve one server; it was started twice");
            return;
        };
        tokio::spawn(publish_loop(self.client.clone(), self.channel.clone(), pending, self.stats.clone()));
        tokio::spawn(subscribe_loop(self.client.clone(), self.channel.clone(), remote, self.stats.clone()));
    }

    fn publish(&self, message: Bytes) {
        if self.queue.try_send(message).is_err() {
            self.stats.lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("backplane publish queue full; broadcast not sent to other nodes");
        }
    }
}

async fn publish_loop(
    client: redis::Client,
    channel: String,
    mut queue: mpsc::Receiver<Bytes>,
    stats: Arc<RedisStats>,
) {
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    let mut attempt = 0;
    while let Some(message) = queue.recv().await {
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
        let published: redis::RedisResult<()> =
            redis::cmd("PUBLISH").arg(&channel).arg(message.as_ref()).query_async(conn).await;
        match published {
            Ok(()) => {
                stats.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                stats.lost.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "publishing to Redis failed; reconnecting");
                connection = None;
            }
        }
    }
}

async fn subscribe_loop(client: redis::Client, channel: String, remote: RemoteDelivery, stats: Arc<RedisStats>) {
    let mut attempt = 0;
    while remote.is_alive() {
        match subscribe(&client, &channel).await {
            Ok(pubsub) => {
                attempt = 0;
                stats.subscriptions.fetch_add(1, Ordering::Relaxed);
                tracing::info!(channel, "subscribed to the Redis backplane");
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    stats.received.fetch_add(1, Ordering::Relaxed);
                    remote.deliver(Bytes::copy_from_slice(message.get_payload_bytes()));
                    if !remote.is_alive() {
                        return;
                    }
                }
                tracing::warn!(channel, "lost the Redis subscription; resubscribing");
            }
            Err(error) => tracing::debug!(%error, "Redis unreachable; retrying"),
        }
        tokio::time::sleep(BACKOFF[attempt.min(BACKOFF.len() - 1)]).await;
        attempt += 1;
    }
}

async fn subscribe(client: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
