//! Topics: what a broadcast is addressed to — a channel name, or a channel name and a
//! room key (`chat` in room `"lobby"`).

use std::sync::Arc;

use serde_json::value::RawValue;

/// A channel name, optionally with a room key, as one string: `chat` or
/// `chat:"lobby"` (the name, a colon, and the key as JSON). Names cannot hold a colon,
/// so the split is unambiguous; the same key always encodes to the same JSON, so two
/// sessions in one room share one topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Topic {
    text: Arc<str>,
    name_len: usize,
}

impl Topic {
    /// The topic of channel `name`, in room `room` (the key as JSON) when given.
    pub fn new(name: &str, room: Option<&RawValue>) -> Topic {
        match room {
            None => Topic { text: Arc::from(name), name_len: name.len() },
            Some(room) => Topic { text: Arc::from(format!("{name}:{}", room.get())), name_len: name.len() },
        }
    }

    /// Reads a topic from its text (as the backplane carries it); `None` unless the name
    /// is a valid channel name and the room, if any, is JSON.
    pub fn parse(text: &str) -> Option<Topic> {
        let (name, room) = match text.split_once(':') {
            Some((name, room)) => (name, Some(room)),
            None => (text, None),
        };
        if !super::is_valid_name(name) {
            return None;
        }
        if let Some(room) = room {
            serde_json::from_str::<&RawValue>(room).ok()?;
        }
        Some(Topic { text: Arc::from(text), name_len: name.len() })
    }

    /// The channel name.
    pub fn name(&self) -> &str {
        &self.text[..self.name_len]
    }

    /// The room key as JSON text, if the topic has one.
    pub fn room(&self) -> Option<&RawValue> {
        let room = self.text.get(self.name_len + 1..)?;
        serde_json::from_str::<&RawValue>(room).ok()
    }

    /// The whole topic as one string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The shared text (the key of the topic table).
    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.text
    }
}

impl From<&str> for Topic {
    /// The topic of a channel without rooms.
    fn from(name: &str) -> Topic {
        Topic::new(name, None)
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_through_their_text() {
        let room = serde_json::value::to_raw_value(&"lobby").unwrap();
        let topic = Topic::new("chat", Some(&room));
        assert_eq!(topic.as_str(), r#"chat:"lobby""#);
        assert_eq!(topic.name(), "chat");
        assert_eq!(topic.room().map(RawValue::get), Some(r#""lobby""#));
        assert_eq!(Topic::parse(topic.as_str()), Some(topic));
        let plain = Topic::from("chat");
        assert_eq!((plain.name(), plain.room().is_none()), ("chat", true));
        assert_eq!(Topic::parse("chat"), Some(plain));
    }

    #[test]
    fn malformed_topics_are_refused() {
        for text in ["", ":1", "bad name", "chat:{", "chat:", "a:b:c"] {
            assert_eq!(Topic::parse(text), None, "{text}");
        }
    }
}
