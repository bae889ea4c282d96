//! A Redis pub/sub backplane (cargo feature `redis`).
//!
//! Each topic (a channel name and room) has its own Redis channel, `<prefix>:t:<topic>`;
//! a node publishes its broadcasts there and subscribes to the topics it has sessions in
//! ([`subscriptions`]), so it receives nothing of other rooms. When
//! Redis goes away, each node keeps serving its own sessions (local broadcast does not
//! depend on Redis), reconnects with backoff and subscribes again by itself. What is
//! lost: broadcasts published while a node was cut off from Redis do not reach the other
//! nodes (Redis pub/sub stores nothing); local delivery is unaffected.
//!
//! It keeps histories too ([`history`]), numbering a room's broadcasts in Redis so that
//! every node sees them in one order. A broadcast kept in history needs Redis: while
//! Redis is unreachable it is lost (counted in [`RedisStats::lost`]) on every node alike.

mod history;
mod subscriptions;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use self::history::{READ_HISTORY, history_keys, parse_history, publish_kept};
use self::subscriptions::{Subscriptions, topic_channel};
use super::{Backplane, Gate, HistoryError, HistoryRead, KeptMessage, RemoteDelivery};
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
}

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
    queue: mpsc::Sender<Outgoing>,
    pending: std::sync::Mutex<Option<mpsc::Receiver<Outgoing>>>,
    stats: Arc<RedisStats>,
    /// The connection history reads share (multiplexed), once made.
    reader: Arc<tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>>,
    /// The topics this node receives.
    subscriptions: Subscriptions,
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
            reader: Arc::default(),
            subscriptions: Subscriptions::default(),
        })
    }

    /// Uses `channel` as the prefix of every Redis channel and key instead of
    /// `pulse:broadcast` (to run several independent clusters on one Redis).
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
        tokio::spawn(self.subscriptions.clone().run(self.client.clone(), remote, self.stats.clone()));
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

    fn publish_kept(&self, message: KeptMessage) {
        if self.queue.try_send(Outgoing::Kept(message)).is_err() {
            self.stats.lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("backplane publish queue full; a broadcast kept in history was lost");
        }
    }

    fn read_history(&self, topic: &Topic, history: History, new_epoch: &str) -> HistoryRead {
        let client = self.client.clone();
        let reader = self.reader.clone();
        let keys = history_keys(&self.channel, topic);
        let new_epoch = new_epoch.to_owned();
        Box::pin(async move {
            let mut connection = {
                let mut cached = reader.lock().await;
                match &*cached {
                    Some(connection) => connection.clone(),
                    None => {
                        let connection = client
                            .get_multiplexed_async_connection()
                            .await
                            .map_err(|e| HistoryError::Unreachable(Box::new(e)))?;
                        *cached = Some(connection.clone());
                        connection
                    }
                }
            };
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
                Err(error) => {
                    // The next read makes a new connection.
                    reader.lock().await.take();
                    Err(HistoryError::Unreachable(Box::new(error)))
                }
            }
        })
    }
}

async fn publish_loop(
    client: redis::Client,
    channel: String,
    mut queue: mpsc::Receiver<Outgoing>,
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
        let published: redis::RedisResult<()> = match &message {
            Outgoing::Plain(topic, message) => {
                redis::cmd("PUBLISH").arg(topic).arg(message.as_ref()).query_async(conn).await
            }
            Outgoing::Kept(message) => publish_kept(conn, &channel, message).await.map(drop),
        };
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
