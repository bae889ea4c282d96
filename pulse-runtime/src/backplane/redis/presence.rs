//! Presence in Redis: a room's list is a hash (`<prefix>:presence:<topic>`, session id →
//! entry JSON) beside its version (`<prefix>:presence-version:<topic>`). One Lua script
//! applies a change, numbers it and publishes it, atomically, so every node applies a
//! room's changes in one order; another reads the list with its version. Each node
//! announces itself with a key that expires (`<prefix>:node:<id>`), so the others can
//! tell when it died.

use super::super::{HistoryError, PresenceMessage, StoredPresence};
use crate::backplane::NodeId;
use crate::protocol::Topic;

/// Applies, numbers and publishes a change; publishes nothing if nothing changed.
/// Listing a session also announces its node, so no node's sweep can find an entry of a
/// node that has not announced itself yet.
/// KEYS: list, version, the changing node's key. ARGV: session id, entry JSON (empty for
/// a leave), the topic's Redis channel, message head, presence timeout (ms).
pub(super) const CHANGE: &str = r#"
if ARGV[2] == '' then
  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
else
  redis.call('SET', KEYS[3], 1, 'PX', ARGV[5])
  if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local v = string.format('%d', redis.call('INCR', KEYS[2]))
local entry = ARGV[2]
if entry == '' then entry = 'null' end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. string.char(#v) .. v .. '{"id":"' .. ARGV[1] .. '","entry":' .. entry .. '}')
return 1
"#;

/// Reads a room's list and version. KEYS: list, version.
pub(super) const READ: &str = r"
return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1])}
";

/// The hash and the version key of `topic`'s list.
pub(super) fn keys(prefix: &str, topic: &Topic) -> (String, String) {
    (format!("{prefix}:presence:{topic}"), format!("{prefix}:presence-version:{topic}"))
}

/// The key that says node `node` is alive.
pub(super) fn node_key(prefix: &str, node: NodeId) -> String {
    format!("{prefix}:node:{}", node.to_hex())
}

pub(super) async fn publish(
    connection: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    timeout: std::time::Duration,
    message: &PresenceMessage,
) -> redis::RedisResult<()> {
    let (list, version) = keys(prefix, &message.topic);
    let _: i64 = redis::Script::new(CHANGE)
        .key(list)
        .key(version)
        .key(node_key(prefix, message.node))
        .arg(&*message.id)
        .arg(message.entry.as_deref().unwrap_or(""))
        .arg(super::subscriptions::topic_channel(prefix, &message.topic))
        .arg(message.head.as_ref())
        .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
        .invoke_async(connection)
        .await?;
    Ok(())
}

/// Reads `READ`'s answer: `[version, [id, entry, id, entry, …]]`.
pub(super) fn parse(value: redis::Value) -> Result<StoredPresence, HistoryError> {
    use redis::Value;
    let malformed = |what: &str| HistoryError::Malformed(format!("presence {what}"));
    let text = |value: &Value| -> Option<String> {
        match value {
            Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
            Value::SimpleString(text) => Some(text.clone()),
            Value::Int(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let Value::Array(parts) = value else { return Err(malformed("answer")) };
    let [version, Value::Array(fields)] = parts.as_slice() else { return Err(malformed("parts")) };
    let version = text(version).and_then(|v| v.parse().ok()).ok_or_else(|| malformed("version"))?;
    let mut entries = Vec::with_capacity(fields.len() / 2);
    for pair in fields.chunks(2) {
        let [id, entry] = pair else { return Err(malformed("fields")) };
        entries.push((text(id).ok_or_else(|| malformed("id"))?, text(entry).ok_or_else(|| malformed("entry"))?));
    }
    Ok(StoredPresence { version, entries })
}
