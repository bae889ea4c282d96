//! Unguessable identifiers for sessions and channels.
//!
//! Both are 128 bits from the operating system's random source, written on the wire as
//! 32 lowercase hex digits. Knowing one id tells nothing about any other, so an id is
//! safe to hand to the browser: a channel id is only honoured inside its own session.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// 128 random bits, shared representation of [`SessionId`] and [`ChannelId`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RandomId(u128);

impl RandomId {
    fn generate() -> Self {
        let mut bytes = [0u8; 16];
        // The OS random source only fails when the platform has none at all, in which
        // case no server could safely hand out ids: refusing to run is the right answer.
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        RandomId(u128::from_le_bytes(bytes))
    }

    /// Parses exactly 32 lowercase hex digits (what [`RandomId::hex`] writes).
    fn parse(s: &str) -> Option<Self> {
        let bytes: &[u8; 32] = s.as_bytes().try_into().ok()?;
        let mut value = 0u128;
        for &b in bytes {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            value = value << 4 | u128::from(digit);
        }
        Some(RandomId(value))
    }

    /// The 32 lowercase hex digits of the id (it is written on every frame that names a
    /// channel, so without the formatting machinery).
    fn hex(self) -> Hex {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (i, byte) in self.0.to_be_bytes().into_iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(byte >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
        }
        Hex(out)
    }
}

/// An id as text: 32 ASCII hex digits.
pub(crate) struct Hex([u8; 32]);

impl Hex {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for RandomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.hex().as_str())
    }
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(RandomId);

        impl $name {
            /// A fresh id from the operating system's random source.
            pub fn generate() -> Self {
                Self(RandomId::generate())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                RandomId::parse(s).map(Self).ok_or(InvalidId { what: $what })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.0.hex().as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

random_id!(
    /// Identifies one session (one WebSocket connection and what it owns).
    SessionId,
    "session id"
);

/// The channel type of an id whose channel declaration is not known (the untyped
/// layer). `ChannelId` alone means `ChannelId<Untyped>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Untyped {}

/// Identifies one open channel; valid only inside the session that opened it.
///
/// `C` is the channel's declaration (the `#[channel]` struct), so an id of one channel
/// cannot be passed where another is expected — in Rust, and in the generated
/// TypeScript, where it is a branded string. On the wire it is 32 hex digits either way.
pub struct ChannelId<C = Untyped> {
    raw: RandomId,
    _channel: PhantomData<fn() -> C>,
}

impl ChannelId {
    /// A fresh id from the operating system's random source.
    pub fn generate() -> Self {
        ChannelId { raw: RandomId::generate(), _channel: PhantomData }
    }
}

impl<C> ChannelId<C> {
    /// The same id without its channel type.
    pub fn untyped(self) -> ChannelId {
        ChannelId { raw: self.raw, _channel: PhantomData }
    }

    /// The id as text (32 hex digits), without allocating.
    pub(crate) fn hex(self) -> Hex {
        self.raw.hex()
    }

    /// The same id with a channel type; only the typed layer knows the type is right.
    pub(crate) fn typed<D>(self) -> ChannelId<D> {
        ChannelId { raw: self.raw, _channel: PhantomData }
    }
}

impl<C> Clone for ChannelId<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for ChannelId<C> {}
impl<C> PartialEq for ChannelId<C> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<C> Eq for ChannelId<C> {}
impl<C> std::hash::Hash for ChannelId<C> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}
impl<C> fmt::Display for ChannelId<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}
impl<C> fmt::Debug for ChannelId<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({})", self.raw)
    }
}
impl FromStr for ChannelId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        RandomId::parse(s).map(|raw| ChannelId { raw, _channel: PhantomData }).ok_or(InvalidId { what: "channel id" })
    }
}
impl<C> From<ChannelId<C>> for String {
    fn from(id: ChannelId<C>) -> String {
        id.to_string()
    }
}
impl<C> serde::Serialize for ChannelId<C> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.hex().as_str())
    }
}
impl<'de, C> serde::Deserialize<'de> for ChannelId<C> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse::<ChannelId>().map(ChannelId::typed).map_err(serde::de::Error::custom)
    }
}

/// A string that is not a well-formed id (32 lowercase hex digits).
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid {what}: expected 32 lowercase hex digits")]
pub struct InvalidId {
    what: &'static str,
}

/// Identifies one server node (random per process), so a node can skip its own
/// publications when the backplane echoes them back.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NodeId(pub [u8; 16]);

impl NodeId {
    /// The id as 32 hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads an id written by [`NodeId::to_hex`].
    pub fn from_hex(text: &str) -> Option<NodeId> {
        if text.len() != 32 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(NodeId(bytes))
    }

    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 16];
        // See `id::RandomId::generate`: without an OS random source nothing is safe.
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        NodeId(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = ChannelId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<ChannelId>().unwrap(), id);
    }

    #[test]
    fn ids_are_distinct() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_ids_are_refused() {
        let bad_digit = ["g", "G", "A", "F", "/", ":", "`", "+", "-", " ", "é"];
        let mut cases = vec![String::new(), "xyz".into(), "A".repeat(32), "0".repeat(31), "0".repeat(33)];
        cases.extend(bad_digit.iter().map(|d| format!("{}{d}", "0".repeat(32 - d.len()))));
        cases.extend(bad_digit.iter().map(|d| format!("{d}{}", "f".repeat(32 - d.len()))));
        for bad in &cases {
            assert!(bad.parse::<ChannelId>().is_err(), "{bad:?} parsed");
            assert!(bad.parse::<SessionId>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn ids_are_written_as_32_lowercase_hex_digits() {
        for value in [0, 1, 0xabc, u128::MAX, u128::MAX / 3, 1 << 127, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            let id = ChannelId { raw: RandomId(value), _channel: PhantomData };
            let text = id.to_string();
            assert_eq!(text, format!("{value:032x}"));
            assert_eq!(text.parse::<ChannelId>().unwrap(), id);
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{value:032x}\""));
            let session = SessionId(RandomId(value));
            assert_eq!(serde_json::to_string(&session).unwrap(), format!("\"{value:032x}\""));
            assert_eq!(session.to_string().parse::<SessionId>().unwrap(), session);
        }
    }
}
