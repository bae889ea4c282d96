//! A Redis pub/sub backplane (cargo feature `redis`).
//!
//! Every node publishes its broadcasts to one Redis channel and subscribes to it. When
//! Redis goes away, each node keeps serving its own sessions (local broadcast does not
//! depend on Redis), reconnects with backoff and subscribes again by itself. What is
//! lost: broadcasts published while a node was cut off from Redis do not reach the other
//! nodes (Redis pub/sub stores nothing); local delivery is unaffected.
//!
//! It keeps histories too: a room's history is a Redis stream (`<channel>:history:<topic>`,
//! entry ids `0-<offset>`) beside a hash with its epoch and top offset
//! (`<channel>:meta:<topic>`). One Lua script numbers a broadcast, appends it, trims the
//! stream, renews both keys' expiry and publishes it, atomically, so every node sees a
//! room's broadcasts in offset order. A broadcast kept in history needs Redis: while Redis
//! is unreachable it is lost (counted in [`RedisStats::lost`]) on every node alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::{Backplane, HistoryError, HistoryRead, KeptMessage, RemoteDelivery, StoredHistory};
use crate::history::History;
use crate::protocol::Topic;

/// The Redis channel all nodes publish to and subscribe to.
pub const DEFAULT_CHANNEL: &str = "pulse:broadcast";

/// Numbers a broadcast in its room's history, keeps it, and publishes it, atomically.
/// KEYS: stream, meta. ARGV: size, ttl (s), new epoch, now (ms), frame, channel, head.
const PUBLISH_KEPT: &str = r"
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[3]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
end
local offset = redis.call('HINCRBY', KEYS[2], 'top', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '0-' .. offset, 'at', ARGV[4], 'frame', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
local o = string.format('%d', offset)
redis.call('PUBLISH', ARGV[6], ARGV[7] .. string.char(#epoch) .. epoch .. string.char(#o) .. o .. ARGV[5])
return offset
";

/// Reads a room's history: epoch, top, and the newest entries (starting the history if
/// there is none). KEYS: stream, meta. ARGV: new epoch, ttl (s), size.
const READ_HISTORY: &str = r"
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
local top = redis.call('HGET', KEYS[2], 'top')
return {epoch, top, redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[3])}
";

/// What the publishing task sends to Redis.
enum Outgoing {
    /// A broadcast for the other nodes.
    Plain(Bytes),
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
        if self.queue.try_send(Outgoing::Plain(message)).is_err() {
            self.stats.lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("backplane publish queue full; broadcast not sent to other nodes");
        }
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

/// The stream and the hash that keep `topic`'s history.
fn history_keys(channel: &str, topic: &Topic) -> (String, String) {
    (format!("{channel}:history:{topic}"), format!("{channel}:meta:{topic}"))
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Reads `READ_HISTORY`'s answer: `[epoch, top, [[id, [field, value, ..]], ..]]`, newest
/// entry first.
fn parse_history(value: redis::Value) -> Result<StoredHistory, HistoryError> {
    use redis::Value;
    let malformed = |what: &str| HistoryError::Malformed(what.to_owned());
    let text = |value: &Value| -> Option<String> {
        match value {
            Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
            Value::SimpleString(text) => Some(text.clone()),
            Value::Int(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let Value::Array(parts) = value else { return Err(malformed("not an array")) };
    let [epoch, top, entries] = parts.as_slice() else { return Err(malformed("not three parts")) };
    let epoch = text(epoch).ok_or_else(|| malformed("epoch"))?;
    let top = text(top).and_then(|t| t.parse().ok()).ok_or_else(|| malformed("top"))?;
    let Value::Array(entries) = entries else { return Err(malformed("entries")) };
    let mut kept = Vec::with_capacity(entries.len());
    for entry in entries.iter().rev() {
        let Value::Array(entry) = entry else { return Err(malformed("entry")) };
        let [id, Value::Array(fields)] = entry.as_slice() else { return Err(malformed("entry shape")) };
        let offset = text(id)
            .and_then(|id| id.strip_prefix("0-").and_then(|o| o.parse().ok()))
            .ok_or_else(|| malformed("entry id"))?;
        let (mut at, mut frame) = (None, None);
        for pair in fields.chunks(2) {
            match pair {
                [name, value] if text(name).as_deref() == Some("at") => at = text(value).and_then(|t| t.parse().ok()),
                [name, Value::BulkString(bytes)] if text(name).as_deref() == Some("frame") => {
                    frame = Some(Bytes::copy_from_slice(bytes));
                }
                _ => {}
            }
        }
        let (Some(at), Some(frame)) = (at, frame) else { return Err(malformed("entry fields")) };
        kept.push((offset, at, frame));
    }
    Ok(StoredHistory { epoch, top, entries: kept })
}

async fn publish_kept(
    connection: &mut redis::aio::MultiplexedConnection,
    channel: &str,
    message: &KeptMessage,
) -> redis::RedisResult<u64> {
    let (stream, meta) = history_keys(channel, &message.topic);
    redis::Script::new(PUBLISH_KEPT)
        .key(stream)
        .key(meta)
        .arg(message.history.size())
        .arg(message.history.ttl().as_secs().max(1))
        .arg(&*message.new_epoch)
        .arg(now_ms())
        .arg(message.frame.as_ref())
        .arg(channel)
        .arg(message.head.as_ref())
        .invoke_async(connection)
        .await
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
            Outgoing::Plain(message) => {
                redis::cmd("PUBLISH").arg(&channel).arg(message.as_ref()).query_async(conn).await
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

async fn subscribe_loop(client: redis::Client, channel: String, remote: RemoteDelivery, stats: Arc<RedisStats>) {
    let mut attempt = 0;
    while remote.is_alive() {
        match subscribe(&client, &channel).await {
            Ok(pubsub) => {
                attempt = 0;
                if stats.subscriptions.fetch_add(1, Ordering::Relaxed) > 0 {
                    // Whatever was published while the subscription was down never came.
                    remote.resubscribed();
                }
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
