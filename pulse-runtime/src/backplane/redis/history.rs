//! Histories in Redis: a room's history is a stream (`<prefix>:history:<topic>`, entry
//! ids `0-<offset>`) beside a hash with its epoch and top offset (`<prefix>:meta:<topic>`).
//! One Lua script numbers a broadcast, appends it, trims the stream, renews both keys'
//! expiry and publishes it, atomically; another reads a history.

use bytes::Bytes;

use super::super::{HistoryError, KeptMessage, StoredHistory};
use crate::protocol::Topic;

/// Numbers a broadcast in its room's history, keeps it, and publishes it, atomically.
/// KEYS: stream, meta. ARGV: size, ttl (s), new epoch, now (ms), frame, the topic's
/// Redis channel, message head.
pub(super) const PUBLISH_KEPT: &str = r"
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
/// there is none, for a minute at most unless a broadcast comes: joins alone cannot fill
/// Redis with rooms). KEYS: stream, meta. ARGV: new epoch, ttl (s), size.
pub(super) const READ_HISTORY: &str = r"
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
  redis.call('EXPIRE', KEYS[2], math.min(tonumber(ARGV[2]), 60))
end
local top = redis.call('HGET', KEYS[2], 'top')
return {epoch, top, redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[3])}
";

/// The stream and the hash that keep `topic`'s history.
pub(super) fn history_keys(channel: &str, topic: &Topic) -> (String, String) {
    (format!("{channel}:history:{topic}"), format!("{channel}:meta:{topic}"))
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Reads `READ_HISTORY`'s answer: `[epoch, top, [[id, [field, value, ..]], ..]]`, newest
/// entry first.
pub(super) fn parse_history(value: redis::Value) -> Result<StoredHistory, HistoryError> {
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

pub(super) async fn publish_kept(
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
        .arg(super::subscriptions::topic_channel(channel, &message.topic))
        .arg(message.head.as_ref())
        .invoke_async(connection)
        .await
}
